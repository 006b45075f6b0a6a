"""GPU Conv, r1::FusedConv, BatchNorm, pools (cuda/kernels/{conv,fused_conv,batchnorm,pool}.cu) against numpy.

Each kernel runs through _core.run_kernel on the first GPU device; the module skips where there is none.
References are straightforward float64 numpy loops over kernel taps / windows, computed from the inputs
already rounded to the tested dtype, so only the kernel's own error is measured. Conv tolerances scale
with the sum of |x| * |w| of each output (the bound of an fp32 accumulation): 1e-5 for float32 (1e-4 when
the reduction is >= 256 deep), 1e-2 for float16 / bfloat16.
"""

from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from deepseek_r1 import _core

pytestmark = pytest.mark.gpu

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
DTYPES = [F32, F16, BF16]
TOL = {F32: 1e-5, F16: 1e-2, BF16: 1e-2}
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)
AUTO_PADS = ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]


def run(dev, op, inputs, attrs=None, opset=17, num_outputs=1, domain=""):
    return _core.run_kernel(dev, op, list(inputs), attrs or {}, opset, num_outputs, domain)


def rand(rng, shape, dtype, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def f64(a):
    return None if a is None else np.asarray(a).astype(np.float64)


def ints(v):
    return ("ints", [int(i) for i in v])


def assert_close(got, want, dtype, scale=None, tol=None):
    """|got - want| <= tol * (|want| + scale) (scale: the magnitude the accumulation carried)."""
    dtype = np.dtype(dtype)
    tol = TOL[dtype] if tol is None else tol
    assert got.dtype == dtype, (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    g = got.astype(np.float64)
    bound = tol * (np.abs(want) + (1.0 if scale is None else scale)) + (1e-6 if dtype == F32 else 1e-3)
    bad = ~((g == want) | (np.abs(g - want) <= bound))
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; first: got {g[bad][:5]}, want {want[bad][:5]}"


# ---------------------------------------------------------------- references


def resolve_pads(in_sp, ks, strides, dils, pads, auto_pad, ceil_mode=False):
    """(pads_begin, pads_end, out) per spatial dim, as ONNX defines them."""
    nd = len(in_sp)
    pb, pe, out = [], [], []
    for i in range(nd):
        ek = (ks[i] - 1) * dils[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-in_sp[i] // strides[i])
            total = max(0, (o - 1) * strides[i] + ek - in_sp[i])
            small = total // 2
            b, e = (small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small)
        elif auto_pad == "VALID":
            b, e = 0, 0
            o = (in_sp[i] - ek) // strides[i] + 1
        else:
            b, e = pads[i], pads[nd + i]
            num = in_sp[i] + b + e - ek
            if ceil_mode:
                o = -(-num // strides[i]) + 1
                if (o - 1) * strides[i] >= in_sp[i] + b:
                    o -= 1
            else:
                o = num // strides[i] + 1
        pb.append(b)
        pe.append(e)
        out.append(o)
    return pb, pe, out


def conv_ref(x, w, b, group, strides, dils, pb, pe, out):
    """float64 grouped N-D convolution: a sum over kernel taps of strided slices of the padded input."""
    x, w = f64(x), f64(w)
    nd = x.ndim - 2
    n, _ = x.shape[:2]
    m, cg = w.shape[:2]
    ks = w.shape[2:]
    mg = m // group
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pb[i], pe[i]) for i in range(nd)])
    xg = xp.reshape((n, group, cg) + xp.shape[2:])
    wg = w.reshape((group, mg, cg) + tuple(ks))
    y = np.zeros((n, group, mg) + tuple(out))
    for tap in itertools.product(*[range(k) for k in ks]):
        sl = tuple(
            slice(tap[i] * dils[i], tap[i] * dils[i] + strides[i] * (out[i] - 1) + 1, strides[i]) for i in range(nd)
        )
        xs = xg[(slice(None),) * 3 + sl]
        y += np.einsum("ngc...,gmc->ngm...", xs, wg[(slice(None),) * 3 + tap])
    y = y.reshape((n, m) + tuple(out))
    if b is not None:
        y = y + f64(b).reshape((1, m) + (1,) * nd)
    return y


def gelu(v):
    return 0.5 * v * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(v / math.sqrt(2.0)))


