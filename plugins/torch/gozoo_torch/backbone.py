"""The torch plugin's backbone: gozoo_plugin serves it (handshake,
channel, tensors, errors); this module answers with torch."""

import os

import torch

import gozoo_plugin as gp
from gozoo_plugin import BadInput, BadOption, GozooError, Unsupported, layer_error

from . import models, train


class TorchBackbone(gp.Backbone):
    """torchvision architectures, a user's nn.Module or a TorchScript file.
    An instance holds one loaded models.Model, which does its own input
    and layer checks (with torch's free spatial dimensions) and locking."""

    name = "torch"
    version = "0.1.0"
    # Safetensors only: the host converts other checkpoints with its safe
    # reader, so no pickle from a user's file runs here.
    weights_formats = ("safetensors",)

    def devices(self):
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    def describe(self):
        entries = [gp.Arch(n, shape, doc, options=_options(models.arch_options(n))) for n, (shape, doc) in models.ARCHS.items()]
        entries.append(gp.Arch(models.MODULE, [-1, 3, 224, 224], "your nn.Module: option factory=package.module:factory (and path=DIR)",
                               options=_options(models.MODULE_OPTIONS)))
        entries.append(gp.Arch(models.TORCHSCRIPT, [-1, 3, 224, 224], "a TorchScript file (torch.jit.save), which runs code from the file: option file=PATH",
                               options=_options(models.SCRIPT_OPTIONS)))
        return entries

    def load(self, req):
        self.m = models.build(req)
        self.input_shape = self.m.input_shape

    def check_device(self, device):
        pass  # models.parse_device checks, naming CUDA builds and indices

    def check_input(self, shape, dtype=None, free_batch=False):
        pass  # models.Model checks, with torch's messages

    def check_layers(self, names, shape):
        return names  # models.Model checks and picks the default layer

    def layers(self, input_shape):
        return self.m.layers(input_shape)

    def extract(self, x, layers, extras=None):
        more = {k: torch.from_numpy(v) for k, v in (extras or {}).items()}
        outs = self.m.extract(torch.from_numpy(x), layers, more)
        return {n: _numpy(t) for n, t in outs.items()}

    def params(self):
        return [gp.Param(*p) for p in self.m.params()]

    def set_trainable(self, patterns, trainable):
        return self.m.set_trainable(patterns, trainable)

    def train(self, config, batches):
        with self.m.lock:
            yield from train.run(self.m, config, batches)

    def export(self, path, fmt, layers, opset):
        m = self.m
        if fmt == "":
            fmt = "onnx" if path.endswith(".onnx") else "pth"
        with m.lock:
            if fmt == "pth":
                if layers:
                    raise BadInput("export: layers name extra ONNX outputs; a .pth holds weights only")
                train._save({k: v.detach().cpu() for k, v in m.net.state_dict().items()}, path)
            elif fmt == "onnx":
                export_onnx(m, path, layers, opset or 17)
            else:
                raise Unsupported("export format %s: the torch plugin writes pth or onnx" % fmt)


def _options(opts):
    return [gp.Option(n, d, u, p) for n, d, u, p in opts]


def _numpy(t):
    t = t.detach().cpu()
    if t.dtype != torch.int64:
        t = t.to(torch.float32)
    return t.numpy()


def _with_layers(net, names):
    """Returns a class to swap in for net's own while exporting: its
    forward returns the final output, then the requested layers' outputs
    caught by forward hooks. Swapping the class, rather than wrapping the
    module, keeps the module scopes (and so the node names) unchanged."""
    base = net.__class__
    mods = dict(net.named_modules())

    class WithLayers(base):
        def forward(self, *args, **kwargs):
            got = {}
            hooks = [mods[n].register_forward_hook(_catch(n, got)) for n in names]
            try:
                out = models._first_tensor(base.forward(self, *args, **kwargs))
            finally:
                for h in hooks:
                    h.remove()
            return (out,) + tuple(got[n] for n in names)

    WithLayers.__name__ = base.__name__
    WithLayers.__qualname__ = base.__qualname__
    return WithLayers


def _catch(name, got):
    def hook(m, inp, out):
        # clone: a distinct graph value, safe from later in-place ops.
        got[name] = models._first_tensor(out).clone()
    return hook


def export_onnx(m, path, layers, opset):
    """Writes m as ONNX: its inputs (one "input", or those the inputs
    option names) with a dynamic batch axis, output "output", and one
    output per requested layer, named as the layer."""
    if m.scripted and layers:
        raise Unsupported("export: a TorchScript model exposes no inner layers")
    mods = m.modules()
    for n in layers:
        if n not in mods:
            raise layer_error(n, list(mods))
    in_names = [name for name, _, _ in m.inputs]
    if "output" in layers or any(n in layers for n in in_names):
        raise BadInput("export: layer names %s are reserved for the graph's inputs and output" % ", ".join(in_names + ["output"]))
    if not 7 <= opset <= 17:
        raise BadOption("export: opset %d: torch %s writes opsets 7 to 17" % (opset, torch.__version__))
    xs = []
    for i, (_, dt, s) in enumerate(m.inputs):
        shape = [2 if d == -1 else d for d in (m.input_shape if i == 0 else s)]
        shape[0] = 2
        if dt == "int64":
            # Token ids: 0 and 1 are valid for any embedding.
            xs.append(torch.randint(0, 2, shape, device=m.device))
        else:
            xs.append(torch.randn(shape, device=m.device))
    net = m.net
    base = net.__class__
    names = ["output"] + layers
    axes = {n: {0: "N"} for n in in_names}
    for n in names:
        axes[n] = {0: "N"}
    m.net.eval()
    tmp = path + ".tmp"
    try:
        if layers:
            net.__class__ = _with_layers(net, layers)
        with torch.no_grad():
            torch.onnx.export(net, tuple(xs), tmp, input_names=in_names, output_names=names, dynamic_axes=axes,
                              opset_version=opset, do_constant_folding=True,
                              # PRESERVE keeps batch norms as nodes (EVAL would
                              # fold them into convolutions), so every module
                              # keeps its own output in the graph.
                              training=torch.onnx.TrainingMode.PRESERVE)
        os.replace(tmp, path)
    except GozooError:
        raise
    except Exception as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise BadInput("export %s to ONNX: %s: %s" % (m.arch, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    finally:
        net.__class__ = base
