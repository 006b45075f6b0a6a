"""GPU pooling (cuda/kernels/pool.cu: MaxPool with indices, AveragePool, the global pools) against numpy.

Each kernel runs through _core.run_kernel on the first GPU device; the module skips where there is none.
References are straightforward float64 numpy loops over kernel taps / windows, computed from the inputs
already rounded to the tested dtype, so only the kernel's own error is measured.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.cuda_conv_harness import (
    AUTO_PADS,
    DTYPES,
    F32,
    assert_close,
    dtypes,
    f64,
    ints,
    rand,
    resolve_pads,
    run,
    seeds,
)

pytestmark = pytest.mark.gpu


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
