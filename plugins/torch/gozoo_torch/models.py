"""The models the torch plugin loads: torchvision architectures, a user's
module given as package.module:factory, and TorchScript files.

Every nn.Module of a model is a feature layer named by its module path
(named_modules), exactly as gozoo's Go plugins name their layers; a
module called several times in one forward pass (a shared ReLU) yields its
last call's output.
"""

import importlib
import os
import sys
import threading

import torch
import torchvision

from gozoo_plugin import (BadInput, BadOption, DeviceUnavailable, UnknownArch, UnknownLayer, Unsupported, Weights,
                          absolute, compile_pattern, layer_error, no_match_error, shape_error)

from . import safetensors

# name -> (torchvision constructor name, default input, doc)
_IMAGE = [-1, 3, 224, 224]
ARCHS = {}
for _n, _doc in [
    ("resnet18", "ResNet-18 (BasicBlock)"),
    ("resnet34", "ResNet-34 (BasicBlock)"),
    ("resnet50", "ResNet-50 (Bottleneck)"),
    ("resnet101", "ResNet-101 (Bottleneck)"),
    ("resnet152", "ResNet-152 (Bottleneck)"),
    ("resnext50_32x4d", "ResNeXt-50 32x4d"),
    ("resnext101_32x8d", "ResNeXt-101 32x8d"),
    ("wide_resnet50_2", "Wide ResNet-50-2"),
    ("wide_resnet101_2", "Wide ResNet-101-2"),
    ("vgg11", "VGG-11"),
    ("vgg11_bn", "VGG-11 with batch norm"),
    ("vgg13", "VGG-13"),
    ("vgg13_bn", "VGG-13 with batch norm"),
    ("vgg16", "VGG-16"),
    ("vgg16_bn", "VGG-16 with batch norm"),
    ("vgg19", "VGG-19"),
    ("vgg19_bn", "VGG-19 with batch norm"),
]:
    ARCHS[_n] = (_IMAGE, _doc + ", torchvision %s" % torchvision.__version__)
ARCHS["inception_v3"] = ([-1, 3, 299, 299], "Inception v3 (with AuxLogits), torchvision %s" % torchvision.__version__)
ARCHS["googlenet"] = (_IMAGE, "GoogLeNet (with aux classifiers), torchvision %s" % torchvision.__version__)

MODULE = "module"
TORCHSCRIPT = "torchscript"

# (name, default, usage, is a path): the host makes path options absolute.
COMMON_OPTIONS = [
    ("input_shape", "", "default input shape, e.g. 1,3,224,224 (Layers and ONNX export use it)", False),
    ("reset_head", "false", "true or auto: keep a fresh, seeded head when the checkpoint's head has another shape (fine-tuning to new classes)", False),
    ("inputs", "", "the inputs as NAME:DTYPE:SHAPE;... (dtype float32 or int64, shape like 1x12), one per forward argument; default: one float32 input of input_shape", False),
    ("strip_prefix", "", "prefix to strip from every checkpoint key before matching, e.g. module. for a checkpoint saved from nn.DataParallel", False),
]
ARCH_OPTIONS = [("num_classes", "1000", "output features of the classifier", False)] + COMMON_OPTIONS
# ResNets also take the base width, as gozoo's resnet plugin does.
RESNET_OPTIONS = ARCH_OPTIONS + [("width", "64", "base channel count (conv1 and layer1; stages double it); smaller than 64 gives a slim model with torchvision's state_dict names", False)]
RESNETS = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
           "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"}


def arch_options(arch):
    """The options arch takes."""
    if arch == MODULE:
        return MODULE_OPTIONS
    if arch == TORCHSCRIPT:
        return SCRIPT_OPTIONS
    return RESNET_OPTIONS if arch in RESNETS else ARCH_OPTIONS


def slim_resnet(net, width):
    """Rebuilds torchvision ResNet net with base channel count width
    (torchvision's is 64): conv1 and layer1 have width channels and each
    stage doubles it; module and parameter names stay torchvision's. The
    new modules get torchvision's ResNet init."""
    from torchvision.models.resnet import Bottleneck, BasicBlock
    block = Bottleneck if isinstance(net.layer1[0], Bottleneck) else BasicBlock
    layers = [len(getattr(net, "layer%d" % i)) for i in range(1, 5)]
    norm = net._norm_layer
    net.inplanes = width
    net.dilation = 1
    net.conv1 = torch.nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = norm(width)
    net.layer1 = net._make_layer(block, width, layers[0])
    net.layer2 = net._make_layer(block, 2 * width, layers[1], stride=2)
    net.layer3 = net._make_layer(block, 4 * width, layers[2], stride=2)
    net.layer4 = net._make_layer(block, 8 * width, layers[3], stride=2)
    net.fc = torch.nn.Linear(8 * width * block.expansion, net.fc.out_features)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
            torch.nn.init.constant_(m.weight, 1)
            torch.nn.init.constant_(m.bias, 0)
    return net
