"""Models quantized by onnxruntime's own tools run on the int8 GEMM: quantize_dynamic (DynamicQuantizeLinear ->
MatMulInteger -> Cast -> Mul, dynamic_quant_import) and quantize_static (QDQ: qdq_fusion, static_quant_fusion).
Each pass by the IR it leaves and by outputs: optimized equals the unoptimized graph (the reference kernels run
the ONNX ops one by one) to float rounding, and onnxruntime's outputs within one quantization step."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1 import _core
from helpers.op_harness import make_op_model

ort = pytest.importorskip("onnxruntime")
quant = pytest.importorskip("onnxruntime.quantization")


def mlp(seed, k, hidden, n, act="Relu"):
    """x [batch, k] + an embedding row (Gather) -> MatMul + bias -> act -> MatMul + bias."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((k, hidden)) / np.sqrt(k)).astype(np.float32)
    w2 = (rng.standard_normal((hidden, n)) / np.sqrt(hidden)).astype(np.float32)
    b1, b2 = (rng.standard_normal(hidden) * 0.1).astype(np.float32), (rng.standard_normal(n) * 0.1).astype(np.float32)
    # 400k entries: too large for constant_folding to dequantize (it caps growth at 1 MiB)
    table = rng.standard_normal((-(-400_000 // k), k)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"]),
        helper.make_node("Add", ["x", "e"], ["xe"]),
        helper.make_node("MatMul", ["xe", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node(act, ["a1"], ["h"]),
        helper.make_node("MatMul", ["h", "w2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "mlp",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", k]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n])],
        [
            numpy_helper.from_array(a, name)
            for name, a in (("w1", w1), ("w2", w2), ("b1", b1), ("b2", b2), ("table", table))
        ],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def feeds(seed, batch, k):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((batch, k)).astype(np.float32), "ids": rng.integers(0, 50, batch)}


def quantized(tmp_path, model, kind, calib, per_channel=True):
    src, dst = tmp_path / "m.onnx", tmp_path / f"m.{kind}.onnx"
    onnx.save(model, src)
    if kind == "dynamic":
        quant.quantize_dynamic(str(src), str(dst), weight_type=quant.QuantType.QInt8, per_channel=per_channel)
    else:

        class Reader(quant.CalibrationDataReader):
            def __init__(self):
                self.it = iter(calib)

            def get_next(self):
                return next(self.it, None)

        quant.quantize_static(
            str(src), str(dst), Reader(), quant_format=quant.QuantFormat.QDQ, per_channel=True,
            activation_type=quant.QuantType.QInt8, weight_type=quant.QuantType.QInt8,
        )  # fmt: skip
    return dst


def ort_run(path, f, optimized=False):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not optimized:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, f)[0]


def ops(engine):
    return Counter(n["op"] for n in engine.graph.nodes())


@settings(max_examples=10)
@given(
    seed=st.integers(0, 2**31 - 1),
    k=st.sampled_from([16, 64, 200]),
    hidden=st.sampled_from([32, 96]),
    isa=st.sampled_from(["auto", "baseline"]),
)
def test_quantize_dynamic_model_runs_int8_and_matches_onnxruntime(tmp_path_factory, seed, k, hidden, isa):
    tmp = tmp_path_factory.mktemp("dyn")
    path = quantized(tmp, mlp(seed, k, hidden, 24), "dynamic", None)
    _core.set_gemm_isa_limit(isa)
    try:
        e = r1.InferenceEngine(path)
        got = ops(e)
        assert "MatMulInteger" not in got and "DynamicQuantizeLinear" not in got, got
        fused = [n for n in e.graph.nodes() if n["op"] == "FusedMatMul"]
        assert len(fused) == 2 and all(n["precision"] == "int8" for n in fused)
        assert all(n["inputs"][2] for n in fused), "the bias Add was absorbed"
        f = feeds(seed, 5, k)
        y = e.run(f)["y"]
        ref = r1.InferenceEngine(path, optimization_level=0).run(f)["y"]  # the ONNX ops one by one
        want = ort_run(path, f)
    finally:
        _core.set_gemm_isa_limit("auto")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), k=st.sampled_from([16, 64, 200]), hidden=st.sampled_from([32, 96]))
