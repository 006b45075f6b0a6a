"""Property tests of the pools (MaxPool, AveragePool, LpPool, the global pools) against numpy references computed in
float64.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from helpers.conv_pool_refs import FLOATS, arr, check, f64, out_and_pads
from helpers.op_harness import run_op


# -------------------------------------------------------------------------------------- pools
def pool_ref(x, kind, k, s, d, pb, pe, outs, count_include_pad=False, p=2):
    x = f64(x)
    nd = x.ndim - 2
    ins = x.shape[2:]
    need = [(outs[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 for i in range(nd)]
    tot = [max(need[i], pb[i] + ins[i] + pe[i]) for i in range(nd)]
    xp = np.full(x.shape[:2] + tuple(tot), np.nan)
    xp[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + ins[i]) for i in range(nd))] = x
    inpad = np.zeros(tuple(tot))
    inpad[tuple(slice(0, pb[i] + ins[i] + pe[i]) for i in range(nd))] = 1
    wins, cnts = [], []
    for off in itertools.product(*[range(kk) for kk in k]):
        sl = tuple(slice(off[i] * d[i], off[i] * d[i] + s[i] * (outs[i] - 1) + 1, s[i]) for i in range(nd))
        wins.append(xp[(slice(None), slice(None)) + sl])
        cnts.append(inpad[sl])
    wins = np.stack(wins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "max":
            return np.nanmax(wins, axis=0)
        if kind == "lp":
            return np.nansum(np.abs(wins) ** p, axis=0) ** (1.0 / p)
        total = np.nansum(wins, axis=0)
        cnt = np.sum(np.stack(cnts), axis=0) if count_include_pad else np.sum(~np.isnan(wins), axis=0)
        return total / cnt


@st.composite
def pool_case(draw):
    nd = draw(st.integers(1, 3))
    maxsp = {1: 12, 2: 8, 3: 5}[nd]
    ins = [draw(st.integers(1, maxsp)) for _ in range(nd)]
    k = [draw(st.integers(1, 3)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [draw(st.integers(0, k[i % nd] - 1)) for i in range(2 * nd)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    ceil_mode = auto_pad == "NOTSET" and draw(st.booleans())
    if auto_pad != "NOTSET":
        d = [1] * nd
    outs, pb, pe = out_and_pads(ins, k, s, d, pads, auto_pad, ceil_mode)
    for i in range(nd):
        assume(ins[i] + pb[i] + pe[i] >= (k[i] - 1) * d[i] + 1)
    assume(all(o >= 1 for o in outs))
    # every window must see at least one real element
    for i in range(nd):
        assume(all(any(0 <= o * s[i] - pb[i] + t * d[i] < ins[i] for t in range(k[i])) for o in range(outs[i])))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *ins)
    seed = draw(st.integers(0, 2**16))
    attrs = dict(kernel_shape=k, strides=s)
    if any(x != 1 for x in d):
        attrs["dilations"] = d
    if auto_pad == "NOTSET":
        if any(pads):
            attrs["pads"] = pads
        if ceil_mode:
            attrs["ceil_mode"] = 1
    else:
        attrs["auto_pad"] = auto_pad
    return shape, attrs, k, s, d, pb, pe, outs, seed


@given(pool_case(), st.sampled_from(FLOATS + [np.dtype(np.uint8), np.dtype(np.int8)]), st.booleans())
def test_maxpool(case, dt, with_indices):
    shape, attrs, k, s, d, pb, pe, outs, seed = case
    x = arr(seed, shape, dt)
    if with_indices:
        y, idx = run_op("MaxPool", [x], attrs=attrs, n_outputs=2)
        assert idx.dtype == np.int64 and idx.shape == y.shape
        np.testing.assert_array_equal(x.reshape(-1)[idx], y)
    else:
        (y,) = run_op("MaxPool", [x], attrs=attrs)
    want = pool_ref(x, "max", k, s, d, pb, pe, outs)
    check(y, want.astype(dt) if dt.kind in "iu" else want, dt)


def test_maxpool_storage_order():
    x = arr(3, (1, 2, 5, 6), np.float32)
    y, idx = run_op("MaxPool", [x], attrs=dict(kernel_shape=[2, 2], strides=[2, 2], storage_order=1), n_outputs=2)
    hw = 30
    plane = idx // hw
    rem = idx % hw
    h, w = rem % 5, rem // 5
    np.testing.assert_array_equal(x[0][plane[0], h[0], w[0]], y[0])


@given(pool_case(), st.sampled_from(FLOATS), st.booleans())
def test_averagepool(case, dt, count_include_pad):
    shape, attrs, k, s, d, pb, pe, outs, seed = case
    x = arr(seed, shape, dt)
    if count_include_pad:
        attrs["count_include_pad"] = 1
    (y,) = run_op("AveragePool", [x], attrs=attrs, opset=19)
    check(y, pool_ref(x, "avg", k, s, d, pb, pe, outs, count_include_pad), dt)


@given(pool_case(), st.sampled_from(FLOATS), st.sampled_from([1, 2, 3]))
def test_lppool(case, dt, p):
    shape, attrs, k, s, d, pb, pe, outs, seed = case
    attrs.pop("ceil_mode", None)
    outs, pb, pe = out_and_pads(
        shape[2:], k, s, d, attrs.get("pads", [0] * 2 * len(k)), attrs.get("auto_pad", "NOTSET")
    )
    assume(all(o >= 1 for o in outs))
    x = arr(seed, shape, dt)
    (y,) = run_op("LpPool", [x], attrs=dict(attrs, p=p), opset=18)
    check(y, pool_ref(x, "lp", k, s, d, pb, pe, outs, p=p), dt, rtol32=1e-4)


@given(st.integers(1, 3), st.sampled_from(FLOATS), st.integers(0, 2**16), st.data())
def test_global_pools(nd, dt, seed, data):
    shape = (
        data.draw(st.integers(1, 2)),
        data.draw(st.integers(1, 4)),
        *[data.draw(st.integers(1, 9)) for _ in range(nd)],
    )
    x = arr(seed, shape, dt)
    axes = tuple(range(2, 2 + nd))
    (ya,) = run_op("GlobalAveragePool", [x])
    (ym,) = run_op("GlobalMaxPool", [x])
    check(ya, f64(x).mean(axis=axes, keepdims=True), dt)
    check(ym, f64(x).max(axis=axes, keepdims=True), dt)
    if dt == np.float32:
        (yl,) = run_op("GlobalLpPool", [x], attrs=dict(p=2))
        check(yl, np.sqrt((f64(x) ** 2).sum(axis=axes, keepdims=True)), dt)


def test_global_maxpool_uint8():
    x = arr(1, (2, 3, 4, 5), np.uint8)
    (y,) = run_op("GlobalMaxPool", [x])
    np.testing.assert_array_equal(y, x.max(axis=(2, 3), keepdims=True))
