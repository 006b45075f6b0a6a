"""Every compiler pass, tested twice: the IR it produces on a small graph, and optimized vs
unoptimized outputs on random inputs (hypothesis). This file: the pipeline and its levels, and the level 1 passes;
the level 2 fusions are in test_passes_fusions.py and test_passes_transformer_fusions.py, the level 3 passes in
test_passes_fusions.py.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers import graph_builders as gb
from helpers.graph_builders import SEEDS, F, node

# ---------------------------------------------------------------- pipeline and levels


def test_levels_and_names():
    assert r1.pass_names(0) == ["float_conversion"]  # a precision choice (GPUs), not an optimization
    assert "constant_folding" in r1.pass_names(1) and "matmul_fusion" not in r1.pass_names(1)
    assert "attention_fusion" in r1.pass_names(2)
    assert "weight_prepack" in r1.pass_names(3)
    with pytest.raises(ValueError, match="optimization level"):
        r1.pass_names(7)


def _mlp():
    rng = np.random.default_rng(0)
    return gb.model(
        [node("MatMul", ["x", "w"], ["h"]), node("Add", ["h", "b"], ["z"]), node("Relu", ["z"], ["y"])],
        [("x", F, ["batch", 8])],
        ["y"],
        {"w": gb.rand(rng, 8, 4), "b": gb.rand(rng, 4)},
    )


def test_engine_rejects_bad_level_and_pass_names():
    m = r1.Model(r1.load_onnx(_mlp()))
    with pytest.raises(ValueError, match="optimization level"):
        r1.InferenceEngine(m, optimization_level=5)
    with pytest.raises(ValueError, match="unknown pass"):
        r1.InferenceEngine(m, disabled_passes=["no_such_pass"])


def test_print_ir_after_each_pass_and_report():
    m = r1.Model(r1.load_onnx(_mlp()))
    buf = io.StringIO()
    opt, rep = r1.optimize(m, level=2, print_ir_after="all", stream=buf)
    text = buf.getvalue()
    for name in r1.pass_names(2):
        assert f"IR after {name}" in text
    assert "FusedMatMul" in text and "FusedMatMul" in str(opt)
    assert rep.nodes_before == 3 and rep.nodes_after == 1
    assert "matmul_fusion" in str(rep)
    # The original model is not modified.
    assert m.graph.op_types() == ["MatMul", "Add", "Relu"]
    buf = io.StringIO()
    r1.optimize(m, level=2, print_ir_after=["matmul_fusion"], stream=buf)
    assert buf.getvalue().count("IR after") == 1


def test_disabled_pass_is_skipped():
    assert "FusedMatMul" not in gb.op_types(_mlp(), 2, disabled_passes=["matmul_fusion"])


# ---------------------------------------------------------------- level 1


def _identity_model():
    return gb.model(
        [
            node("Identity", ["x"], ["a"]),
            node("Dropout", ["a"], ["b"]),
            node("Cast", ["b"], ["c"], to=F),
            node("Relu", ["c"], ["y"]),
        ],
        [("x", F, ["n", 5])],
        ["y"],
    )


def test_identity_elimination_ir():
    assert gb.op_types(_identity_model(), 1) == ["Relu"]


@given(SEEDS, st.integers(1, 4))
def test_identity_elimination_outputs(seed, n):
    rng = np.random.default_rng(seed)
    gb.assert_close(*gb.compare(_identity_model(), {"x": gb.rand(rng, n, 5)}, level=1), rtol=0, atol=0)


def _shape_chain_model():
    # y = Reshape(x, [Shape(x)[0], 3, -1]): the exporters' way of writing "keep the batch".
    return gb.model(
        [
            node("Shape", ["x"], ["s"]),
            node("Gather", ["s", "zero"], ["b"], axis=0),
            node("Unsqueeze", ["b", "axes"], ["b1"]),
            node("Concat", ["b1", "three", "minus1"], ["t"], axis=0),
            node("Reshape", ["x", "t"], ["y"]),
        ],
        [("x", F, ["batch", 12])],
        ["y"],
        {
            "zero": np.array(0, np.int64),
            "axes": np.array([0], np.int64),
            "three": np.array([3], np.int64),
            "minus1": np.array([-1], np.int64),
        },
    )


def test_shape_folding_ir():
    assert gb.op_types(_shape_chain_model(), 1) == ["Reshape"]


@given(SEEDS, st.integers(1, 5))
def test_shape_folding_outputs(seed, batch):
    rng = np.random.default_rng(seed)
    gb.assert_close(*gb.compare(_shape_chain_model(), {"x": gb.rand(rng, batch, 12)}, level=1), rtol=0, atol=0)


def _const_fold_model(rng):
    # The weight reaches MatMul through a Transpose and a Reshape the exporter left behind.
    return gb.model(
        [
            node("Transpose", ["w"], ["wt"], perm=[1, 0]),
            node("Reshape", ["wt", "shape"], ["wr"]),
            node("MatMul", ["x", "wr"], ["y"]),
        ],
        [("x", F, ["n", 6])],
        ["y"],
        {"w": gb.rand(rng, 4, 6), "shape": np.array([6, 4], np.int64)},
    )


def test_constant_folding_ir():
    assert gb.op_types(_const_fold_model(np.random.default_rng(0)), 1) == ["MatMul"]


@given(SEEDS, st.integers(1, 4))
def test_constant_folding_outputs(seed, n):
    rng = np.random.default_rng(seed)
    gb.assert_close(*gb.compare(_const_fold_model(rng), {"x": gb.rand(rng, n, 6)}, level=1))


def _cse_model():
    return gb.model(
        [node("Relu", ["x"], ["a"]), node("Relu", ["x"], ["b"]), node("Add", ["a", "b"], ["y"])],
        [("x", F, ["n"])],
        ["y"],
    )


def test_cse_ir():
    assert gb.op_types(_cse_model(), 1) == ["Relu", "Add"]


@given(SEEDS, st.integers(1, 9))
def test_cse_outputs(seed, n):
    rng = np.random.default_rng(seed)
    gb.assert_close(*gb.compare(_cse_model(), {"x": gb.rand(rng, n)}, level=1), rtol=0, atol=0)


def test_dead_code_removed_and_outputs_kept():
    m = gb.model([node("Relu", ["x"], ["y"]), node("Sigmoid", ["x"], ["unused"])], [("x", F, [3])], ["y"])
    assert gb.op_types(m, 0) == ["Relu", "Sigmoid"]
    assert gb.op_types(m, 1) == ["Relu"]
    x = np.array([-1, 0, 2], np.float32)
    np.testing.assert_array_equal(gb.engine(m, 1).run({"x": x})["y"], np.maximum(x, 0))
