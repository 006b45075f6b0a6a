"""int8 convolution weights stored int8 (r1::FusedConv's prepack hook, cpp/r1/cpu/kernels/conv_s8_weights.cc):
a precision="int8" FusedConv whose fp32 weight is a constant gets an int8 weight in ONNX's order plus its
per-output-channel float32 scales (input 4), at compile time for a CPU row (so in the .r1) or at load. Checked by
the IR, the file size and the outputs (the same bits as quantizing the fp32 weights at load, and close to
fp32)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1

AVX512_HERE = r1._core.cpu_features()["has_avx512_kernels"]


def cnn(seed=0):
    """conv 3x3 (3->16) relu, conv 3x3 s2 (16->32) relu, depthwise 3x3 (32), conv 1x1 (32->32) + residual,
    a 1-D-free mix of the shapes the int8 conv takes and one it leaves fp32 (depthwise)."""
    rng = np.random.default_rng(seed)

    def w(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)

    inits = [
        w("w1", 16, 3, 3, 3), w("b1", 16), w("w2", 32, 16, 3, 3), w("b2", 32), w("wd", 32, 1, 3, 3),
        w("w3", 32, 32, 1, 1), w("b3", 32),
    ]  # fmt: skip
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "wd"], ["d"], pads=[1, 1, 1, 1], group=32, name="depthwise"),
        helper.make_node("Conv", ["d", "w3", "b3"], ["c3"], name="conv3"),
        helper.make_node("Add", ["c3", "r2"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
    )  # fmt: skip
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def feeds(seed=1, n=2):
    return {"x": np.random.default_rng(seed).standard_normal((n, 3, 16, 16)).astype(np.float32)}


def conv_weights(graph) -> dict[str, tuple[np.dtype, tuple[int, ...], bool]]:
    """Per Conv / FusedConv: its weight's dtype and shape, and whether it has input 4 (the scales)."""
    out = {}
    for n in graph.nodes():
        if n["op"] in ("Conv", "FusedConv"):
            w = graph.constant(n["inputs"][1])
            has_scales = len(n["inputs"]) > 4 and n["inputs"][4] != ""
            out[n["name"]] = (w.dtype, w.shape, has_scales)
    return out


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_load_time_int8_quantizes_conv_weights_once_into_int8():
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(cnn())), precision="int8")
    got = conv_weights(e.graph)
    int8 = {k: v for k, v in got.items() if v[0] == np.int8}
    assert len(int8) == 3 and all(v[2] for v in int8.values()), got
    dw = [v for k, v in got.items() if v[0] != np.int8]
    assert len(dw) == 1 and dw[0][1] == (32, 1, 3, 3) and dw[0][0] == np.float32 and not dw[0][2], got
    for k, v in int8.items():
        scales = e.graph.constant(next(n for n in e.graph.nodes() if n["name"] == k)["inputs"][4])
        assert scales.dtype == np.float32 and scales.shape == (v[1][0],) and (scales > 0).all()
    base = r1.InferenceEngine(r1.Model(r1.load_onnx(cnn()))).run(feeds())["y"]
    y = e.run(feeds())["y"]
    assert y.dtype == np.float32 and y.shape == base.shape
    assert cosine(y, base) > 0.999
    assert not np.array_equal(y, base)  # int8 products, not the fp32 conv


def test_stored_integers_are_the_per_channel_rounding_of_the_weights():
    m = cnn()
    w1 = numpy_helper.to_array(next(i for i in m.graph.initializer if i.name == "w1"))
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), precision="int8")
    conv = next(n for n in e.graph.nodes() if n["op"] == "FusedConv" and e.graph.constant(n["inputs"][1]).shape[1] == 3)
    q, s = e.graph.constant(conv["inputs"][1]), e.graph.constant(conv["inputs"][4])
    amax = np.abs(w1.reshape(16, -1)).max(axis=1).astype(np.float32)
    np.testing.assert_array_equal(s, amax / np.float32(127))
    want = np.clip(np.rint((w1.reshape(16, -1) * (np.float32(127) / amax)[:, None]).astype(np.float32)), -127, 127)
    np.testing.assert_array_equal(q.reshape(16, -1), want.astype(np.int8))


