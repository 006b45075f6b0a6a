"""Property tests of QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked; int8, uint8, int16, uint16)
against numpy, and of DynamicQuantizeLinear and QLinearMatMul against numpy and onnxruntime (integers exactly)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from helpers.dtype_arrays import seeds, shapes
from helpers.op_harness import run_onnxruntime, run_op

QTYPES = [np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16)]


def _params(rng, x, mode, axis, block, qt):
    if mode == "tensor":
        shape = ()
    elif mode == "axis":
        shape = (x.shape[axis],)
    else:
        shape = list(x.shape)
        shape[axis] = -(-x.shape[axis] // block)
        shape = tuple(shape)
    scale = rng.uniform(0.01, 0.5, shape).astype(np.float32)
    info = np.iinfo(qt)
    zp = rng.integers(max(info.min, -20), min(info.max, 20), size=shape, endpoint=True).astype(qt)
    return scale, zp


def _expand(p, x, mode, axis, block):
    if mode == "tensor":
        return p
    if mode == "axis":
        return p.reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    return np.repeat(p, block, axis=axis).take(range(x.shape[axis]), axis=axis)


@given(shapes(1, 3, 1, 6), st.sampled_from(QTYPES), seeds(), st.data())
def test_quantize_dequantize(shape, qt, seed, data):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    mode = data.draw(st.sampled_from(["tensor", "axis", "block"]))
    axis = data.draw(st.integers(0, len(shape) - 1))
    block = data.draw(st.integers(1, 3))
    scale, zp = _params(rng, x, mode, axis, block, qt)
    attrs = {"axis": axis} | ({"block_size": block} if mode == "block" else {})
    s, z = _expand(scale, x, mode, axis, block), _expand(zp, x, mode, axis, block)
    info = np.iinfo(qt)
    want = np.clip(np.round(x / s) + z.astype(np.int64), info.min, info.max).astype(qt)  # np.round: half to even
    (q,) = run_op("QuantizeLinear", [x, scale, zp], attrs=attrs, opset=21)
    assert q.dtype == qt
    np.testing.assert_array_equal(q, want)
    (d,) = run_op("DequantizeLinear", [q, scale, zp], attrs=attrs, opset=21)
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, ((q.astype(np.int64) - z) * s).astype(np.float32), rtol=1e-6, atol=1e-6)


@given(shapes(0, 3, 1, 6), seeds(), st.sampled_from([1.0, 0.0, -1.0]))
def test_dynamic_quantize_linear(shape, seed, shift):
    x = np.asarray(np.random.default_rng(seed).standard_normal(shape) * 3 + shift * 4, dtype=np.float32)
    got = run_op("DynamicQuantizeLinear", [x], n_outputs=3, opset=11)
    want = run_onnxruntime("DynamicQuantizeLinear", [x], n_outputs=3, opset=11)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@given(seeds(), st.integers(1, 5), st.integers(1, 6), st.integers(1, 5), st.booleans(), st.data())
def test_qlinear_matmul(seed, m, k, n, batched, data):
    rng = np.random.default_rng(seed)
    ta = tb = ty = data.draw(st.sampled_from([np.int8, np.uint8]))  # the combinations onnxruntime implements

    def q(shape, t):
        info = np.iinfo(t)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(t)

    a = q((2, m, k) if batched else (m, k), ta)
    b = q((k, n), tb)
    sc = [np.array(rng.uniform(0.01, 0.1), np.float32) for _ in range(3)]
    zp = [q((), t) for t in (ta, tb, ty)]
    ins = [a, sc[0], zp[0], b, sc[1], zp[1], sc[2], zp[2]]
    (got,) = run_op("QLinearMatMul", ins, opset=10)
    (ort,) = run_onnxruntime("QLinearMatMul", ins, opset=10)
    acc = (a.astype(np.int64) - zp[0]) @ (b.astype(np.int64) - zp[1])
    info = np.iinfo(ty)
    want = np.clip(np.round(acc * np.float32(sc[0] * sc[1] / sc[2])) + zp[2].astype(np.int64), info.min, info.max)
    assert got.dtype == np.dtype(ty)
    # Requantizing multiplies in float32: a product exactly halfway may round either way (one step).
    assert np.abs(got.astype(np.int64) - want).max(initial=0) <= 1
    np.testing.assert_array_equal(got, ort)


@given(seeds(), st.integers(1, 2), st.integers(1, 2), st.data())
def test_conv_integer_and_qlinear_conv(seed, n, group, data):
    """Against onnxruntime (uint8 x, the types it implements): 2-D, groups, strides, pads, dilations."""
    rng = np.random.default_rng(seed)
    c, m = group * data.draw(st.integers(1, 2)), group * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(kh, 6)), data.draw(st.integers(kw, 6))
    attrs = {
        "group": group,
        "strides": [data.draw(st.integers(1, 2))] * 2,
        "pads": [data.draw(st.integers(0, 1))] * 4,
        "dilations": [1, 1],
    }
    x = rng.integers(0, 255, (n, c, h, w), endpoint=True).astype(np.uint8)
    wt = rng.integers(0, 255, (m, c // group, kh, kw), endpoint=True).astype(np.uint8)
    xz, wz = np.array(rng.integers(0, 255), np.uint8), np.array(rng.integers(0, 255), np.uint8)
    (got,) = run_op("ConvInteger", [x, wt, xz, wz], attrs=attrs, opset=10)
    (want,) = run_onnxruntime("ConvInteger", [x, wt, xz, wz], attrs=attrs, opset=10)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    ws = rng.integers(-127, 127, (m, c // group, kh, kw), endpoint=True).astype(np.int8)
    sc = [np.array(v, np.float32) for v in rng.uniform(0.001, 0.05, 3)]
    ins = [
        x,
        sc[0],
        xz,
        ws,
        sc[1],
        np.array(0, np.int8),
        sc[2],
        np.array(rng.integers(0, 255), np.uint8),
        rng.integers(-1000, 1000, m).astype(np.int32),
    ]
    (q,) = run_op("QLinearConv", ins, attrs=attrs, opset=10)
    (qo,) = run_onnxruntime("QLinearConv", ins, attrs=attrs, opset=10)
    assert q.dtype == np.uint8
    # onnxruntime requantizes in its own float order: one step apart at most where a value is halfway.
    assert np.abs(q.astype(np.int64) - qo.astype(np.int64)).max(initial=0) <= 1