# name -> (float64 reference, act_alpha, act_beta) (None: attribute left out, the default is used)
ACTS = {
    "": (lambda v, a, b: v, None, None),
    "Relu": (lambda v, a, b: np.maximum(v, 0.0), None, None),
    "LeakyRelu": (lambda v, a, b: np.where(v < 0, a * v, v), 0.1, None),
    "Clip": (lambda v, a, b: np.clip(v, a, b), -0.5, 1.5),
    "HardSigmoid": (lambda v, a, b: np.clip(a * v + b, 0, 1), 0.3, 0.4),
    "HardSwish": (lambda v, a, b: v * np.clip(v / 6 + 0.5, 0, 1), None, None),
    "Sigmoid": (lambda v, a, b: 1 / (1 + np.exp(-v)), None, None),
    "Silu": (lambda v, a, b: v / (1 + np.exp(-v)), None, None),
    "Tanh": (lambda v, a, b: np.tanh(v), None, None),
    "Gelu": (lambda v, a, b: gelu(v), None, None),
    "GeluTanh": (lambda v, a, b: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))), None, None),
}
DEFAULT_ALPHA_BETA = {"LeakyRelu": (0.01, 0.0), "Clip": (-np.inf, np.inf), "HardSigmoid": (0.2, 0.5)}


def pool_ref(x, kind, ks, strides, dils, pb, pe, out, count_include_pad=False, storage_order=0):
    """float64 MaxPool (values and onnxruntime indices) / AveragePool, window by window."""
    x = f64(x)
    n, c = x.shape[:2]
    in_sp = x.shape[2:]
    nd = len(in_sp)
    planes = x.reshape(n * c, -1)
    plane = int(np.prod(in_sp))
    y = np.zeros((n * c,) + tuple(out))
    ind = np.zeros((n * c,) + tuple(out), np.int64)
    base = np.arange(n * c, dtype=np.int64) * plane
    for o in itertools.product(*[range(v) for v in out]):
        taps = [[o[i] * strides[i] - pb[i] + t * dils[i] for t in range(ks[i])] for i in range(nd)]
        valid = [[p for p in taps[i] if 0 <= p < in_sp[i]] for i in range(nd)]
        offs = [int(np.ravel_multi_index(p, in_sp)) for p in itertools.product(*valid)]
        sel = (slice(None),) + o
        if kind == "max":
            if not offs:
                y[sel], ind[sel] = -np.inf, base - 1
                continue
            vals = planes[:, offs]
            a = np.argmax(vals, axis=1)  # first of equal maxima: the scan order of the kernel
            y[sel] = vals[np.arange(n * c), a]
            off = np.asarray(offs, np.int64)[a]
            if storage_order == 1:
                h, w = off // in_sp[1], off % in_sp[1]
                off = h + w * in_sp[0]
            ind[sel] = base + off
        else:
            if count_include_pad:
                div = np.prod([sum(1 for p in taps[i] if p < in_sp[i] + pe[i]) for i in range(nd)])
            else:
                div = len(offs)
            y[sel] = planes[:, offs].sum(axis=1) / div if div else 0.0
    return y.reshape((n, c) + tuple(out)), ind.reshape((n, c) + tuple(out))


# ---------------------------------------------------------------- Conv


