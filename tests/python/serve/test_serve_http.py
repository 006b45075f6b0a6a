"""The InferenceServer over real HTTP, driven by tritonclient.http (sync and aio), unmodified."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

tritonclient_http = pytest.importorskip("tritonclient.http")
import tritonclient.http.aio as triton_aio
from tritonclient.utils import InferenceServerException

import deepseek_r1 as r1
from helpers.serve_fixtures import add_relu_model, http_request, make_test_repository, reference_add_relu

KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_test_repository(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def server(repo):
    s = r1.InferenceServer(repository=repo, batch_size=16, poll_interval_s=None, versions=2).start()
    yield s
    s.stop()


@pytest.fixture
def client(server):
    c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{server.port}")
    yield c
    c.close()


def _input(name, arr, binary=True):
    dt = {
        np.float32: "FP32",
        np.int64: "INT64",
        np.uint8: "UINT8",
        np.bool_: "BOOL",
        np.float16: "FP16",
        np.int32: "INT32",
    }[arr.dtype.type]
    i = tritonclient_http.InferInput(name, list(arr.shape), dt)
    i.set_data_from_numpy(arr, binary_data=binary)
    return i


def _raw(server, path, body=b"", headers=None, method="POST"):
    status, payload, _ = http_request(server.url + path, body if method == "POST" else None, headers, method)
    return status, payload


def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "deepseek_r1" and "binary_tensor_data" in meta["extensions"]
    m = client.get_model_metadata("addrelu")
    assert m["versions"] == ["1", "2"]
    assert m["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert client.is_model_ready("addrelu") and client.is_model_ready("addrelu", "1")
    assert not client.is_model_ready("nope")
    assert client.get_model_config("dtypes")["max_batch_size"] == 8


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("version", ["", "1", "2"])
def test_infer_matches_reference(client, binary, version):
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    out = tritonclient_http.InferRequestedOutput("y", binary_data=binary)
    res = client.infer("addrelu", [_input("x", x, binary)], model_version=version, outputs=[out], request_id="r-42")
    seed = 2 if version in ("", "2") else 1
    np.testing.assert_allclose(res.as_numpy("y"), reference_add_relu(add_relu_model(4, seed=seed), x), rtol=1e-6)
    resp = res.get_response()
    assert resp["id"] == "r-42" and resp["model_name"] == "addrelu" and resp["model_version"] == (version or "2")


def test_every_engine_dtype_round_trips(client):
    rng = np.random.default_rng(0)
    feeds = {
        "f": rng.standard_normal((2, 3)).astype(np.float32),
        "i": rng.integers(-(2**40), 2**40, (2, 2)),
        "u": rng.integers(0, 256, (2, 5)).astype(np.uint8),
        "b": rng.random((2, 1)) > 0.5,
        "h": rng.standard_normal((2, 2)).astype(np.float16),
        "k": rng.integers(-(2**31), 2**31, (2, 2)).astype(np.int32),
    }
    for binary in (True, False):
        res = client.infer("dtypes", [_input(k, v, binary) for k, v in feeds.items()])
        for k, v in feeds.items():
            got = res.as_numpy(k + "_out")
            assert got.dtype == v.dtype and np.array_equal(got, v), k


def test_aio_client_concurrent_requests_batch(server):
    async def main():
        c = triton_aio.InferenceServerClient(f"127.0.0.1:{server.port}")
        try:
            xs = [np.random.default_rng(i).standard_normal((1, 4)).astype(np.float32) for i in range(64)]
            results = await asyncio.gather(*(c.infer("addrelu", [_input("x", x)]) for x in xs))
            return xs, [r.as_numpy("y") for r in results]
        finally:
            await c.close()

    xs, ys = asyncio.run(main())
    model = add_relu_model(4, seed=2)
    for x, y in zip(xs, ys):
        np.testing.assert_allclose(y, reference_add_relu(model, x), rtol=1e-6)
    status, body = _raw(server, "/metrics", method="GET")
    text = body.decode()
    assert status == 200
    assert 'r1_execution_count_total{model="addrelu",version="2"}' in text
    assert "r1_batch_size_bucket" in text and "process_resident_memory_bytes" in text


@pytest.mark.parametrize(
    "path,body,headers,status,needle",
    [
        ("/v2/models/addrelu/infer", b"{not json", {}, 400, "JSON"),
        (
            "/v2/models/addrelu/infer",
            json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3]}]}).encode(),
            {},
            400,
            "x",
        ),
        (
            "/v2/models/addrelu/infer",
            json.dumps(
                {"inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 4], "data": [1, 2, 3, 4]}]}
            ).encode(),
            {},
            400,
            "float32",
        ),
        (
            "/v2/models/addrelu/infer",
            json.dumps(
                {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 5], "data": [1, 2, 3, 4, 5]}]}
            ).encode(),
            {},
            400,
            "x",
        ),
        (
            "/v2/models/addrelu/infer",
            json.dumps({"inputs": [{"name": "q", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}).encode(),
            {},
            400,
            "q",
        ),
        (
            "/v2/models/addrelu/infer",
            json.dumps(
                {
                    "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}],
                    "parameters": {"priority": "vip"},
                }
            ).encode(),
            {},
            400,
            "priority",
        ),
        ("/v2/models/addrelu/infer", b'{"inputs": []}', {"Inference-Header-Content-Length": "999"}, 400, "header"),
        ("/v2/models/nope/infer", b"{}", {}, 404, "nope"),
        ("/v2/models/addrelu/versions/7/infer", b"{}", {}, 404, "7"),
        ("/v2/models/addrelu/versions/x1/infer", b"{}", {}, 400, "version"),
        ("/v2/models/..%2F..%2Fetc/infer", b"{}", {}, 404, "route"),  # %2F never reaches a model name
        ("/v2/models/..hidden/infer", b"{}", {}, 400, "name"),
        ("/v2/models/.env/infer", b"{}", {}, 400, "name"),
        ("/v2/nothing", b"", {}, 404, "route"),
    ],
)
def test_malformed_requests_get_4xx_with_message(server, client, path, body, headers, status, needle):
    got, payload = _raw(server, path, body, headers)
    assert got == status, payload
    msg = json.loads(payload)["error"]
    assert needle.lower() in msg.lower(), msg
    assert client.is_server_live() and client.is_model_ready("addrelu")  # still serving


def test_oversized_body_is_413(repo):
    with r1.InferenceServer(repository=repo, max_request_bytes=1024, poll_interval_s=None) as s:
        x = np.zeros((100, 4), np.float32) + 1
        c = tritonclient_http.InferenceServerClient(f"127.0.0.1:{s.port}")
        with pytest.raises(InferenceServerException, match="exceeds the limit"):
            c.infer("addrelu", [_input("x", x)])
        y = c.infer("addrelu", [_input("x", x[:1])]).as_numpy("y")  # small requests still served
        assert y.shape == (1, 4)
        c.close()


def test_api_keys(repo):
    with r1.InferenceServer(repository=repo, api_keys={KEY: "premium"}, poll_interval_s=None) as s:
        x = np.ones((1, 4), np.float32)
        url = f"127.0.0.1:{s.port}"
        anon = tritonclient_http.InferenceServerClient(url)
        assert anon.is_server_live()  # health stays open for probes
        with pytest.raises(InferenceServerException, match="missing API key"):
            anon.infer("addrelu", [_input("x", x)])
        with pytest.raises(InferenceServerException, match="invalid API key"):
            anon.infer("addrelu", [_input("x", x)], headers={"Authorization": "Bearer wrong-key-123"})
        ok = anon.infer("addrelu", [_input("x", x)], headers={"Authorization": f"Bearer {KEY}"})
        assert ok.as_numpy("y").shape == (1, 4)
        status, _ = _raw(s, "/metrics", method="GET")
        assert status == 401
        status, body = _raw(s, "/metrics", method="GET", headers={"Authorization": f"Bearer {KEY}"})
        assert status == 200 and b'reason="unauthorized"' in body
        anon.close()


def test_timeout_parameter_gives_504(client):
    x = np.ones((1, 4), np.float32)
    with pytest.raises(InferenceServerException) as e:
        client.infer("addrelu", [_input("x", x)], timeout=1)  # 1 microsecond: expires before it answers
    assert "504" in str(e.value) or "timed out" in str(e.value).lower()
    assert client.infer("addrelu", [_input("x", x)]).as_numpy("y").shape == (1, 4)


def test_priority_parameter_accepted(client):
    x = np.ones((1, 4), np.float32)
    for p in (1, 2, 3, 0):  # tritonclient's integer priorities
        assert client.infer("addrelu", [_input("x", x)], priority=p).as_numpy("y").shape == (1, 4)


def test_status_page_and_json(server):
    status, body = _raw(server, "/", method="GET")
    assert status == 200 and b"deepseek_r1" in body and b"/status.json" in body
    status, body = _raw(server, "/status.json", method="GET")
    data = json.loads(body)
    assert {m["name"] for m in data["models"]} == {"addrelu", "dtypes", "spare"}


def test_unknown_model_is_not_a_metric_label(server):
    _raw(server, "/v2/models/evil-label-name/infer", b"{}")
    _, body = _raw(server, "/metrics", method="GET")
    assert b"evil-label-name" not in body


def test_infer_route_is_found_under_a_root_path(repo):
    """Mounted under a prefix (Ray Serve's route_prefix, a proxy's root_path), POST <root>/v2/models/m/infer
    still reaches the infer path, not the router's 404."""
    server = r1.InferenceServer(repository=repo, poll_interval_s=None)  # not started: no model is loaded

    async def post(path, root):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": root,
            "query_string": b"",
            "headers": [(b"content-length", b"2")],
            "server": ("test", 80),
            "client": ("test", 1),
        }
        await server.app(scope, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])["error"]

    for path, root in (("/v2/models/nope/infer", ""), ("/r1/v2/models/nope/infer", "/r1")):
        status, message = asyncio.run(post(path, root))
        assert status == 404 and "unknown model 'nope'" in message, (path, message)