def test_quantize_static_qdq_model_runs_int8_within_one_step(tmp_path_factory, seed, k, hidden):
    tmp = tmp_path_factory.mktemp("qdq")
    calib = [feeds(seed + i, 8, k) for i in range(4)]
    path = quantized(tmp, mlp(seed, k, hidden, 24), "static", calib)
    e = r1.InferenceEngine(path)
    got = ops(e)
    assert "QuantizeLinear" not in got and got["QuantDequant"] >= 3, got
    fused = [n for n in e.graph.nodes() if n["op"] == "FusedMatMul"]
    assert len(fused) == 2 and all(n["precision"] == "int8" for n in fused), fused
    # The embedding table stays int8: Gather first, then DequantizeLinear of the rows it read.
    assert got["DequantizeLinear"] == 1 and got["Gather"] == 1
    model = onnx.load(path)
    y_scale = next(
        numpy_helper.to_array(i) for i in model.graph.initializer if i.name.startswith("y") and i.name.endswith("scale")
    )
    f = feeds(seed + 99, 6, k)
    y = e.run(f)["y"]
    ref = r1.InferenceEngine(path, optimization_level=0).run(f)["y"]
    want = ort_run(path, f)
    step = float(y_scale)
    # Exact integer products: the rounding to each QDQ grid can only flip on a tie of float sums.
    assert np.abs(y - ref).max() <= step * 1.001
    assert np.abs(y - want).max() <= step * 1.001


def test_qdq_pairs_with_different_parameters_stay_apart():
    """Q and DQ with different scales are no round trip: they stay two ops (and compute what ONNX says)."""
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(4, 6)
    m = make_op_model("QuantizeLinear", [x], {}, opset=17)
    g = m.graph
    g.node[0].input.extend(["s", "z"])
    g.initializer.extend(
        [numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.uint8(128), "z"),
         numpy_helper.from_array(np.float32(0.03), "s2")]
    )  # fmt: skip
    g.node.append(helper.make_node("DequantizeLinear", [g.node[0].output[0], "s2", "z"], ["y"]))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 6]))
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)))
    assert "QuantDequant" not in ops(e)
    q = np.clip(np.rint(x / np.float32(0.02)) + 128, 0, 255)
    np.testing.assert_allclose(e.run({"in0": x})["y"], (q - 128) * np.float32(0.03), rtol=1e-6)


@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.sampled_from([1, 15, 16, 17, 1000]),
    qtype=st.sampled_from([TensorProto.INT8, TensorProto.UINT8]),
    isa=st.sampled_from(["auto", "baseline"]),
)
def test_quant_dequant_equals_quantize_then_dequantize(seed, n, qtype, isa):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    x[: n // 4] = np.rint(x[: n // 4] / 0.05) * 0.05 + 0.025  # ties: round half to even
    zero = np.int8(-7) if qtype == TensorProto.INT8 else np.uint8(120)
    m = make_op_model("QuantizeLinear", [x], {}, opset=17)
    g = m.graph
    g.node[0].input.extend(["s", "z"])
    g.initializer.extend([numpy_helper.from_array(np.float32(0.05), "s"), numpy_helper.from_array(zero, "z")])
    g.node.append(helper.make_node("DequantizeLinear", [g.node[0].output[0], "s", "z"], ["y"]))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [n]))
    _core.set_gemm_isa_limit(isa)
    try:
        e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)))
        assert ops(e) == Counter({"QuantDequant": 1})
        y = e.run({"in0": x})["y"]
    finally:
        _core.set_gemm_isa_limit("auto")
    lo, hi = (-128, 127) if qtype == TensorProto.INT8 else (0, 255)
    q = np.clip(np.rint(x / np.float32(0.05)) + int(zero), lo, hi)
    np.testing.assert_array_equal(y, ((q - int(zero)) * np.float32(0.05)).astype(np.float32))
    assert y.dtype == np.float32


