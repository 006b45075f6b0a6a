"""Server features beyond the protocol: auto precision, priorities from keys, our Client against the real server."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1.serve.config import ModelConfig
from deepseek_r1.serve.errors import BadRequest
from deepseek_r1.serve.infer_handler import request_priority, request_timeout_s
from deepseek_r1.serve.metrics import ServerMetrics
from deepseek_r1.serve.model_version import ModelVersion
from helpers.serve_fixtures import add_relu_model, add_version, matmul_model, reference_add_relu, save_r1

KEY = "feature-key-0123"


def _metric(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_request_priority_and_timeout_parameters():
    assert request_priority({}, {}) == "standard"
    assert request_priority({}, {"priority": "premium"}) == "premium"
    assert request_priority({"priority": "critical"}, {}) == "critical"  # keys off: no ceiling
    # a key's level is a ceiling (test_serve_hardening_api.py): a premium key may ask for premium or lower
    assert [request_priority({"priority": p}, {"priority": "premium"}) for p in (0, 2, 3, 9)] == [
        "premium",
        "premium",
        "standard",
        "standard",
    ]
    assert request_priority({"priority": 1}, {}) == "critical"
    with pytest.raises(BadRequest, match="unknown priority"):
        request_priority({"priority": "gold"}, {})
    assert request_timeout_s({"timeout": 2_000_000}) == 2.0
    for bad in (0, -5, "10", True):
        with pytest.raises(BadRequest, match="timeout"):
            request_timeout_s({"timeout": bad})


def test_run_batch_picks_the_variant_by_the_queue_depth_it_is_handed(tmp_path):
    model = r1.Model(r1.load_onnx(add_relu_model(4, seed=5)))
    engines = {p: r1.InferenceEngine(model, precision=p) for p in ("fp32", "bf16")}
    metrics = ServerMetrics()
    mv = ModelVersion(
        "m", "1", tmp_path / "m.r1", ModelConfig(max_batch_size=4), engines, metrics.for_version("m", "1")
    )
    mv.auto_threshold = 1.0  # the variant once as many requests wait as one batch holds
    x = {"x": np.ones((1, 4), np.float32)}

    def batches(precision):
        return metrics.registry.get_sample_value(
            "r1_batches_by_precision_total", {"model": "m", "precision": precision}
        )

    mv.run_batch(x, 3)
    assert (mv.auto_active, batches("fp32"), batches("bf16")) == (False, 1.0, None)
    mv.run_batch(x, 4)
    assert (mv.auto_active, batches("fp32"), batches("bf16")) == (True, 1.0, 1.0)
    mv.auto_threshold = None  # off: the primary whatever the queue
    mv.run_batch(x, 100)
    assert batches("fp32") == 2.0


def test_client_against_server(tmp_path):
    path = save_r1(add_relu_model(4, seed=5), tmp_path / "tiny.r1")
    with r1.InferenceServer(model_path=path, api_keys={KEY: "premium"}, poll_interval_s=None) as s:
        x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
        want = reference_add_relu(add_relu_model(4, seed=5), x)
        with r1.Client(s.url, api_key=KEY) as c:
            assert c.is_live() and c.is_ready("tiny")
            np.testing.assert_allclose(c.infer("tiny", {"x": x})["y"], want, rtol=1e-6)
            np.testing.assert_allclose(c.infer("tiny", {"x": x}, priority="standard")["y"], want, rtol=1e-6)
            assert c.model_metadata("tiny")["inputs"][0]["name"] == "x"
            with pytest.raises(r1.ServerError) as e:
                c.infer("tiny", {"x": x.astype(np.float64)})
            assert e.value.status == 400 and "x" in e.value.message
            with pytest.raises(r1.ServerError) as e:
                c.infer("tiny", {"x": b"some text"})  # BYTES into a float model: a clear 400
            assert e.value.status == 400
        with r1.Client(s.url, api_key="wrong-key-000") as c, pytest.raises(r1.ServerError) as e:
            c.infer("tiny", {"x": x})
        assert e.value.status == 401

        async def many():
            async with r1.AsyncClient(s.url, api_key=KEY) as c:
                return await asyncio.gather(*(c.infer("tiny", {"x": x[i % 2 : i % 2 + 1]}) for i in range(40)))

        for i, out in enumerate(asyncio.run(many())):
            np.testing.assert_allclose(out["y"], want[i % 2 : i % 2 + 1], rtol=1e-6)


@pytest.mark.parametrize("threshold", [None, 1e-6])
def test_auto_precision_routes_to_the_bf16_variant_under_pressure(tmp_path, threshold):
    width = 64
    add_version(tmp_path, "mm", 1, matmul_model(width, seed=3))
    (tmp_path / "mm" / "config.json").write_text(json.dumps({"variants": ["bf16"], "max_batch_size": 2}))
    import onnx.numpy_helper as nh

    w, b = (nh.to_array(t) for t in matmul_model(width, seed=3).graph.initializer)
    server = r1.InferenceServer(repository=tmp_path, poll_interval_s=None)
    if threshold is not None:
        server.set_auto_precision(threshold)
    with server as s:
        xs = [np.random.default_rng(i).standard_normal((1, width)).astype(np.float32) for i in range(48)]

        async def many():
            async with r1.AsyncClient(s.url) as c:
                return await asyncio.gather(*(c.infer("mm", {"x": x}) for x in xs))

        for x, out in zip(xs, asyncio.run(many())):
            ref = np.maximum(x @ w + b, 0)
            np.testing.assert_allclose(out["y"], ref, rtol=2e-2, atol=2e-2)  # bf16 tolerance
        with r1.Client(s.url) as c:
            text = c._http.get("/metrics").text
        bf16 = _metric(text, 'r1_batches_by_precision_total{model="mm",precision="bf16"}')
        fp32 = _metric(text, 'r1_batches_by_precision_total{model="mm",precision="fp32"}')
        assert fp32 >= 1
        assert (bf16 > 0) == (threshold is not None)
        assert 'r1_auto_precision_active{model="mm",version="1"}' in text


def test_r1_serve_command_line_errors(tmp_path, capsys):
    from deepseek_r1.cli import main

    path = save_r1(add_relu_model(4), tmp_path / "m.r1")
    assert main(["serve"]) == 2
    assert "give a model file or --repository" in capsys.readouterr().err
    assert main(["serve", str(path), "--repository", str(tmp_path)]) == 2
    assert main(["serve", str(tmp_path / "missing.r1")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["serve", str(path), "--api-key", "short"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def _token_model():
    """ids_out = input_ids, n_tokens = ReduceSum(attention_mask, axis 1): shows what the server fed the model."""
    from onnx import TensorProto, helper

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("ids_out", TensorProto.INT64, ["batch", "seq"])
    n = helper.make_tensor_value_info("n_tokens", TensorProto.INT64, ["batch"])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    g = helper.make_graph(
        [
            helper.make_node("Identity", ["input_ids"], ["ids_out"]),
            helper.make_node("ReduceSum", ["attention_mask", "axes"], ["n_tokens"], keepdims=0),
        ],
        "tok",
        [ids, mask],
        [out, n],
        [axes],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_text_input_is_tokenized_by_the_server(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from deepseek_r1.tools.minilm import minilm_dir

    try:
        tok_file = minilm_dir() / "tokenizer.json"
    except RuntimeError as e:
        pytest.skip(str(e))
    add_version(tmp_path, "tok", 1, _token_model())
    import shutil

    shutil.copy(tok_file, tmp_path / "tok" / "tokenizer.json")
    (tmp_path / "tok" / "config.json").write_text(
        json.dumps({"tokenizer": {"file": "tokenizer.json", "max_length": 16}})
    )
    add_version(tmp_path, "tokbad", 1, _token_model())
    (tmp_path / "tokbad" / "config.json").write_text(json.dumps({"tokenizer": {"file": "missing.json"}}))
    ref = tokenizers.Tokenizer.from_file(str(tok_file))
    ref.enable_truncation(16)
    ref.no_padding()
    texts = ["A man is eating food.", "Stock markets fell sharply today, and then rose again at the close.", "hi"]
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s, r1.Client(s.url) as c:
        assert {"name": "text", "datatype": "BYTES", "shape": [-1]} in c.model_metadata("tok")["inputs"]
        for t in texts:  # one sentence per request: exactly the tokenizer's ids
            out = c.infer("tok", {"text": t})
            want = ref.encode(t).ids
            assert out["ids_out"].tolist() == [want] and out["n_tokens"].tolist() == [len(want)]

        async def many():  # different lengths share batches (padded) and come back trimmed
            async with r1.AsyncClient(s.url) as ac:
                return await asyncio.gather(*(ac.infer("tok", {"text": texts[i % 3]}) for i in range(30)))

        for i, out in enumerate(asyncio.run(many())):
            assert out["ids_out"].tolist() == [ref.encode(texts[i % 3]).ids]
        out = c.infer("tok", {"text": texts})  # several sentences in one request: padded to the longest
        assert out["n_tokens"].tolist() == [len(ref.encode(t).ids) for t in texts]
        with pytest.raises(r1.ServerError, match="UTF-8"):
            c.infer("tok", {"text": b"\xff\xfe"})
        with pytest.raises(r1.ServerError, match="either 'text' or the token inputs"):
            c.infer("tok", {"text": "x", "input_ids": np.zeros((1, 2), np.int64)})
        with pytest.raises(r1.ServerError, match=r"shape \[n\] or \[n, 1\]"):
            c.infer("tok", {"text": np.array([["two", "columns"]])})
        bad = next(r for r in c.repository_index() if r["name"] == "tokbad")
        assert bad["state"] == "UNAVAILABLE" and "cannot load tokenizer" in bad["reason"]
