"""Property tests of Conv and ConvTranspose against numpy references computed in float64."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.conv_pool_refs import FLOATS, arr, check, f64, out_and_pads
from helpers.op_harness import run_op


def conv_ref(x, w, b, s, d, pb, pe, outs, group):
    x, w = f64(x), f64(w)
    n, c = x.shape[:2]
    m = w.shape[0]
    nd = x.ndim - 2
    k = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pb[i], pe[i] + k[i] * d[i] + s[i] * outs[i]) for i in range(nd)])
    y = np.zeros((n, m, *outs))
    cg, mg = c // group, m // group
    for g in range(group):
        xg = xp[:, g * cg : (g + 1) * cg]
        wg = w[g * mg : (g + 1) * mg]
        for off in itertools.product(*[range(kk) for kk in k]):
            sl = tuple(slice(off[i] * d[i], off[i] * d[i] + s[i] * (outs[i] - 1) + 1, s[i]) for i in range(nd))
            patch = xg[(slice(None), slice(None)) + sl]
            y[:, g * mg : (g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, wg[(slice(None), slice(None)) + off])
    if b is not None:
        y += f64(b).reshape((1, m) + (1,) * nd)
    return y


@st.composite
def conv_case(draw):
    nd = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["plain", "group", "depthwise", "pointwise"]))
    n = draw(st.integers(1, 2))
    if kind == "depthwise":
        group = draw(st.integers(1, 6))
        cg, mg = 1, draw(st.sampled_from([1, 1, 2]))
    elif kind == "group":
        group = draw(st.integers(2, 3))
        cg, mg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    else:
        group = 1
        cg, mg = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    maxsp = {1: 12, 2: 9, 3: 5}[nd]
    ins = [draw(st.integers(1, maxsp)) for _ in range(nd)]
    if kind == "pointwise":
        k, s, d, pads, auto_pad = [1] * nd, [1] * nd, [1] * nd, [0] * (2 * nd), "NOTSET"
    else:
        k = [draw(st.integers(1, 3)) for _ in range(nd)]
        s = [draw(st.integers(1, 3)) for _ in range(nd)]
        d = [draw(st.integers(1, 2)) for _ in range(nd)]
        pads = [draw(st.integers(0, 2)) for _ in range(2 * nd)]
        auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    outs, pb, pe = out_and_pads(ins, k, s, d, pads, auto_pad)
    assume(all(o >= 1 for o in outs))
    for i in range(nd):
        assume(ins[i] + pb[i] + pe[i] >= (k[i] - 1) * d[i] + 1 or auto_pad.startswith("SAME"))
    bias = draw(st.booleans())
    dt = draw(st.sampled_from(FLOATS))
    seed = draw(st.integers(0, 2**16))
    return nd, n, group, cg, mg, ins, k, s, d, pads, auto_pad, outs, pb, pe, bias, dt, seed


@given(conv_case())
def test_conv(case):
    _nd, n, group, cg, mg, ins, k, s, d, pads, auto_pad, outs, pb, pe, bias, dt, seed = case
    x = arr(seed, (n, cg * group, *ins), dt)
    w = arr(seed + 1, (mg * group, cg, *k), dt)
    b = arr(seed + 2, (mg * group,), dt) if bias else None
    attrs = dict(strides=s, dilations=d, group=group, kernel_shape=k)
    if auto_pad == "NOTSET" and any(pads):
        attrs["pads"] = pads
    elif auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    (y,) = run_op("Conv", [x], attrs=attrs, constants=[w] + ([b] if bias else []))
    want = conv_ref(x, w, b, s, d, pb, pe, outs, group)
    assert y.dtype == dt
    check(y, want, dt)


@pytest.mark.parametrize(
    "shape,wshape,group,attrs",
    [
        ((2, 64, 14, 14), (128, 64, 1, 1), 1, {}),  # pointwise GEMM
        ((1, 32, 17, 19), (32, 1, 3, 3), 32, dict(pads=[1, 1, 1, 1])),  # depthwise
        ((1, 24, 16, 16), (24, 1, 3, 3), 24, dict(pads=[1, 1, 1, 1], strides=[2, 2])),
        ((1, 16, 9, 9), (48, 1, 5, 5), 16, dict(pads=[2, 2, 2, 2])),  # depthwise multiplier 3
        ((1, 3, 33, 35), (16, 3, 7, 7), 1, dict(pads=[3, 3, 3, 3], strides=[2, 2])),
        ((2, 20, 12, 12), (40, 10, 3, 3), 2, dict(pads=[1, 0, 1, 2])),
        ((1, 300, 6, 6), (70, 300, 3, 3), 1, dict(pads=[1, 1, 1, 1])),  # K > GEMM block
    ],
)
def test_conv_shapes(shape, wshape, group, attrs):
    x = arr(1, shape, np.float32)
    w = arr(2, wshape, np.float32)
    b = arr(3, (wshape[0],), np.float32)
    (y,) = run_op("Conv", [x], attrs=dict(group=group, **attrs), constants=[w, b])
    nd = len(shape) - 2
    pads = attrs.get("pads", [0] * 2 * nd)
    s = attrs.get("strides", [1] * nd)
    outs, pb, pe = out_and_pads(shape[2:], wshape[2:], s, [1] * nd, pads, "NOTSET")
    check(y, conv_ref(x, w, b, s, [1] * nd, pb, pe, outs, group), np.float32, rtol32=1e-4, atol32=2e-4)


def test_conv_threads_agree():
    x = arr(5, (1, 8, 20, 20), np.float32)
    w = arr(6, (16, 8, 3, 3), np.float32)
    (a,) = run_op("Conv", [x], attrs=dict(pads=[1, 1, 1, 1]), constants=[w], num_threads=1)
    (b,) = run_op("Conv", [x], attrs=dict(pads=[1, 1, 1, 1]), constants=[w], num_threads=2)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_conv_weight_as_input_and_empty_batch():
    x = arr(1, (0, 3, 5, 5), np.float32)
    w = arr(2, (4, 3, 3, 3), np.float32)
    (y,) = run_op("Conv", [x, w])
    assert y.shape == (0, 4, 3, 3)


def test_conv_errors():
    x = arr(1, (1, 3, 5, 5), np.float32)
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Conv", [x], constants=[arr(2, (4, 2, 3, 3), np.float32)])
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Conv", [x], attrs=dict(auto_pad="BOGUS"), constants=[arr(2, (4, 3, 3, 3), np.float32)])
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Conv", [arr(1, (1, 3, 2, 2), np.float32)], constants=[arr(2, (4, 3, 3, 3), np.float32)])


# ------------------------------------------------------------------------------- ConvTranspose
def conv_transpose_ref(x, w, b, s, d, pb, outs, group):
    x, w = f64(x), f64(w)
    n, c = x.shape[:2]
    mg = w.shape[1]
    nd = x.ndim - 2
    k = w.shape[2:]
    ins = x.shape[2:]
    full = [max((ins[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1, pb[i] + outs[i]) + 1 for i in range(nd)]
    y = np.zeros((n, mg * group, *full))
    cg = c // group
    for g in range(group):
        xg = x[:, g * cg : (g + 1) * cg]
        wg = w[g * cg : (g + 1) * cg]
        for off in itertools.product(*[range(kk) for kk in k]):
            sl = tuple(slice(off[i] * d[i], off[i] * d[i] + s[i] * (ins[i] - 1) + 1, s[i]) for i in range(nd))
            contrib = np.einsum("nc...,cm->nm...", xg, wg[(slice(None), slice(None)) + off])
            y[(slice(None), slice(g * mg, (g + 1) * mg)) + sl] += contrib
    y = y[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + outs[i]) for i in range(nd))]
    if b is not None:
        y = y + f64(b).reshape((1, -1) + (1,) * nd)
    return y


@given(
    st.integers(1, 3),
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.sampled_from(["pads", "output_padding", "output_shape", "SAME_UPPER", "SAME_LOWER", "none"]),
    st.booleans(),
    st.sampled_from(FLOATS),
    st.integers(0, 2**16),
    st.data(),
)
def test_conv_transpose(nd, n, group, cg, mg, variant, bias, dt, seed, data):
    maxsp = {1: 8, 2: 5, 3: 3}[nd]
    ins = [data.draw(st.integers(1, maxsp)) for _ in range(nd)]
    k = [data.draw(st.integers(1, 3)) for _ in range(nd)]
    s = [data.draw(st.integers(1, 3)) for _ in range(nd)]
    d = [data.draw(st.integers(1, 2)) for _ in range(nd)]
    attrs = dict(strides=s, dilations=d, group=group)
    base = [(ins[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 for i in range(nd)]
    pb = [0] * nd
    outs = list(base)
    if variant == "pads":
        pads = [data.draw(st.integers(0, (k[i % nd] - 1) * d[i % nd])) for i in range(2 * nd)]
        assume(all(base[i] - pads[i] - pads[nd + i] >= 1 for i in range(nd)))
        attrs["pads"] = pads
        pb = pads[:nd]
        outs = [base[i] - pads[i] - pads[nd + i] for i in range(nd)]
    elif variant == "output_padding":
        op = [data.draw(st.integers(0, s[i] - 1)) for i in range(nd)]
        attrs["output_padding"] = op
        outs = [base[i] + op[i] for i in range(nd)]
    elif variant == "output_shape":
        outs = [base[i] + data.draw(st.integers(0, s[i] - 1)) for i in range(nd)]
        attrs["output_shape"] = outs
    elif variant.startswith("SAME"):
        attrs["auto_pad"] = variant
        outs = [ins[i] * s[i] for i in range(nd)]
        tot = [base[i] - outs[i] for i in range(nd)]
        pb = [t // 2 if variant == "SAME_UPPER" else t - t // 2 for t in tot]
        assume(all(p >= 0 for p in pb))
    x = arr(seed, (n, cg * group, *ins), dt)
    w = arr(seed + 1, (cg * group, mg, *k), dt)
    b = arr(seed + 2, (mg * group,), dt) if bias else None
    (y,) = run_op("ConvTranspose", [x], attrs=attrs, constants=[w] + ([b] if bias else []))
    check(y, conv_transpose_ref(x, w, b, s, d, pb, outs, group), dt)
