"""The server under one memory budget for several models, and failover to the CPU.

Three models whose weights together are three times the budget load and answer (instead of being refused), with
the outputs of a resident engine; the models used most recently keep their weights; the tiering metrics and the
budget show on /metrics. A model on sim:0 with fallback_device="cpu" answers every request while faults are
injected, and /v2/health/ready and /metrics say the device failed over.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1 import _core
from helpers.llama_onnx import LlamaShape, build_llama, llama_inputs
from helpers.serve_fixtures import http_request

SHAPE = LlamaShape(hidden=128, inter=352, layers=4, vocab=512, heads=4)  # 3.9 MiB of weights each


def _infer(url: str, model: str, feeds: dict) -> np.ndarray:
    body = {
        "inputs": [
            {"name": k, "shape": list(v.shape), "datatype": "INT64" if v.dtype == np.int64 else "FP32",
             "data": v.flatten().tolist()}
            for k, v in feeds.items()
        ]
    }  # fmt: skip
    status, raw, _ = http_request(f"{url}/v2/models/{model}/infer", json.dumps(body).encode())
    assert status == 200, raw[:500]
    out = json.loads(raw)["outputs"][0]
    return np.array(out["data"], np.float32).reshape(out["shape"])


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiered_repo")
    src = tmp_path_factory.mktemp("src")
    for i, name in enumerate(("a", "b", "c")):
        onnx_path = build_llama(src / f"{name}.onnx", SHAPE, seed=i)
        (root / name / "1").mkdir(parents=True)
        r1.ModelConverter(
            str(onnx_path), output_path=root / name / "1" / "model.r1", target_hardware="native"
        ).convert()
    return root


def test_three_models_share_one_budget_three_times_smaller_than_their_weights(repo):
    feeds = llama_inputs(SHAPE, 1, 8)
    want = {m: r1.InferenceEngine(repo / m / "1" / "model.r1").run(feeds)["logits"] for m in "abc"}
    with r1.InferenceServer(repository=repo, memory_budget={"cpu": "5MiB"}, poll_interval_s=None) as s:
        for _ in range(2):
            for m in "abc":
                np.testing.assert_array_equal(_infer(s.url, m, feeds), want[m])
        # "c" ran last: it keeps its weights; "a" gave them back for the others.
        live = {row["name"]: row["tiering"] for row in s.repository.live_stats()}
        assert live["c"]["loaded_weight_bytes"] > live["a"]["loaded_weight_bytes"]
        assert all(t["budget_bytes"] == {"cpu": 5 << 20} for t in live.values())
        _, metrics, _ = http_request(f"{s.url}/metrics")
        text = metrics.decode()
        assert 'r1_tiering_budget_bytes{model="a",tier="cpu",version="1"} 5.24288e+06' in text
        assert 'r1_tiering_streamed_bytes_total{model="a",version="1"}' in text


def test_a_model_config_cannot_set_the_servers_budget(repo, tmp_path):
    (repo / "a" / "config.json").write_text(json.dumps({"memory_budget": {"cpu": "1GiB"}}))
    try:
        with r1.InferenceServer(repository=repo, poll_interval_s=None) as s:
            entry = s.repository.entries["a"]
            assert not entry.versions and "memory_budget is the server's" in entry.reason
    finally:
        (repo / "a" / "config.json").unlink()


def test_failover_answers_every_request_and_health_says_so(repo):
    _core._register_sim_device()
    feeds = llama_inputs(SHAPE, 1, 8)
    want = r1.InferenceEngine(repo / "b" / "1" / "model.r1").run(feeds)["logits"]
    path = repo / "b" / "1" / "model.r1"
    try:
        with r1.InferenceServer(path, device="sim:0", fallback_device="cpu", poll_interval_s=None) as s:
            name = s.repository.live_stats()[0]["name"]
            for i in range(6):
                if i % 2:
                    _core._sim_inject_faults("lost", 1)
                np.testing.assert_allclose(_infer(s.url, name, feeds), want, rtol=1e-5, atol=1e-6)
            status, body, _ = http_request(f"{s.url}/v2/health/ready")
            assert status == 200
            dev = json.loads(body)["devices"]["sim:0"]
            assert dev["failures"] >= 1 and dev["fallback_device"] == "cpu" and dev["healthy"] is False
            text = http_request(f"{s.url}/metrics")[1].decode()
            assert f'r1_device_healthy{{device="sim:0",model="{name}",version="1"}} 0.0' in text
            assert f'r1_device_failovers_total{{device="sim:0",model="{name}",version="1"}}' in text
    finally:
        _core._sim_inject_faults("lost", 0)
