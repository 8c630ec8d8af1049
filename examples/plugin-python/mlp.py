"""A gozoo backbone in numpy: a multilayer perceptron fc1, act1, fc2, act2,
head (Linear and ReLU), every module a feature layer.

Names follow PyTorch's, so a torch.nn.Module with those attributes saves a
state_dict that loads here: gozoo converts its .pth to safetensors, the
one format this plugin reads.
"""

import numpy as np

import gozoo_plugin as gp
from gozoo_plugin import safetensors


class MLP(gp.Backbone):
    name = "mlp"
    version = "0.1.0"
    weights_formats = ("safetensors",)

    def describe(self):
        return [gp.Arch("mlp", [-1, 64], "fc1, act1, fc2, act2, head: Linear layers with ReLU between them", options=[
            gp.Option("in_features", "64", "input features"),
            gp.Option("hidden", "32", "outputs of fc1 and fc2"),
            gp.Option("classes", "10", "outputs of head"),
        ])]

    def load(self, req):
        try:
            n, h, c = (int(req.options[k]) for k in ("in_features", "hidden", "classes"))
        except ValueError:
            n = h = c = 0
        if min(n, h, c) < 1:
            raise gp.BadOption("in_features, hidden and classes take positive integers (got %s)" % req.options)
        self.input_shape = [-1, n]
        sizes = {"fc1": (h, n), "fc2": (h, h), "head": (c, h)}
        want = {}
        for layer, (out, inp) in sizes.items():
            want[layer + ".weight"], want[layer + ".bias"] = (out, inp), (out,)
        if req.weights_path:
            w, _ = safetensors.read(req.weights_path)
            got = {k: tuple(v.shape) for k, v in w.items()}
            bad = ["%s is %s, want %s" % (k, got.get(k, "missing"), want.get(k, "none")) for k in sorted(want.keys() | got.keys())
                   if got.get(k) != want.get(k)]
            if bad:
                raise gp.Weights("weights %s do not fit mlp with in_features=%d, hidden=%d, classes=%d: %s: "
                                 "set the options to the checkpoint's" % (req.weights_path, n, h, c, "; ".join(bad)))
        else:  # torch.nn.Linear's initialisation, seeded: uniform within 1/sqrt(inputs)
            rng = np.random.default_rng(req.seed)
            w = {}
            for layer, (out, inp) in sizes.items():
                w[layer + ".weight"] = rng.uniform(-1, 1, (out, inp)) / np.sqrt(inp)
                w[layer + ".bias"] = rng.uniform(-1, 1, out) / np.sqrt(inp)
        self.weights = {k: v.astype(np.float32) for k, v in w.items()}

    def layers(self, input_shape):
        w = self.weights
        size = lambda l: w[l + ".weight"].size + w[l + ".bias"].size
        h, c = len(w["fc1.bias"]), len(w["head.bias"])
        return [gp.Layer("fc1", "Linear", [-1, h], size("fc1")), gp.Layer("act1", "ReLU", [-1, h]),
                gp.Layer("fc2", "Linear", [-1, h], size("fc2")), gp.Layer("act2", "ReLU", [-1, h]),
                gp.Layer("head", "Linear", [-1, c], size("head"))]

    def extract(self, x, layers):
        out = {}
        for name, kind, _, _ in self.layers(x.shape):
            x = np.maximum(x, 0) if kind == "ReLU" else x @ self.weights[name + ".weight"].T + self.weights[name + ".bias"]
            out[name] = x
        return {n: out[n] for n in layers}


if __name__ == "__main__":
    raise SystemExit(gp.serve(MLP))
