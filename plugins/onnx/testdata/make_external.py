"""make_external.py DIR: writes DIR/external.onnx, a small model
Y = X @ W + B + C whose initializers W, B and the Constant node's tensor C
keep their data in DIR/weights.bin (ONNX external data), and
DIR/external_io.npz with an input X and the output Y numpy computes, for
the external-data tests."""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
rng = np.random.default_rng(3)
w = rng.standard_normal((4, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
c = rng.standard_normal(3).astype(np.float32)
nodes = [
    helper.make_node("Constant", [], ["C"], name="const", value=numpy_helper.from_array(c, "C")),
    helper.make_node("MatMul", ["X", "W"], ["XW"], name="matmul"),
    helper.make_node("Add", ["XW", "B"], ["XWB"], name="add_b"),
    helper.make_node("Add", ["XWB", "C"], ["Y"], name="add_c"),
]
graph = helper.make_graph(
    nodes, "external",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 3])],
    initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save_model(model, os.path.join(out, "external.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
np.savez(os.path.join(out, "external_io.npz"), X=x, Y=x @ w + b + c)
