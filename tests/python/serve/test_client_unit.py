"""deepseek_r1.client against a real HTTP server started in this process.

The fixture server is a tiny Starlette app (uvicorn, background thread, random port) that speaks the real
KServe v2 codec from deepseek_r1.kserve and echoes inputs back as outputs. It can be told to answer error
statuses first, so retries, backoff, Retry-After and error messages go over real sockets. It is a test
fixture for the client, not a stand-in for InferenceServer (integration tests cover that).
"""

from __future__ import annotations

import asyncio
import pathlib
import socket
import threading
import time

import httpx
import ml_dtypes
import numpy as np
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deepseek_r1 import kserve
from deepseek_r1.client import AsyncClient, Client, ServerError, ServerTimeout, ServerUnreachable

API_KEY = "test-key-123"


class Control:
    """What the fixture server does next, and what it has seen."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.failures: list[tuple[int, dict, bytes]] = []  # answered, in order, before any success
        self.delay_s = 0.0
        self.api_key: str | None = API_KEY
        self.seen: list[dict] = []  # one per request: raw path, headers, params, arrival time

    def fail(self, status: int, times: int = 1, message: str = "busy", headers: dict | None = None):
        self.failures += [(status, headers or {}, kserve.error_body(message))] * times

    def infer_attempts(self) -> list[dict]:
        return [s for s in self.seen if s["path"].endswith(b"/infer")]


CTL = Control()


async def _gate(request: Request) -> Response | None:
    """Record the request, then apply auth and queued failures (shared by every route)."""
    CTL.seen.append(
        {
            "path": request.scope["raw_path"],
            "headers": dict(request.headers),
            "t": time.monotonic(),
            "params": None,
            "method": request.method,
        }
    )
    if CTL.api_key is not None and request.headers.get("authorization") != f"Bearer {CTL.api_key}":
        return Response(kserve.error_body("missing or wrong API key"), 401, media_type="application/json")
    if CTL.failures:
        status, headers, body = CTL.failures.pop(0)
        return Response(body, status, headers=headers, media_type="application/json")
    return None


async def infer(request: Request) -> Response:
    if (early := await _gate(request)) is not None:
        return early
    if request.path_params["model"] == "garbled":  # a broken server: 200 with a body that isn't v2
        return Response(b'{"outputs": [{"name": "y", "datatype": "FP32", "shape": [4], "data": [1]}]}', 200)
    if request.path_params["model"] == "missing":
        return Response(kserve.error_body("model 'missing' is not in the repository"), 404)
    if CTL.delay_s:
        await asyncio.sleep(CTL.delay_s)
    length = request.headers.get("inference-header-content-length")
    req = kserve.parse_infer_request(await request.body(), int(length) if length else None, kserve.Limits())
    CTL.seen[-1]["params"] = req.parameters
    CTL.seen[-1]["request_id"] = req.id
    outputs = dict(req.inputs)
    if req.outputs is not None:
        outputs = {o.name: outputs[o.name] for o in req.outputs}
    body, headers = kserve.encode_infer_response(
        request.path_params["model"],
        request.path_params.get("version"),
        req.id,
        outputs,
        req.outputs,
        req.binary_output,
    )
    return Response(body, 200, headers=headers)


async def plain(request: Request) -> Response:
    """Health, metadata and repository routes: enough shape for the client's parsing."""
    if (early := await _gate(request)) is not None:
        return early
    path = request.url.path
    if path.endswith("/ready") and "/models/" in path:
        return Response(status_code=200 if request.path_params["model"] == "echo" else 404)
    if path.startswith("/v2/health/"):
        return Response(status_code=200)
    if path == "/v2":
        return JSONResponse({"name": "toy", "version": "0", "extensions": ["binary_tensor_data"]})
    if path == "/v2/repository/index":
        return JSONResponse([{"name": "echo", "version": "1", "state": "READY"}])
    if path.startswith("/v2/repository/models/"):
        return Response(status_code=200)
    return JSONResponse(
        {"name": request.path_params["model"], "versions": ["1"], "platform": "toy", "inputs": [], "outputs": []}
    )


