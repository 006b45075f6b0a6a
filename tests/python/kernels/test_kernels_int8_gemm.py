"""The int8 GEMM (cpp/r1/cpu/gemm/gemm_s8*.cc) against exact numpy integer math and against a numpy model of
its quantization scheme, on both paths (AVX512-VNNI and the portable kernel, forced with set_gemm_isa_limit):

- MatMulInteger (uint8 A, int8 B, zero points): int32 outputs equal numpy's int64 products, including the
  values where a 16-bit intermediate (vpmaddubsw) would saturate: A = 255, B = -128 / 127, K = 3072.
- r1::FusedMatMul precision="int8": weights per output channel (q = rint(w * 127 / max|w|)), activations per
  row (uint8, the row's range with 0 in it), (acc - zero * colsum) * (row scale * col scale), then the fp32
  epilogue. The numpy model of that scheme matches to float rounding; the result is within a quantization
  step of the fp32 product; both ISA paths give the same bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from deepseek_r1 import _core
from helpers.op_harness import make_op_model

ISAS = ["auto", "baseline"]  # auto: VNNI where the CPU has it; baseline: the portable kernel


@pytest.fixture(autouse=True)
def _reset_isa():
    yield
    _core.set_gemm_isa_limit("auto")


def matmul_integer(a, b, za=None, zb=None, threads=1):
    ins = [helper.make_tensor_value_info("a", TensorProto.UINT8, list(a.shape))]
    ins.append(helper.make_tensor_value_info("b", TensorProto.INT8, list(b.shape)))
    names, feeds = ["a", "b"], {"a": a, "b": b}
    for name, z, t in (("za", za, TensorProto.UINT8), ("zb", zb, TensorProto.INT8)):
        if z is not None:
            ins.append(helper.make_tensor_value_info(name, t, list(np.shape(z))))
            feeds[name] = np.asarray(z)
        names.append(name if z is not None else "")
    while names and names[-1] == "":
        names.pop()
    g = helper.make_graph(
        [helper.make_node("MatMulInteger", names, ["y"])],
        "mmi",
        ins,
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads)
    return eng.run(feeds)["y"]


def int_values(rng, shape, dtype, adversarial):
    info = np.iinfo(dtype)
    if adversarial == "extreme":  # every value at a bound: the worst case for 16-bit intermediates
        return rng.choice(np.array([info.min, info.max], dtype), shape)
    if adversarial == "max":
        return np.full(shape, info.max if dtype == np.uint8 else info.min, dtype)
    return rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)


@given(
    seed=st.integers(0, 2**31 - 1),
    lead=st.sampled_from([(), (2,), (1, 3)]),
    m=st.sampled_from([1, 3, 8, 9, 17, 64]),
    k=st.sampled_from([1, 2, 3, 4, 5, 31, 64, 255, 3072]),
    n=st.sampled_from([1, 15, 16, 47, 48, 49, 130]),
    za=st.sampled_from([None, 0, 1, 128, 255]),
    zb_zero=st.booleans(),
    values=st.sampled_from(["random", "extreme", "max"]),
    isa=st.sampled_from(ISAS),
    threads=st.sampled_from([1, 2]),
)
def test_matmul_integer_is_exact(seed, lead, m, k, n, za, zb_zero, values, isa, threads):
    rng = np.random.default_rng(seed)
    a = int_values(rng, (*lead, m, k), np.uint8, values)
    b = int_values(rng, (k, n), np.int8, values)
    if values == "max":
        b = np.full((k, n), -128, np.int8)  # 255 x -128 on every product
    _core.set_gemm_isa_limit(isa)
    zb = np.int8(0) if zb_zero else None
    y = matmul_integer(a, b, None if za is None else np.uint8(za), zb, threads)
    want = (a.astype(np.int64) - (za or 0)) @ b.astype(np.int64)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, want)


def test_matmul_integer_other_zero_points_take_the_reference():
    """A nonzero or per-column zero point of B (not the int8 GEMM's case) is still exact."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (5, 40), dtype=np.uint8)
    b = rng.integers(-128, 128, (40, 7), dtype=np.int8)
    zb = rng.integers(-5, 5, 7, dtype=np.int8)
    y = matmul_integer(a, b, np.uint8(3), zb)
    np.testing.assert_array_equal(y, (a.astype(np.int64) - 3) @ (b.astype(np.int64) - zb))


def quantize_weights(w):
    """Per output column, symmetric: what pack_weights(..., "int8") stores (float32 math, round half even)."""
    amax = np.abs(w).max(axis=0).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint((w * inv).astype(np.float32)), -127, 127).astype(np.int64)
    return q, scale


