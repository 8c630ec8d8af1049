"""gozoo_plugin: write a gozoo backbone plugin in Python.

A plugin subclasses Backbone, implements describe, load, layers and
extract, and hands the class to serve:

    import gozoo_plugin as gp

    class Mine(gp.Backbone):
        name = "mine"
        def describe(self): return [gp.Arch("tiny", [-1, 4])]
        def load(self, req): self.weights = {...}
        def layers(self, input_shape): return [gp.Layer("fc", "Linear", [-1, 2])]
        def extract(self, x, layers): return {"fc": ...}

    if __name__ == "__main__":
        raise SystemExit(gp.serve(Mine))

The package does the rest as gozoo's Go plugins do: go-plugin's handshake
on a private Unix socket with automatic mutual TLS (the host's certificate
is required; nothing else gets in), gRPC health and Shutdown, tensors as
numpy arrays in and out (chunked on the wire), input and layer checks,
freezing parameters by pattern, and exceptions mapped to the sdk's
sentinel errors (raise BadInput, UnknownLayer, Weights, ...). A manifest
(gozoo-backbone-NAME.plugin) tells the host how to start the plugin; see
plugins/python/README.md.
"""

from .backbone import Arch, Backbone, Batch, Layer, LoadRequest, Option, Param, TrainConfig, TrainEvent
from .channel import die_with_parent
from .errors import (BadInput, BadOption, Closed, DeviceUnavailable, GozooError, NoMatch, UnknownArch,
                     UnknownLayer, Unsupported, Weights, layer_error, no_match_error, shape_error, suggest)
from .server import absolute, serve
from .wire import compile_pattern

__all__ = [
    "Arch", "Backbone", "Batch", "Layer", "LoadRequest", "Option", "Param", "TrainConfig", "TrainEvent",
    "die_with_parent", "serve", "absolute", "compile_pattern",
    "GozooError", "BadInput", "BadOption", "Closed", "DeviceUnavailable", "NoMatch", "UnknownArch",
    "UnknownLayer", "Unsupported", "Weights", "layer_error", "no_match_error", "shape_error", "suggest",
]
