"""r1::FusedConv with precision="bf16" against the float64 numpy reference (helpers/fused_conv_refs.py): bf16
products with fp32 accumulation where the CPU has AVX512-BF16, the fp32 path elsewhere, and the precision pass that
marks a graph's convs.
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
    fused_model,
    geometry,
    run_fused,
)

# ------------------------------------------------------------------------------------ precision="bf16"
# bf16 products with fp32 accumulation where the CPU has AVX512-BF16 (GEMM convs: 1x1, im2col, the
# small-output inner-product form, Winograd); depthwise convs and other CPUs run the fp32 path.
_F = r1._core.cpu_features()
BF16_KERNELS = bool(_F.get("has_avx512_kernels") and _F.get("avx512_bf16"))


def bf16_round(a):
    return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def winograd_path(c, m, group, k, s, d, outs):
    """Mirrors winograd_applies (conv_winograd.cc): 3x3, stride 1, undilated 2-D, >= 32 channels and tiles."""
    return (
        len(k) == 2
        and group == 1
        and list(k) == [3, 3]
        and list(s) == [1, 1]
        and list(d) == [1, 1]
        and c >= 32
        and m >= 32
        and ((outs[0] + 1) // 2) * ((outs[1] + 1) // 2) >= 32
    )


def check_bf16(x, w, b, res, k, s, d, pads, auto_pad, group, act, alpha, beta, threads, w_const=True):
    """Runs the conv with precision="bf16" and checks it against the reference (see the cases below)."""
    attrs = case_attrs(k, s, d, pads, auto_pad, group, act, alpha, beta)
    y = run_fused(x, w, b, res, dict(attrs, precision="bf16"), threads=threads, w_const=w_const)
    y32 = run_fused(x, w, b, res, attrs, threads=threads, w_const=w_const)
    assert y.dtype == np.float32
    outs, _, _ = geometry(list(x.shape[2:]), k, s, d, pads, auto_pad)
    depthwise = x.shape[1] == group and w.shape[0] % group == 0 and len(k) <= 2
    if not BF16_KERNELS or depthwise:
        np.testing.assert_array_equal(y, y32)  # the fp32 path, bit for bit
        return y, y32
    want, scale = expected(x, w, b, res, k, s, d, pads, auto_pad, group, act, alpha, beta)
    if winograd_path(x.shape[1], w.shape[0], group, k, s, d, outs):
        # The transformed tiles are rounded to bf16, not x and w: bf16 accuracy against the exact conv.
        check(y, want, scale, rtol=1e-2)
    else:
        # Exactly bf16(x) * bf16(w) summed in fp32: tight against a reference on the rounded operands
        # (fails if any operand escaped the rounding or the accumulation were not fp32), and within
        # bf16 tolerance of the exact conv.
        want_r, scale_r = expected(
            bf16_round(x), bf16_round(w), b, res, k, s, d, pads, auto_pad, group, act, alpha, beta
        )
        check(y, want_r, scale_r, rtol=5e-5)
        check(y, want, scale, rtol=1e-2)
    return y, y32


@st.composite
def bf16_case(draw):
    nd = draw(st.sampled_from([1, 2, 2, 2, 2, 3]))
    kind = draw(st.sampled_from(["plain", "plain", "pointwise", "group", "depthwise"]))
    n = draw(st.integers(1, 2))
    if kind == "depthwise":
        group, cg, mg = draw(st.integers(1, 4)), 1, 1
    elif kind == "group":
        group, cg, mg = draw(st.integers(2, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    else:
        group, cg, mg = 1, draw(st.integers(1, 40)), draw(st.integers(1, 40))
    maxsp = {1: 40, 2: 18, 3: 6}[nd]
    ins = [draw(st.integers(1, maxsp)) for _ in range(nd)]
    if kind == "pointwise":
        k, s, d, pads, auto_pad = [1] * nd, [draw(st.sampled_from([1, 1, 2]))] * nd, [1] * nd, [0] * (2 * nd), "NOTSET"
    else:
        k = [draw(st.sampled_from([1, 3, 3, 5] if nd < 3 else [1, 3]))] * nd
        s = [draw(st.sampled_from([1, 1, 2]))] * nd
        d = [draw(st.sampled_from([1, 1, 1, 2]))] * nd
        pads = [draw(st.integers(0, 2)) for _ in range(2 * nd)]
        auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "VALID"]))
    outs, pb, pe = geometry(ins, k, s, d, pads, auto_pad)
    assume(all(o >= 1 for o in outs))
    for i in range(nd):
        assume(ins[i] + pb[i] + pe[i] >= (k[i] - 1) * d[i] + 1)
    act = draw(st.sampled_from(ACTS))
    bias = draw(st.booleans())
    residual = draw(st.sampled_from(["none", "full", "channel"]))
    threads = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**16))
    return nd, n, group, cg, mg, ins, k, s, d, pads, auto_pad, outs, act, bias, residual, threads, seed


@given(bf16_case())
def test_fused_conv_bf16_matches_reference(case):
    nd, n, group, cg, mg, ins, k, s, d, pads, auto_pad, outs, act, bias, residual, threads, seed = case
    rng = np.random.default_rng(seed)
    x, w, b, res = case_arrays(rng, n, group, cg, mg, ins, k, outs, nd, bias, residual)
    alpha, beta = act_params(act, rng)
    check_bf16(x, w, b, res, k, s, [d[0]] * nd, pads, auto_pad, group, act, alpha, beta, threads)


# Each reaches a bf16 path (or a bf16 tiling case) that small random shapes do not.
BF16_SHAPES = [
    ((1, 64, 16, 18), (40, 64, 3, 3), 1, [1, 1], [1, 1, 1, 1]),  # Winograd
    ((2, 33, 17, 15), (35, 33, 3, 3), 1, [1, 1], [1, 0, 1, 2]),  # Winograd, odd C, 2 images
    ((1, 256, 7, 7), (70, 256, 3, 3), 1, [1, 1], [1, 1, 1, 1]),  # 7x7 output: inner product, K = 2304
    ((1, 600, 7, 7), (70, 600, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # inner product, K not a multiple of 32
    ((1, 1100, 9, 9), (24, 1100, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # direct 1x1, 2 K slices
    ((1, 16, 40, 45), (21, 16, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # direct 1x1, odd row/column tails
    ((1, 160, 20, 20), (36, 160, 3, 3), 1, [2, 2], [1, 1, 1, 1]),  # im2col, K = 1440: 2 K slices
    ((1, 64, 30, 30), (40, 64, 3, 3), 1, [2, 2], [0, 1, 1, 0]),  # im2col stride 2, asymmetric pads
    ((1, 3, 45, 47), (17, 3, 7, 7), 1, [2, 2], [3, 3, 3, 3]),  # stem: K = 147 (odd)
    ((1, 48, 12, 12), (96, 6, 3, 3), 8, [1, 1], [1, 1, 1, 1]),  # grouped
    ((1, 24, 20, 21), (24, 1, 3, 3), 24, [1, 1], [1, 1, 1, 1]),  # depthwise: fp32
    ((1, 2048, 3, 3), (520, 2048, 1, 1), 1, [1, 1], [0, 0, 0, 0]),  # many rows split over threads
    ((1, 8, 6, 7, 5), (12, 8, 3, 3, 3), 1, [1, 1, 1], [1] * 6),  # 3-D
    ((1, 136, 14, 14), (200, 136, 3, 3), 1, [1, 1], [1, 1, 1, 1]),  # Winograd split over channel chunks (2 thr)
    ((1, 8, 50, 52), (12, 8, 5, 5), 1, [1, 1], [2, 1, 2, 3]),  # im2col stride 1: full and edge vectors
    ((1, 6, 31, 40), (10, 6, 3, 3), 1, [3, 3], [1, 1, 1, 1]),  # im2col stride 3 (gathered taps)
    ((2, 37, 9, 9), (20, 37, 3, 3), 1, [1, 1], [0, 0, 0, 0]),  # inner product: K = 333, 3 channel blocks
]


@pytest.mark.parametrize("xs,ws,group,s,pads", BF16_SHAPES)
@pytest.mark.parametrize("act", ["", "Relu", "Silu"])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_conv_bf16_shapes(xs, ws, group, s, pads, act, threads):
    x, w, b, res, k, nd = fixed_case_arrays(xs, ws, s, pads)
    y, y32 = check_bf16(x, w, b, res, k, s, [1] * nd, pads, "NOTSET", group, act, 0.0, 0.0, threads)
    if BF16_KERNELS and group != xs[1] and act == "":
        assert not np.array_equal(y, y32), "precision='bf16' gave the fp32 result: the bf16 path did not run"


def test_fused_conv_bf16_weight_changes_between_runs():
    """A weight that is a graph input is converted on every call; constants of engines built one after
    the other (freed and reallocated weights of one shape) never see another engine's cached copy."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 40, 12, 12)).astype(np.float32)
    attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], precision="bf16")
    model = fused_model(x, np.zeros((48, 40, 3, 3), np.float32), None, None, attrs, w_const=False)
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=1)
    for _ in range(2):
        w = rng.standard_normal((48, 40, 3, 3)).astype(np.float32)
        want, scale = expected(x, w, None, None, [3, 3], [1, 1], [1, 1], [1] * 4, "NOTSET", 1, "", 0, 0)
        check(eng.run([x, w])["y"], want, scale, rtol=1e-2)
        for _ in range(2):  # constants; the second pass runs the first engine's cached weights again
            check(run_fused(x, w, attrs=attrs), want, scale, rtol=1e-2)


