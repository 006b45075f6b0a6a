"""r1::FusedConv (Y = act(Conv(X, W, B) + residual), cpp/r1/passes/README.md) against a float64 numpy
reference: random shapes, kernel sizes 1/3/5/7, strides, pads (asymmetric and auto_pad), dilations,
groups (depthwise included), every activation, with and without bias and residual. Deterministic cases
cover what small random shapes never reach: several K blocks, several column/row tasks, the unrolled
depthwise kernels, and 1 vs 2 threads. Errors are bounded relative to the output scale."""

from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1

ACTS = ["", "Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Silu", "Tanh", "Gelu", "GeluTanh"]
_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(ml_dtypes.bfloat16): TensorProto.BFLOAT16,
}


# ------------------------------------------------------------------------------------ reference
def geometry(ins, k, s, d, pads, auto_pad):
    """Output dims and begin/end pads, as ONNX Conv defines them."""
    nd = len(ins)
    outs, pb, pe = [], [], []
    for i in range(nd):
        ek = (k[i] - 1) * d[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-ins[i] // s[i])
            tot = max(0, (o - 1) * s[i] + ek - ins[i])
            lo = tot // 2 if auto_pad == "SAME_UPPER" else tot - tot // 2
            outs.append(o), pb.append(lo), pe.append(tot - lo)
        elif auto_pad == "VALID":
            outs.append((ins[i] - ek) // s[i] + 1), pb.append(0), pe.append(0)
        else:
            outs.append((ins[i] + pads[i] + pads[nd + i] - ek) // s[i] + 1), pb.append(pads[i]), pe.append(pads[nd + i])
    return outs, pb, pe


def conv_ref(x, w, b, s, d, pb, pe, outs, group):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c = x.shape[:2]
    m, nd, k = w.shape[0], x.ndim - 2, w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pb[i], pe[i] + k[i] * d[i] + s[i] * outs[i]) for i in range(nd)])
    y = np.zeros((n, m, *outs))
    cg, mg = c // group, m // group
    for g in range(group):
        xg, wg = xp[:, g * cg : (g + 1) * cg], w[g * mg : (g + 1) * mg]
        for off in itertools.product(*[range(kk) for kk in k]):
            sl = tuple(slice(off[i] * d[i], off[i] * d[i] + s[i] * (outs[i] - 1) + 1, s[i]) for i in range(nd))
            patch = xg[(slice(None), slice(None)) + sl]
            y[:, g * mg : (g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, wg[(slice(None), slice(None)) + off])
    if b is not None:
        y += np.asarray(b, np.float64).reshape((1, m) + (1,) * nd)
    return y


def act_ref(v, act, alpha, beta):
    sig = lambda t: 1.0 / (1.0 + np.exp(-t))
    if act == "":
        return v
    if act == "Relu":
        return np.maximum(v, 0)
    if act == "LeakyRelu":
        return np.where(v < 0, alpha * v, v)
    if act == "Clip":
        return np.clip(v, alpha, beta)
    if act == "HardSigmoid":
        return np.clip(alpha * v + beta, 0, 1)
    if act == "HardSwish":
        return v * np.clip(v / 6 + 0.5, 0, 1)
    if act == "Sigmoid":
        return sig(v)
    if act == "Silu":
        return v * sig(v)
    if act == "Tanh":
        return np.tanh(v)
    if act == "Gelu":
        return 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))
    if act == "GeluTanh":
        return 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
    raise ValueError(act)


# ------------------------------------------------------------------------------------ running
def fused_model(x, w, b, res, attrs, w_const=True):
    """One r1::FusedConv node; X and the residual are graph inputs, W and B initializers."""
    dt = _TYPES[np.dtype(x.dtype)]
    names, ins, inits = [], [], []

    def add(name, a, const):
        if a is None:
            names.append("")
        elif const:
            names.append(name), inits.append(numpy_helper.from_array(np.asarray(a), name))
        else:
            names.append(name), ins.append(helper.make_tensor_value_info(name, dt, list(a.shape)))

    add("x", x, False), add("w", w, w_const), add("b", b, True), add("r", res, False)
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node("FusedConv", names, ["y"], domain="r1", **attrs)
    g = helper.make_graph([node], "fused_conv", ins, [helper.make_tensor_value_info("y", dt, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])


def run_fused(x, w, b=None, res=None, attrs=None, threads=None, w_const=True):
    model = fused_model(x, w, b, res, attrs or {}, w_const)
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads)
    feeds = [x] + ([] if w_const else [w]) + ([res] if res is not None else [])
    return eng.run(feeds)["y"]


def check(got, want, scale, rtol=1e-5):
    """|got - want| <= rtol * output scale (the largest pre-activation magnitude)."""
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    err = np.max(np.abs(np.asarray(got, np.float64) - want)) if want.size else 0.0
    assert err <= rtol * max(scale, 1.0), f"max error {err:.3g} > {rtol:g} x scale {scale:.3g}"


def act_params(act, draw_or_rng):
    if act == "LeakyRelu":
        return 0.1, 0.0
    if act == "Clip":
        return -0.5, 1.5
    if act == "HardSigmoid":
        return 0.25, 0.4
    return 0.0, 0.0


def case_attrs(k, s, d, pads, auto_pad, group, act, alpha, beta):
    attrs = dict(kernel_shape=k, strides=s, dilations=d, group=group, activation=act)
    if act in ("LeakyRelu", "Clip", "HardSigmoid"):
        attrs.update(act_alpha=alpha, act_beta=beta)
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    elif any(pads):
        attrs["pads"] = pads
    return attrs


def expected(x, w, b, res, k, s, d, pads, auto_pad, group, act, alpha, beta):
    outs, pb, pe = geometry(list(x.shape[2:]), k, s, d, pads, auto_pad)
    pre = conv_ref(x, w, b, s, d, pb, pe, outs, group)
    if res is not None:
        pre = pre + np.asarray(res, np.float64)
    return act_ref(pre, act, alpha, beta), float(np.max(np.abs(pre))) if pre.size else 0.0


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
    m = mg * group
    x = rng.standard_normal((n, cg * group, *ins)).astype(np.float32)
    w = rng.standard_normal((m, cg, *k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    res = None
    if residual == "full":
        res = rng.standard_normal((n, m, *outs)).astype(np.float32)
    elif residual == "channel":  # broadcast over batch and space
        res = rng.standard_normal((m,) + (1,) * nd).astype(np.float32)
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


def fixed_case_arrays(xs, ws, s, pads):
    """Seeded x, w (scaled by fan-in), bias and residual for a fixed-shape case; also k and the rank."""
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / math.sqrt(np.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    nd, k = len(xs) - 2, list(ws[2:])
    outs, _, _ = geometry(list(xs[2:]), k, s, [1] * nd, pads, "NOTSET")
    res = rng.standard_normal((xs[0], ws[0], *outs)).astype(np.float32)
    return x, w, b, res, k, nd


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
    m = mg * group
    x = rng.standard_normal((n, cg * group, *ins)).astype(np.float32)
    w = rng.standard_normal((m, cg, *k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    res = None
    if residual == "full":
        res = rng.standard_normal((n, m, *outs)).astype(np.float32)
    elif residual == "channel":
        res = rng.standard_normal((m,) + (1,) * nd).astype(np.float32)
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