MODULE_OPTIONS = [
    ("factory", "", "package.module:factory returning the nn.Module (its code runs: name only code you trust)", False),
    ("path", "", "folder added to the Python path to import the factory's package", True),
    ("num_classes", "", "passed to the factory as num_classes when set", False),
] + COMMON_OPTIONS
SCRIPT_OPTIONS = [("file", "", "the TorchScript file (torch.jit.save); it runs code from the file: load only files you trust", True)] + COMMON_OPTIONS


def parse_device(device):
    """Returns the torch.device for a gozoo device name, or raises."""
    if device in ("", "cpu"):
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable("device %s: this PyTorch (%s) sees no CUDA device: use --device cpu or install a CUDA build of torch" % (device, torch.__version__))
        try:
            d = torch.device(device)
        except RuntimeError:
            raise BadOption("device %r: write cuda or cuda:N" % device)
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise DeviceUnavailable("device %s: only %d CUDA devices" % (device, torch.cuda.device_count()))
        return d
    raise DeviceUnavailable("device %r: the torch plugin runs on cpu, cuda or cuda:N" % device)


def parse_shape(s, what):
    try:
        dims = [int(x) for x in s.replace("x", ",").split(",") if x.strip() != ""]
    except ValueError:
        dims = []
    if not dims or any(d == 0 or d < -1 for d in dims):
        raise BadOption("%s=%r: write positive integers separated by commas, e.g. 1,3,224,224" % (what, s))
    return dims


_TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64}


def parse_inputs(s):
    """Reads the inputs option, NAME:DTYPE:SHAPE;...: [(name, dtype, shape)]."""
    out = []
    for part in s.split(";"):
        fields = part.strip().split(":")
        if len(fields) != 3 or not fields[0] or fields[1] not in _TORCH_DTYPES:
            raise BadOption("inputs=%r: write NAME:DTYPE:SHAPE;... with dtype float32 or int64, e.g. tokens:int64:1x12;feats:float32:1x4" % s)
        if fields[0] in [o[0] for o in out]:
            raise BadOption("inputs=%r: input %s named twice" % (s, fields[0]))
        out.append((fields[0], fields[1], parse_shape(fields[2], "inputs")))
    return out


def _import_factory(spec, path):
    mod, sep, fn = spec.partition(":")
    if not sep or not mod or not fn:
        raise BadOption("factory=%r: write package.module:factory" % spec)
    if path:
        absolute(path, "option path")
        if not os.path.isdir(path):
            raise BadOption("path=%r is not a folder" % path)
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        m = importlib.import_module(mod)
    except Exception as e:  # the user's code: any error
        raise BadOption("factory %s: import %s: %s: %s (set the module path to the folder holding the package)" % (spec, mod, type(e).__name__, e))
    f = getattr(m, fn, None)
    if f is None or not callable(f):
        raise BadOption("factory %s: %s has no callable %s" % (spec, mod, fn))
    return f


def load_weights(path, fmt):
    """Reads a state_dict from a safetensors file, which runs no code. The
    torch plugin never unpickles a user's file: gozoo's host converts .pth
    checkpoints to safetensors with its allow-listed reader first (the
    plugin announces safetensors as the only format it reads)."""
    absolute(path, "weights")
    if fmt == "safetensors" or (fmt == "" and path.endswith(".safetensors")):
        sd, _ = safetensors.read(path)
        return sd
    raise Unsupported("weights %s: the torch plugin reads safetensors files only, so that no pickle in a "
                     "checkpoint runs; gozoo converts .pth files before they reach the plugin: load through gozoo "
                     "(sdk/host), or convert the file with gozoo's bridge" % path)


