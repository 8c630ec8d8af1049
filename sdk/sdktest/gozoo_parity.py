"""Parity fixtures for gozoo backbone tests, shared by every family.

A family's testdata/make_parity.py builds its torch module, then calls

    import gozoo_parity as gp
    gp.realistic_norms(model)            # BatchNorm/LayerNorm far from identity
    gp.write(out, model, inputs, layers)  # hooks, float32 and float64 runs

which writes into OUT:
  weights.pth     the model's state_dict (torch.save)
  input.bin       the first input, raw little-endian (float32 or int64);
                  further inputs as input1.bin, input2.bin, ...
  <layer>.bin     each requested layer's output in float32 (forward hooks;
                  the last call of a module called several times)
  <layer>.f64.bin the same layer from a float64 run of the same weights,
                  written as float32, when float64=True
  meta.json       {"input": shape, "inputs": [[shape, dtype], ...],
                   "outputs": {layer: shape},
                   "modules": [[name, class], ...] (named_modules, no root),
                   "params": [[name, shape], ...] (named_parameters)}

A script that ends with `gp.main(main)`, main taking an argv list, also
runs as `script --cases FILE`, once per line `OUTDIR args...` of FILE,
for sdktest.MakeFixtures.

For a model too big to run in a test, build it inside gp.meta_device()
and call gp.write_meta(out, model, shape): meta.json only, with every
called module's output shape and "uncalled" (modules the forward never
calls), for Fixture.CheckGraph. Families of torchvision models may write
all their fixtures in one run with gp.run_specs(sys.argv[1:], build), from
the sdktest.Spec arguments of a sdktest.FixtureSet.

The Go side is sdktest.MakeFixture(s), Fixture.Check and
Fixture.CheckCoverage.
"""
import contextlib
import copy
import json
import os
import shlex
import sys

import torch


def main(fn):
    """Runs fn(argv) for the command line, or for each line of FILE given
    as `--cases FILE` (split as a shell would), sparing a PyTorch start
    per fixture."""
    if len(sys.argv) == 3 and sys.argv[1] == "--cases":
        with open(sys.argv[2]) as f:
            for line in f:
                if line.strip():
                    fn(shlex.split(line))
    else:
        fn(sys.argv[1:])


