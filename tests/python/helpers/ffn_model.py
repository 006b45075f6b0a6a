"""One feed-forward product as exporters write it, y = x @ w + b (MatMul, Add) with a constant w [K, N] and b, and
x [m, K] with m symbolic; the compiler fuses it into r1::FusedMatMul. Shared by tests/python/gpu/test_cusparselt.py
and bench/gpu_sparse.py.

    model = ffn_model(w, b)   # an r1.Model
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1


def ffn_model(w: np.ndarray, b: np.ndarray) -> r1.Model:
    k, n = w.shape
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    return r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])))
