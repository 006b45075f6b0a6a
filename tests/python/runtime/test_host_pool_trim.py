"""The host pool's idle trim (_core.trim_cached_memory): a burst's blocks go, blocks in steady use stay."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

import deepseek_r1 as r1
from deepseek_r1 import _core


def _relu_engine():
    x = helper.make_tensor_value_info("x", TensorProto.INT32, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, ["batch", "n"])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    return r1.InferenceEngine(r1.Model(r1.load_onnx(m)), num_threads=1)


def test_idle_blocks_are_freed_after_a_whole_period_and_used_ones_stay():
    e = _relu_engine()
    x = np.arange(-(1 << 21), 1 << 21, dtype=np.int32).reshape(1, -1)  # 16 MB outputs
    _core.trim_cached_memory()
    _core.trim_cached_memory()  # whatever earlier tests left is gone now
    for _ in range(3):
        y = e.run({"x": x})["y"]
        np.testing.assert_array_equal(y, np.maximum(x, 0))
        del y
    # Released during this period: kept by the first trim, freed by the second if nothing takes it.
    assert _core.trim_cached_memory() == 0
    freed = _core.trim_cached_memory()
    assert freed >= 16 << 20, freed
    # Steady use between trims: the block is taken and released again each period, so it stays cached.
    for _ in range(3):
        y = e.run({"x": x})["y"]
        del y
        assert _core.trim_cached_memory() == 0
    np.testing.assert_array_equal(e.run({"x": x})["y"], np.maximum(x, 0))  # trimmed pools still serve
