"""r1.quantize and precision="int8": which nodes go int8 (the IR), the .r1 file (int8 weights stored, the
layer policy kept), the layer kinds of a real transformer, the accuracy guard, bad input, and `r1 quantize`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1.cli import main as cli_main
from deepseek_r1.quantize.policy import classify, decide

AVX512_HERE = r1._core.cpu_features()["has_avx512_kernels"]


def two_layer_model(width=256, hidden=512, seed=0):
    """y = relu(x W1 + b1) W2 + b2, and s = x x^T (a product of two activations: no weight to quantize)."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((width, hidden)) / np.sqrt(width)).astype(np.float32)
    w2 = (rng.standard_normal((hidden, width)) / np.sqrt(hidden)).astype(np.float32)
    b1, b2 = rng.standard_normal(hidden).astype(np.float32), rng.standard_normal(width).astype(np.float32)
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "W1"], ["m1"], name="up"),
        n("Add", ["m1", "b1"], ["a1"]),
        n("Relu", ["a1"], ["h"]),
        n("MatMul", ["h", "W2"], ["m2"], name="down"),
        n("Add", ["m2", "b2"], ["y"]),
        n("Transpose", ["x"], ["xt"], perm=[1, 0]),
        n("MatMul", ["x", "xt"], ["s"], name="gram"),
    ]
    g = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", "batch"]),
        ],
        [numpy_helper.from_array(a, k) for k, a in (("W1", w1), ("b1", b1), ("W2", w2), ("b2", b2))],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def feeds(seed=0, batch=8, width=256):
    return {"x": np.random.default_rng(seed).standard_normal((batch, width)).astype(np.float32)}


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def precisions(graph) -> dict[str, str]:
    return {n["name"]: n["precision"] or "fp32" for n in graph.nodes() if n["op"] == "FusedMatMul"}


def test_int8_marks_only_products_with_a_constant_weight():
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(two_layer_model())), precision="int8")
    got = precisions(e.graph)
    int8 = sorted(k for k, v in got.items() if v == "int8")
    assert len(int8) == 2 and all(k.startswith(("up", "down")) for k in int8), got
    assert all(v == "fp32" for k, v in got.items() if k not in int8)  # gram: two activations
    base = r1.InferenceEngine(r1.Model(r1.load_onnx(two_layer_model()))).run(feeds())
    out = e.run(feeds())
    assert out["y"].dtype == np.float32 and cosine(out["y"], base["y"]) > 0.999
    np.testing.assert_array_equal(out["s"], base["s"])  # untouched by int8


@pytest.mark.skipif(not AVX512_HERE, reason="packing for this CPU's row")
def test_int8_file_stores_int8_weights_and_runs_like_load_time_quantization(tmp_path):
    fp32 = r1.ModelConverter(two_layer_model(), output_path=tmp_path / "f.r1", target_hardware="native").convert()
    int8 = r1.ModelConverter(
        two_layer_model(), output_path=tmp_path / "q.r1", target_hardware="native", precision="int8"
    ).convert()
    m = r1.load_model(int8)
    assert m.compile_info.precision == "int8"
    # int8 weights plus 8 bytes a column of scales and sums: about a quarter of the fp32 weights
    assert m.graph.constant_bytes < 0.3 * r1.load_model(fp32).graph.constant_bytes
    e = r1.InferenceEngine(int8)
    assert e.precision == "int8"
    at_load = r1.InferenceEngine(r1.Model(r1.load_onnx(two_layer_model())), precision="int8")
    np.testing.assert_array_equal(e.run(feeds())["y"], at_load.run(feeds())["y"])
    with pytest.raises(r1.ModelError, match="int8.*cannot run at fp32"):
        r1.InferenceEngine(int8, precision="fp32")


def test_policy_globs_are_kept_in_the_file_and_applied_at_load(tmp_path):
    rep = r1.quantize(r1.Model(r1.load_onnx(two_layer_model())), tmp_path / "p.r1", policy={"down*": "fp32"})
    by_name = {layer.name: layer for layer in rep.layers}
    up = next(n for n in by_name if n.startswith("up"))
    down = next(n for n in by_name if n.startswith("down"))
    assert by_name[up].precision == "int8" and by_name[up].reason == "default"
    assert by_name[down].precision == "fp32" and by_name[down].reason == "policy 'down*'"
    for target in ("native", "cpu"):  # packed now, or quantized when an engine loads it
        path = r1.quantize(
            r1.Model(r1.load_onnx(two_layer_model())), tmp_path / f"{target}.r1", policy={"down*": "fp32"},
            target_hardware=target,
        ).path  # fmt: skip
        got = precisions(r1.InferenceEngine(path).graph)
        assert got[up] == "int8" and got[down] == "fp32", (target, got)


