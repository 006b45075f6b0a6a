"""GPU Conv and BatchNormalization (cuda/kernels/conv.cu) against numpy, and the Conv / FusedConv errors.

Each kernel runs through _core.run_kernel on the first GPU device; the module skips where there is none.
References are straightforward float64 numpy loops over kernel taps / windows, computed from the inputs
already rounded to the tested dtype, so only the kernel's own error is measured. Conv tolerances scale
with the sum of |x| * |w| of each output (the bound of an fp32 accumulation): 1e-5 for float32 (1e-4 when
the reduction is >= 256 deep), 1e-2 for float16 / bfloat16 (helpers/cuda_conv_harness.py).
"""

from __future__ import annotations

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
    check_conv,
    conv_cases,
    dtypes,
    f64,
    rand,
    run,
    seeds,
)

pytestmark = pytest.mark.gpu

# ---------------------------------------------------------------- Conv


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