def cnn(seed, c, m):
    """conv 3x3 + bias -> relu -> conv 1x1 stride 2 + bias."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((m, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    w2 = (rng.standard_normal((m, m, 1, 1)) / np.sqrt(m)).astype(np.float32)
    b1, b2 = (rng.standard_normal(m) * 0.1).astype(np.float32), (rng.standard_normal(m) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["h"]),
        helper.make_node("Conv", ["h", "w2", "b2"], ["y"], strides=[2, 2]),
    ]
    g = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", c, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, k) for k, a in (("w1", w1), ("w2", w2), ("b1", b1), ("b2", b2))],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("kind", ["dynamic", "static"])
@pytest.mark.parametrize("seed", [0, 1])
def test_quantized_cnn_runs_int8_convs(tmp_path, kind, seed):
    """ConvInteger (quantize_dynamic) and QDQ convs (quantize_static) run on the int8 conv: dynamic ones equal
    onnxruntime's unoptimized run to float rounding (the same per-tensor integers), static ones within one
    quantization step of the output."""
    rng = np.random.default_rng(seed)
    calib = [{"x": rng.standard_normal((2, 8, 12, 12)).astype(np.float32)} for _ in range(4)]
    path = quantized(tmp_path, cnn(seed, 8, 16), kind, calib)
    e = r1.InferenceEngine(path)
    convs = [n for n in e.graph.nodes() if n["op"] in ("Conv", "FusedConv")]
    assert len(convs) == 2 and all(n["precision"] == "int8" for n in convs), convs
    assert "ConvInteger" not in ops(e)
    f = {"x": rng.standard_normal((2, 8, 12, 12)).astype(np.float32)}
    y, want = e.run(f)["y"], ort_run(path, f)
    if kind == "dynamic":
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    else:
        y_scale = next(
            float(numpy_helper.to_array(i)) for i in onnx.load(path).graph.initializer if i.name == "y_scale"
        )
        assert np.abs(y - want).max() <= 1.001 * y_scale


def test_per_tensor_weights_keep_their_integers(tmp_path):
    """quantize_dynamic(per_channel=False): one weight scale per tensor. The packer keeps those integers (per-column
    scales would move them to finer grids), so the result is onnxruntime's to float rounding."""
    path = quantized(tmp_path, mlp(3, 64, 96, 24), "dynamic", None, per_channel=False)
    f = feeds(4, 5, 64)
    want = ort_run(path, f)
    np.testing.assert_allclose(r1.InferenceEngine(path).run(f)["y"], want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def big_weight_model(op):
    """One product whose int8 weight dequantizes past constant_folding's 1 MiB growth cap: Gemm [1024, 512] or
    Conv [256, 256, 3, 3]."""
    rng = np.random.default_rng(0)
    if op == "Gemm":
        w = (rng.standard_normal((1024, 512)) / 32).astype(np.float32)
        node, x = helper.make_node("Gemm", ["x", "w"], ["y"]), ["n", 1024]
    else:
        w = (rng.standard_normal((256, 256, 3, 3)) / 48).astype(np.float32)
        node, x = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]), ["n", 256, 6, 6]
    g = helper.make_graph(
        [node],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), x


@pytest.mark.parametrize("op", ["Gemm", "Conv"])
def test_large_dequantized_weights_are_folded_into_int8_products(tmp_path, op):
    model, xs = big_weight_model(op)
    shape = [2 if d == "n" else d for d in xs]
    rng = np.random.default_rng(1)
    calib = [{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(2)]
    path = quantized(tmp_path, model, "static", calib)
    e = r1.InferenceEngine(path)
    got = ops(e)
    assert "DequantizeLinear" not in got, got  # not left to run on every call
    assert [n["precision"] for n in e.graph.nodes() if n["op"] in ("FusedMatMul", "Conv", "FusedConv")] == ["int8"]
    f = {"x": rng.standard_normal(shape).astype(np.float32)}
    y, ref = e.run(f)["y"], r1.InferenceEngine(path, optimization_level=0).run(f)["y"]
    y_scale = next(float(numpy_helper.to_array(i)) for i in onnx.load(path).graph.initializer if i.name == "y_scale")
    assert np.abs(y - ref).max() <= 1.001 * y_scale