def test_policy_decisions_on_a_swiglu_block():
    """Kinds come from structure: SwiGLU's gate (activated), its gated twin (up) and the product reading them."""

    def node(name, op, inputs, outputs, constant, activation="", domain=""):
        return dict(name=name, op=op, domain=domain, inputs=inputs, outputs=outputs, constant=constant,
                    precision="", activation=activation)  # fmt: skip

    fm = lambda name, x, y, act="": node(name, "FusedMatMul", [x, f"{name}.w"], [y], [False, True], act, "r1")
    nodes = [
        fm("q", "x", "q"),
        fm("k", "x", "k"),
        fm("v", "x", "v"),
        node("attn", "Attention", ["q", "k", "v"], ["a"], [False] * 3, domain="r1"),
        node("rs", "Reshape", ["a", "shape"], ["a2"], [False, True]),
        fm("o", "a2", "h"),
        fm("gate", "h", "g", "Silu"),
        fm("up", "h", "u"),
        node("mul", "Mul", ["g", "u"], ["gu"], [False, False]),
        fm("down", "gu", "y"),
        fm("head", "y", "logits"),
    ]
    kinds = classify(nodes)
    assert kinds == {"q": "attention", "k": "attention", "v": "attention", "attn": "attention",
                     "o": "attention", "gate": "ffn", "up": "ffn", "down": "ffn", "head": "matmul"}  # fmt: skip
    choices = decide(nodes, {"attention": "bf16", "ffn": "int8", "default": "fp32"}, exclude=["down"])
    assert choices["q"].precision == "bf16" and choices["attn"].precision == "bf16"
    assert choices["gate"].precision == "int8" and choices["down"].precision == "fp32"
    assert choices["down"].reason == "excluded"
    int8_attn = decide(nodes, {"attention": "int8"})
    assert int8_attn["attn"].precision == "bf16" and "attention core runs bf16" in int8_attn["attn"].reason


def test_bad_arguments_and_calibration_data_are_named(tmp_path):
    m = r1.Model(r1.load_onnx(two_layer_model()))
    out = tmp_path / "q.r1"
    with pytest.raises(ValueError, match="calibration_data is empty"):
        r1.quantize(m, out, calibration_data=[], accuracy={"metric": "cosine", "min": 0.99})
    with pytest.raises(TypeError, match="iterable of input dicts"):
        r1.quantize(m, out, calibration_data=feeds())
    with pytest.raises(TypeError, match="calibration sample 1 must be a dict"):
        r1.quantize(m, out, calibration_data=[feeds(), np.zeros(3)])
    with pytest.raises(r1.InputError, match="calibration sample 0"):
        r1.quantize(m, out, calibration_data=[{"nope": np.zeros((2, 256), np.float32)}])
    with pytest.raises(r1.InputError, match="calibration sample 0"):
        r1.quantize(m, out, calibration_data=[{"x": np.zeros((2, 7), np.float32)}])
    with pytest.raises(ValueError, match="accuracy needs calibration_data"):
        r1.quantize(m, out, accuracy={"metric": "cosine", "min": 0.99})
    with pytest.raises(ValueError, match="needs a 'min'"):
        r1.quantize(m, out, calibration_data=[feeds()], accuracy={"metric": "cosine"})
    with pytest.raises(ValueError, match=r"policy\['ffn'\] must be one of"):
        r1.quantize(m, out, policy={"ffn": "int2"})
    with pytest.raises(ValueError, match="mode 'int4' is not available"):
        r1.quantize(m, out, mode="int4")
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        r1.quantize(m, out, mode="weights_only", bits=3)
    with pytest.raises(ValueError, match="takes method='minmax' only"):
        r1.quantize(m, out, mode="weights_only", method="entropy")
    with pytest.raises(ValueError, match="nothing to quantize"):
        r1.quantize(m, out, policy={"default": "fp32"})
    with pytest.raises(FileNotFoundError):
        r1.quantize(tmp_path / "missing.onnx", out)
    assert not out.exists()  # nothing written by a failed call


