"""Model repository endpoints and hot reload under load: no request fails, old versions are freed."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")
import tritonclient.http.aio as triton_aio
from tritonclient.utils import InferenceServerException

import deepseek_r1 as r1
from deepseek_r1.serve.model_version import ModelVersion
from helpers.serve_fixtures import add_relu_model, add_version, matmul_model, reference_add_relu, save_r1


def _x(rows=1, width=4, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, width)).astype(np.float32)


def _input(x):
    i = tritonclient_http.InferInput("x", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    return i


def _live_versions() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is ModelVersion and o.engines)


def test_repository_index_load_unload(tmp_path):
    add_version(tmp_path, "a", 1, add_relu_model(4, seed=1))
    add_version(tmp_path, "b", 3, add_relu_model(4, seed=3))
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "model.r1").write_bytes(b"R1\x00garbage" * 10)
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=None) as s:
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        index = {(m["name"], m.get("version")): m for m in c.get_model_repository_index()}
        assert index[("a", "1")]["state"] == "READY" and index[("b", "3")]["state"] == "READY"
        assert index[("broken", None)]["state"] == "UNAVAILABLE" and index[("broken", None)]["reason"]
        assert not c.is_server_ready()  # a model failed to load
        c.unload_model("b")
        assert not c.is_model_ready("b")
        with pytest.raises(InferenceServerException, match="not ready"):
            c.infer("b", [_input(_x())])
        c.load_model("b")
        assert c.is_model_ready("b")
        with pytest.raises(InferenceServerException, match="not in the repository"):
            c.load_model("zzz")
        with pytest.raises(InferenceServerException, match="failed to load"):
            c.load_model("broken")
        c.load_model("a", config=json.dumps({"max_batch_size": 4}))  # Triton's config override
        assert c.get_model_config("a")["max_batch_size"] == 4
        with pytest.raises(InferenceServerException, match="unknown config key"):
            c.load_model("a", config=json.dumps({"max_batch": 4}))
        assert c.is_model_ready("a")  # a bad override keeps the serving version
        c.close()


def test_single_model_file_reload_by_replacing_it(tmp_path):
    path = save_r1(add_relu_model(4, seed=1), tmp_path / "tiny.r1")
    with r1.InferenceServer(model_path=path, poll_interval_s=0.05) as s:
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        x = _x(2)
        np.testing.assert_allclose(
            c.infer("tiny", [_input(x)]).as_numpy("y"), reference_add_relu(add_relu_model(4, seed=1), x), rtol=1e-6
        )
        save_r1(add_relu_model(4, seed=9), path)
        deadline = time.monotonic() + 20
        want = reference_add_relu(add_relu_model(4, seed=9), x)
        while not np.allclose(c.infer("tiny", [_input(x)]).as_numpy("y"), want):
            assert time.monotonic() < deadline, "the replaced file was not picked up"
            time.sleep(0.05)
        c.close()


def test_hot_reload_under_load_fails_nothing_and_frees_old_versions(tmp_path):
    """Clients hammer the model while new versions land every ~100 ms: every request succeeds, each answer
    comes from the version the response names, and retired versions are released."""
    width, cycles = 64, 12
    models = {v: matmul_model(width, seed=v) for v in range(1, cycles + 2)}
    add_version(tmp_path, "m", 1, models[1])
    refs = {}

    def reference(v, x):
        if v not in refs:
            import onnx.numpy_helper as nh

            w, b = (nh.to_array(t) for t in models[v].graph.initializer)
            refs[v] = (w, b)
        w, b = refs[v]
        return np.maximum(x @ w + b, 0)

    with r1.InferenceServer(repository=tmp_path, poll_interval_s=0.02, batch_size=8) as s:
        stop = threading.Event()

        def writer():
            for v in range(2, cycles + 2):
                time.sleep(0.1)
                add_version(tmp_path, "m", v, models[v])
            time.sleep(0.3)
            stop.set()

        results, failures = [], []

        async def worker(c, seed):
            k = 0
            while not stop.is_set():
                x = _x(1, width, seed * 1000 + k)
                k += 1
                try:
                    r = await c.infer("m", [_input(x)])
                    results.append((int(r.get_response()["model_version"]), x, r.as_numpy("y")))
                except Exception as e:
                    failures.append(repr(e))

        async def main():
            c = triton_aio.InferenceServerClient(f"127.0.0.1:{s.port}")
            try:
                await asyncio.gather(*(worker(c, i) for i in range(8)))
            finally:
                await c.close()

        t = threading.Thread(target=writer)
        t.start()
        asyncio.run(main())
        t.join()
        assert failures == []
        assert len(results) > 100
        versions_seen = {v for v, _, _ in results}
        assert len(versions_seen) >= 3 and max(versions_seen) == cycles + 1
        for v, x, y in results[::7]:
            np.testing.assert_allclose(y, reference(v, x), rtol=1e-4, atol=1e-5)
        deadline = time.monotonic() + 10
        while _live_versions() > 1:  # the old versions drain, then drop their engines
            assert time.monotonic() < deadline, f"{_live_versions()} versions still hold engines"
            time.sleep(0.05)


def test_broken_new_version_keeps_the_old_one_serving_until_fixed(tmp_path, monkeypatch):
    loads = []  # versions ModelVersion.load was asked for (it still loads them)
    real_load = ModelVersion.load.__func__

    def counting_load(cls, name, version, *args):
        loads.append(version)
        return real_load(cls, name, version, *args)

    monkeypatch.setattr(ModelVersion, "load", classmethod(counting_load))
    add_version(tmp_path, "m", 1, add_relu_model(4, seed=1))
    with r1.InferenceServer(repository=tmp_path, poll_interval_s=0.02) as s:
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        (tmp_path / "m" / "2").mkdir()
        (tmp_path / "m" / "2" / "model.r1").write_bytes(b"not a model at all" * 100)
        deadline = time.monotonic() + 10
        while not s.repository.entries["m"].failed:
            assert time.monotonic() < deadline, "the broken version was never tried"
            time.sleep(0.02)
        row = next(r for r in c.get_model_repository_index() if r["name"] == "m")
        assert row["version"] == "1" and row["state"] == "READY"
        assert "failed" in s.repository.entries["m"].reason or s.repository.entries["m"].reason
        x = _x(1)
        assert c.infer("m", [_input(x)]).get_response()["model_version"] == "1"  # still serving v1
        time.sleep(0.3)  # ~15 more scans of the unchanged broken file
        assert loads.count("2") == 1, f"the unchanged broken version was loaded {loads.count('2')} times"
        add_version(tmp_path, "m", 2, add_relu_model(4, seed=2))  # fixed: picked up
        while c.infer("m", [_input(x)]).get_response()["model_version"] != "2":
            assert time.monotonic() < deadline + 10, "the fixed version was not loaded"
            time.sleep(0.02)
        c.close()
