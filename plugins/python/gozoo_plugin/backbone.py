"""The Backbone class a Python plugin subclasses, and the plain values its
methods take and return.

serve(MyBackbone) makes one instance to answer Describe and a fresh one
for every Load: an instance is one loaded model. Its methods are called
from the server's threads, several at a time for one model (concurrent
Extract calls); a model that keeps state between calls guards it with
self.lock.
"""

import collections
import threading

import numpy as np

from .errors import DeviceUnavailable, Unsupported, layer_error, no_match_error, shape_error
from .wire import compile_pattern

# An architecture Describe lists: its input shape (-1 for the batch and any
# other free dimension), input dtype ("float32" or "int64") and options.
Arch = collections.namedtuple("Arch", "name shape doc dtype options", defaults=("", "float32", ()))

# An option an architecture takes; the host makes a path option absolute.
Option = collections.namedtuple("Option", "name default usage path", defaults=("", "", False))

# A feature layer: its output shape has -1 for the batch; params counts its
# parameters.
Layer = collections.namedtuple("Layer", "name kind shape params", defaults=(0,))

# A parameter: state_dict-style name, shape, whether training updates it.
Param = collections.namedtuple("Param", "name shape trainable", defaults=(True,))

# What Load asks for. options holds every option the arch declares, with
# its default where the host sent none; weights_format is "", "pth",
# "safetensors" or "onnx"; paths are absolute.
LoadRequest = collections.namedtuple("LoadRequest", "arch options weights_path weights_format seed device threads")

# A training run's settings (sdk.TrainRequest without the batches).
TrainConfig = collections.namedtuple(
    "TrainConfig", "optimizer lr backbone_lr weight_decay momentum epochs schedule seed device checkpoint_dir resume_from")

# One training or validation batch: x a numpy array, labels int64.
Batch = collections.namedtuple("Batch", "x labels validation end_of_epoch")

# A progress event Backbone.train yields (sdk.TrainEvent).
TrainEvent = collections.namedtuple(
    "TrainEvent", "epoch step loss accuracy lr images_per_sec validation checkpoint_path message",
    defaults=(0, 0, 0.0, 0.0, 0.0, 0.0, False, "", ""))


