"""gozoo's PyTorch backbone plugin.

gozoo starts it from the manifest gozoo-backbone-torch.plugin
(python3 -m gozoo_torch, with the gozoo_plugin package beside it, which
serves the backbone protocol: handshake, mutual TLS, tensors, errors).
This package holds the torch side: torchvision architectures, a user's
nn.Module or a TorchScript file, feature extraction by forward hooks,
freezing by name pattern, training with progress events and checkpoints,
and .pth / ONNX export.
"""

import importlib.util
import os
import sys

if importlib.util.find_spec("gozoo_plugin") is None:
    # A source checkout run without the install layout: gozoo_plugin
    # lives in plugins/python, beside this plugin's folder.
    _kit = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "python")
    if os.path.isfile(os.path.join(_kit, "gozoo_plugin", "__init__.py")):
        sys.path.append(_kit)
