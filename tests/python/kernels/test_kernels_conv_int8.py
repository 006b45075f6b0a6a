"""r1::FusedConv precision="int8" (cpp/r1/cpu/kernels/conv_s8*.cc) against a numpy model of its scheme, on
the VNNI tiles and the portable ones (forced with set_gemm_isa_limit):
- the input quantized per image to uint8 over its range (0 included), as DynamicQuantizeLinear, with padding
  taps at the zero point (a quantized 0.0);
- the weights per output channel, symmetric: q = rint(w * 127 / max|w|);
- the integer conv exact, then (acc - zero * sum q) * (x scale * w scale), bias, residual, activation in fp32.
The model and the kernel use the same integers, so they agree to float rounding; the result is also within
quantization error of the fp32 conv. Depthwise convs keep fp32 (and say so by matching it exactly)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from deepseek_r1 import _core
from helpers.fused_conv_refs import act_ref, case_attrs, conv_ref, geometry, run_fused

ISAS = ["auto", "baseline"]


@pytest.fixture(autouse=True)
def _reset_isa():
    yield
    _core.set_gemm_isa_limit("auto")


def quantize_input(x):
    """Per image: float32 scale and zero point over the image's range, 0 included; q - zero as float."""
    out, scales = np.empty(x.shape, np.float64), []
    for i in range(x.shape[0]):
        lo, hi = min(float(x[i].min()), 0.0), max(float(x[i].max()), 0.0)
        s = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
        s = s if s > 0 else np.float32(1)
        z = np.clip(np.rint(np.float32(-lo) / s), 0, 255)
        q = np.clip(np.rint((x[i] / s).astype(np.float32)) + z, 0, 255)
        out[i] = (q - z) * np.float64(s)
        scales.append(float(s))
    return out, scales


def quantize_weights(w):
    flat = w.reshape(w.shape[0], -1)
    amax = np.abs(flat).max(axis=1).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint((flat * inv[:, None]).astype(np.float32)), -127, 127)
    return (q * scale[:, None].astype(np.float64)).reshape(w.shape), scale


@st.composite
def int8_case(draw):
    nd = draw(st.sampled_from([1, 2, 2]))
    group = draw(st.sampled_from([1, 1, 2]))
    cg, mg = draw(st.integers(1, 9)), draw(st.integers(1, 20))
    n = draw(st.integers(1, 2))
    ins = [draw(st.integers(1, {1: 60, 2: 16}[nd])) for _ in range(nd)]
    k = [draw(st.sampled_from([1, 2, 3, 5])) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.sampled_from([1, 1, 2])) for _ in range(nd)]
    pads = [draw(st.integers(0, 2)) for _ in range(2 * nd)]
    outs, pb, pe = geometry(ins, k, s, d, pads, "NOTSET")
    assume(all(o >= 1 for o in outs))
    return dict(
        nd=nd, n=n, group=group, cg=cg, mg=mg, ins=ins, k=k, s=s, d=d, pads=pads, outs=outs, pb=pb, pe=pe,
        act=draw(st.sampled_from(["", "Relu", "Silu"])), bias=draw(st.booleans()), residual=draw(st.booleans()),
        shift=draw(st.sampled_from([0.0, 1.5, -2.0])), threads=draw(st.sampled_from([1, 2])),
        isa=draw(st.sampled_from(ISAS)), seed=draw(st.integers(0, 2**31 - 1)),
    )  # fmt: skip


@given(int8_case())
def test_int8_conv_follows_its_scheme(c):
    rng = np.random.default_rng(c["seed"])
    m = c["mg"] * c["group"]
    x = (rng.standard_normal((c["n"], c["cg"] * c["group"], *c["ins"])) + c["shift"]).astype(np.float32)
    w = rng.standard_normal((m, c["cg"], *c["k"])).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if c["bias"] else None
    res = rng.standard_normal((c["n"], m, *c["outs"])).astype(np.float32) if c["residual"] else None
    attrs = case_attrs(c["k"], c["s"], c["d"], c["pads"], "NOTSET", c["group"], c["act"], 0.0, 0.0)
    attrs["precision"] = "int8"
    _core.set_gemm_isa_limit(c["isa"])
    y = run_fused(x, w, b, res, attrs, threads=c["threads"])
    assert y.dtype == np.float32 and y.shape == (c["n"], m, *c["outs"])
    if c["cg"] == 1 and c["group"] > 1:  # depthwise: stays fp32
        xq, wq = x.astype(np.float64), w.astype(np.float64)
    else:
        xq, _ = quantize_input(x)
        wq, _ = quantize_weights(w)
    pre = conv_ref(xq, wq, b, c["s"], c["d"], c["pb"], c["pe"], c["outs"], c["group"])
    if res is not None:
        pre = pre + res
    want = act_ref(pre, c["act"], 0.0, 0.0)
    # the same integers: float rounding of the scaled sums only, bounded by the sum of |terms|
    mag = conv_ref(np.abs(xq), np.abs(wq), None, c["s"], c["d"], c["pb"], c["pe"], c["outs"], c["group"])
    mag = mag + np.abs(pre)
    assert np.all(np.abs(y - want) <= 1e-5 * mag + 1e-6), np.max(np.abs(y - want) / (mag + 1e-6))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(
    "xs,ws,s,pads",
    [
        ((1, 64, 56, 56), (64, 64, 3, 3), [1, 1], [1, 1, 1, 1]),  # ResNet stage 1
        ((1, 256, 14, 14), (1024, 256, 1, 1), [1, 1], [0, 0, 0, 0]),  # 1x1 expansion
        ((1, 512, 7, 7), (512, 512, 3, 3), [1, 1], [1, 1, 1, 1]),  # 7x7 map: 49 pixels, channel chunks
        ((2, 3, 64, 64), (32, 3, 7, 7), [2, 2], [3, 3, 3, 3]),  # stem: 3 channels (one padded quad)
    ],
)
def test_int8_conv_on_resnet_shapes_is_close_to_fp32(isa, xs, ws, s, pads):
    rng = np.random.default_rng(sum(xs))
    x = np.maximum(rng.standard_normal(xs), 0).astype(np.float32)  # post-ReLU activations
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    attrs = dict(kernel_shape=list(ws[2:]), strides=s, pads=pads, precision="int8")
    _core.set_gemm_isa_limit(isa)
    y = run_fused(x, w, None, None, attrs, threads=2).astype(np.float64)
    outs, pb, pe = geometry(list(xs[2:]), list(ws[2:]), s, [1, 1], pads, "NOTSET")
    ref = conv_ref(x, w, None, s, [1, 1], pb, pe, outs, 1)
    cos = float((y * ref).sum() / (np.linalg.norm(y) * np.linalg.norm(ref)))
    assert cos > 0.9995, cos


def test_depthwise_stays_fp32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 10, 10)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8)
    fp32 = run_fused(x, w, None, None, attrs)
    int8 = run_fused(x, w, None, None, {**attrs, "precision": "int8"})
    np.testing.assert_array_equal(int8, fp32)
