"""GPU kernels of cuda/kernels/normalization.cu and the Lp pools of pool.cu against numpy.

GroupNormalization, InstanceNormalization, LpNormalization, MeanVarianceNormalization, LpPool and GlobalLpPool, in
float32 / float16 / bfloat16, through _core.run_kernel on the first GPU (skipped without one). References are float64
numpy from the inputs already rounded to the dtype; tolerances (helpers/cuda_norm_resize_harness.py): float32 1e-5
relative, float16 / bfloat16 1e-2 (of the output's magnitude or of the sum of absolute terms for sums).
The errors of normalization.cu, resize.cu and conv_transpose.cu are checked here too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.cuda_norm_resize_harness import F32, assert_close, dtypes, f64, rand, run, seeds

pytestmark = pytest.mark.gpu

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
