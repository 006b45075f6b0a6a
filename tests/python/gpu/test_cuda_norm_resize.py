"""GPU kernels of cuda/kernels/{normalization,pool,resize,conv_transpose}.cu against numpy (and the CPU kernel).

GroupNormalization, InstanceNormalization, LpNormalization, MeanVarianceNormalization, LpPool,
GlobalLpPool, Resize, Upsample and ConvTranspose, in float32 / float16 / bfloat16, through
_core.run_kernel on the first GPU (skipped without one). References are float64 numpy from the inputs
already rounded to the dtype; where a numpy reference is impractical (cubic / antialias / roi Resize,
ConvTranspose with auto_pad or output_shape) the CPU kernel (cpp/r1/cpu/kernels/) is the reference.
Tolerances: float32 1e-5 relative, float16 / bfloat16 1e-2 (of the output's magnitude or of the sum of
absolute terms for sums).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from deepseek_r1 import _core

pytestmark = pytest.mark.gpu

BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.dtype(np.float32)
DTYPES = [F32, np.dtype(np.float16), BF16]
RTOL = {F32: 1e-5, np.dtype(np.float16): 1e-2, BF16: 1e-2}
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)


def attr(v):
    if isinstance(v, str):
        return ("string", v)
    if isinstance(v, bool) or isinstance(v, (int, np.integer)):
        return ("int", int(v))
    if isinstance(v, float):
        return ("float", float(v))
    v = list(v)
    if all(isinstance(i, (int, np.integer)) for i in v):
        return ("ints", [int(i) for i in v])
    return ("floats", [float(i) for i in v])


def run(dev, op, inputs, attrs=None, opset=17, num_outputs=1):
    a = {k: attr(v) for k, v in (attrs or {}).items()}
    return _core.run_kernel(dev, op, list(inputs), a, opset, num_outputs)


def rand(rng, shape, dtype, lo=-3.0, hi=3.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def f64(a):
    return np.asarray(a).astype(np.float64)


def assert_close(got, want, dtype, scale=None):
    """|got - want| <= rtol * (|want| or the given per-element scale) + a small absolute term."""
    dtype = np.dtype(dtype)
    rtol = RTOL[dtype]
    assert got.dtype == dtype, (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    ref = np.abs(want) if scale is None else np.broadcast_to(scale, want.shape)
    bound = rtol * (ref + 1.0) if dtype != F32 else rtol * ref + 1e-6
    err = np.abs(f64(got) - want)
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} differ; worst {err.max()} (got {f64(got)[bad][:5]}, want {want[bad][:5]})"
    )


# ---------------------------------------------------------------- Group / Instance normalization


def group_norm_ref(x, scale, bias, groups, eps, magnitude=False):
    """y, or (with magnitude) the size of its terms, (|x| + |mean|) / std * |scale| + |bias|: fp32 statistics
    err relative to that (a row with a large mean and a small spread amplifies the mean's rounding)."""
    x = f64(x)
    n, c = x.shape[:2]
    xr = x.reshape(n, groups, -1)
    mean = xr.mean(-1, keepdims=True)
    var = ((xr - mean) ** 2).mean(-1, keepdims=True)
    y = ((xr - mean) / np.sqrt(var + eps)).reshape(x.shape)
    if magnitude:
        y = ((np.abs(xr) + np.abs(mean)) / np.sqrt(var + eps)).reshape(x.shape)
    sc, bi = f64(scale), f64(bias)
    if sc.size != c:
        sc = np.repeat(sc, c // groups)
    if bi.size != c:
        bi = np.repeat(bi, c // groups)
    shp = (1, c) + (1,) * (x.ndim - 2)
    if magnitude:
        return y * np.abs(sc).reshape(shp) + np.abs(bi).reshape(shp)
    return y * sc.reshape(shp) + bi.reshape(shp)


@given(dtypes, seeds, st.data())
def test_group_normalization(dev, dt, seed, data):
    rng = np.random.default_rng(seed)
    groups = data.draw(st.integers(1, 4))
    c = groups * data.draw(st.integers(1, 4))
    spatial = tuple(data.draw(st.lists(st.integers(1, 7), min_size=0, max_size=3)))
    shape = (data.draw(st.integers(1, 3)), c) + spatial
    per_group = data.draw(st.booleans())  # opset 18's (G,) scale / bias; opset 21's (C,)
    opset = 18 if per_group else 21
    k = groups if per_group else c
    off = rng.uniform(-2, 2)
    x = rand(rng, shape, dt, off - 3, off + 3)
    scale, bias = rand(rng, (k,), dt, 0.5, 2.0), rand(rng, (k,), dt, -1, 1)
    eps = data.draw(st.sampled_from([1e-5, 1e-3, 0.1]))
    (y,) = run(dev, "GroupNormalization", [x, scale, bias], {"num_groups": groups, "epsilon": eps}, opset)
    want = group_norm_ref(x, scale, bias, groups, eps)
    assert_close(y, want, dt, scale=group_norm_ref(x, scale, bias, groups, eps, magnitude=True))


@given(dtypes, seeds, st.data())
def test_instance_normalization(dev, dt, seed, data):
    rng = np.random.default_rng(seed)
    c = data.draw(st.integers(1, 6))
    spatial = tuple(data.draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
    shape = (data.draw(st.integers(1, 3)), c) + spatial
    x = rand(rng, shape, dt)
    scale, bias = rand(rng, (c,), dt, 0.5, 2.0), rand(rng, (c,), dt, -1, 1)
    (y,) = run(dev, "InstanceNormalization", [x, scale, bias], {"epsilon": 1e-5}, 6)
    want = group_norm_ref(x, scale, bias, c, 1e-5)
    assert_close(y, want, dt, scale=group_norm_ref(x, scale, bias, c, 1e-5, magnitude=True))


def test_group_norm_long_rows(dev):
    # Rows longer than one block (several loop trips per thread).
    rng = np.random.default_rng(3)
    x = rand(rng, (2, 4, 33, 65), np.float32, 2.0, 8.0)
    scale, bias = rand(rng, (4,), np.float32), rand(rng, (4,), np.float32)
    (y,) = run(dev, "GroupNormalization", [x, scale, bias], {"num_groups": 2}, 21)
    want = group_norm_ref(x, scale, bias, 2, 1e-5)
    assert_close(y, want, F32, scale=group_norm_ref(x, scale, bias, 2, 1e-5, magnitude=True))


# ---------------------------------------------------------------- LpNormalization, MVN


@given(dtypes, seeds, st.data())
def test_lp_normalization(dev, dt, seed, data):
    rng = np.random.default_rng(seed)
    shape = tuple(data.draw(st.lists(st.integers(1, 8), min_size=1, max_size=4)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    p = data.draw(st.sampled_from([1, 2]))
    x = rand(rng, shape, dt)
    if data.draw(st.booleans()):  # a zero row: its output is 0
        x[(0,) * len(shape)] = 0
        sl = [0] * len(shape)
        sl[axis] = slice(None)
        x[tuple(sl)] = 0
    (y,) = run(dev, "LpNormalization", [x], {"axis": axis, "p": p}, 1)
    xd = f64(x)
    norm = np.abs(xd).sum(axis, keepdims=True) if p == 1 else np.sqrt((xd * xd).sum(axis, keepdims=True))
    want = np.where(norm == 0, 0.0, xd / np.where(norm == 0, 1.0, norm))
    assert_close(y, want, dt)


@given(dtypes, seeds, st.data())
def test_mean_variance_normalization(dev, dt, seed, data):
    rng = np.random.default_rng(seed)
    rank = data.draw(st.integers(1, 5))
    shape = tuple(data.draw(st.lists(st.integers(1, 7), min_size=rank, max_size=rank)))
    axes = data.draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True))
    off = rng.uniform(-3, 3)
    x = rand(rng, shape, dt, off - 3, off + 3)
    if any(shape[a] > 1 for a in axes):
        (y,) = run(dev, "MeanVarianceNormalization", [x], {"axes": axes}, 13)
        xd = f64(x)
        mean = xd.mean(tuple(axes), keepdims=True)
        std = np.sqrt(((xd - mean) ** 2).mean(tuple(axes), keepdims=True))
        want = (xd - mean) / (std + 1e-9)
        assert_close(y, want, dt, scale=(np.abs(xd) + np.abs(mean)) / (std + 1e-9))


def test_mvn_default_axes(dev):
    rng = np.random.default_rng(5)
    x = rand(rng, (2, 3, 4, 5), np.float32)
    (y,) = run(dev, "MeanVarianceNormalization", [x], {}, 13)
    xd = f64(x)
    mean = xd.mean((0, 2, 3), keepdims=True)
    want = (xd - mean) / (np.sqrt(((xd - mean) ** 2).mean((0, 2, 3), keepdims=True)) + 1e-9)
    assert_close(y, want, F32, scale=np.abs(want).max())


# ---------------------------------------------------------------- LpPool, GlobalLpPool


def resolve_pads(in_sp, ks, strides, dils, pads, auto_pad, ceil_mode=False):
    """(pads_begin, out) per spatial dim, as ONNX (and conv_geom::forward) define them."""
    nd = len(in_sp)
    pb, out = [], []
    for i in range(nd):
        ek = (ks[i] - 1) * dils[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-in_sp[i] // strides[i])
            total = max(0, (o - 1) * strides[i] + ek - in_sp[i])
            small = total // 2
            b = small if auto_pad == "SAME_UPPER" else total - small
        elif auto_pad == "VALID":
            b = 0
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
        out.append(o)
    return pb, out


def lp_pool_ref(x, ks, strides, dils, pb, out, p):
    x = f64(x)
    in_sp = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for o in np.ndindex(*out):
        acc = np.zeros(x.shape[:2])
        for k in np.ndindex(*ks):
            pos = [o[i] * strides[i] - pb[i] + k[i] * dils[i] for i in range(len(ks))]
            if all(0 <= pos[i] < in_sp[i] for i in range(len(ks))):
                acc += np.abs(x[(slice(None), slice(None)) + tuple(pos)]) ** p
        y[(slice(None), slice(None)) + o] = acc ** (1.0 / p)
    return y


@st.composite
def lp_pool_case(draw):
    nd = draw(st.integers(1, 3))
    ks = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    dils = [draw(st.integers(1, 2)) for _ in range(nd)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    pads = [draw(st.integers(0, ks[i % nd] - 1)) for i in range(2 * nd)]
    ceil_mode = auto_pad == "NOTSET" and draw(st.booleans())
    in_sp = [draw(st.integers((ks[i] - 1) * dils[i] + 1, (ks[i] - 1) * dils[i] + 6)) for i in range(nd)]
    return dict(
        nd=nd,
        ks=ks,
        strides=strides,
        dils=dils,
        auto_pad=auto_pad,
        pads=pads,
        ceil_mode=ceil_mode,
        in_sp=in_sp,
        n=draw(st.integers(1, 2)),
        c=draw(st.integers(1, 3)),
        p=draw(st.sampled_from([1, 2, 3])),
    )


@given(lp_pool_case(), dtypes, seeds)
def test_lp_pool(dev, case, dt, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, (case["n"], case["c"], *case["in_sp"]), dt)
    attrs = {
        "kernel_shape": case["ks"],
        "strides": case["strides"],
        "dilations": case["dils"],
        "auto_pad": case["auto_pad"],
        "p": case["p"],
    }
    if case["auto_pad"] == "NOTSET":
        attrs["pads"] = case["pads"]
        attrs["ceil_mode"] = int(case["ceil_mode"])
    (y,) = run(dev, "LpPool", [x], attrs, 18)
    pb, out = resolve_pads(
        case["in_sp"], case["ks"], case["strides"], case["dils"], case["pads"], case["auto_pad"], case["ceil_mode"]
    )
    want = lp_pool_ref(x, case["ks"], case["strides"], case["dils"], pb, out, case["p"])
    assert_close(y, want, dt)
    (cpu,) = run("cpu", "LpPool", [x], attrs, 18)
    assert_close(y, f64(cpu), dt)


@given(dtypes, seeds, st.sampled_from([1, 2, 3]), st.lists(st.integers(1, 12), min_size=1, max_size=3))
def test_global_lp_pool(dev, dt, seed, p, spatial):
    rng = np.random.default_rng(seed)
    x = rand(rng, (2, 3, *spatial), dt)
    (y,) = run(dev, "GlobalLpPool", [x], {"p": p}, 2)
    xd = f64(x)
    ax = tuple(range(2, xd.ndim))
    want = (np.abs(xd) ** p).sum(ax, keepdims=True) ** (1.0 / p)
    assert_close(y, want, dt)


# ---------------------------------------------------------------- Resize, Upsample


def coord(ctm, i, scale, in_len, out_len, r0=0.0, r1=1.0):
    out_w = scale * in_len
    if ctm == "align_corners":
        return 0.0 if out_w == 1 else i * (in_len - 1) / (out_w - 1)
    if ctm == "asymmetric":
        return i / scale
    if ctm == "pytorch_half_pixel":
        return -0.5 if out_w == 1 else (i + 0.5) / scale - 0.5
    if ctm == "half_pixel_symmetric":
        adj = out_len / out_w
        return in_len / 2 * (1 - adj) + (i + 0.5) / scale - 0.5
    return (i + 0.5) / scale - 0.5  # half_pixel


def axis_matrix(mode, ctm, nearest_mode, scale, in_len, out_len, legacy=False):
    """(out_len, in_len) float64 weights of one axis: nearest picks one input, linear two (clamped)."""
    m = np.zeros((out_len, in_len))
    for i in range(out_len):
        x = coord(ctm, i, scale, in_len, out_len)
        fl = np.floor(x)
        if mode == "nearest":
            if legacy:
                k = int(np.ceil(x)) if scale < 1 else int(x)
            elif x == fl:
                k = int(x)
            else:
                frac = x - fl
                up = {"round_prefer_floor": frac > 0.5, "round_prefer_ceil": frac >= 0.5, "floor": False, "ceil": True}[
                    nearest_mode
                ]
                k = int(fl) + int(up)
            m[i, min(max(k, 0), in_len - 1)] = 1.0
        else:
            r = x - fl
            m[i, min(max(int(fl), 0), in_len - 1)] += 1 - r
            m[i, min(max(int(fl) + 1, 0), in_len - 1)] += r
    return m


def resize_ref(x, mode, ctm, nearest_mode, scales, out_shape, legacy=False):
    y = f64(x)
    for a in range(x.ndim):
        m = axis_matrix(mode, ctm, nearest_mode, scales[a], x.shape[a], out_shape[a], legacy)
        y = np.moveaxis(np.tensordot(m, y, axes=([1], [a])), 0, a)
    return y


@st.composite
def simple_resize_case(draw):
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    mode = draw(st.sampled_from(["nearest", "linear"]))
    ctm = draw(
        st.sampled_from(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"])
    )
    nearest_mode = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    nres = draw(st.integers(1, min(rank, 3)))  # resize the trailing axes (bilinear / trilinear)
    if draw(st.booleans()):
        sizes = list(shape[: rank - nres]) + [draw(st.integers(1, 9)) for _ in range(nres)]
        scales = None
    else:
        scales = [1.0] * (rank - nres) + [
            draw(st.sampled_from([0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in range(nres)
        ]
        sizes = None
    return shape, mode, ctm, nearest_mode, scales, sizes


@given(simple_resize_case(), dtypes, seeds)
def test_resize_numpy(dev, case, dt, seed):
    shape, mode, ctm, nearest_mode, scales, sizes = case
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm, "nearest_mode": nearest_mode}
    if sizes is not None:
        inputs = [x, None, None, np.array(sizes, np.int64)]
        out = sizes
        sc = [sizes[i] / shape[i] for i in range(len(shape))]
    else:
        inputs = [x, None, np.array(scales, np.float32)]
        out = [int(np.floor(float(np.float32(s)) * d)) for s, d in zip(scales, shape)]
        sc = [float(np.float32(s)) for s in scales]
    if 0 in out:
        return
    (y,) = run(dev, "Resize", inputs, attrs, 19)
    want = resize_ref(x, mode, ctm, nearest_mode, sc, out)
    if mode == "nearest":
        np.testing.assert_array_equal(f64(y), want)
    else:
        assert_close(y, want, dt, scale=np.abs(f64(x)).max())
    (cpu,) = run("cpu", "Resize", inputs, attrs, 19)
    if mode == "nearest":
        np.testing.assert_array_equal(y.view(np.uint8), cpu.view(np.uint8))


@st.composite
def resize_case(draw):
    """Every attribute the CPU kernel takes; the CPU kernel is the reference."""
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    mode = draw(st.sampled_from(["nearest", "linear", "cubic"]))
    ctm = draw(
        st.sampled_from(
            [
                "half_pixel",
                "half_pixel_symmetric",
                "pytorch_half_pixel",
                "align_corners",
                "asymmetric",
                "tf_half_pixel_for_nn",
                "tf_crop_and_resize",
            ]
        )
    )
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    attrs["nearest_mode"] = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    if mode == "cubic":
        attrs["cubic_coeff_a"] = draw(st.sampled_from([-0.75, -0.5]))
        attrs["exclude_outside"] = draw(st.sampled_from([0, 1]))
    if mode != "nearest" and draw(st.integers(0, 3)) == 0:
        attrs["antialias"] = 1
    naxes = draw(st.integers(1, rank))
    axes = list(range(rank - naxes, rank))
    use_axes = naxes != rank and draw(st.booleans())
    if use_axes:
        attrs["axes"] = axes
    listed = axes if use_axes else list(range(rank))
    roi = None
    if ctm == "tf_crop_and_resize":
        lo = [draw(st.sampled_from([0.0, 0.125, 0.25, -0.25])) for _ in listed]
        hi = [draw(st.sampled_from([1.0, 0.875, 0.625, 1.25])) for _ in listed]
        roi = np.array(lo + hi, np.float32)
        attrs["extrapolation_value"] = draw(st.sampled_from([0.0, 5.0]))
    if draw(st.booleans()):
        sizes = [shape[i] if i not in axes else draw(st.integers(1, 9)) for i in listed]
        if draw(st.booleans()):
            attrs["keep_aspect_ratio_policy"] = draw(st.sampled_from(["stretch", "not_larger", "not_smaller"]))
        consts = [roi, None, np.array(sizes, np.int64)]
    else:
        scales = [1.0 if i not in axes else draw(st.sampled_from([0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 3.0])) for i in listed]
        consts = [roi, np.array(scales, np.float32)]
    return shape, attrs, consts


@given(resize_case(), dtypes, seeds)
def test_resize_vs_cpu(dev, case, dt, seed):
    shape, attrs, consts = case
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    (cpu,) = run("cpu", "Resize", [x] + consts, attrs, 19)
    (y,) = run(dev, "Resize", [x] + consts, attrs, 19)
    if attrs["mode"] == "nearest":
        np.testing.assert_array_equal(y.view(np.uint8), cpu.view(np.uint8))
    else:
        scale = max(np.abs(f64(x)).max(), abs(attrs.get("extrapolation_value", 0.0)))
        assert_close(y, f64(cpu), dt, scale=scale)


@pytest.mark.parametrize("opset", [10, 11, 13])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_older_opsets(dev, opset, mode):
    if opset == 10 and mode == "cubic":
        pytest.skip("opset 10 Resize has no cubic mode")
    rng = np.random.default_rng(opset)
    x = rand(rng, (1, 2, 4, 5), np.float32)
    scales = np.array([1, 1, 1.5, 0.6], np.float32)
    inputs = [x, scales] if opset == 10 else [x, np.array([], np.float32), scales]
    (cpu,) = run("cpu", "Resize", inputs, {"mode": mode}, opset)
    (y,) = run(dev, "Resize", inputs, {"mode": mode}, opset)
    assert_close(y, f64(cpu), F32, scale=np.abs(x).max())
    if opset == 10 and mode == "nearest":  # asymmetric, legacy rounding
        want = resize_ref(x, "nearest", "asymmetric", None, [float(s) for s in scales], y.shape, legacy=True)
        np.testing.assert_array_equal(f64(y), want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int32, np.int64, np.float16])
def test_resize_nearest_any_dtype(dev, dt):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 100, size=(2, 3, 4, 5)).astype(dt)
    scales = np.array([1, 1, 2.0, 0.6], np.float32)
    attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    (y,) = run(dev, "Resize", [x, None, scales], attrs, 13)
    want = resize_ref(x, "nearest", "asymmetric", "floor", [1.0, 1.0, 2.0, float(np.float32(0.6))], y.shape)
    np.testing.assert_array_equal(y, want.astype(dt))


@given(st.sampled_from([7, 9]), st.sampled_from(["nearest", "linear", "bilinear"]), dtypes, seeds, st.data())
def test_upsample(dev, opset, mode, dt, seed, data):
    rng = np.random.default_rng(seed)
    shape = (1, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    scales = [1.0, 1.0, data.draw(st.sampled_from([1.0, 2.0, 3.0])), data.draw(st.sampled_from([1.0, 2.0, 1.5]))]
    x = rand(rng, shape, dt)
    if opset == 7:
        inputs, attrs = [x], {"mode": mode, "scales": scales}
    else:
        inputs, attrs = [x, np.array(scales, np.float32)], {"mode": mode}
    (y,) = run(dev, "Upsample", inputs, attrs, opset)
    (cpu,) = run("cpu", "Upsample", inputs, attrs, opset)
    out = [int(np.floor(s * d)) for s, d in zip(scales, shape)]
    want = resize_ref(x, "nearest" if mode == "nearest" else "linear", "asymmetric", None, scales, out, legacy=True)
    if mode == "nearest":
        np.testing.assert_array_equal(f64(y), want)
    else:
        assert_close(y, want, dt, scale=np.abs(f64(x)).max())
    assert_close(y, f64(cpu), dt, scale=np.abs(f64(x)).max())


# ---------------------------------------------------------------- ConvTranspose


def conv_transpose_ref(x, w, b, group, strides, dils, pb, out):
    """float64 ConvTranspose: every (input position, tap) scattered to i * s + k * d, cropped from pads_begin."""
    x, w = f64(x), f64(w)
    n, c = x.shape[:2]
    in_sp, ks = x.shape[2:], w.shape[2:]
    nd = len(in_sp)
    mg = w.shape[1]
    cg = c // group
    full = [max(pb[i] + out[i], (in_sp[i] - 1) * strides[i] + (ks[i] - 1) * dils[i] + 1) for i in range(nd)]
    yf = np.zeros((n, mg * group, *full))
    for g in range(group):
        xg = x[:, g * cg : (g + 1) * cg]
        wg = w[g * cg : (g + 1) * cg]
        for k in np.ndindex(*ks):
            contrib = np.einsum("nc...,cm->nm...", xg, wg[(slice(None), slice(None)) + k])
            sl = tuple(
                slice(k[i] * dils[i], k[i] * dils[i] + (in_sp[i] - 1) * strides[i] + 1, strides[i]) for i in range(nd)
            )
            yf[(slice(None), slice(g * mg, (g + 1) * mg)) + sl] += contrib
    y = yf[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + out[i]) for i in range(nd))]
    if b is not None:
        y = y + f64(b).reshape((1, -1) + (1,) * nd)
    return y


@st.composite
def conv_t_case(draw):
    nd = draw(st.integers(1, 3))
    group = draw(st.integers(1, 3))
    return dict(
        nd=nd,
        group=group,
        cg=draw(st.integers(1, 3)),
        mg=draw(st.integers(1, 3)),
        n=draw(st.integers(1, 2)),
        in_sp=[draw(st.integers(1, 5)) for _ in range(nd)],
        ks=[draw(st.integers(1, 3)) for _ in range(nd)],
        strides=[draw(st.integers(1, 3)) for _ in range(nd)],
        dils=[draw(st.integers(1, 2)) for _ in range(nd)],
        pads=[draw(st.integers(0, 2)) for _ in range(2 * nd)],
        opad=[draw(st.integers(0, 1)) for _ in range(nd)],
        bias=draw(st.booleans()),
    )


@given(conv_t_case(), dtypes, seeds)
def test_conv_transpose(dev, case, dt, seed):
    rng = np.random.default_rng(seed)
    nd, group = case["nd"], case["group"]
    c, mg = case["cg"] * group, case["mg"]
    x = rand(rng, (case["n"], c, *case["in_sp"]), dt)
    w = rand(rng, (c, mg, *case["ks"]), dt)
    b = rand(rng, (mg * group,), dt) if case["bias"] else None
    opad = [min(op, s - 1) for op, s in zip(case["opad"], case["strides"])]
    out = [
        case["strides"][i] * (case["in_sp"][i] - 1)
        + opad[i]
        + (case["ks"][i] - 1) * case["dils"][i]
        + 1
        - case["pads"][i]
        - case["pads"][nd + i]
        for i in range(nd)
    ]
    if min(out) <= 0:
        return
    attrs = {
        "group": group,
        "strides": case["strides"],
        "dilations": case["dils"],
        "pads": case["pads"],
        "output_padding": opad,
    }
    inputs = [x, w] + ([b] if b is not None else [])
    (y,) = run(dev, "ConvTranspose", inputs, attrs, 11)
    want = conv_transpose_ref(x, w, b, group, case["strides"], case["dils"], case["pads"][:nd], out)
    scale = conv_transpose_ref(
        np.abs(f64(x)),
        np.abs(f64(w)),
        None if b is None else np.abs(f64(b)),
        group,
        case["strides"],
        case["dils"],
        case["pads"][:nd],
        out,
    )
    assert_close(y, want, dt, scale=scale + 1e-3)


@given(conv_t_case(), st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID", "output_shape"]), dtypes, seeds)
def test_conv_transpose_auto_pad_vs_cpu(dev, case, how, dt, seed):
    rng = np.random.default_rng(seed)
    group = case["group"]
    c, mg = case["cg"] * group, case["mg"]
    x = rand(rng, (case["n"], c, *case["in_sp"]), dt)
    w = rand(rng, (c, mg, *case["ks"]), dt)
    b = rand(rng, (mg * group,), dt)
    attrs = {"group": group, "strides": case["strides"], "dilations": case["dils"]}
    if how == "output_shape":
        attrs["output_shape"] = [s * i + e for s, i, e in zip(case["strides"], case["in_sp"], case["opad"])]
        attrs["auto_pad"] = "SAME_UPPER"
    else:
        attrs["auto_pad"] = how
    (cpu,) = run("cpu", "ConvTranspose", [x, w, b], attrs, 11)
    (y,) = run(dev, "ConvTranspose", [x, w, b], attrs, 11)
    assert y.shape == cpu.shape
    scale = np.abs(f64(x)).max() * np.abs(f64(w)).max() * case["cg"] * np.prod(case["ks"]) + abs(f64(b)).max()
    assert_close(y, f64(cpu), dt, scale=scale * (1e-1 if dt == F32 else 1.0))


# ---------------------------------------------------------------- errors


def test_errors(dev):
    x = np.ones((1, 6, 3, 3), np.float32)
    with pytest.raises(r1.InputError, match="not divisible"):
        run(dev, "GroupNormalization", [x, np.ones(6, np.float32), np.zeros(6, np.float32)], {"num_groups": 4}, 21)
    with pytest.raises(r1.InputError, match="elements"):
        run(dev, "GroupNormalization", [x, np.ones(5, np.float32), np.zeros(6, np.float32)], {"num_groups": 3}, 21)
    with pytest.raises(r1.InputError, match="elements"):
        run(dev, "InstanceNormalization", [x, np.ones(3, np.float32), np.zeros(6, np.float32)], {}, 6)
    with pytest.raises(r1.ModelError, match="p=3"):
        run(dev, "LpNormalization", [x], {"p": 3}, 1)
    with pytest.raises(r1.ModelError, match="spatial dims"):
        run(dev, "LpPool", [np.ones((1, 1, 2, 2, 2, 2), np.float32)], {"kernel_shape": [1, 1, 1, 1]}, 18)
    with pytest.raises(r1.ModelError, match="not supported"):
        run(dev, "Resize", [x, None, np.array([1, 1, 2, 2], np.float32)], {"mode": "bogus"}, 13)
    with pytest.raises(r1.ModelError, match="not supported"):
        run(
            dev,
            "Resize",
            [x, None, np.array([1, 1, 2, 2], np.float32)],
            {"coordinate_transformation_mode": "bogus"},
            13,
        )
    with pytest.raises(r1.InputError, match="roi"):
        run(
            dev,
            "Resize",
            [x, None, np.array([1, 1, 2, 2], np.float32)],
            {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"},
            13,
        )
    with pytest.raises(r1.InputError, match="scales"):
        run(dev, "Resize", [x, None, np.array([1, 2, 2], np.float32)], {"mode": "linear"}, 13)
    with pytest.raises(r1.ModelError, match="not supported"):
        run(dev, "Upsample", [x, np.array([1, 1, 2, 2], np.float32)], {"mode": "cubic"}, 9)
    with pytest.raises(r1.InputError, match="channels"):
        run(dev, "ConvTranspose", [x, np.ones((4, 2, 3, 3), np.float32)], {}, 11)


def test_resize_linear_int_refused_on_gpu(dev):
    # Linear / cubic are float-only on the GPU (its predicate leaves such nodes to the CPU, which refuses them too).
    x = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    with pytest.raises(r1.InputError, match="float32"):
        run(dev, "Resize", [x, None, np.array([1, 1, 2, 2], np.float32)], {"mode": "linear"}, 13)