APP = Starlette(
    routes=[
        Route("/v2/models/{model}/infer", infer, methods=["POST"]),
        Route("/v2/models/{model}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/v2/models/{model}/ready", plain),
        Route("/v2/models/{model}/versions/{version}/ready", plain),
        Route("/v2/models/{model}", plain),
        Route("/v2/models/{model}/versions/{version}", plain),
        Route("/v2/health/live", plain),
        Route("/v2/health/ready", plain),
        Route("/v2", plain),
        Route("/v2/repository/index", plain, methods=["POST"]),
        Route("/v2/repository/models/{model}/load", plain, methods=["POST"]),
        Route("/v2/repository/models/{model}/unload", plain, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
def endpoint():
    server = uvicorn.Server(uvicorn.Config(APP, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "fixture server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def ctl():
    CTL.reset()
    yield CTL
    CTL.reset()


@pytest.fixture
def client(endpoint, ctl):
    with Client(endpoint, api_key=API_KEY, backoff_s=0.001, max_backoff_s=0.01) as c:
        yield c


def _refused_endpoint() -> str:
    # Bind then close: nothing listens on this port for the rest of the test (a race is possible but the
    # kernel does not hand out the same ephemeral port again immediately).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------------------------- tensors round trip

DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.int16,
    np.uint16,
    np.int32,
    np.uint32,
    np.int64,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    ml_dtypes.bfloat16,
]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_numeric_dtypes_round_trip(endpoint, ctl, dtype, binary):
    x = (np.arange(12).reshape(3, 4) % 7).astype(dtype)
    with Client(endpoint, api_key=API_KEY, binary=binary) as c:
        out = c.infer("echo", {"x": x})
    assert out["x"].dtype == np.dtype(dtype)
    assert out["x"].shape == (3, 4)
    np.testing.assert_array_equal(out["x"].astype(np.float64), x.astype(np.float64))


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_bytes_inputs_become_bytes_tensors(endpoint, ctl, binary):
    image = bytes(range(256)) + b"\x00\xff"  # not valid UTF-8, NULs included
    with Client(endpoint, api_key=API_KEY, binary=binary) as c:
        out = c.infer(
            "echo",
            {
                "text": "héllo wörld",
                "image": image,
                "batch": ["a", b"\x00b", ""],
                "grid": np.array([["ab", "c"], ["", "de"]]),
                "blob": bytearray(b"xyz"),
            },
        )
    assert out["text"].shape == (1,) and out["text"][0] == "héllo wörld".encode()
    assert out["image"][0] == image  # non-UTF-8 BYTES travel binary even in JSON mode
    assert list(out["batch"]) == [b"a", b"\x00b", b""]
    assert out["grid"].shape == (2, 2) and out["grid"][1, 1] == b"de"
    assert out["blob"][0] == b"xyz"


def test_mixed_inputs_outputs_subset_and_request_id(client, ctl):
    x = np.ones((2, 3), np.float32)
    out = client.infer("echo", {"x": x, "prompt": "hi"}, outputs=["prompt"], request_id="req-7")
    assert set(out) == {"prompt"}
    assert ctl.seen[-1]["request_id"] == "req-7"


def test_unsupported_inputs_are_refused_locally(client, ctl):
    with pytest.raises(TypeError, match="read_bytes"):
        client.infer("echo", {"image": pathlib.Path("/tmp/cat.png")})
    with pytest.raises(TypeError, match="np.asarray"):
        client.infer("echo", {"x": [1, 2, 3]})
    with pytest.raises(TypeError, match="unsupported type"):
        client.infer("echo", {"x": {"a": 1}})
    with pytest.raises(ValueError, match="non-empty"):
        client.infer("echo", {})
    assert ctl.seen == []


# ------------------------------------------------------------------------------- parameters, auth, URLs


def test_priority_timeout_and_parameters_are_sent(endpoint, ctl):
    with Client(endpoint, api_key=API_KEY, priority="premium", timeout=12.5) as c:
        c.infer("echo", {"x": np.zeros(2, np.float32)})
        assert ctl.seen[-1]["params"]["priority"] == "premium"
        assert ctl.seen[-1]["params"]["timeout"] == 12_500_000  # microseconds, like tritonclient
        c.infer("echo", {"x": np.zeros(2, np.float32)}, priority="critical", parameters={"temperature": 0.5})
        assert ctl.seen[-1]["params"]["priority"] == "critical"
        assert ctl.seen[-1]["params"]["temperature"] == 0.5


def test_api_key_goes_in_authorization_header(endpoint, ctl):
    with Client(endpoint, api_key=API_KEY) as c:
        c.infer("echo", {"x": np.zeros(1, np.int32)})
    assert ctl.seen[-1]["headers"]["authorization"] == f"Bearer {API_KEY}"
    for key in (None, "wrong"):
        with Client(endpoint, api_key=key, retries=3) as c, pytest.raises(ServerError) as err:
            c.infer("echo", {"x": np.zeros(1, np.int32)})
        assert err.value.status == 401 and "API key" in err.value.message
    assert len(ctl.infer_attempts()) == 3  # 401 is not retried


def test_model_and_version_are_quoted(client, ctl):
    client.infer("my model?#", {"x": np.zeros(1, np.int8)}, version=2)
    assert ctl.seen[-1]["path"] == b"/v2/models/my%20model%3F%23/versions/2/infer"


@pytest.mark.parametrize("bad", ["a/b", "", "..", "."])
def test_invalid_model_names_raise_before_any_request(bad):
    with Client(_refused_endpoint(), retries=0) as c:
        with pytest.raises(ValueError, match="model"):
            c.infer(bad, {"x": np.zeros(1)})
        with pytest.raises(ValueError, match="version"):
            c.infer("echo", {"x": np.zeros(1)}, version="1/../2")
        with pytest.raises(ValueError):
            c.load_model(bad)


def test_endpoint_without_scheme_and_with_trailing_slash(endpoint, ctl):
    with Client(endpoint.removeprefix("http://") + "/", api_key=API_KEY) as c:
        assert c.is_live()


# ------------------------------------------------------------------------------------ errors and retries


def test_retries_429_and_503_then_succeeds(client, ctl):
    ctl.fail(429, times=2)
    ctl.fail(503, times=1)
    out = client.infer("echo", {"x": np.arange(3, dtype=np.int64)})
    np.testing.assert_array_equal(out["x"], np.arange(3))
    assert len(ctl.infer_attempts()) == 4


def test_retries_exhausted_raises_last_error(endpoint, ctl):
    ctl.fail(429, times=10, message="queue 'standard' is full (1024 waiting)")
    with Client(endpoint, api_key=API_KEY, retries=2, backoff_s=0.001) as c, pytest.raises(ServerError) as err:
        c.infer("echo", {"x": np.zeros(1)})
    assert err.value.status == 429 and "queue 'standard' is full" in err.value.message
    assert len(ctl.infer_attempts()) == 3


def test_retry_after_header_is_honoured(client, ctl):
    ctl.fail(503, headers={"Retry-After": "1"})
    client.infer("echo", {"x": np.zeros(1)})
    first, second = ctl.infer_attempts()
    assert second["t"] - first["t"] >= 0.9  # a lower bound only: waiting at least what the server asked


@pytest.mark.parametrize("status", [400, 404, 500, 504])
def test_other_errors_raise_server_error_without_retry(client, ctl, status):
    ctl.fail(status, message=f"input 'x': status {status} explained")
    with pytest.raises(ServerError) as err:
        client.infer("echo", {"x": np.zeros(1)})
    assert err.value.status == status
    assert err.value.message == f"input 'x': status {status} explained"
    assert str(status) in str(err.value)
    assert len(ctl.infer_attempts()) == 1


def test_not_found_model_message(client, ctl):
    with pytest.raises(ServerError, match="not in the repository") as err:
        client.infer("missing", {"x": np.zeros(1)})
    assert err.value.status == 404


def test_malformed_response_is_a_server_error(client, ctl):
    with pytest.raises(ServerError, match="malformed inference response") as err:
        client.infer("garbled", {"x": np.zeros(1)})
    assert err.value.status == 502


def test_connection_refused_is_retried_then_raises(ctl):
    with Client(_refused_endpoint(), retries=2, backoff_s=0.001) as c:
        with pytest.raises(ServerUnreachable, match="3 attempt"):
            c.infer("echo", {"x": np.zeros(1)})
        assert not c.is_live() and not c.is_ready()


def test_slow_server_raises_timeout_and_is_not_retried(endpoint, ctl):
    ctl.delay_s = 1.0
    with Client(endpoint, api_key=API_KEY, timeout=0.2) as c, pytest.raises(ServerTimeout, match="0.2 s"):
        c.infer("echo", {"x": np.zeros(1)})
    assert len(ctl.infer_attempts()) == 1


@given(attempt=st.integers(0, 40), base=st.floats(1e-4, 1.0), cap=st.floats(1e-3, 5.0))
def test_backoff_is_full_jitter_under_the_cap(attempt, base, cap):
    c = Client(retries=1, backoff_s=base, max_backoff_s=cap)
    try:
        assert 0.0 <= c._delay(attempt, None) <= min(cap, base * 2**attempt)
    finally:
        c.close()


def test_retry_after_is_capped_by_timeout():
    with Client(timeout=2.0) as c:
        resp = httpx.Response(429, headers={"Retry-After": "3600"})
        assert c._delay(0, resp) == 2.0
        assert c._delay(0, httpx.Response(429, headers={"Retry-After": "0.5"})) == 0.5
        date = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})  # in the past
        assert c._delay(0, date) == 0.0


# -------------------------------------------------------------------------------- control-plane routes


def test_health_metadata_and_repository(client, ctl):
    assert client.is_live() and client.is_ready()
    assert client.is_ready("echo", version=1) and not client.is_ready("other")
    assert client.server_metadata()["name"] == "toy"
    assert client.model_metadata("echo", version="1")["name"] == "echo"
    assert client.repository_index()[0]["name"] == "echo"
    client.load_model("echo")
    client.unload_model("echo")
    paths = [s["path"] for s in ctl.seen]
    assert b"/v2/models/echo/versions/1" in paths
    assert paths[-2:] == [b"/v2/repository/models/echo/load", b"/v2/repository/models/echo/unload"]


def test_context_manager_closes_connection_pool(endpoint):
    with Client(endpoint) as c:
        pass
    assert c._http.is_closed


# ------------------------------------------------------------------------------------------------ async


def test_async_client_infer_retries_and_errors(endpoint, ctl):
    async def main():
        async with AsyncClient(endpoint, api_key=API_KEY, backoff_s=0.001, priority="premium") as c:
            xs = [np.full((2, 2), i, np.float32) for i in range(8)]
            outs = await asyncio.gather(*(c.infer("echo", {"x": x, "t": f"n{i}"}) for i, x in enumerate(xs)))
            for i, out in enumerate(outs):
                np.testing.assert_array_equal(out["x"], xs[i])
                assert out["t"][0] == f"n{i}".encode()
            assert ctl.seen[-1]["params"]["priority"] == "premium"

            ctl.fail(503, times=2)
            out = await c.infer("echo", {"x": np.ones(2, ml_dtypes.bfloat16)}, version=1)
            assert out["x"].dtype == ml_dtypes.bfloat16
            assert len(ctl.infer_attempts()) == 8 + 3

            ctl.fail(400, message="input 'x' must be FP32")
            with pytest.raises(ServerError, match="must be FP32") as err:
                await c.infer("echo", {"x": np.ones(2)})
            assert err.value.status == 400

            with pytest.raises(ValueError):
                await c.infer("a/b", {"x": np.ones(2)})

            assert await c.is_live() and await c.is_ready("echo")
            assert (await c.server_metadata())["name"] == "toy"
            assert (await c.model_metadata("echo"))["name"] == "echo"
            assert (await c.repository_index())[0]["state"] == "READY"
            await c.load_model("echo")
            await c.unload_model("echo")
        assert c._http.is_closed

    asyncio.run(main())


def test_async_connection_refused_and_exhausted_retries(endpoint, ctl):
    async def main():
        async with AsyncClient(_refused_endpoint(), retries=1, backoff_s=0.001) as c:
            with pytest.raises(ServerUnreachable, match="2 attempt"):
                await c.infer("echo", {"x": np.zeros(1)})
            assert not await c.is_live()
        ctl.fail(429, times=5)
        async with AsyncClient(endpoint, api_key=API_KEY, retries=2, backoff_s=0.001) as c:
            with pytest.raises(ServerError) as err:
                await c.infer("echo", {"x": np.zeros(1)})
            assert err.value.status == 429
        assert len(ctl.infer_attempts()) == 3

    asyncio.run(main())