def quantize_rows(x):
    """Per row, asymmetric uint8 over the row's range with 0 in it (float32 math, round half even)."""
    mn = np.minimum(x.min(axis=1), 0).astype(np.float32)
    mx = np.maximum(x.max(axis=1), 0).astype(np.float32)
    s = ((mx - mn) / np.float32(255)).astype(np.float32)
    s = np.where(s > 0, s, np.float32(1)).astype(np.float32)
    inv = (np.float32(1) / s).astype(np.float32)
    z = np.clip(np.rint((-mn * inv).astype(np.float32)), 0, 255).astype(np.int64)
    q = np.clip(np.rint((x * inv[:, None]).astype(np.float32)).astype(np.int64) + z[:, None], 0, 255)
    return q, s, z


def int8_reference(x, w, bias):
    qw, sw = quantize_weights(w)
    qx, sx, zx = quantize_rows(x)
    acc = qx @ qw - zx[:, None] * qw.sum(axis=0)[None, :]
    y = acc.astype(np.float32) * (sx[:, None] * sw[None, :]).astype(np.float32)
    return (y + bias).astype(np.float32) if bias is not None else y


def run_int8(x, w, bias=None, threads=1, act="", level=3, precision="int8"):
    """One r1::FusedMatMul with constant weights w (and bias) at `precision` (the int4 tests reuse it)."""
    model = make_op_model(
        "FusedMatMul", [x, None, None], {"precision": precision, "activation": act}, opset=1, domain="r1"
    )
    node = model.graph.node[0]
    del node.input[:]
    node.input.extend(["in0", "w", "bias" if bias is not None else ""])
    from onnx import numpy_helper

    model.graph.initializer.append(numpy_helper.from_array(w, "w"))
    if bias is not None:
        model.graph.initializer.append(numpy_helper.from_array(bias, "bias"))
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads, optimization_level=level)
    return eng.run({"in0": x})["out0"]


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.sampled_from([1, 2, 7, 8, 9, 33, 100]),
    k=st.sampled_from([1, 3, 4, 16, 31, 100, 384, 1000]),
    n=st.sampled_from([1, 5, 16, 47, 48, 49, 130]),
    with_bias=st.booleans(),
    skew=st.sampled_from([0.0, 1.0, -3.0]),  # shifted activations (post-GELU-like), not only centred ones
    isa=st.sampled_from(ISAS),
    threads=st.sampled_from([1, 2]),
    level=st.sampled_from([0, 3]),  # 3: weights packed at compile time; 0: quantized by the kernel per call
)
def test_fused_matmul_int8_follows_its_scheme(seed, m, k, n, with_bias, skew, isa, threads, level):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) + skew).astype(np.float32)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    _core.set_gemm_isa_limit(isa)
    y = run_int8(x, w, bias, threads, level=level)
    assert y.dtype == np.float32 and y.shape == (m, n)
    want = int8_reference(x, w, bias)
    # The same integers and the same float formula: equal up to the last bit of a float32 product.
    mag = np.abs(x).sum(axis=1, keepdims=True) * np.abs(w).max(axis=0, keepdims=True) + np.abs(want)
    assert np.all(np.abs(y - want) <= 1e-6 * mag + 1e-30)
    # And within quantization error of the exact product: half a step of A and of W per term.
    exact = x.astype(np.float64) @ w + (bias if bias is not None else 0)
    _, sw = quantize_weights(w)
    _, sx, _ = quantize_rows(x)
    step = 0.5 * (sx[:, None] * np.abs(w).sum(axis=0)[None, :] + np.abs(x).sum(axis=1)[:, None] * sw[None, :])
    assert np.all(np.abs(y - exact) <= 1.01 * step + 1e-4 * np.abs(exact) + 1e-6)