def threads():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def realistic_norms(model, weight=(0.2, 0.6), bias=0.2, mean=0.2, var=(0.5, 1.5)):
    """Give every norm layer affine parameters and running statistics far
    from the init's ones and zeros, small enough that deep nets stay O(1)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    m.weight.uniform_(*weight)
                    m.bias.normal_(0.0, bias)
                if m.track_running_stats:
                    m.running_mean.normal_(0.0, mean)
                    m.running_var.uniform_(*var)
                    m.num_batches_tracked.fill_(7)
            elif isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)) and m.weight is not None:
                m.weight.uniform_(*weight)
                m.bias.normal_(0.0, bias)


def _capture(model, layers, inputs, kwargs, extra):
    modules = dict(model.named_modules())
    captured = {}
    handles = []

    def hook(name):
        def f(_module, _inputs, output):
            if isinstance(output, (tuple, list)):
                output = output[0]
            # An output that is no tensor (an nn.LSTM fed a PackedSequence)
            # is left to extra, which computes that layer.
            if torch.is_tensor(output):
                # Clone: ReLU(inplace) and `out += identity` work in place.
                captured[name] = output.detach().clone()
        return f

    for name in layers:
        # Modules whose output extra computes are hooked too: extra may
        # start from the module's own output (masking padding, say).
        if name in modules:
            handles.append(modules[name].register_forward_hook(hook(name)))
    with torch.no_grad():
        out = model(*inputs, **kwargs)
    for h in handles:
        h.remove()
    return captured, out


def write(out, model, inputs, layers, float64=False, extra=None, kwargs=None, state_dict=None):
    """Run model on inputs (a tensor or a tuple), hook layers and write the
    fixture. extra maps layer names that are not modules (e.g. a pooled
    token), or modules whose hooked output is no tensor, to functions of
    (captured, output) returning the tensor."""
    if torch.is_tensor(inputs):
        inputs = (inputs,)
    kwargs = kwargs or {}
    extra = extra or {}
    model.eval()
    os.makedirs(out, exist_ok=True)
    torch.save(state_dict if state_dict is not None else model.state_dict(), os.path.join(out, "weights.pth"))
    captured, result = _capture(model, layers, inputs, kwargs, extra)
    for name, fn in extra.items():
        captured[name] = fn(captured, result)
    missing = [l for l in layers if l not in captured]
    if missing:
        raise SystemExit("no module or extra named %s" % ", ".join(missing))
    outputs = {}
    for name in layers:
        t = captured[name]
        t.float().numpy().astype("<f4").tofile(os.path.join(out, name + ".bin"))
        outputs[name] = list(t.shape)
    if float64:
        m64 = copy.deepcopy(model).double()
        in64 = tuple(x.double() if x.is_floating_point() else x for x in inputs)
        cap64, res64 = _capture(m64, layers, in64, kwargs, extra)
        for name, fn in extra.items():
            cap64[name] = fn(cap64, res64)
        for name in layers:
            cap64[name].float().numpy().astype("<f4").tofile(os.path.join(out, name + ".f64.bin"))
    metas = []
    for i, x in enumerate(inputs):
        suffix = "" if i == 0 else str(i)
        if x.is_floating_point():
            x.float().numpy().astype("<f4").tofile(os.path.join(out, "input%s.bin" % suffix))
            metas.append([list(x.shape), "float32"])
        else:
            x.long().numpy().astype("<i8").tofile(os.path.join(out, "input%s.bin" % suffix))
            metas.append([list(x.shape), "int64"])
    meta = {
        "input": metas[0][0],
        "inputs": metas,
        "outputs": outputs,
        "float64": bool(float64),
        "modules": [[n, type(m).__name__] for n, m in model.named_modules() if n],
        "params": [[n, list(t.shape)] for n, t in model.named_parameters()],
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f)


@contextlib.contextmanager
def meta_device():
    """Builds modules on torch's meta device: inside the block, torch.empty,
    torch.zeros and torch.ones called without a device make meta tensors,
    which have shapes but no storage, so even a model of hundreds of
    millions of parameters builds in a fraction of a second (torch 1.13 has
    no torch.device context for this). Other factories (torch.tensor,
    torch.arange) keep their devices, so code that computes a model's
    configuration with them still runs."""
    saved = {n: getattr(torch, n) for n in ("empty", "zeros", "ones")}

    def on_meta(f):
        def g(*args, **kwargs):
            kwargs["device"] = kwargs.get("device") or "meta"
            return f(*args, **kwargs)
        return g

    for n, f in saved.items():
        setattr(torch, n, on_meta(f))
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(torch, n, f)


def write_meta(out, model, shape, kwargs=None):
    """Writes a fixture of shapes only, for models too big to run in a
    test: meta.json with the modules and parameters as write does, the
    output shape of every module the forward calls for an input of the
    given shape, and "uncalled", the modules it never calls; no weights and
    no values. The model's parameters and buffers must be on the meta
    device (build it inside meta_device())."""
    model.eval()
    os.makedirs(out, exist_ok=True)
    shapes = {}
    handles = []
    names = [n for n, _ in model.named_modules() if n]
    modules = dict(model.named_modules())

    def hook(name):
        def f(_module, _inputs, output):
            if isinstance(output, (tuple, list)):
                output = output[0]
            shapes[name] = list(output.shape)
        return f

    for name in names:
        handles.append(modules[name].register_forward_hook(hook(name)))
    with torch.no_grad():
        model(torch.empty(*shape, device="meta"), **(kwargs or {}))
    for h in handles:
        h.remove()
    meta = {
        "input": list(shape),
        "inputs": [[list(shape), "float32"]],
        "outputs": shapes,
        "float64": False,
        "modules": [[n, type(modules[n]).__name__] for n in names],
        "params": [[n, list(t.shape)] for n, t in model.named_parameters()],
        "uncalled": [n for n in names if n not in shapes],
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f)


def run_specs(argv, build):
    """Writes the fixtures that sdktest.Spec arguments describe, each into
    its subfolder of OUTDIR, in one run: argv is OUTDIR SPEC..., each SPEC
    space-separated fields
        name=DIR arch=ARCH h=H w=W batch=N seed=S classes=C
        [layers=a,b,c] [f64] [meta]
    and build(arch, num_classes) makes the untrained torch model. A spec
    with layers gets random weights (torch.manual_seed(S)) with realistic
    norms and those layers' outputs for a seeded input [N, 3, H, W] (and a
    float64 run with f64); a meta spec gets a shapes-only fixture of the
    model built on the meta device (write_meta) for [1, 3, H, W]."""
    root = argv[0]
    threads()
    for spec in argv[1:]:
        s = dict(f.partition("=")[::2] for f in spec.split())
        out = os.path.join(root, s["name"])
        h, w, classes = int(s["h"]), int(s["w"]), int(s["classes"])
        if "meta" in s:
            with meta_device():
                model = build(s["arch"], classes)
            write_meta(out, model, (1, 3, h, w))
            continue
        torch.manual_seed(int(s["seed"]))
        model = build(s["arch"], classes)
        realistic_norms(model)
        x = torch.randn(int(s["batch"]), 3, h, w)
        write(out, model, x, [l for l in s.get("layers", "").split(",") if l], float64="f64" in s)
