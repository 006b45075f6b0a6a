"""GPU logic kernels (cuda/kernels/logic.cu) against numpy, and the registration of these and the
hardmax/cumsum/topk/space_depth/generator kernels.

And / Or / Xor / Not / BitShift. Each kernel runs through _core.run_kernel on the first GPU device (the session `dev`
fixture of conftest.py; host_inputs are honoured) and the module skips where there is none. Byte-moving and integer
results are compared exactly; float results against float64 references computed from the inputs already rounded to
their dtype: float32 1e-5 relative, float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import deepseek_r1 as r1
from helpers.cuda_misc_harness import INTS, assert_same, seeds
from helpers.gpu_kernels import run

pytestmark = pytest.mark.gpu


def test_registered(dev):
    from deepseek_r1 import gpu

    ops = set(gpu.module(dev.split(":")[0]).kernel_ops())
    assert {
        "And",
        "Or",
        "Xor",
        "Not",
        "BitShift",
        "Hardmax",
        "CumSum",
        "TopK",
        "OneHot",
        "EyeLike",
        "ConstantOfShape",
        "Range",
        "DepthToSpace",
        "SpaceToDepth",
    } <= ops


# ---------------------------------------------------------------------------------------------
# logic.cu


@pytest.mark.parametrize("op,ref", [("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)])
@settings(max_examples=20)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, max_side=6), seed=seeds)
def test_logic_broadcast(dev, op, ref, shapes, seed):
    rng = np.random.default_rng(seed)
    a = np.asarray(rng.random(shapes.input_shapes[0]) < 0.5)
    b = np.asarray(rng.random(shapes.input_shapes[1]) < 0.5)
    (y,) = run(dev, op, [a, b])
    assert_same(y, ref(a, b))


@settings(max_examples=15)
@given(shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9), seed=seeds)
def test_not(dev, shape, seed):
    x = np.asarray(np.random.default_rng(seed).random(shape) < 0.5)
    (y,) = run(dev, "Not", [x])
    assert_same(y, np.logical_not(x))


def test_logic_large_and_errors(dev):
    rng = np.random.default_rng(0)
    a = rng.random((3, 1, 70001)) < 0.5
    b = rng.random((5, 1)) < 0.5
    (y,) = run(dev, "And", [a, b])
    assert_same(y, a & b)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "And", [np.ones(3, np.float32), np.ones(3, np.float32)])
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "Or", [np.ones(3, bool), np.ones(4, bool)])


def bitshift_ref(a, b, left):
    bits = a.dtype.itemsize * 8
    signed = a.dtype.kind == "i"
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), a.dtype)
    aa, bb = np.broadcast_to(a, out.shape), np.broadcast_to(b, out.shape)
    for idx in np.ndindex(out.shape):
        u, k = int(aa[idx]), int(bb[idx])
        if left:
            v = 0 if (k < 0 or k >= bits) else (u << k) & ((1 << bits) - 1)
            if signed and v >= 1 << (bits - 1):
                v -= 1 << bits
        elif k < 0 or k >= bits:
            v = -1 if u < 0 else 0
        else:
            v = u >> k
        out[idx] = v
    return out


@pytest.mark.parametrize("dtype", INTS, ids=str)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@settings(max_examples=10)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=5), seed=seeds)
def test_bitshift(dev, dtype, direction, shapes, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    bits = dtype.itemsize * 8
    a = np.asarray(rng.integers(info.min, info.max, size=shapes.input_shapes[0], endpoint=True, dtype=dtype))
    b = np.asarray(rng.integers(max(info.min, -2), bits + 2, size=shapes.input_shapes[1], endpoint=True), dtype)
    (y,) = run(dev, "BitShift", [a, b], {"direction": ("string", direction)}, opset=11)
    assert_same(y, bitshift_ref(a, b, direction == "LEFT"))


def test_bitshift_errors(dev):
    with pytest.raises(r1.ModelError, match="direction"):
        run(dev, "BitShift", [np.ones(3, np.uint8), np.ones(3, np.uint8)], {"direction": ("string", "UP")}, opset=11)
    with pytest.raises((r1.ModelError, r1.InputError)):
        run(
            dev,
            "BitShift",
            [np.ones(3, np.float32), np.ones(3, np.float32)],
            {"direction": ("string", "LEFT")},
            opset=11,
        )