@pytest.mark.parametrize("act", ["", "Gelu", "Relu"])
def test_vnni_and_portable_give_the_same_bits(act):
    """Same integers, same float formula: the paths agree exactly (the activation uses the same code too)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((77, 768)).astype(np.float32)
    w = (rng.standard_normal((768, 200)) / 28).astype(np.float32)
    bias = rng.standard_normal(200).astype(np.float32)
    _core.set_gemm_isa_limit("auto")
    fast = run_int8(x, w, bias, 2)
    _core.set_gemm_isa_limit("baseline")
    slow = run_int8(x, w, bias, 2)
    if act == "":
        np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, int8_reference(x, w, bias), rtol=1e-6, atol=1e-6 * np.abs(fast).max())


def test_int8_accuracy_against_fp32_on_a_large_product():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((128, 3072)).astype(np.float32)
    w = (rng.standard_normal((3072, 768)) / 55).astype(np.float32)
    y = run_int8(x, w, threads=2).astype(np.float64)
    ref = x.astype(np.float64) @ w
    cos = (y * ref).sum() / np.linalg.norm(y) / np.linalg.norm(ref)
    assert cos > 0.9995


def test_pack_weights_int8_layout():
    """The blob: 64-byte header, 48-column-padded scales and sums, then ceil(K/4) quads x 48 per panel."""
    w = np.arange(-30, 30, dtype=np.float32).reshape(6, 10)
    blob = _core.pack_weights(w, False, "int8")
    panels, npad, kq = 1, 48, 2
    assert blob.dtype == np.uint8 and blob.nbytes == 64 + npad * 8 + panels * kq * 48 * 4
    scales = blob[64 : 64 + npad * 4].view(np.float32)
    sums = blob[64 + npad * 4 : 64 + npad * 8].view(np.int32)
    q, s = quantize_weights(w)
    np.testing.assert_array_equal(scales[:10], s)
    np.testing.assert_array_equal(scales[10:], 0)
    np.testing.assert_array_equal(sums[:10], q.sum(axis=0))
    panel = blob[64 + npad * 8 :].view(np.int8).reshape(kq, 48, 4)
    got = panel.transpose(0, 2, 1).reshape(kq * 4, 48)[:6, :10]
    np.testing.assert_array_equal(got, q)


def run_int8_fixed(x, w, mode, **attrs):
    model = make_op_model(
        "FusedMatMul", [x, None], {"precision": "int8", "act_quant": mode, **attrs}, opset=1, domain="r1"
    )
    node = model.graph.node[0]
    del node.input[:]
    node.input.extend(["in0", "w"])
    from onnx import numpy_helper

    model.graph.initializer.append(numpy_helper.from_array(w, "w"))
    return r1.InferenceEngine(r1.Model(r1.load_onnx(model))).run({"in0": x})["out0"]


def grid_weights(rng, k, n):
    q = rng.integers(-127, 128, (k, n))
    q[0] = 127  # each column's max is 127: the packer maps q * s back to q exactly
    s = (rng.random(n) * 0.01 + 1e-3).astype(np.float32)
    return q, s, (q * s).astype(np.float32)


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.sampled_from([1, 5, 33]),
    k=st.sampled_from([3, 64, 385]),
    n=st.sampled_from([7, 48, 100]),
    zero=st.sampled_from([0, 85, 128, 255]),
    isa=st.sampled_from(ISAS),
)
def test_static_activation_quantization_is_the_models_grid(seed, m, k, n, zero, isa):
    """act_quant="static": A quantized with the given scale and zero point (division, round half even,
    clamped to uint8), the integer product exact: equal to the float product of the dequantized operands."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) * 2).astype(np.float32)
    _, _, w = grid_weights(rng, k, n)
    a_scale = np.float32(0.03)
    _core.set_gemm_isa_limit(isa)
    y = run_int8_fixed(x, w, "static", a_scale=float(a_scale), a_zero_point=zero)
    xq = np.clip(np.rint(x / a_scale) + zero, 0, 255) - zero
    want = (xq.astype(np.float64) * a_scale) @ w.astype(np.float64)
    assert np.all(np.abs(y - want) <= 1e-6 * (np.abs(xq * a_scale) @ np.abs(w)) + 1e-30)


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.sampled_from([1, 6, 40]),
    k=st.sampled_from([5, 200]),
    isa=st.sampled_from(ISAS),
)
def test_tensor_activation_quantization_is_dynamic_quantize_linear(seed, m, k, isa):
    """act_quant="tensor": one range over all of A, as ONNX DynamicQuantizeLinear defines it."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) + rng.normal()).astype(np.float32)
    _, _, w = grid_weights(rng, k, 30)
    _core.set_gemm_isa_limit(isa)
    y = run_int8_fixed(x, w, "tensor")
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
    zero = np.clip(np.rint(np.float32(-lo) / scale), 0, 255)
    xq = np.clip(np.rint(x / scale) + zero, 0, 255) - zero
    want = (xq.astype(np.float64) * scale) @ w.astype(np.float64)
    assert np.all(np.abs(y - want) <= 1e-6 * (np.abs(xq * scale) @ np.abs(w)) + 1e-30)


def test_bad_static_parameters_are_a_model_error():
    x = np.ones((2, 4), np.float32)
    w = np.ones((4, 3), np.float32)
    with pytest.raises(r1.ModelError, match="a_scale > 0 and a_zero_point in"):
        run_int8_fixed(x, w, "static", a_scale=0.0, a_zero_point=3)
    with pytest.raises(r1.ModelError, match='act_quant must be "row", "tensor" or "static"'):
        run_int8_fixed(x, w, "channel")