@st.composite
def conv_cases(draw):
    nd = draw(st.integers(1, 3))
    group = draw(st.integers(1, 3))
    cg = draw(st.integers(1, 4))
    mg = draw(st.integers(1, 4))
    n = draw(st.integers(1, 2))
    auto_pad = draw(st.sampled_from(AUTO_PADS))
    max_in = {1: 12, 2: 8, 3: 5}[nd]
    ks = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    dils = [draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [draw(st.integers(0, 2)) for _ in range(2 * nd)]
    in_sp = []
    for i in range(nd):
        ek = (ks[i] - 1) * dils[i] + 1
        lo = ek if auto_pad == "VALID" else max(1, ek - (pads[i] + pads[nd + i] if auto_pad == "NOTSET" else ek))
        in_sp.append(draw(st.integers(lo, max(lo, max_in))))
    bias = draw(st.booleans())
    explicit_kernel_shape = draw(st.booleans())
    return dict(
        nd=nd,
        group=group,
        cg=cg,
        mg=mg,
        n=n,
        auto_pad=auto_pad,
        ks=ks,
        strides=strides,
        dils=dils,
        pads=pads,
        in_sp=in_sp,
        bias=bias,
        explicit_kernel_shape=explicit_kernel_shape,
    )


def conv_attrs(case, group=None):
    a = {
        "group": ("int", group if group is not None else case["group"]),
        "strides": ints(case["strides"]),
        "dilations": ints(case["dils"]),
        "auto_pad": ("string", case["auto_pad"]),
    }
    if case["auto_pad"] == "NOTSET":
        a["pads"] = ints(case["pads"])
    if case["explicit_kernel_shape"]:
        a["kernel_shape"] = ints(case["ks"])
    return a


def conv_scale(x, w, group, strides, dils, pb, pe, out):
    """Per output: the sum of |x| * |w| the accumulation carried (the scale of its rounding error)."""
    return conv_ref(np.abs(f64(x)), np.abs(f64(w)), None, group, strides, dils, pb, pe, out)


def check_conv(dev, case, dtype, seed, op="Conv", activation=None, residual=False, precision=None):
    rng = np.random.default_rng(seed)
    g, cg, mg = case["group"], case["cg"], case["mg"]
    x = rand(rng, [case["n"], g * cg] + case["in_sp"], dtype)
    w = rand(rng, [g * mg, cg] + case["ks"], dtype)
    b = rand(rng, [g * mg], dtype) if case["bias"] else None
    pb, pe, out = resolve_pads(case["in_sp"], case["ks"], case["strides"], case["dils"], case["pads"], case["auto_pad"])
    attrs = conv_attrs(case)
    xr, wr = f64(x), f64(w)
    if precision == "bf16":
        attrs["precision"] = ("string", "bf16")
        xr, wr = f64(x.astype(BF16)), f64(w.astype(BF16))
    want = conv_ref(xr, wr, b, g, case["strides"], case["dils"], pb, pe, out)
    scale = conv_scale(x, w, g, case["strides"], case["dils"], pb, pe, out)
    inputs = [x, w, b]
    domain = ""
    if op == "FusedConv":
        domain = "r1"
        r = rand(rng, want.shape, dtype) if residual else None
        inputs.append(r)
        if r is not None:
            want = want + f64(r)
            scale = scale + np.abs(f64(r))
        name = activation or ""
        fn, alpha, beta = ACTS[name]
        da, db = DEFAULT_ALPHA_BETA.get(name, (0.0, 0.0))
        if name:
            attrs["activation"] = ("string", name)
        if alpha is not None:
            attrs["act_alpha"] = ("float", alpha)
        if beta is not None:
            attrs["act_beta"] = ("float", beta)
        want = fn(want, da if alpha is None else alpha, db if beta is None else beta)
    while inputs and inputs[-1] is None:
        inputs.pop()
    (y,) = run(dev, op, inputs, attrs, domain=domain)
    k = cg * int(np.prod(case["ks"]))
    tol = TOL[np.dtype(dtype)] if np.dtype(dtype) != F32 else (1e-4 if k >= 256 else 1e-5)
    # Activations are 1-Lipschitz (HardSigmoid: act_alpha), so the pre-activation scale bounds the error.
    assert_close(y, want, dtype, scale=scale, tol=tol)


@given(case=conv_cases(), dtype=dtypes, seed=seeds)
def test_conv_random(dev, case, dtype, seed):
    check_conv(dev, case, dtype, seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape",
    [
        # n, group, cg, mg, in_sp, ks, strides, dils, pads: several 64 x 64 tiles and K slices
        (2, 1, 32, 80, [9, 9], [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
        (1, 4, 24, 20, [11, 7], [3, 2], [2, 1], [1, 2], [1, 0, 2, 1]),
        (3, 1, 300, 5, [6], [1], [1], [1], [0, 0]),
        (1, 2, 8, 70, [5, 6, 4], [2, 3, 2], [1, 2, 1], [2, 1, 1], [1, 1, 0, 0, 1, 1]),
        (2, 1, 16, 16, [1, 1], [1, 1], [1, 1], [1, 1], [0, 0, 0, 0]),
    ],
    ids=["3x3-pad", "grouped-dilated", "1d-deepK", "3d", "1x1-pixel"],
)
def test_conv_tiles(dev, shape, dtype):
    n, g, cg, mg, in_sp, ks, strides, dils, pads = shape
    case = dict(
        nd=len(in_sp),
        group=g,
        cg=cg,
        mg=mg,
        n=n,
        auto_pad="NOTSET",
        ks=ks,
        strides=strides,
        dils=dils,
        pads=pads,
        in_sp=in_sp,
        bias=True,
        explicit_kernel_shape=False,
    )
    check_conv(dev, case, dtype, 7)


@given(
    nd=st.integers(1, 3),
    c=st.integers(1, 12),
    mult=st.integers(1, 3),
    stride=st.integers(1, 3),
    dil=st.integers(1, 2),
    k=st.integers(1, 5),
    pad=st.integers(0, 2),
    auto_pad=st.sampled_from(AUTO_PADS),
    dtype=dtypes,
    seed=seeds,
)
def test_conv_depthwise(dev, nd, c, mult, stride, dil, k, pad, auto_pad, dtype, seed):
    ek = (k - 1) * dil + 1
    in_sp = [max(ek, {1: 13, 2: 9, 3: 5}[nd] - i) for i in range(nd)]
    case = dict(
        nd=nd,
        group=c,
        cg=1,
        mg=mult,
        n=2,
        auto_pad=auto_pad,
        ks=[k] * nd,
        strides=[stride] * nd,
        dils=[dil] * nd,
        pads=[pad] * (2 * nd),
        in_sp=in_sp,
        bias=True,
        explicit_kernel_shape=False,
    )
    check_conv(dev, case, dtype, seed)


def test_conv_no_bias_single_channel(dev):
    # group 1 with one input channel takes the depthwise kernel (one channel per group).
    case = dict(
        nd=2,
        group=1,
        cg=1,
        mg=5,
        n=2,
        auto_pad="SAME_LOWER",
        ks=[4, 3],
        strides=[2, 3],
        dils=[1, 1],
        pads=[0] * 4,
        in_sp=[9, 10],
        bias=False,
        explicit_kernel_shape=True,
    )
    for dtype in DTYPES:
        check_conv(dev, case, dtype, 3)


def test_conv_empty_output(dev):
    x = np.ones((0, 4, 5, 5), np.float32)
    w = np.ones((3, 4, 3, 3), np.float32)
    (y,) = run(dev, "Conv", [x, w])
    assert y.shape == (0, 3, 3, 3)


# ---------------------------------------------------------------- FusedConv


@given(case=conv_cases(), dtype=dtypes, act=st.sampled_from(sorted(ACTS)), residual=st.booleans(), seed=seeds)
def test_fused_conv_random(dev, case, dtype, act, residual, seed):
    check_conv(dev, case, dtype, seed, op="FusedConv", activation=act, residual=residual)


@pytest.mark.parametrize("act", sorted(ACTS), ids=lambda a: a or "none")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused_conv_activations(dev, act, dtype):
    case = dict(
        nd=2,
        group=2,
        cg=12,
        mg=40,
        n=2,
        auto_pad="NOTSET",
        ks=[3, 3],
        strides=[1, 2],
        dils=[1, 1],
        pads=[1, 1, 1, 1],
        in_sp=[8, 9],
        bias=True,
        explicit_kernel_shape=False,
    )
    check_conv(dev, case, dtype, 11, op="FusedConv", activation=act, residual=True)
    dw = dict(case, group=6, cg=1, mg=2)  # depthwise path, same epilogue
    check_conv(dev, dw, dtype, 12, op="FusedConv", activation=act, residual=True)


def test_fused_conv_default_alpha(dev):
    # act_alpha / act_beta left out: the ONNX defaults of the op of the same name.
    rng = np.random.default_rng(5)
    x, w, b = rand(rng, [1, 3, 6, 6], F32), rand(rng, [4, 3, 3, 3], F32), rand(rng, [4], F32)
    base = conv_ref(x, w, b, 1, [1, 1], [1, 1], [0, 0], [0, 0], [4, 4])
    scale = conv_scale(x, w, 1, [1, 1], [1, 1], [0, 0], [0, 0], [4, 4])
    for act in ("LeakyRelu", "HardSigmoid", "Clip"):
        (y,) = run(dev, "FusedConv", [x, w, b], {"activation": ("string", act)}, domain="r1")
        a, bb = DEFAULT_ALPHA_BETA[act]
        assert_close(y, ACTS[act][0](base, a, bb), F32, scale=scale)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused_conv_broadcast_residual(dev, dtype):
    rng = np.random.default_rng(9)
    x, w, b = rand(rng, [2, 6, 7, 7], dtype), rand(rng, [8, 6, 3, 3], dtype), rand(rng, [8], dtype)
    base = conv_ref(x, w, b, 1, [1, 1], [1, 1], [0, 0], [0, 0], [5, 5])
    scale = conv_scale(x, w, 1, [1, 1], [1, 1], [0, 0], [0, 0], [5, 5])
    attrs = {"activation": ("string", "Relu")}
    for rshape in ([8, 1, 1], [1, 8, 5, 1], [5]):
        r = rand(rng, rshape, dtype)
        (y,) = run(dev, "FusedConv", [x, w, b, r], attrs, domain="r1")
        assert_close(y, np.maximum(base + f64(r), 0), dtype, scale=scale + 2)
    # A residual that enlarges the output (the conv broadcasts against it).
    x1 = rand(rng, [1, 6, 3, 3], dtype)
    base1 = conv_ref(x1, w, b, 1, [1, 1], [1, 1], [0, 0], [0, 0], [1, 1])
    scale1 = conv_scale(x1, w, 1, [1, 1], [1, 1], [0, 0], [0, 0], [1, 1])
    r = rand(rng, [3, 8, 2, 4], dtype)
    (y,) = run(dev, "FusedConv", [x1, w, b, r], attrs, domain="r1")
    assert_close(y, np.maximum(base1 + f64(r), 0), dtype, scale=scale1 + 2)
    assert y.shape == (3, 8, 2, 4)


@given(case=conv_cases(), seed=seeds)
def test_fused_conv_precision_bf16(dev, case, seed):
    # precision="bf16": X and W rounded to bf16, exact products, fp32 accumulation (depthwise convs of
    # rank <= 2 stay fp32, as on the CPU: compared at bf16 tolerance there).
    depthwise = case["cg"] == 1 and case["nd"] <= 2
    if depthwise:
        case = dict(case, cg=2)
    check_conv(dev, case, F32, seed, op="FusedConv", activation="Relu", residual=True, precision="bf16")


# ---------------------------------------------------------------- BatchNormalization


@given(rank=st.integers(2, 5), dtype=dtypes, param_f32=st.booleans(), seed=seeds)
def test_batchnorm(dev, rank, dtype, param_f32, seed):
    rng = np.random.default_rng(seed)
    shape = [int(v) for v in rng.integers(1, 6, size=rank)]
    c = shape[1]
    pd = F32 if param_f32 else dtype
    x = rand(rng, shape, dtype, -4, 4)
    scale, bias, mean = rand(rng, [c], pd), rand(rng, [c], pd), rand(rng, [c], pd)
    var = rand(rng, [c], pd, 0.1, 3.0)
    eps = 1e-3
    (y,) = run(dev, "BatchNormalization", [x, scale, bias, mean, var], {"epsilon": ("float", eps)}, opset=15)
    bshape = [1, c] + [1] * (rank - 2)
    want = (f64(x) - f64(mean).reshape(bshape)) / np.sqrt(f64(var).reshape(bshape) + np.float64(np.float32(eps)))
    want = want * f64(scale).reshape(bshape) + f64(bias).reshape(bshape)
    assert_close(y, want, dtype, scale=np.abs(f64(x)) * 2 + 2)


def test_batchnorm_errors(dev):
    x = np.ones((2, 3, 4), np.float32)
    p3, p2 = np.ones(3, np.float32), np.ones(2, np.float32)
    with pytest.raises(r1.InputError, match="BatchNormalization parameter"):
        run(dev, "BatchNormalization", [x, p3, p3, p2, p3])
    with pytest.raises(r1.ModelError, match="training"):
        run(dev, "BatchNormalization", [x, p3, p3, p3, p3], {"training_mode": ("int", 1)}, opset=15)


# ---------------------------------------------------------------- errors


def test_conv_errors(dev):
    x = np.ones((1, 3, 5, 5), np.float32)
    w = np.ones((4, 2, 3, 3), np.float32)
    with pytest.raises(r1.InputError, match="channels"):
        run(dev, "Conv", [x, w])
    with pytest.raises(r1.InputError, match="channels"):
        run(dev, "FusedConv", [x, w], domain="r1")
    with pytest.raises(r1.InputError):  # output channels not divisible by group
        run(dev, "Conv", [np.ones((1, 4, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)], {"group": ("int", 2)})
    with pytest.raises(r1.InputError):  # bias of the wrong length
        run(dev, "Conv", [x, np.ones((4, 3, 3, 3), np.float32), np.ones(5, np.float32)])
    with pytest.raises(r1.InputError):  # kernel larger than the input
        run(dev, "Conv", [x, np.ones((4, 3, 7, 7), np.float32)])
    w3 = np.ones((4, 3, 3, 3), np.float32)
    with pytest.raises(r1.ModelError, match="precision"):
        run(dev, "FusedConv", [x, w3], {"precision": ("string", "int8")}, domain="r1")
    with pytest.raises(r1.ModelError, match="activation"):
        run(dev, "FusedConv", [x, w3], {"activation": ("string", "Swish")}, domain="r1")
    with pytest.raises(r1.ModelError, match="prepacked"):
        run(dev, "FusedConv", [x, w3], {"packed_w": ("int", 1)}, domain="r1")


# ---------------------------------------------------------------- pooling


@st.composite
def pool_cases(draw):
    nd = draw(st.integers(1, 3))
    ks = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    dils = [draw(st.integers(1, 2)) for _ in range(nd)]
    auto_pad = draw(st.sampled_from(AUTO_PADS))
    ceil_mode = draw(st.booleans()) if auto_pad == "NOTSET" else False
    # Pads smaller than the kernel (ONNX requires it); every window then holds a valid tap.
    pads = [draw(st.integers(0, ks[i % nd] - 1)) for i in range(2 * nd)]
    max_in = {1: 12, 2: 8, 3: 5}[nd]
    in_sp = [draw(st.integers((ks[i] - 1) * dils[i] + 1, max(max_in, (ks[i] - 1) * dils[i] + 1))) for i in range(nd)]
    return dict(
        nd=nd,
        ks=ks,
        strides=strides,
        dils=dils,
        auto_pad=auto_pad,
        ceil_mode=ceil_mode,
        pads=pads,
        in_sp=in_sp,
        n=draw(st.integers(1, 2)),
        c=draw(st.integers(1, 4)),
    )


def pool_attrs(case):
    a = {
        "kernel_shape": ints(case["ks"]),
        "strides": ints(case["strides"]),
        "auto_pad": ("string", case["auto_pad"]),
        "ceil_mode": ("int", int(case["ceil_mode"])),
    }
    if any(d != 1 for d in case["dils"]):
        a["dilations"] = ints(case["dils"])
    if case["auto_pad"] == "NOTSET":
        a["pads"] = ints(case["pads"])
    return a


@given(case=pool_cases(), dtype=dtypes, indices=st.booleans(), seed=seeds)
def test_max_pool(dev, case, dtype, indices, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, [case["n"], case["c"]] + case["in_sp"], dtype)
    pb, pe, out = resolve_pads(
        case["in_sp"], case["ks"], case["strides"], case["dils"], case["pads"], case["auto_pad"], case["ceil_mode"]
    )
    want, want_ind = pool_ref(x, "max", case["ks"], case["strides"], case["dils"], pb, pe, out)
    res = run(dev, "MaxPool", [x], pool_attrs(case), opset=12, num_outputs=2 if indices else 1)
    assert_close(res[0], want, dtype, tol=0.0)  # a max is exact
    if indices:
        assert res[1].dtype == np.int64
        np.testing.assert_array_equal(res[1], want_ind)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_max_pool_storage_order(dev, dtype):
    rng = np.random.default_rng(2)
    x = rand(rng, [2, 3, 7, 6], dtype)
    attrs = {
        "kernel_shape": ints([3, 2]),
        "strides": ints([2, 2]),
        "pads": ints([1, 0, 1, 1]),
        "storage_order": ("int", 1),
    }
    pb, pe, out = resolve_pads([7, 6], [3, 2], [2, 2], [1, 1], [1, 0, 1, 1], "NOTSET")
    want, want_ind = pool_ref(x, "max", [3, 2], [2, 2], [1, 1], pb, pe, out, storage_order=1)
    y, ind = run(dev, "MaxPool", [x], attrs, opset=12, num_outputs=2)
    assert_close(y, want, dtype, tol=0.0)
    np.testing.assert_array_equal(ind, want_ind)


@given(case=pool_cases(), dtype=dtypes, count_include_pad=st.booleans(), seed=seeds)
def test_average_pool(dev, case, dtype, count_include_pad, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, [case["n"], case["c"]] + case["in_sp"], dtype)
    case = dict(case, dils=[1] * case["nd"])  # AveragePool dilations need opset 19; kept at 1 here
    pb, pe, out = resolve_pads(
        case["in_sp"], case["ks"], case["strides"], case["dils"], case["pads"], case["auto_pad"], case["ceil_mode"]
    )
    want, _ = pool_ref(x, "avg", case["ks"], case["strides"], case["dils"], pb, pe, out, count_include_pad)
    attrs = pool_attrs(case)
    attrs["count_include_pad"] = ("int", int(count_include_pad))
    (y,) = run(dev, "AveragePool", [x], attrs, opset=11)
    assert_close(y, want, dtype, scale=2.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_average_pool_ceil_mode_count_include_pad(dev, dtype):
    # ceil_mode adds a last window that runs past the end pad: its extra taps are never counted.
    rng = np.random.default_rng(4)
    x = rand(rng, [1, 2, 6, 7], dtype)
    for cip in (0, 1):
        attrs = {
            "kernel_shape": ints([3, 3]),
            "strides": ints([2, 2]),
            "pads": ints([1, 1, 0, 0]),
            "ceil_mode": ("int", 1),
            "count_include_pad": ("int", cip),
        }
        pb, pe, out = resolve_pads([6, 7], [3, 3], [2, 2], [1, 1], [1, 1, 0, 0], "NOTSET", True)
        want, _ = pool_ref(x, "avg", [3, 3], [2, 2], [1, 1], pb, pe, out, bool(cip))
        (y,) = run(dev, "AveragePool", [x], attrs, opset=11)
        assert_close(y, want, dtype, scale=2.0)


@given(rank=st.integers(3, 5), dtype=dtypes, seed=seeds)
def test_global_pools(dev, rank, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = [int(v) for v in rng.integers(1, 4, size=2)] + [int(v) for v in rng.integers(1, 12, size=rank - 2)]
    x = rand(rng, shape, dtype)
    axes = tuple(range(2, rank))
    (ya,) = run(dev, "GlobalAveragePool", [x])
    assert_close(ya, f64(x).mean(axis=axes, keepdims=True), dtype, scale=2.0)
    (ym,) = run(dev, "GlobalMaxPool", [x])
    assert_close(ym, f64(x).max(axis=axes, keepdims=True), dtype, tol=0.0)


def test_global_average_pool_large_plane(dev):
    rng = np.random.default_rng(8)
    x = rand(rng, [2, 3, 300, 200], F32)
    (y,) = run(dev, "GlobalAveragePool", [x])
    assert_close(y, f64(x).mean(axis=(2, 3), keepdims=True), F32, scale=2.0, tol=1e-4)


def test_pool_errors(dev):
    x = np.ones((1, 2, 5, 5), np.float32)
    with pytest.raises(r1.ModelError, match="kernel_shape"):
        run(dev, "MaxPool", [x], {})
    with pytest.raises(r1.InputError):  # window larger than the input
        run(dev, "AveragePool", [x], {"kernel_shape": ints([7, 7])})
    with pytest.raises(r1.InputError, match="float32, float16 and bfloat16"):
        run(dev, "MaxPool", [np.ones((1, 2, 5, 5), np.int8)], {"kernel_shape": ints([2, 2])})
