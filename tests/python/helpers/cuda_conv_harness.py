"""One GPU kernel run through _core.run_kernel, the dtypes and tolerances, the float64 references (ONNX pads, Conv,
the FusedConv activations), random Conv cases and the Conv / FusedConv check, for gpu/test_cuda_conv.py,
test_cuda_fused_conv.py and test_cuda_pool.py (cuda/kernels/conv.cu, pool.cu).

References are computed from the inputs already rounded to the tested dtype, so only the kernel's own error is
measured. Conv tolerances scale with the sum of |x| * |w| of each output (the bound of an fp32 accumulation): 1e-5 for
float32 (1e-4 when the reduction is >= 256 deep), 1e-2 for float16 / bfloat16.
"""

from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

from deepseek_r1 import _core

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


# ---------------------------------------------------------------- Conv cases and their check


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