@pytest.mark.skipif(not AVX512_HERE, reason="packing for this CPU's row")
def test_quantized_file_holds_int8_conv_weights_and_runs_like_load_time(tmp_path):
    fp32 = r1.ModelConverter(cnn(), output_path=tmp_path / "f.r1", target_hardware="native").convert()
    rep = r1.quantize(r1.Model(r1.load_onnx(cnn())), tmp_path / "q.r1")
    m = r1.load_model(rep.path)
    got = conv_weights(m.graph)
    assert sum(v[0] == np.int8 for v in got.values()) == 3, got
    # int8 weights plus a float scale per output channel: about a quarter of the fp32 bytes (bias and the
    # depthwise weight stay fp32)
    assert m.graph.constant_bytes < 0.35 * r1.load_model(fp32).graph.constant_bytes
    assert (tmp_path / "q.r1").stat().st_size < (tmp_path / "f.r1").stat().st_size
    at_load = r1.InferenceEngine(r1.Model(r1.load_onnx(cnn())), precision="int8")
    e = r1.InferenceEngine(rep.path)
    for seed in (1, 2):
        np.testing.assert_array_equal(e.run(feeds(seed))["y"], at_load.run(feeds(seed))["y"])


def test_portable_file_keeps_fp32_conv_weights_and_quantizes_at_load(tmp_path):
    rep = r1.quantize(r1.Model(r1.load_onnx(cnn())), tmp_path / "p.r1", target_hardware="cpu")
    stored = conv_weights(r1.load_model(rep.path).graph)
    assert all(v[0] == np.float32 and not v[2] for v in stored.values()), stored
    e = r1.InferenceEngine(rep.path)
    assert sum(v[0] == np.int8 for v in conv_weights(e.graph).values()) == 3
    at_load = r1.InferenceEngine(r1.Model(r1.load_onnx(cnn())), precision="int8")
    np.testing.assert_array_equal(e.run(feeds())["y"], at_load.run(feeds())["y"])


def fused_conv_model(w_dtype, precision, scales=True, with_bias=False):
    rng = np.random.default_rng(0)
    wq = rng.integers(-127, 128, (4, 3, 3, 3)).astype(w_dtype)
    inits = [numpy_helper.from_array(wq, "w")]
    ins = ["x", "w", "b" if with_bias else "", "", "s" if scales else ""]
    if scales:
        inits.append(numpy_helper.from_array(np.full(4, 0.01, np.float32), "s"))
    if with_bias:
        inits.append(numpy_helper.from_array(np.ones(4, np.float32), "b"))
    n = helper.make_node("FusedConv", ins, ["y"], domain="r1", pads=[1, 1, 1, 1], precision=precision, name="fc")
    g = helper.make_graph(
        [n], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
    )  # fmt: skip
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])


def test_an_int8_weight_as_a_model_states_it_runs_exactly():
    m = fused_conv_model(np.int8, "int8", with_bias=True)
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), optimization_level=0)
    x = np.random.default_rng(3).standard_normal((1, 3, 8, 8)).astype(np.float32)
    y = e.run({"x": x})["y"]
    # the engine's own scheme: x per image to uint8, exact integer conv, then scales
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    sx = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
    z = np.clip(np.rint(np.float32(-lo) / sx), 0, 255)
    xq = np.clip(np.rint((x / sx).astype(np.float32)) + z, 0, 255) - z
    wq = numpy_helper.to_array(m.graph.initializer[0]).astype(np.float64)
    xp = np.pad(xq[0], ((0, 0), (1, 1), (1, 1)))
    acc = np.zeros((4, 8, 8))
    for i in range(8):
        for j in range(8):
            acc[:, i, j] = np.tensordot(wq, xp[:, i : i + 3, j : j + 3], axes=([1, 2, 3], [0, 1, 2]))
    want = acc * (np.float64(sx) * np.float64(np.float32(0.01))) + 1.0
    np.testing.assert_allclose(y[0], want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize(
    "w_dtype, precision, scales, match",
    [
        (np.int8, "fp32", True, "int8 weight needs precision='int8'"),
        (np.int8, "int8", False, "needs its float32 scales as input 4"),
        (np.float32, "int8", True, "go with an int8 weight only"),
    ],
)
def test_inconsistent_int8_weights_are_model_errors(w_dtype, precision, scales, match):
    m = fused_conv_model(w_dtype, precision, scales)
    with pytest.raises(r1.ModelError, match=match):
        r1.InferenceEngine(r1.Model(r1.load_onnx(m)), optimization_level=0)
