"""Compiler passes, tested twice (the IR on a small graph, optimized vs unoptimized outputs on random inputs): the
level 2 fusions of convs, MatMul / Gemm with activations and Gelu, and the level 3 passes (transpose elimination,
the bf16 precision pass over fused MatMuls).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import graph_builders as gb
from helpers.graph_builders import SEEDS, F, node

# ---------------------------------------------------------------- level 2: fusions


def _conv_bn_model(rng, c, co, k, bias):
    ins = ["x", "w", "b"] if bias else ["x", "w"]
    inits = {
        "w": gb.rand(rng, co, c, k, k),
        "scale": gb.rand(rng, co),
        "beta": gb.rand(rng, co),
        "mean": gb.rand(rng, co),
        "var": (rng.random(co) + 0.5).astype(np.float32),
    }
    if bias:
        inits["b"] = gb.rand(rng, co)
    return gb.model(
        [
            node("Conv", ins, ["c"], pads=[k // 2] * 4),
            node("BatchNormalization", ["c", "scale", "beta", "mean", "var"], ["y"], epsilon=1e-3),
        ],
        [("x", F, ["n", c, 9, 9])],
        ["y"],
        inits,
    )


def test_conv_bn_folding_ir():
    assert gb.op_types(_conv_bn_model(np.random.default_rng(0), 3, 4, 3, True), 2) == ["Conv"]


@given(SEEDS, st.integers(1, 5), st.integers(1, 6), st.sampled_from([1, 3]), st.booleans())
def test_conv_bn_folding_outputs(seed, c, co, k, bias):
    rng = np.random.default_rng(seed)
    m = _conv_bn_model(rng, c, co, k, bias)
    gb.assert_close(*gb.compare(m, {"x": gb.rand(rng, 2, c, 9, 9)}, level=2), rtol=1e-4, atol=1e-5)


ACTS = {
    "Relu": ([node("Relu", ["z"], ["y"])], "Relu"),
    "Sigmoid": ([node("Sigmoid", ["z"], ["y"])], "Sigmoid"),
    "Tanh": ([node("Tanh", ["z"], ["y"])], "Tanh"),
    "LeakyRelu": ([node("LeakyRelu", ["z"], ["y"], alpha=0.1)], "LeakyRelu"),
    "HardSigmoid": ([node("HardSigmoid", ["z"], ["y"], alpha=0.3, beta=0.4)], "HardSigmoid"),
    "HardSwish": ([node("HardSwish", ["z"], ["y"])], "HardSwish"),
    "Clip": ([node("Clip", ["z", "lo", "hi"], ["y"])], "Clip"),
    "Silu": ([node("Sigmoid", ["z"], ["s"]), node("Mul", ["z", "s"], ["y"])], "Silu"),
    "GeluErf": (
        [
            node("Div", ["z", "sqrt2"], ["g1"]),
            node("Erf", ["g1"], ["g2"]),
            node("Add", ["g2", "one"], ["g3"]),
            node("Mul", ["z", "g3"], ["g4"]),
            node("Mul", ["g4", "half"], ["y"]),
        ],
        "Gelu",
    ),
    "None": ([node("Identity", ["z"], ["y"])], None),
}
ACT_CONSTS = {
    "lo": np.array(-0.5, np.float32),
    "hi": np.array(0.7, np.float32),
    "sqrt2": np.array(np.sqrt(2), np.float32),
    "one": np.array(1, np.float32),
    "half": np.array(0.5, np.float32),
}


def _matmul_model(rng, k, n, act, gemm=False, trans_b=False):
    nodes, _ = ACTS[act]
    w = gb.rand(rng, n, k) if trans_b else gb.rand(rng, k, n)
    if gemm:
        head = [node("Gemm", ["x", "w", "b"], ["z"], transB=int(trans_b), alpha=0.5, beta=2.0)]
    else:
        head = [node("MatMul", ["x", "w"], ["h"]), node("Add", ["b", "h"], ["z"])]
    return gb.model(
        head + nodes,
        [("x", F, ["m", k] if gemm else ["batch", "m", k])],
        ["y"],
        {"w": w, "b": gb.rand(rng, n), **ACT_CONSTS},
    )


@pytest.mark.parametrize("act", sorted(ACTS))
def test_matmul_fusion_ir(act):
    ops = gb.op_types(_matmul_model(np.random.default_rng(0), 8, 5, act), 2)
    assert ops == ["FusedMatMul"], ops


@given(
    SEEDS,
    st.sampled_from(sorted(ACTS)),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 7),
    st.booleans(),
    st.booleans(),
)
def test_matmul_fusion_outputs(seed, act, k, n, m, gemm, trans_b):
    rng = np.random.default_rng(seed)
    model = _matmul_model(rng, k, n, act, gemm, trans_b and gemm)
    x = gb.rand(rng, m, k) if gemm else gb.rand(rng, 2, m, k)
    gb.assert_close(*gb.compare(model, {"x": x}, level=2), rtol=1e-5, atol=1e-5)


def _reshaped_activation_model(rng, k, n, act):
    """GPT-2's Conv1D: Gemm on [B*S, K], Reshape back to [B, S, N], then the activation."""
    nodes, _ = ACTS[act]
    head = [
        node("Reshape", ["x", "flat"], ["x2"]),
        node("Gemm", ["x2", "w", "b"], ["g"]),
        node("Reshape", ["g", "back"], ["z"]),
    ]
    return gb.model(
        head + nodes,
        [("x", F, [2, "s", k])],
        ["y"],
        {"w": gb.rand(rng, k, n), "b": gb.rand(rng, n), "flat": np.array([-1, k]), "back": np.array([2, -1, n]),
         **ACT_CONSTS},
    )  # fmt: skip