class Model:
    """One loaded model. Methods are safe for concurrent use: forward passes
    are serialised by a lock, because hooks are shared."""

    def __init__(self, arch, net, input_shape, device, scripted=False, inputs=None):
        self.arch = arch
        self.net = net
        self.input_shape = list(input_shape)
        # [(name, dtype name, shape)]: one per forward argument.
        self.inputs = inputs or [("input", "float32", list(input_shape))]
        self.device = device
        self.scripted = scripted
        self.lock = threading.RLock()
        self._layers = {}  # tuple(input shape) -> [(name, kind, shape, params)]
        self.training = False

    # -- layers -------------------------------------------------------------

    def modules(self):
        if self.scripted:
            return {}
        return {n: m for n, m in self.net.named_modules() if n != ""}

    def layers(self, input_shape=None):
        shape = list(input_shape or self.input_shape)
        self.check_input_shape(shape, free_batch=True)
        key = tuple(shape)
        with self.lock:
            if key in self._layers:
                return self._layers[key]
            run = [1 if d == -1 else d for d in shape]
            x = torch.zeros(run, dtype=_TORCH_DTYPES[self.inputs[0][1]], device=self.device)
            extras = [torch.zeros([run[0]] + list(s[1:]), dtype=_TORCH_DTYPES[dt], device=self.device) for _, dt, s in self.inputs[1:]]
            if self.scripted:
                out = self._forward(x)
                kind = getattr(self.net, "original_name", type(self.net).__name__)
                res = [("output", kind, [-1] + list(_first_tensor(out).shape[1:]), _count(self.net))]
            else:
                order, shapes = [], {}
                hooks = []
                for name, m in self.modules().items():
                    hooks.append(m.register_forward_pre_hook(_pre(name, order)))
                    hooks.append(m.register_forward_hook(_post(name, shapes)))
                try:
                    self._forward(x, extras)
                finally:
                    for h in hooks:
                        h.remove()
                mods = self.modules()
                res = []
                for name in order:
                    if name not in shapes:
                        continue
                    s = list(shapes[name])
                    if s:
                        s[0] = -1
                    res.append((name, type(mods[name]).__name__, s, _count(mods[name])))
            self._layers[key] = res
            return res

    def want_shape(self):
        """The first input's shape with its free dimensions -1: the batch,
        and every one after the channels (or features)."""
        want = list(self.input_shape)
        want[0] = -1
        for i in range(2, len(want)):
            want[i] = -1
        return want

    def check_input_shape(self, shape, free_batch=False, dtype=""):
        """Raises a shape error unless shape fits the first input; dtype is
        the dtype seen, for the message."""
        want = self.want_shape()
        bad = len(shape) != len(want) or any(d == 0 or d < -1 or (d == -1 and not (free_batch and i == 0)) for i, d in enumerate(shape))
        if not bad and len(want) > 1 and want[1] > 0 and shape[1] != want[1]:
            bad = True
        if bad:
            raise shape_error("input", want, list(shape), "give a %s batch shaped like %s" % (self.inputs[0][1], _fmt(want)), dtype=dtype, want_dtype=self.inputs[0][1])

    # -- forward ------------------------------------------------------------

    def _forward(self, x, extras=()):
        self.net.eval()
        try:
            with torch.no_grad():
                return self.net(x, *extras)
        except (RuntimeError, IndexError, TypeError) as e:
            seen = ", ".join("%s%s" % (str(t.dtype).replace("torch.", ""), list(t.shape)) for t in (x,) + tuple(extras))
            raise BadInput("%s: forward pass on inputs %s failed: %s" % (self.arch, seen, str(e).splitlines()[0]))

    def order_extras(self, extras, n):
        """Returns the further inputs in forward-argument order, checked
        against the inputs option for a batch of n rows."""
        extras = extras or {}
        names = [name for name, _, _ in self.inputs[1:]]
        for k in extras:
            if k not in names:
                raise BadInput("input %r is not one of %s's further inputs (%s): name them with the inputs option" % (k, self.arch, ", ".join(names) or "none"))
        out = []
        for name, dt, shape in self.inputs[1:]:
            t = extras.get(name)
            if t is None:
                raise BadInput("%s takes %d inputs; input %r is missing" % (self.arch, len(self.inputs), name))
            want = [n] + list(shape[1:])
            if t.dtype != _TORCH_DTYPES[dt] or len(t.shape) != len(want) or any(w > 0 and g != w for g, w in zip(t.shape, want)):
                raise shape_error("input %r" % name, want, list(t.shape), "give %s%s with the first input's %d rows" % (dt, _fmt([-1] + list(shape[1:])), n),
                                  dtype=str(t.dtype).replace("torch.", ""), want_dtype=dt)
            out.append(t.to(self.device))
        return out

    def extract(self, x, names, extras=None):
        want_dt = _TORCH_DTYPES[self.inputs[0][1]]
        if x.dtype != want_dt:
            raise shape_error("input", self.want_shape(), list(x.shape), "convert the input to %s" % self.inputs[0][1],
                              dtype=str(x.dtype).replace("torch.", ""), want_dtype=self.inputs[0][1])
        self.check_input_shape(list(x.shape), dtype=self.inputs[0][1])
        more = self.order_extras(extras, x.shape[0])
        with self.lock:
            if self.training:
                raise BadInput("%s is training: extract after the training run ends" % self.arch)
            if self.scripted:
                names = names or ["output"]
                for n in names:
                    if n != "output":
                        raise layer_error(n, ["output"])
                out = self._forward(x.to(self.device))
                return {"output": _first_tensor(out)}
            mods = self.modules()
            if not names:
                names = [self.layers()[-1][0]]
            for n in names:
                if n not in mods:
                    raise layer_error(n, list(mods))
            got, hooks = {}, []
            for n in set(names):
                hooks.append(mods[n].register_forward_hook(_keep(n, got)))
            try:
                self._forward(x.to(self.device), more)
            finally:
                for h in hooks:
                    h.remove()
            missing = [n for n in names if n not in got]
            if missing:
                raise UnknownLayer("layers %s do not run in %s's forward pass (eval mode): pick another layer (gozoo layers lists those that run)" % (missing, self.arch), {"layer": missing[0], "suggestions": ""})
            return {n: got[n] for n in names}

    # -- parameters -----------------------------------------------------------

    def params(self):
        return [(n, list(p.shape), p.requires_grad) for n, p in self.net.named_parameters()]

    def set_trainable(self, patterns, trainable):
        pats = [compile_pattern(p) for p in patterns]
        with self.lock:
            named = list(self.net.named_parameters())
            matched = [n for n, _ in named if any(p.match(n) for p in pats)]
            missed = [pat for pat, p in zip(patterns, pats) if named and not any(p.match(n) for n, _ in named)]
            if missed:
                raise no_match_error(missed, [n for n, _ in named])
            keep = set(matched)
            for n, p in named:
                if n in keep:
                    p.requires_grad_(bool(trainable))
            return matched

    def head_prefix(self):
        """The top-level module holding the last parameter: the classifier
        head (fc for ResNet, classifier for VGG)."""
        names = [n for n, _ in self.net.named_parameters()]
        if not names:
            return ""
        return names[-1].split(".")[0]

    def train_mode(self):
        """Puts the net in training mode, except batch-norm layers whose
        parameters are all frozen: they keep their running statistics
        (eval mode), as timm's freeze does."""
        self.net.train()
        for m in self.net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                ps = list(m.parameters(recurse=False))
                if ps and not any(p.requires_grad for p in ps):
                    m.eval()