class Backbone:
    """A backbone plugin. Subclasses set name and version and implement
    describe, load, layers and extract. The defaults of the rest:

      params, set_trainable  over self.weights (name -> array), with the
                             trainable flags kept here
      check_input            the input fits input_shape and input_dtype
      check_device           the device asked for is of a kind devices() lists
      check_layers           the names are among layers(); none means the
                             last layer
      devices                ["cpu"]
      train, export          not offered (sdk.ErrUnsupported); overriding
                             one announces the capability
      close                  nothing to release
    """

    name = "python"
    version = "0.0.0"
    # The weights formats load reads ("safetensors", "pth", "onnx"); the
    # host converts .pth checkpoints for a plugin that reads safetensors.
    weights_formats = ()

    # Set before load from the arch's Arch; load may change them.
    arch = None
    input_shape = None
    input_dtype = "float32"
    # name -> numpy array, for the default params and set_trainable.
    weights = None

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        # Here rather than in __init__, which a subclass may replace.
        self.lock = threading.RLock()  # for models that keep state
        self._frozen = set()
        self._layer_names = {}
        return self

    # -- what every plugin writes ------------------------------------------

    def describe(self):
        """Returns the architectures offered: a list of Arch."""
        raise NotImplementedError("%s.describe" % type(self).__name__)

    def load(self, req):
        """Builds the model a LoadRequest asks for into this instance:
        seeded random weights when req.weights_path is empty."""
        raise NotImplementedError("%s.load" % type(self).__name__)

    def layers(self, input_shape):
        """Returns the feature layers (a list of Layer) for input_shape,
        whose batch is -1, in forward order."""
        raise NotImplementedError("%s.layers" % type(self).__name__)

    def extract(self, x, layers):
        """Returns {name: array} for the layers named, from one forward
        pass over x (a numpy array that check_input accepted). A model
        with further inputs takes a third argument, a dict of them."""
        raise NotImplementedError("%s.extract" % type(self).__name__)

    # -- defaults ------------------------------------------------------------

    def devices(self):
        """The devices the plugin runs on, for Describe."""
        return ["cpu"]

    def params(self):
        """Returns the parameters, a list of Param."""
        return [Param(n, list(np.shape(a)), n not in self._frozen) for n, a in (self.weights or {}).items()]

    def set_trainable(self, patterns, trainable):
        """Freezes (trainable False) or unfreezes the parameters whose names
        match any of the glob patterns ('*' spans dots); returns the names
        matched. A pattern that matches nothing is an error (NoMatch)."""
        pats = [compile_pattern(p) for p in patterns]
        with self.lock:
            names = [p.name for p in self.params()]
            missed = [pat for pat, p in zip(patterns, pats) if names and not any(p.match(n) for n in names)]
            if missed:
                raise no_match_error(missed, names)
            matched = [n for n in names if any(p.match(n) for p in pats)]
            if trainable:
                self._frozen.difference_update(matched)
            else:
                self._frozen.update(matched)
            return matched

    def check_input(self, shape, dtype=None, free_batch=False):
        """Raises BadInput unless an input of shape (and dtype, when given)
        fits input_shape and input_dtype: the same rank, the fixed
        dimensions equal, every dimension positive (the batch may be -1
        when free_batch, as Layers takes it)."""
        want = list(self.input_shape)
        want[0] = -1
        ok = len(shape) == len(want) and all(
            (d == -1 and i == 0 and free_batch) or (d > 0 and (w < 0 or d == w))
            for i, (d, w) in enumerate(zip(shape, want)))
        if dtype is not None and dtype != self.input_dtype:
            raise shape_error("input", want, list(shape), "convert the input to %s" % self.input_dtype,
                              dtype=dtype, want_dtype=self.input_dtype)
        if not ok:
            raise shape_error("input", want, list(shape), "give a %s batch shaped like %s" % (self.input_dtype, _fmt(want)),
                              dtype=dtype or "", want_dtype=self.input_dtype)

    def check_device(self, device):
        """Raises DeviceUnavailable unless device ("" for the default, or
        KIND or KIND:N) is of a kind devices() lists: a model never runs
        elsewhere than asked."""
        if device and device.split(":")[0] not in self.devices():
            raise DeviceUnavailable("device %r: plugin %s runs on %s: pick one of those" % (device, self.name, ", ".join(self.devices())))

    def check_layers(self, names, shape):
        """Returns the layers to extract for an input of shape: names, or
        the last layer when names is empty. Raises UnknownLayer, with
        suggestions, for a name layers() does not list."""
        key = tuple(shape[1:])
        known = self._layer_names.get(key)
        if known is None:
            known = self._layer_names[key] = [l[0] for l in self.layers([-1] + list(shape[1:]))]
        if not names:
            return known[-1:]
        for n in names:
            if n not in known:
                raise layer_error(n, known)
        return list(names)

    def train(self, config, batches):
        """Trains the model: config is a TrainConfig, batches yields Batch
        values (each epoch's training batches, then its validation ones,
        the last marked end_of_epoch). Yields TrainEvent values."""
        raise Unsupported("train is not a capability of plugin %s" % self.name)

    def export(self, path, fmt, layers, opset):
        """Writes the model to path (absolute) in format fmt ("pth",
        "onnx", "safetensors" or "" to pick by the path), with the named
        layers as extra outputs where the format has outputs."""
        raise Unsupported("export is not a capability of plugin %s" % self.name)

    def close(self):
        """Releases what the model holds; called once, when the host closes
        the model or when load fails (so it must cope with a partial
        load)."""


def overrides(obj, method):
    """Whether obj's class replaces Backbone's method."""
    return getattr(type(obj), method) is not getattr(Backbone, method)


def _fmt(shape):
    return "[" + ", ".join("N" if i == 0 else "*" if d < 0 else str(d) for i, d in enumerate(shape)) + "]"

