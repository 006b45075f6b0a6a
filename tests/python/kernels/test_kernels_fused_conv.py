"""r1::FusedConv (Y = act(Conv(X, W, B) + residual), cpp/r1/passes/README.md) against a float64 numpy
reference: random shapes, kernel sizes 1/3/5/7, strides, pads (asymmetric and auto_pad), dilations,
groups (depthwise included), every activation, with and without bias and residual. Deterministic cases
cover what small random shapes never reach: several K blocks, several column/row tasks, the unrolled
depthwise kernels, and 1 vs 2 threads. Errors are bounded relative to the output scale. The precision="bf16"
cases are in test_kernels_fused_conv_bf16.py.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from helpers.fused_conv_refs import (
    ACTS,
    act_params,
    case_arrays,
    case_attrs,
    check,
    expected,
    fixed_case_arrays,
    geometry,
    run_fused,
)


# ------------------------------------------------------------------------------------ properties
@st.composite
def fused_case(draw):
    nd = draw(st.sampled_from([1, 2, 2, 2, 3]))
    kind = draw(st.sampled_from(["plain", "group", "depthwise", "pointwise"]))
    n = draw(st.integers(1, 2))
    if kind == "depthwise":
        group, cg, mg = draw(st.integers(1, 6)), 1, draw(st.sampled_from([1, 1, 2]))
    elif kind == "group":
        group, cg, mg = draw(st.integers(2, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    else:
        group, cg, mg = 1, draw(st.integers(1, 6)), draw(st.integers(1, 20))
    maxsp = {1: 40, 2: 20, 3: 7}[nd]
    ins = [draw(st.integers(1, maxsp)) for _ in range(nd)]
    if kind == "pointwise":
        k, s, d, pads, auto_pad = [1] * nd, [1] * nd, [1] * nd, [0] * (2 * nd), "NOTSET"
    else:
        ksz = [1, 3] if nd == 3 else [1, 3, 5, 7]
        k = [draw(st.sampled_from(ksz)) for _ in range(nd)]
        if draw(st.booleans()):  # square kernels reach the unrolled depthwise paths
            k = [k[0]] * nd
        s = [draw(st.integers(1, 3)) for _ in range(nd)]
        d = [draw(st.sampled_from([1, 1, 2])) for _ in range(nd)]
        pads = [draw(st.integers(0, 3)) for _ in range(2 * nd)]
        auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    outs, pb, pe = geometry(ins, k, s, d, pads, auto_pad)
    assume(all(o >= 1 for o in outs))
    for i in range(nd):
        assume(ins[i] + pb[i] + pe[i] >= (k[i] - 1) * d[i] + 1)
    act = draw(st.sampled_from(ACTS))
    bias = draw(st.booleans())
    residual = draw(st.sampled_from(["none", "full", "full", "channel"]))
    threads = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**16))
    return nd, n, group, cg, mg, ins, k, s, d, pads, auto_pad, outs, act, bias, residual, threads, seed


@given(fused_case())
def test_fused_conv_matches_reference(case):
    nd, n, group, cg, mg, ins, k, s, d, pads, auto_pad, outs, act, bias, residual, threads, seed = case
    rng = np.random.default_rng(seed)
    x, w, b, res = case_arrays(rng, n, group, cg, mg, ins, k, outs, nd, bias, residual)
    alpha, beta = act_params(act, rng)
    y = run_fused(x, w, b, res, case_attrs(k, s, d, pads, auto_pad, group, act, alpha, beta), threads=threads)
    want, scale = expected(x, w, b, res, k, s, d, pads, auto_pad, group, act, alpha, beta)
    assert y.dtype == np.float32
    check(y, want, scale)


# ------------------------------------------------------------------------------------ fixed shapes
# (x shape, w shape, group, strides, pads): each reaches a path random small shapes do not.
SHAPES = [
    ((1, 256, 14, 14), (48, 256, 3, 3), 1, [1, 1], [1, 1, 1, 1]),  # K = 2304: several K blocks
    ((1, 600, 7, 7), (70, 600, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # direct 1x1, 2 K blocks, 7x7 output
    ((1, 16, 40, 45), (21, 16, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # direct 1x1, odd row/column tails
    ((1, 64, 30, 30), (40, 64, 3, 3), 1, [1, 1], [1, 1, 1, 1]),  # several column tasks
    ((1, 32, 29, 31), (24, 32, 1, 1), 1, [2, 2], [0, 0, 0, 0]),  # 1x1 stride 2 (im2col)
    ((1, 3, 45, 47), (17, 3, 7, 7), 1, [2, 2], [3, 3, 3, 3]),  # 7x7 stem-like, stride 2
    ((2, 24, 33, 35), (24, 1, 3, 3), 24, [1, 1], [1, 1, 1, 1]),  # depthwise 3x3 s1
    ((1, 40, 34, 37), (40, 1, 3, 3), 40, [2, 2], [0, 1, 1, 0]),  # depthwise 3x3 s2, asymmetric pads
    ((1, 16, 23, 50), (32, 1, 5, 5), 16, [2, 2], [2, 2, 2, 2]),  # depthwise 5x5 s2, multiplier 2
    ((1, 8, 19, 70), (8, 1, 7, 7), 8, [1, 1], [3, 3, 3, 3]),  # depthwise 7x7
    ((1, 12, 20, 20), (12, 1, 3, 3), 12, [3, 3], [1, 1, 1, 1]),  # depthwise stride 3 (gathers)
    ((1, 48, 12, 12), (96, 6, 3, 3), 8, [1, 1], [1, 1, 1, 1]),  # grouped
    ((1, 2048, 3, 3), (520, 2048, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # many rows split over threads
    ((1, 136, 14, 14), (200, 136, 3, 3), 1, [1, 1], [1, 1, 1, 1]),  # Winograd split over channel chunks (2 thr)
    ((1, 8, 50, 52), (12, 8, 5, 5), 1, [1, 1], [2, 1, 2, 3]),  # im2col stride 1: full and edge vectors
    ((1, 6, 31, 40), (10, 6, 3, 3), 1, [3, 3], [1, 1, 1, 1]),  # im2col stride 3 (gathered taps)
    ((2, 37, 9, 9), (20, 37, 3, 3), 1, [1, 1], [0, 0, 0, 0]),  # inner product: K = 333, 3 channel blocks
]


@pytest.mark.parametrize("xs,ws,group,s,pads", SHAPES)
@pytest.mark.parametrize("act", ["Relu", "HardSwish", "Silu"])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_conv_shapes(xs, ws, group, s, pads, act, threads):
    x, w, b, res, k, nd = fixed_case_arrays(xs, ws, s, pads)
    attrs = case_attrs(k, s, [1] * nd, pads, "NOTSET", group, act, 0.0, 0.0)
    y = run_fused(x, w, b, res, attrs, threads=threads)
    want, scale = expected(x, w, b, res, k, s, [1] * nd, pads, "NOTSET", group, act, 0.0, 0.0)
    check(y, want, scale)


def test_plain_conv_equals_fused_without_epilogue():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 32, 15, 15)).astype(np.float32)
    w = rng.standard_normal((24, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])
    g = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    plain = r1.InferenceEngine(r1.Model(r1.load_onnx(m))).run([x])["y"]
    fused = run_fused(x, w, b, attrs=dict(pads=[1, 1, 1, 1]))
    np.testing.assert_array_equal(plain, fused)


def test_weight_as_graph_input_and_default_act_params():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    w = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    for act, alpha, beta in [("LeakyRelu", 0.01, 0.0), ("HardSigmoid", 0.2, 0.5)]:  # ONNX defaults
        y = run_fused(x, w, attrs=dict(activation=act), w_const=False)
        want, scale = expected(x, w, None, None, [3, 3], [1, 1], [1, 1], [0] * 4, "NOTSET", 1, act, alpha, beta)
        check(y, want, scale)


@pytest.mark.parametrize("dt", [np.float16, ml_dtypes.bfloat16])
def test_fused_conv_16bit(dt):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 8, 10, 10)).astype(dt)
    w = (rng.standard_normal((12, 8, 3, 3)) / 8).astype(dt)
    b = rng.standard_normal(12).astype(dt)
    res = rng.standard_normal((1, 12, 10, 10)).astype(dt)
    y = run_fused(x, w, b, res, dict(pads=[1, 1, 1, 1], activation="Relu"))
    assert y.dtype == np.dtype(dt)
    want, scale = expected(x, w, b, res, [3, 3], [1, 1], [1, 1], [1] * 4, "NOTSET", 1, "Relu", 0, 0)
    check(y, want, scale, rtol=2e-2)


def test_fused_conv_errors():
    x = np.ones((1, 3, 5, 5), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    with pytest.raises(r1.ModelError, match="activation"):
        run_fused(x, w, attrs=dict(activation="Swish2"))
    with pytest.raises((r1.ModelError, r1.InputError), match="residual"):
        run_fused(x, w, res=np.ones((1, 5, 3, 3), np.float32))
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_fused(x, np.ones((4, 2, 3, 3), np.float32))