def test_fused_conv_bf16_16bit_inputs():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 40, 10, 10)).astype(np.float16)
    w = (rng.standard_normal((36, 40, 3, 3)) / 20).astype(np.float16)
    y = run_fused(x, w, attrs=dict(pads=[1, 1, 1, 1], strides=[2, 2], precision="bf16"))
    assert y.dtype == np.float16
    want, scale = expected(x, w, None, None, [3, 3], [2, 2], [1, 1], [1] * 4, "NOTSET", 1, "", 0, 0)
    check(y, want, scale, rtol=2e-2)


def test_fused_conv_bad_precision():
    x = np.ones((1, 3, 5, 5), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    with pytest.raises(r1.ModelError, match="precision"):
        run_fused(x, w, attrs=dict(precision="fp16"))


def _conv_chain_model(rng):
    """Conv (plain: nothing to fuse) -> depthwise Conv -> Conv + Relu (fused by conv_fusion)."""
    ws = {
        "w0": rng.standard_normal((32, 16, 3, 3)) / 12,
        "w1": rng.standard_normal((32, 1, 3, 3)) / 3,
        "w2": rng.standard_normal((24, 32, 1, 1)) / 6,
        "b2": rng.standard_normal(24),
    }
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in ws.items()]
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1, 1, 1, 1], group=32),
        helper.make_node("Conv", ["b", "w2", "b2"], ["c"]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 20, 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("threads", [1, 2])
def test_precision_pass_marks_convs(threads):
    rng = np.random.default_rng(9)
    m = r1.Model(r1.load_onnx(_conv_chain_model(rng)))
    x = rng.standard_normal((1, 16, 20, 20)).astype(np.float32)
    e32 = r1.InferenceEngine(m, num_threads=threads)
    e16 = r1.InferenceEngine(m, num_threads=threads, precision="bf16")
    assert "bf16" not in str(e32.graph)
    ops = e16.graph.op_types()
    # The plain Conv became a FusedConv carrying the attribute; the depthwise one stays a Conv.
    assert ops.count("FusedConv") == 2 and ops.count("Conv") == 1, ops
    assert str(e16.graph).count('precision="bf16"') == 2
    a = e32.run([x])["y"].ravel().astype(np.float64)
    b = e16.run([x])["y"].ravel().astype(np.float64)
    assert a.dot(b) / (np.linalg.norm(a) * np.linalg.norm(b)) >= 0.9999
    if BF16_KERNELS:
        assert not np.array_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)
