"""GPU quantization ops (cuda/kernels/quantize.cu): QuantizeLinear and DequantizeLinear per tensor and per axis,
r1::QuantDequant and r1::GatherDequant, against the CPU kernels on the same inputs (integers exactly; floats to
float32 rounding) and numpy. Each runs through _core.run_kernel on the first GPU device (conftest's `dev`); the
module skips where there is none."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from helpers.gpu_kernels import run

pytestmark = pytest.mark.gpu
seeds = st.integers(0, 2**31 - 1)


def cpu(op, inputs, attrs=None, domain=""):
    return run("cpu", op, inputs, attrs, domain=domain)


@settings(max_examples=25)
@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=9),
    qtype=st.sampled_from([np.int8, np.uint8]),
    per_axis=st.booleans(),
    seed=seeds,
    data=st.data(),
)
def test_quantize_and_dequantize_linear(dev, shape, qtype, per_axis, seed, data):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    x.flat[0] = 2.5 * 0.5  # a tie at the scale below: half to even
    axis = data.draw(st.integers(-len(shape), len(shape) - 1)) if per_axis else 1
    n = shape[axis] if per_axis else 1
    scale = (rng.random(n) * 0.1 + 0.01).astype(np.float32) if per_axis else np.array(0.5, np.float32)
    info = np.iinfo(qtype)
    zp = rng.integers(info.min, info.max + 1, scale.shape).astype(qtype)
    attrs = {"axis": ("int", axis)}
    (q,) = run(dev, "QuantizeLinear", [x, scale, zp], attrs, opset=13)
    (want,) = cpu("QuantizeLinear", [x, scale, zp], attrs)
    assert q.dtype == np.dtype(qtype)
    np.testing.assert_array_equal(q, want)
    (y,) = run(dev, "DequantizeLinear", [q, scale, zp], attrs, opset=13)
    (ywant,) = cpu("DequantizeLinear", [q, scale, zp], attrs)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ywant, rtol=1e-6, atol=0)


@settings(max_examples=25)
@given(shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=40), seed=seeds, signed=st.booleans())
def test_quant_dequant(dev, shape, seed, signed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    attrs = {"scale": ("float", 0.05), "zero_point": ("int", 0 if signed else 128),
             "qmin": ("int", -128 if signed else 0), "qmax": ("int", 127 if signed else 255)}  # fmt: skip
    (y,) = run(dev, "QuantDequant", [x], attrs, opset=1, domain="r1")
    (want,) = cpu("QuantDequant", [x], attrs, domain="r1")
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_gather_dequant(dev, itype):
    rng = np.random.default_rng(0)
    table = rng.integers(-127, 128, (50, 7, 3)).astype(np.int8)
    scales = (rng.random(50) * 0.1).astype(np.float32)
    idx = np.array([[0, 49, -1], [7, 7, 3]], itype)
    (y,) = run(dev, "GatherDequant", [table, scales, idx], {}, opset=1, domain="r1")
    want = table[idx % 50].astype(np.float32) * scales[idx % 50][..., None, None]
    assert y.dtype == np.float32 and y.shape == (2, 3, 7, 3)
    np.testing.assert_allclose(y, want, rtol=1e-6)
