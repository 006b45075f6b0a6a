"""Every compiler pass, tested twice: the IR it produces on a small graph, and optimized vs
unoptimized outputs on random inputs (hypothesis)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers import graph_builders as gb
from helpers.graph_builders import F, node

SEEDS = st.integers(0, 2**31 - 1)


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
    assert "Attention" in gb.op_types(_attention_model(2, 8, True, "split"), 2)
    assert gb.op_types(_attention_model(2, 8, False, "div"), 2) == ["Transpose", "Attention"]


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