def test_accuracy_guard_falls_back_worst_layers_first(tmp_path):
    """A target int8 cannot meet with every layer quantized: the guard ranks layers by their own error and
    puts the worst back to fp32 until the target holds; the report names them and the file keeps the choice."""
    m = r1.Model(r1.load_onnx(two_layer_model()))
    samples = [feeds(seed) for seed in range(6)]
    free = r1.quantize(m, tmp_path / "free.r1", calibration_data=samples)
    all_int8 = free.score
    assert free.count("int8") == 2 and all_int8 is not None and all_int8 < 1.0
    errs = {layer.name: layer.error for layer in free.layers}
    assert all(e is not None and e > 0 for e in errs.values())
    target = 1.0 - 0.5 * min(errs.values())  # met by neither int8 layer, so both must fall back
    guarded = r1.quantize(m, tmp_path / "g.r1", calibration_data=samples, accuracy={"metric": "cosine", "min": target})
    assert guarded.fallbacks and guarded.fallbacks[0] == max(errs, key=errs.get)
    assert guarded.score >= target
    kept = {layer.name for layer in guarded.layers if "accuracy guard" in layer.reason}
    assert kept == set(guarded.fallbacks)
    e = r1.InferenceEngine(guarded.path)
    assert {k for k, v in precisions(e.graph).items() if v == "int8"}.isdisjoint(kept)
    ref = r1.InferenceEngine(m).run(samples[0])
    assert cosine(e.run(samples[0])["y"], ref["y"]) >= target - 1e-9


