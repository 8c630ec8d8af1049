// Package torch holds gozoo's PyTorch plugin, a Python package
// (gozoo_torch) that the host starts from the manifest
// gozoo-backbone-torch.plugin, and its Go tests.
//
// The plugin is built on gozoo_plugin (plugins/python), which speaks the
// same backbone protocol as the Go plugins
// (internal/backbonev1/backbone.proto) and serves gozoo_torch's
// TorchBackbone; gozoo_torch holds the torch side only. It offers
// torchvision's ResNet and VGG families and Inception v3, a user's
// nn.Module (arch "module", option
// factory=package.module:factory and path=DIR) and TorchScript files (arch
// "torchscript"). Layers are torch module paths, caught by forward hooks,
// so they carry the names the Go plugins use. Beyond extraction it trains
// (sdk.Trainer: SGD or AdamW, a separate learning rate for the unfrozen
// backbone, cosine or step schedules, a checkpoint per epoch, resume) and
// exports (sdk.Exporter: .pth state_dicts and ONNX with named layer
// outputs). Frozen batch-norm layers keep their running statistics while
// the rest trains.
//
// Through gozoo_plugin the plugin speaks only to the host that started
// it: go-plugin's automatic mTLS (it answers the host's certificate with
// one of its own and refuses clients without the host's) over a Unix
// socket in a private folder, never TCP. It exits when its host does,
// removing the socket.
//
// It needs Debian's python3-torch, python3-torchvision, python3-grpcio,
// python3-protobuf, python3-numpy and python3-cryptography (make setup
// installs them); `make build` installs the manifest and both packages in
// bin/plugins. WriteManifest writes a manifest for another Python or folder.
package torch