def _fmt(shape):
    return "[" + ", ".join("N" if d == -1 else ("H" if i == 2 else "W" if i == 3 else str(d)) for i, d in enumerate(shape)) + "]"


def _count(m):
    return sum(p.numel() for p in m.parameters())


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(out, dict):
        for o in out.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _pre(name, order):
    def hook(m, inp):
        if name not in order:
            order.append(name)
    return hook


def _post(name, shapes):
    def hook(m, inp, out):
        t = _first_tensor(out)
        if t is not None:
            shapes[name] = tuple(t.shape)
    return hook


def _keep(name, got):
    def hook(m, inp, out):
        t = _first_tensor(out)
        if t is not None:
            # A copy: an in-place op after the module (ReLU(inplace=True)
            # after a BatchNorm) would otherwise overwrite what we keep.
            got[name] = t.detach().clone()
    return hook


def build(req):
    """Builds the Model a LoadRequest asks for."""
    opts = dict(req.options)
    device = parse_device(req.device)
    if req.threads > 0:
        torch.set_num_threads(req.threads)
    torch.manual_seed(req.seed)
    known = arch_options(req.arch)
    for k in opts:
        if k not in [o[0] for o in known]:
            raise BadOption("option %r: %s takes %s" % (k, req.arch, ", ".join(o[0] for o in known)))
    reset = opts.get("reset_head", "false")
    if reset not in ("true", "false", "auto"):
        raise BadOption("reset_head=%r: use true, false or auto" % reset)
    num_classes = None
    if opts.get("num_classes", ""):
        try:
            num_classes = int(opts["num_classes"])
        except ValueError:
            num_classes = 0
        if num_classes < 1:
            raise BadOption("num_classes=%r: give a positive integer" % opts["num_classes"])
    scripted = False
    weights = req.weights_path
    if req.arch == TORCHSCRIPT:
        # TorchScript runs code from the file: only when the user names it
        # by option file (the arch and the option both say so), never for
        # a weights path.
        f = opts.get("file")
        if not f:
            raise BadOption("torchscript: give the TorchScript file as option file=PATH (weights are state_dicts, never TorchScript)")
        absolute(f, "option file")
        if not os.path.isfile(f):
            raise Weights("torchscript %s: no such file" % f)
        try:
            net = torch.jit.load(f, map_location="cpu")
        except Exception as e:
            raise Weights("torchscript %s: %s (save it with torch.jit.save)" % (f, str(e).splitlines()[0] if str(e) else type(e).__name__))
        scripted = True
        shape = [-1, 3, 224, 224]
    elif req.arch == MODULE:
        if not opts.get("factory"):
            raise BadOption("module: option factory=package.module:factory is required")
        f = _import_factory(opts["factory"], opts.get("path", ""))
        kwargs = {"num_classes": num_classes} if num_classes else {}
        try:
            net = f(**kwargs)
        except Exception as e:
            raise BadOption("factory %s: %s: %s" % (opts["factory"], type(e).__name__, e))
        if not isinstance(net, torch.nn.Module):
            raise BadOption("factory %s returned %s; want a torch.nn.Module" % (opts["factory"], type(net).__name__))
        shape = [-1, 3, 224, 224]
    elif req.arch in ARCHS:
        shape = ARCHS[req.arch][0]
        ctor = getattr(torchvision.models, req.arch)
        kw = {"weights": None, "num_classes": num_classes or 1000}
        if req.arch in ("inception_v3", "googlenet"):
            kw.update(aux_logits=True, init_weights=True)
        net = ctor(**kw)
        if opts.get("width", "64") != "64":
            try:
                width = int(opts["width"])
            except ValueError:
                width = 0
            if width < 1 or width > 4096:
                raise BadOption("width=%r: give the base channel count, a positive integer (torchvision's is 64)" % opts["width"])
            net = slim_resnet(net, width)
    else:
        raise UnknownArch("torch: arch %r: the plugin offers %s, %s and %s" % (req.arch, ", ".join(ARCHS), MODULE, TORCHSCRIPT))
    inputs = None
    if opts.get("inputs"):
        if opts.get("input_shape"):
            raise BadOption("options inputs and input_shape: give the shapes once, in inputs")
        if scripted and ";" in opts["inputs"]:
            raise Unsupported("inputs: a TorchScript model takes one input here")
        inputs = parse_inputs(opts["inputs"])
        shape = list(inputs[0][2])
        shape[0] = -1
    if opts.get("input_shape"):
        shape = parse_shape(opts["input_shape"], "input_shape")
        shape[0] = -1
    model = Model(req.arch, net, shape, device, scripted, inputs)
    if weights:
        sd = strip_prefix(load_weights(weights, req.weights_format), opts.get("strip_prefix", ""), weights)
        _load_into(model, sd, reset, weights)
    net.to(device)
    net.eval()
    return model