def test_cli_quantize_with_npz_calibration(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    src.write_bytes(two_layer_model().SerializeToString())
    np.savez(tmp_path / "cal.npz", x=np.stack([feeds(i)["x"] for i in range(4)]))
    rc = cli_main(
        ["quantize", str(src), "-o", str(tmp_path / "m.int8.r1"), "--calibration", str(tmp_path / "cal.npz"),
         "--min-cosine", "0.99", "--json"]
    )  # fmt: skip
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["path"] == str(tmp_path / "m.int8.r1") and rep["score"] >= 0.99
    assert {layer["precision"] for layer in rep["layers"]} <= {"int8", "fp32"}
    assert cli_main(["quantize", str(src), "--policy", "ffn"]) == 2
    assert "expected KIND_OR_GLOB=PRECISION" in capsys.readouterr().err


def static_params(graph) -> dict[str, tuple[float, int]]:
    """(a_scale, a_zero_point) of every static int8 FusedMatMul, read from the printed IR."""
    import re

    out = {}
    for line in str(graph).splitlines():
        if "r1::FusedMatMul" in line and 'act_quant="static"' in line:
            name = line.rsplit("# ", 1)[1].strip()
            scale = float(re.search(r"a_scale=([-0-9.e+]+)", line).group(1))
            zero = int(re.search(r"a_zero_point=(\d+)", line).group(1))
            out[name] = (scale, zero)
    return out


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy"])
def test_static_mode_calibrates_each_int8_layer(tmp_path, method):
    m = r1.Model(r1.load_onnx(two_layer_model()))
    samples = [feeds(seed) for seed in range(5)]
    rep = r1.quantize(m, tmp_path / f"{method}.r1", mode="static", calibration_data=samples, method=method)
    e = r1.InferenceEngine(rep.path)
    params = static_params(e.graph)
    up = next(k for k in params if k.startswith("up"))
    assert len(params) == 2, params
    x = np.concatenate([s["x"] for s in samples])
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale, zero = params[up]
    if method == "minmax":  # the input of "up" is x itself: its range over every sample
        assert scale == pytest.approx((hi - lo) / 255, rel=1e-5)
        assert zero == int(np.rint(-lo / ((hi - lo) / 255)))
    else:  # clipped ranges sit inside the full one
        assert scale <= (hi - lo) / 255 * (1 + 1e-5)
    ref = r1.InferenceEngine(m).run(samples[0])["y"]
    assert cosine(e.run(samples[0])["y"], ref) > 0.995
    dyn = r1.InferenceEngine(r1.quantize(m, tmp_path / "d.r1").path).run(samples[0])["y"]
    assert not np.array_equal(dyn, e.run(samples[0])["y"])  # static scales, not per-row ones


def test_static_mode_needs_calibration_and_a_known_method(tmp_path):
    m = r1.Model(r1.load_onnx(two_layer_model()))
    with pytest.raises(ValueError, match="mode 'static' needs calibration_data"):
        r1.quantize(m, tmp_path / "q.r1", mode="static")
    with pytest.raises(ValueError, match="method must be one of"):
        r1.quantize(m, tmp_path / "q.r1", mode="static", calibration_data=[feeds()], method="kl")
    with pytest.raises(ValueError, match="mode 'dynamic' measures them"):
        r1.quantize(m, tmp_path / "q.r1", calibration_data=[feeds()], method="entropy")


def embedding_model(vocab, dim, seed=0):
    """y = Gather(table, ids) @ W: an embedding table then a product."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((vocab, dim)).astype(np.float32) * rng.uniform(0.1, 3, (vocab, 1)).astype(np.float32)
    w = (rng.standard_normal((dim, 16)) / np.sqrt(dim)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["e"], name="emb"), helper.make_node("MatMul", ["e", "w"], ["y"])],
        "emb",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 16]), helper.make_tensor_value_info("e", TensorProto.FLOAT, ["n", dim])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), table


def test_int8_stores_large_embedding_tables_per_row():
    m, table = embedding_model(600, 128)  # 76.8k values: above the 64k threshold
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), precision="int8")
    ops = [n["op"] for n in e.graph.nodes()]
    assert "GatherDequant" in ops and "Gather" not in ops, ops
    ids = np.array([0, 5, -1, 599, 5])
    got = e.run({"ids": ids})["e"]
    amax = np.abs(table).max(axis=1, keepdims=True)
    q = np.rint(table * (np.float32(127) / amax).astype(np.float32))
    want = (q * (amax / np.float32(127)).astype(np.float32)).astype(np.float32)[ids]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    with pytest.raises(r1.InputError, match="GatherDequant: index 600 is out of range for 600 rows"):
        e.run({"ids": np.array([600])})
    small, _ = embedding_model(100, 128)  # 12.8k values: stays an fp32 Gather
    assert "Gather" in [
        n["op"] for n in r1.InferenceEngine(r1.Model(r1.load_onnx(small)), precision="int8").graph.nodes()
    ]


def test_quantize_reports_embeddings_and_shrinks_them(tmp_path):
    m, _ = embedding_model(2000, 128)
    rep = r1.quantize(r1.Model(r1.load_onnx(m)), tmp_path / "e.r1")
    emb = next(layer for layer in rep.layers if layer.kind == "embedding")
    assert emb.name == "emb" and emb.precision == "int8"
    assert rep.size_after < 0.3 * rep.size_before  # the table dominates: int8 plus one scale a row
    rep = r1.quantize(r1.Model(r1.load_onnx(m)), tmp_path / "f.r1", policy={"embedding": "fp32"})
    assert next(layer for layer in rep.layers if layer.kind == "embedding").precision == "fp32"


@pytest.mark.parametrize("bits", [4, 8])
def test_weights_only_mode_stores_int4_or_int8_products(tmp_path, bits):
    """mode="weights_only": the products with a constant weight store int4 (group-wise) or int8 weights, the
    product of two activations stays fp32, and the file is smaller than dynamic int8's for bits=4; the outputs
    stay close to fp32 and the report states what each layer runs."""
    model = two_layer_model(width=256, hidden=1024)
    m = r1.Model(r1.load_onnx(model))
    rep = r1.quantize(m, tmp_path / "w.r1", mode="weights_only", bits=bits)
    assert rep.mode == "weights_only"
    got = {layer.name: layer.precision for layer in rep.layers}
    assert got == {"up_fused": f"int{bits}", "down_fused": f"int{bits}"}, got
    e = r1.InferenceEngine(rep.path)
    ran = precisions(e.graph)
    assert {ran["up_fused"], ran["down_fused"]} == {f"int{bits}"}
    assert all(p == "fp32" for name, p in ran.items() if name not in got)  # the gram product
    dyn = r1.quantize(m, tmp_path / "d.r1")
    if bits == 4:
        assert rep.size_after < 0.6 * dyn.size_after
    else:
        assert rep.size_after == dyn.size_after
    ref = r1.InferenceEngine(m)
    for seed in range(4):
        f = feeds(seed)
        a, b = ref.run(f), e.run(f)
        assert b["y"].dtype == np.float32 and cosine(a["y"], b["y"]) > (0.99 if bits == 4 else 0.999)
        np.testing.assert_array_equal(a["s"], b["s"])  # fp32 in both


def test_weights_only_default_output_name_and_policy(tmp_path):
    path = tmp_path / "mlp.onnx"
    path.write_bytes(two_layer_model().SerializeToString())
    rep = r1.quantize(path, mode="weights_only", policy={"down*": "int8"})
    assert rep.path == str(tmp_path / "mlp.int4.r1")
    got = {layer.name.split("_")[0]: layer.precision for layer in rep.layers}
    assert got["up"] == "int4" and got["down"] == "int8"


def test_cli_weights_only_and_sparsify(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    src.write_bytes(two_layer_model().SerializeToString())
    assert cli_main(["quantize", str(src), "--mode", "weights_only", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["path"] == str(tmp_path / "m.int4.r1") and {la["precision"] for la in rep["layers"]} == {"int4"}
    np.savez(tmp_path / "cal.npz", x=np.stack([feeds(i)["x"] for i in range(3)]))
    rc = cli_main(["sparsify", str(src), "--layers", "matmul", "--calibration", str(tmp_path / "cal.npz"), "--json"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["path"] == str(tmp_path / "m.sparse.r1") and len(rep["layers"]) == 2
    assert 0 < rep["cosine"] < 1 and all(la["zeros_after"] == 0.5 for la in rep["layers"])
    assert cli_main(["sparsify", str(src), "--layers", "*nothing*"]) == 2
    assert "no product" in capsys.readouterr().err
