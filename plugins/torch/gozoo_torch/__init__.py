"""gozoo's PyTorch backbone plugin.

gozoo starts it from the manifest gozoo-backbone-torch.plugin
(python3 -m gozoo_torch); it serves the backbone protocol
(internal/backbonev1/backbone.proto) over gRPC behind go-plugin's
handshake: torchvision architectures, a user's nn.Module or a TorchScript
file, feature extraction by forward hooks, freezing by name pattern,
training with progress events and checkpoints, and .pth / ONNX export.
"""
