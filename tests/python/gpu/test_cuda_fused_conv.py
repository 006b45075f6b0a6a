"""GPU r1::FusedConv (cuda/kernels/conv.cu: Conv + bias + residual + activation) against numpy.

Each kernel runs through _core.run_kernel on the first GPU device; the module skips where there is none.
References are straightforward float64 numpy loops over kernel taps / windows, computed from the inputs
already rounded to the tested dtype, so only the kernel's own error is measured. Tolerances as for Conv
(helpers/cuda_conv_harness.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.cuda_conv_harness import (
    ACTS,
    DEFAULT_ALPHA_BETA,
    DTYPES,
    F32,
    assert_close,
    check_conv,
    conv_cases,
    conv_ref,
    conv_scale,
    dtypes,
    f64,
    rand,
    run,
    seeds,
)

pytestmark = pytest.mark.gpu

# ---------------------------------------------------------------- FusedConv


@given(case=conv_cases(), dtype=dtypes, act=st.sampled_from(sorted(ACTS)), residual=st.booleans(), seed=seeds)
def test_fused_conv_random(dev, case, dtype, act, residual, seed):
    check_conv(dev, case, dtype, seed, op="FusedConv", activation=act, residual=residual)


@pytest.mark.parametrize("act", sorted(ACTS), ids=lambda a: a or "none")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused_conv_activations(dev, act, dtype):
    case = dict(
        nd=2,
        group=2,
        cg=12,
        mg=40,
        n=2,
        auto_pad="NOTSET",
        ks=[3, 3],
        strides=[1, 2],
        dils=[1, 1],
        pads=[1, 1, 1, 1],
        in_sp=[8, 9],
        bias=True,
        explicit_kernel_shape=False,
    )
    check_conv(dev, case, dtype, 11, op="FusedConv", activation=act, residual=True)
    dw = dict(case, group=6, cg=1, mg=2)  # depthwise path, same epilogue
    check_conv(dev, dw, dtype, 12, op="FusedConv", activation=act, residual=True)


def test_fused_conv_default_alpha(dev):
    # act_alpha / act_beta left out: the ONNX defaults of the op of the same name.
    rng = np.random.default_rng(5)
    x, w, b = rand(rng, [1, 3, 6, 6], F32), rand(rng, [4, 3, 3, 3], F32), rand(rng, [4], F32)
    base = conv_ref(x, w, b, 1, [1, 1], [1, 1], [0, 0], [0, 0], [4, 4])
    scale = conv_scale(x, w, 1, [1, 1], [1, 1], [0, 0], [0, 0], [4, 4])
    for act in ("LeakyRelu", "HardSigmoid", "Clip"):
        (y,) = run(dev, "FusedConv", [x, w, b], {"activation": ("string", act)}, domain="r1")
        a, bb = DEFAULT_ALPHA_BETA[act]
        assert_close(y, ACTS[act][0](base, a, bb), F32, scale=scale)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused_conv_broadcast_residual(dev, dtype):
    rng = np.random.default_rng(9)
    x, w, b = rand(rng, [2, 6, 7, 7], dtype), rand(rng, [8, 6, 3, 3], dtype), rand(rng, [8], dtype)
    base = conv_ref(x, w, b, 1, [1, 1], [1, 1], [0, 0], [0, 0], [5, 5])
    scale = conv_scale(x, w, 1, [1, 1], [1, 1], [0, 0], [0, 0], [5, 5])
    attrs = {"activation": ("string", "Relu")}
    for rshape in ([8, 1, 1], [1, 8, 5, 1], [5]):
        r = rand(rng, rshape, dtype)
        (y,) = run(dev, "FusedConv", [x, w, b, r], attrs, domain="r1")
        assert_close(y, np.maximum(base + f64(r), 0), dtype, scale=scale + 2)
    # A residual that enlarges the output (the conv broadcasts against it).
    x1 = rand(rng, [1, 6, 3, 3], dtype)
    base1 = conv_ref(x1, w, b, 1, [1, 1], [1, 1], [0, 0], [0, 0], [1, 1])
    scale1 = conv_scale(x1, w, 1, [1, 1], [1, 1], [0, 0], [0, 0], [1, 1])
    r = rand(rng, [3, 8, 2, 4], dtype)
    (y,) = run(dev, "FusedConv", [x1, w, b, r], attrs, domain="r1")
    assert_close(y, np.maximum(base1 + f64(r), 0), dtype, scale=scale1 + 2)
    assert y.shape == (3, 8, 2, 4)


@given(case=conv_cases(), seed=seeds)
def test_fused_conv_precision_bf16(dev, case, seed):
    # precision="bf16": X and W rounded to bf16, exact products, fp32 accumulation (depthwise convs of
    # rank <= 2 stay fp32, as on the CPU: compared at bf16 tolerance there).
    depthwise = case["cg"] == 1 and case["nd"] <= 2
    if depthwise:
        case = dict(case, cg=2)
    check_conv(dev, case, F32, seed, op="FusedConv", activation="Relu", residual=True, precision="bf16")
