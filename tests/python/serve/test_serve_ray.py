"""deepseek_r1.serve.ray: the server as a Ray Serve deployment, driven by tritonclient through Ray's HTTP proxy.

The cluster test is slow-marked: a local Ray cluster costs ~17 s and ~1.3 GB. The option tests need Ray
installed but no cluster.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.serve")
tritonclient_http = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException

import deepseek_r1
from deepseek_r1.serve import ray as r1_ray
from helpers.serve_fixtures import add_relu_model, add_version, reference_add_relu


def test_fixed_replicas_and_batch_sized_queue():
    opts = r1_ray.deployment_options(num_replicas=3, batch_size=16)
    assert opts["num_replicas"] == 3 and "autoscaling_config" not in opts
    # Ray's default (5 in flight per replica) would cap every dynamic batch at 5.
    assert opts["max_ongoing_requests"] == 64


def test_autoscaling_defaults_follow_batch_size_and_caller_overrides():
    opts = r1_ray.deployment_options(num_replicas="auto", batch_size=8)
    assert opts["num_replicas"] == "auto"
    assert opts["autoscaling_config"] == {"target_ongoing_requests": 8, "min_replicas": 1}
    opts = r1_ray.deployment_options(autoscaling_config={"max_replicas": 6, "target_ongoing_requests": 4})
    assert opts["num_replicas"] == "auto"
    assert opts["autoscaling_config"] == {"target_ongoing_requests": 4, "min_replicas": 1, "max_replicas": 6}


@pytest.mark.parametrize("bad", [0, -1, "many", 2.5, True])
def test_bad_replica_counts_are_named(bad):
    with pytest.raises(ValueError, match="num_replicas"):
        r1_ray.deployment_options(num_replicas=bad)


def test_fixed_count_with_autoscaling_is_refused():
    with pytest.raises(ValueError, match="exclusive"):
        r1_ray.deployment_options(num_replicas=2, autoscaling_config={"max_replicas": 4})


@pytest.mark.parametrize("key", ["host", "grpc_port"])
def test_listener_options_are_refused(key, tmp_path):
    with pytest.raises(ValueError, match=key):
        r1_ray.deployment(tmp_path / "m.r1", **{key: 0})


def test_exactly_one_model_source(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        r1_ray.deployment()
    with pytest.raises(ValueError, match="exactly one"):
        r1_ray.deployment(tmp_path / "m.r1", repository=tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_replicas_serve_kserve_v2_through_rays_proxy(tmp_path, monkeypatch):
    import ray
    from ray import serve

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's router gives replicas 0.1 s to report their queue length; on a loaded 2-core machine they miss it
    # and the router backs off for seconds.
    monkeypatch.setenv("RAY_SERVE_QUEUE_LENGTH_RESPONSE_DEADLINE_S", "1.0")
    # Replicas are worker processes of the local cluster started here: they inherit this environment and
    # must import deepseek_r1 from the source tree (an absolute path: their working directory differs).
    src = str(Path(deepseek_r1.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))

    model = add_relu_model(width=4, seed=5)
    add_version(tmp_path / "repo", "addrelu", 1, model)
    port = _free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=80 << 20)
    try:
        r1_ray.run(
            repository=tmp_path / "repo",
            num_replicas=2,
            port=port,
            batch_size=8,
            poll_interval_s=None,
            ray_actor_options={"num_cpus": 0.5},
        )
        deployment = serve.status().applications["deepseek_r1"].deployments["deepseek_r1"]
        assert deployment.replica_states == {"RUNNING": 2}

        client = tritonclient_http.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            assert client.is_server_live() and client.is_server_ready()
            assert client.get_server_metadata()["name"] == "deepseek_r1"
            meta = client.get_model_metadata("addrelu")
            assert meta["versions"] == ["1"]
            assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
            assert client.get_model_config("addrelu")["max_batch_size"] == 8
            rng = np.random.default_rng(7)
            # Enough requests that Ray's router sends some to each replica; every one must be right.
            for i, binary in enumerate([True, False] * 6):
                x = rng.standard_normal((1 + i % 3, 4)).astype(np.float32)
                inp = tritonclient_http.InferInput("x", list(x.shape), "FP32")
                inp.set_data_from_numpy(x, binary_data=binary)
                out = tritonclient_http.InferRequestedOutput("y", binary_data=binary)
                res = client.infer("addrelu", [inp], outputs=[out], request_id=f"r{i}")
                np.testing.assert_allclose(res.as_numpy("y"), reference_add_relu(model, x), rtol=1e-6, atol=1e-6)
                assert res.get_response()["id"] == f"r{i}"
            # The app's own errors come through the proxy unchanged.
            with pytest.raises(InferenceServerException, match="nope"):
                client.get_model_metadata("nope")
        finally:
            client.close()
    finally:
        serve.shutdown()
        ray.shutdown()
