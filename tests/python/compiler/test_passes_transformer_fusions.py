"""Compiler passes, tested twice (the IR on a small graph, optimized vs unoptimized outputs on random inputs): the
level 2 transformer fusions (LayerNormalization, SkipLayerNormalization, attention with its head transposes).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import graph_builders as gb
from helpers.graph_builders import SEEDS, F, node


def _layernorm_model(rng, h, opset=13):
    return gb.model(
        [
            node("ReduceMean", ["x"], ["m"], axes=[-1]),
            node("Sub", ["x", "m"], ["d"]),
            node("Pow", ["d", "two"], ["d2"]),
            node("ReduceMean", ["d2"], ["v"], axes=[-1]),
            node("Add", ["v", "eps"], ["ve"]),
            node("Sqrt", ["ve"], ["sd"]),
            node("Div", ["d", "sd"], ["n"]),
            node("Mul", ["n", "gamma"], ["ng"]),
            node("Add", ["ng", "beta"], ["y"]),
        ],
        [("x", F, ["b", "s", h])],
        ["y"],
        {
            "two": np.array(2, np.float32),
            "eps": np.array(1e-5, np.float32),
            "gamma": gb.rand(rng, h),
            "beta": gb.rand(rng, h),
        },
        opset=opset,
    )


def test_layernorm_fusion_ir():
    assert gb.op_types(_layernorm_model(np.random.default_rng(0), 16), 2) == ["LayerNormalization"]


@given(SEEDS, st.integers(1, 70), st.integers(1, 4))
def test_layernorm_fusion_outputs(seed, h, s):
    rng = np.random.default_rng(seed)
    m = _layernorm_model(rng, h)
    gb.assert_close(*gb.compare(m, {"x": gb.rand(rng, 2, s, h, scale=2) + 1}, level=2), rtol=1e-4, atol=1e-5)


def _skip_ln_model(rng, h, sum_used):
    nodes = [node("Add", ["x", "skip"], ["s"]), node("LayerNormalization", ["s", "gamma", "beta"], ["y"], epsilon=1e-5)]
    outs = ["y"]
    if sum_used:
        nodes.append(node("Relu", ["s"], ["r"]))
        outs.append("r")
    return gb.model(
        nodes,
        [("x", F, ["b", "s", h]), ("skip", F, ["b", "s", h])],
        outs,
        {"gamma": gb.rand(rng, h), "beta": gb.rand(rng, h)},
    )


def test_skip_layernorm_fusion_ir():
    rng = np.random.default_rng(0)
    assert gb.op_types(_skip_ln_model(rng, 8, False), 2) == ["SkipLayerNorm"]
    assert sorted(gb.op_types(_skip_ln_model(rng, 8, True), 2)) == ["Relu", "SkipLayerNorm"]


@given(SEEDS, st.integers(1, 70), st.integers(1, 5), st.booleans())
def test_skip_layernorm_fusion_outputs(seed, h, s, sum_used):
    rng = np.random.default_rng(seed)
    m = _skip_ln_model(rng, h, sum_used)
    feeds = {"x": gb.rand(rng, 2, s, h), "skip": gb.rand(rng, 2, s, h)}
    gb.assert_close(*gb.compare(m, feeds, level=2), rtol=1e-4, atol=1e-5)


def _attention_model(heads, d, nan_guard, scale_style):
    nodes = [node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2])]
    if scale_style == "split":  # legacy exporter: sqrt(scale) on both Q and Kᵀ
        nodes += [
            node("Mul", ["q", "c"], ["qs"]),
            node("Mul", ["kt", "c"], ["ks"]),
            node("MatMul", ["qs", "ks"], ["s0"]),
        ]
    else:  # scores divided by sqrt(d)
        nodes += [node("MatMul", ["q", "kt"], ["qk"]), node("Div", ["qk", "sd"], ["s0"])]
    nodes += [node("Add", ["s0", "mask"], ["s1"]), node("Softmax", ["s1"], ["p"], axis=-1)]
    if nan_guard:
        nodes += [node("IsNaN", ["p"], ["isn"]), node("Where", ["isn", "zero", "p"], ["pg"])]
    nodes += [node("MatMul", ["pg" if nan_guard else "p", "v"], ["y"])]
    return gb.model(
        nodes,
        [
            ("q", F, ["b", heads, "sq", d]),
            ("k", F, ["b", heads, "sk", d]),
            ("v", F, ["b", heads, "sk", d]),
            ("mask", F, ["b", 1, 1, "sk"]),
        ],
        ["y"],
        {"c": np.array(d**-0.25, np.float32), "sd": np.array(np.sqrt(d), np.float32), "zero": np.array(0, np.float32)},
    )


def test_attention_fusion_ir():
    # the NaN guard is the op's nan_to_zero, not an IsNaN + Where after it
    assert gb.op_types(_attention_model(2, 8, True, "split"), 2) == ["Transpose", "Attention"]
    assert gb.op_types(_attention_model(2, 8, False, "div"), 2) == ["Transpose", "Attention"]


@pytest.mark.parametrize("nan_guard", [True, False])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_attention_nan_guard_zeroes_fully_masked_rows(nan_guard, precision):
    """Batch 0's mask is -inf on every key: its softmax rows are NaN, which the exporter's guard turns to 0 (and
    without the guard stay NaN), fused or not; batch 1 is unmasked and finite either way."""
    rng = np.random.default_rng(5)
    heads, d, sq, sk = 2, 8, 5, 7
    mask = np.zeros((2, 1, 1, sk), np.float32)
    mask[0] = -np.inf
    feeds = {
        "q": gb.rand(rng, 2, heads, sq, d), "k": gb.rand(rng, 2, heads, sk, d), "v": gb.rand(rng, 2, heads, sk, d),
        "mask": mask,
    }  # fmt: skip
    m = _attention_model(heads, d, nan_guard, "div")
    base, opt = gb.compare(m, feeds, level=2, precision=precision)
    y = opt["y"]
    assert y.dtype == np.float32 and np.isfinite(y[1]).all()
    if nan_guard:
        np.testing.assert_array_equal(y[0], np.zeros_like(y[0]))
        np.testing.assert_array_equal(base["y"][0], y[0])
    else:
        assert np.isnan(y[0]).all() and np.isnan(base["y"][0]).all()
    tol = 1e-5 if precision == "fp32" else 2e-2
    gb.assert_close({"y": base["y"][1]}, {"y": y[1]}, rtol=tol, atol=tol)


@settings(max_examples=25)
@given(
    SEEDS,
    st.integers(1, 3),
    st.sampled_from([4, 8, 16]),
    st.integers(1, 40),
    st.integers(1, 150),
    st.booleans(),
    st.sampled_from(["split", "div"]),
)
def test_attention_fusion_outputs(seed, heads, d, sq, sk, nan_guard, style):
    rng = np.random.default_rng(seed)
    m = _attention_model(heads, d, nan_guard, style)
    mask = np.where(rng.random((2, 1, 1, sk)) < 0.2, np.float32(-3.4e38), np.float32(0)).astype(np.float32)
    feeds = {
        "q": gb.rand(rng, 2, heads, sq, d),
        "k": gb.rand(rng, 2, heads, sk, d),
        "v": gb.rand(rng, 2, heads, sk, d),
        "mask": mask,
    }
    gb.assert_close(*gb.compare(m, feeds, level=2), rtol=1e-4, atol=1e-5)


def _attention_heads_model(heads, d, nan_guard, out_style):
    """An exporter's multi-head attention on [b, s, heads * d] projections: Reshape to [b, s, H, D],
    Transposes to [b, H, s, D] (Kᵀ: perm [0, 2, 3, 1]) and back, Shape readers of the head-split
    Transposes, and optionally the legacy exporter's no-op Reshape of O sized from those Shapes."""
    nodes = [
        node("Reshape", ["xq", "split"], ["q4"]),
        node("Reshape", ["xk", "split"], ["k4"]),
        node("Reshape", ["xv", "split"], ["v4"]),
        node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        node("Mul", ["qh", "c"], ["qs"]),
        node("Mul", ["kt", "c"], ["ks"]),
        node("MatMul", ["qs", "ks"], ["s0"]),
        node("Add", ["s0", "mask"], ["s1"]),
        node("Softmax", ["s1"], ["p"], axis=-1),
    ]
    if nan_guard:
        nodes += [node("IsNaN", ["p"], ["isn"]), node("Where", ["isn", "zero", "p"], ["pg"])]
    nodes += [node("MatMul", ["pg" if nan_guard else "p", "vh"], ["o"])]
    o = "o"
    if out_style == "shape_reshape":  # [Shape(O)[0], -1, Shape(Q)[2], Shape(V)[3]], as the legacy export
        for name, src, i in [("e0", "o", "i0"), ("e2", "qh", "i2"), ("e3", "vh", "i3")]:
            nodes += [
                node("Shape", [src], [name + "s"]),
                node("Gather", [name + "s", i], [name + "g"], axis=0),
                node("Unsqueeze", [name + "g", "ax0"], [name]),
            ]
        nodes += [
            node("Concat", ["e0", "minus1", "e2", "e3"], ["oshape"], axis=0),
            node("Reshape", ["o", "oshape"], ["o2"]),
        ]
        o = "o2"
    elif out_style == "other_reshape":  # not a no-op: [b, H, s, D] -> [b, H, s * D, 1]
        nodes += [node("Reshape", ["o", "flat"], ["o2"])]
        o = "o2"
    nodes += [node("Transpose", [o], ["ot"], perm=[0, 2, 1, 3]), node("Reshape", ["ot", "merge"], ["y"])]
    hd = heads * d
    return gb.model(
        nodes,
        [
            ("xq", F, ["b", "s", hd]),
            ("xk", F, ["b", "s", hd]),
            ("xv", F, ["b", "s", hd]),
            ("mask", F, ["b", 1, 1, "s"]),
        ],
        ["y"],
        {
            "c": np.array(d**-0.25, np.float32),
            "zero": np.array(0, np.float32),
            "split": np.array([0, 0, heads, d], np.int64),
            "merge": np.array([0, -1, hd], np.int64),
            "flat": np.array([0, 0, -1, 1], np.int64),
            "i0": np.array(0, np.int64),
            "i2": np.array(2, np.int64),
            "i3": np.array(3, np.int64),
            "ax0": np.array([0], np.int64),
            "minus1": np.array([-1], np.int64),
        },
    )


