"""Tiny ONNX models built with onnx.helper, for API, format and error tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def add_relu_model(width: int = 4, opset: int = 17, seed: int = 0) -> onnx.ModelProto:
    """y = relu(x + w), x: float32[batch, width]."""
    w = np.random.default_rng(seed).standard_normal(width).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["t"], name="add0"), helper.make_node("Relu", ["t"], ["y"], name="relu0")],
        "add_relu",
        [x],
        [y],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def two_input_model() -> onnx.ModelProto:
    """z = relu(a + b) with a: [batch, seq], b: [batch, seq] sharing symbolic dims."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", "seq"])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", "seq"])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", "seq"])
    g = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Relu", ["s"], ["z"])], "two_in", [a, b], [z]
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def reference_add_relu(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    w = numpy_helper.to_array(model.graph.initializer[0])
    return np.maximum(x + w, 0)
