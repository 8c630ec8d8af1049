"""Writes the ONNX models and numpy reference values sdk/ort's tests use.

usage: gen_models.py OUTDIR      models + inputs/outputs as .npy into OUTDIR
       gen_models.py --fixture   rewrites testdata/affine.onnx (committed,
                                 used by the Example functions)

Every expected output is computed here with numpy, independently of ONNX
Runtime.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def save(model, path):
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def affine():
    # y = 2*x + 1 over x: [N, 3]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    two = numpy_helper.from_array(np.array(2, np.float32), "two")
    one = numpy_helper.from_array(np.array(1, np.float32), "one")
    g = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["twice"]),
         helper.make_node("Add", ["twice", "one"], ["y"])],
        "affine", [x], [y], [two, one])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])


def mlp(out):
    # fc = x @ W + b; relu = max(fc, 0); total = sum(relu) (a scalar);
    # rowsum = sum(relu, axis=1)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    outs = [
        helper.make_tensor_value_info("fc", TensorProto.FLOAT, ["N", 3]),
        helper.make_tensor_value_info("relu", TensorProto.FLOAT, ["N", 3]),
        helper.make_tensor_value_info("rowsum", TensorProto.FLOAT, ["N"]),
        helper.make_tensor_value_info("total", TensorProto.FLOAT, []),
    ]
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["fc"]),
         helper.make_node("Relu", ["fc"], ["relu"]),
         helper.make_node("ReduceSum", ["relu", "axis1"], ["rowsum"], keepdims=0),
         helper.make_node("ReduceSum", ["relu"], ["total"], keepdims=0)],
        "mlp", [x], outs,
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b"),
         numpy_helper.from_array(np.array([1], np.int64), "axis1")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]),
         os.path.join(out, "mlp.onnx"))
    xv = rng.standard_normal((5, 4)).astype(np.float32)
    fc = xv @ w + b
    relu = np.maximum(fc, 0)
    arrays = {"mlp_x": xv, "mlp_fc": fc, "mlp_relu": relu,
              "mlp_rowsum": relu.sum(axis=1), "mlp_total": np.array(relu.sum(), np.float32)}
    for k, v in arrays.items():
        np.save(os.path.join(out, k + ".npy"), v.astype(np.float32))


def embed(out):
    # emb = table[ids]; doubled = ids * 2 (int64 in, int64 out)
    rng = np.random.default_rng(2)
    table = rng.standard_normal((10, 3)).astype(np.float32)
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "L"])
    outs = [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["N", "L", 3]),
            helper.make_tensor_value_info("doubled", TensorProto.INT64, ["N", "L"])]
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0),
         helper.make_node("Mul", ["ids", "two"], ["doubled"])],
        "embed", [ids], outs,
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array(2, np.int64), "two")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]),
         os.path.join(out, "embed.onnx"))
    idv = rng.integers(0, 10, size=(2, 7)).astype(np.int64)
    np.save(os.path.join(out, "embed_ids.npy"), idv)
    np.save(os.path.join(out, "embed_emb.npy"), table[idv])
    np.save(os.path.join(out, "embed_doubled.npy"), idv * 2)


def slow(out, depth=200, width=256):
    # depth x (MatMul, Tanh) on x: [N, width]: long enough to cancel mid-run.
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
    nodes, prev = [], "x"
    for i in range(depth):
        nodes.append(helper.make_node("MatMul", [prev, "W"], [f"m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"t{i}"]))
        prev = f"t{i}"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])
    y = helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N", width])
    g = helper.make_graph(nodes, "slow", [x], [y], [numpy_helper.from_array(w, "W")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]),
         os.path.join(out, "slow.onnx"))


def main():
    if sys.argv[1:] == ["--fixture"]:
        save(affine(), os.path.join(os.path.dirname(os.path.abspath(__file__)), "affine.onnx"))
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    save(affine(), os.path.join(out, "affine.onnx"))
    mlp(out)
    embed(out)
    slow(out)


if __name__ == "__main__":
    main()