def test_attention_fusion_absorbs_head_transposes_ir():
    for style in ("direct", "shape_reshape"):
        for guard in (False, True):
            eng = gb.engine(_attention_heads_model(3, 8, guard, style), 2)
            assert "Transpose" not in eng.graph.op_types(), (style, guard)
            ir = str(eng.graph)
            assert 'qkv_layout="bshd"' in ir and 'out_layout="bshd"' in ir and "k_transposed=0" in ir
    # A Reshape of O that is not a no-op keeps its Transpose (the inputs' Transposes still go).
    eng = gb.engine(_attention_heads_model(3, 8, False, "other_reshape"), 2)
    assert eng.graph.op_types().count("Transpose") == 1
    assert 'qkv_layout="bshd"' in str(eng.graph) and "out_layout" not in str(eng.graph)


@settings(max_examples=25)
@given(
    SEEDS,
    st.integers(1, 3),
    st.sampled_from([4, 8, 16]),
    st.integers(1, 2),
    st.integers(1, 70),
    st.booleans(),
    st.sampled_from(["direct", "shape_reshape", "other_reshape"]),
    st.sampled_from([2, 3]),
)
def test_attention_fusion_absorbs_head_transposes_outputs(seed, heads, d, b, s, nan_guard, style, level):
    rng = np.random.default_rng(seed)
    m = _attention_heads_model(heads, d, nan_guard, style)
    mask = np.where(rng.random((b, 1, 1, s)) < 0.2, np.float32(-3.4e38), np.float32(0)).astype(np.float32)
    feeds = {n: gb.rand(rng, b, s, heads * d) for n in ("xq", "xk", "xv")}
    feeds["mask"] = mask
    gb.assert_close(*gb.compare(m, feeds, level=level), rtol=1e-4, atol=1e-5)
    base, opt = gb.compare(m, feeds, level=level, precision="bf16")
    gb.assert_close(base, opt, rtol=2e-2, atol=2e-2)