@pytest.mark.parametrize("act", ["Relu", "GeluErf", "Silu"])
def test_matmul_fusion_takes_an_activation_behind_a_reshape(act):
    m = _reshaped_activation_model(np.random.default_rng(0), 8, 5, act)
    assert gb.op_types(m, 2) == ["Reshape", "FusedMatMul", "Reshape"]
    assert f'activation="{ACTS[act][1]}"' in str(gb.engine(m, 2).graph)


@given(SEEDS, st.sampled_from(sorted(ACTS)), st.integers(1, 30), st.integers(1, 30), st.integers(1, 6))
def test_matmul_fusion_behind_a_reshape_outputs(seed, act, k, n, s):
    rng = np.random.default_rng(seed)
    model = _reshaped_activation_model(rng, k, n, act)
    gb.assert_close(*gb.compare(model, {"x": gb.rand(rng, 2, s, k)}, level=2), rtol=1e-5, atol=1e-5)


def _gelu_tanh_model():
    c = np.sqrt(2 / np.pi)
    return gb.model(
        [
            node("Pow", ["x", "three"], ["p"]),
            node("Mul", ["p", "k"], ["pk"]),
            node("Add", ["x", "pk"], ["s"]),
            node("Mul", ["s", "c"], ["sc"]),
            node("Tanh", ["sc"], ["t"]),
            node("Add", ["t", "one"], ["t1"]),
            node("Mul", ["x", "half"], ["xh"]),
            node("Mul", ["xh", "t1"], ["y"]),
        ],
        [("x", F, ["n", 7])],
        ["y"],
        {
            "three": np.array(3, np.float32),
            "k": np.array(0.044715, np.float32),
            "c": np.array(c, np.float32),
            "one": np.array(1, np.float32),
            "half": np.array(0.5, np.float32),
        },
    )


def test_gelu_fusion_ir():
    assert gb.op_types(_gelu_tanh_model(), 2) == ["Gelu"]
    m = gb.model(ACTS["GeluErf"][0], [("z", F, ["n", 3])], ["y"], ACT_CONSTS)
    assert gb.op_types(m, 2) == ["Gelu"]


@given(SEEDS, st.integers(1, 6))
def test_gelu_fusion_outputs(seed, n):
    rng = np.random.default_rng(seed)
    gb.assert_close(*gb.compare(_gelu_tanh_model(), {"x": gb.rand(rng, n, 7, scale=3)}, level=2), rtol=1e-5, atol=1e-6)
    m = gb.model(ACTS["GeluErf"][0], [("z", F, ["n", 3])], ["y"], ACT_CONSTS)
    gb.assert_close(*gb.compare(m, {"z": gb.rand(rng, n, 3, scale=3)}, level=2), rtol=1e-5, atol=1e-6)


def _conv_act_model(rng, c, co, act, residual):
    # Activations read "z": the Conv output, or Conv + shortcut.
    if residual:
        nodes = [node("Conv", ["x", "w", "b"], ["z0"], pads=[1, 1, 1, 1]), node("Add", ["z0", "x"], ["z"])]
    else:
        nodes = [node("Conv", ["x", "w", "b"], ["z"], pads=[1, 1, 1, 1])]
    return gb.model(
        nodes + ACTS[act][0],
        [("x", F, ["n", c, 6, 6])],
        ["y"],
        {"w": gb.rand(rng, co, c, 3, 3), "b": gb.rand(rng, co), **ACT_CONSTS},
    )