def strip_prefix(sd, prefix, path):
    """Removes prefix from every key of sd, as bridge.LoadStripped does."""
    if not prefix:
        return sd
    for k in sd:
        if not k.startswith(prefix):
            raise Weights("load %s: option strip_prefix=%s, but key %r does not start with it: drop the option, or give the prefix every key has" % (path, prefix, k))
    return {k[len(prefix):]: v for k, v in sd.items()}


def _load_into(model, sd, reset, path):
    net = model.net
    own = net.state_dict()
    head = model.head_prefix() + "."
    if reset in ("true", "auto"):
        differs = any(k.startswith(head) and (k not in sd or tuple(sd[k].shape) != tuple(own[k].shape)) for k in own)
        if reset == "true" or differs:
            sd = {k: v for k, v in sd.items() if not k.startswith(head)}
            for k, v in own.items():
                if k.startswith(head):
                    sd[k] = v
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    wrong = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    # torch accepts a state_dict without num_batches_tracked.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append("missing %s" % _few(missing))
        if extra:
            parts.append("unexpected %s" % _few(extra))
        if wrong:
            parts.append("shape differs for %s" % ", ".join("%s (%s in file, %s in model)" % (k, list(sd[k].shape), list(own[k].shape)) for k in wrong[:3]))
        hint = "load it with the arch it was saved from"
        if extra and all(k.startswith("module.") for k in sd):
            hint = "the checkpoint was saved from nn.DataParallel: load it with option strip_prefix=module. (gozoo: --opt strip_prefix=module.)"
        if wrong and all(k.startswith(head) for k in wrong):
            hint = "set num_classes to the checkpoint's, or reset_head=auto to train a new head"
        raise Weights("weights %s do not fit %s: %s: %s" % (os.path.basename(path), model.arch, "; ".join(parts), hint))
    net.load_state_dict(sd, strict=False)


def _few(keys):
    s = ", ".join(keys[:4])
    if len(keys) > 4:
        s += " and %d more" % (len(keys) - 4)
    return s
