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

The Go side is sdktest.MakeFixture(s), Fixture.Check and
Fixture.CheckCoverage.
"""
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
            # Clone: ReLU(inplace) and `out += identity` work in place.
            captured[name] = output.detach().clone()
        return f

    for name in layers:
        # A module whose output extra computes is not hooked: its output
        # may be no tensor (an nn.LSTM fed a PackedSequence).
        if name in modules and name not in extra:
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