@pytest.mark.parametrize("act", ["Relu", "Clip", "HardSwish", "HardSigmoid", "Silu"])
def test_conv_fusion_ir(act):
    rng = np.random.default_rng(0)
    assert gb.op_types(_conv_act_model(rng, 3, 4, act, False), 2) == ["FusedConv"]
    assert gb.op_types(_conv_act_model(rng, 4, 4, act, True), 2) == ["FusedConv"]


@given(
    SEEDS,
    st.integers(1, 4),
    st.sampled_from(["Relu", "Clip", "HardSwish", "HardSigmoid", "Silu", "None"]),
    st.booleans(),
)
def test_conv_fusion_outputs(seed, c, act, residual):
    rng = np.random.default_rng(seed)
    m = _conv_act_model(rng, c, c, act, residual)
    gb.assert_close(*gb.compare(m, {"x": gb.rand(rng, 2, c, 6, 6)}, level=2), rtol=1e-4, atol=1e-5)


def _conv_residual_dynamic_model(rng, c, k):
    # Spatial dims unknown at compile time (as in exported ResNets): conv_fusion cannot prove the
    # residual's shape, so the fused kernel must accept any residual the Add would have broadcast,
    # including one larger than the conv output (k = 1 with a 1x1 input map below).
    nodes = [node("Conv", ["x", "w", "b"], ["z0"]), node("Add", ["z0", "r"], ["z"]), node("Relu", ["z"], ["y"])]
    return gb.model(
        nodes,
        [("x", F, ["n", c, "h", "w"]), ("r", F, ["n", c, "h2", "w2"])],
        ["y"],
        {"w": gb.rand(rng, c, c, k, k), "b": gb.rand(rng, c)},
    )


def test_conv_fusion_residual_with_unknown_spatial_dims_ir():
    assert gb.op_types(_conv_residual_dynamic_model(np.random.default_rng(0), 3, 1), 2) == ["FusedConv"]


@given(SEEDS, st.integers(1, 4), st.sampled_from([1, 3]), st.sampled_from(["same", "residual_larger", "conv_larger"]))
def test_conv_fusion_residual_with_unknown_spatial_dims_outputs(seed, c, k, case):
    rng = np.random.default_rng(seed)
    m = _conv_residual_dynamic_model(rng, c, k)
    h = 5
    oh = h - k + 1
    if case == "same":
        x, r = gb.rand(rng, 2, c, h, h), gb.rand(rng, 2, c, oh, oh)
    elif case == "residual_larger":  # conv output is 1x1, the residual 4x3: Y is the residual's size
        x, r = gb.rand(rng, 2, c, k, k), gb.rand(rng, 2, c, 4, 3)
    else:  # residual 1x1 broadcast over the conv output
        x, r = gb.rand(rng, 2, c, h, h), gb.rand(rng, 2, c, 1, 1)
    gb.assert_close(*gb.compare(m, {"x": x, "r": r}, level=2), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- level 3


def _transpose_model():
    return gb.model(
        [
            node("Transpose", ["x"], ["a"], perm=[0, 2, 1]),
            node("Transpose", ["a"], ["b"], perm=[0, 2, 1]),
            node("Relu", ["b"], ["c"]),
            node("Reshape", ["c", "s1"], ["d"]),
            node("Reshape", ["d", "s2"], ["y"]),
        ],
        [("x", F, ["n", 3, 4])],
        ["y"],
        {"s1": np.array([-1, 12], np.int64), "s2": np.array([-1, 2, 6], np.int64)},
    )


def test_transpose_elimination_ir():
    assert gb.op_types(_transpose_model(), 3) == ["Relu", "Reshape"]


@given(SEEDS, st.integers(1, 4))
def test_transpose_elimination_outputs(seed, n):
    rng = np.random.default_rng(seed)
    gb.assert_close(*gb.compare(_transpose_model(), {"x": gb.rand(rng, n, 3, 4)}, level=3), rtol=0, atol=0)


def test_precision_pass_marks_fused_ops():
    e = gb.engine(_matmul_model(np.random.default_rng(0), 32, 16, "Relu"), 2, precision="bf16")
    assert e.graph.op_types() == ["FusedMatMul"]
    assert 'precision="bf16"' in str(e.graph)


@given(SEEDS, st.integers(8, 64), st.integers(1, 48))
def test_precision_bf16_outputs_close(seed, k, n):
    rng = np.random.default_rng(seed)
    m = _matmul_model(rng, k, n, "None")
    feeds = {"x": gb.rand(rng, 2, 5, k)}
    base, opt = gb.compare(m, feeds, level=3, precision="bf16")
    a, b = base["y"].ravel().astype(np.float64), opt["y"].ravel().astype(np.float64)
    assert np.linalg.norm(a - b) <= 2e-2 * np.linalg.norm(a) + 1e-6
