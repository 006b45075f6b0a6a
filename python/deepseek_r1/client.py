"""HTTP clients for a deepseek_r1 (KServe v2) inference server.

    import numpy as np
    from deepseek_r1.client import Client

    with Client("http://127.0.0.1:8080", api_key="secret", priority="premium") as c:
        out = c.infer("bert", {"input_ids": np.ones((1, 8), np.int64), "prompt": "hello"})

Inputs are numpy arrays (dtype kept, bf16 via ml_dtypes) or text / binary payloads (image or audio bytes),
which travel as BYTES tensors. `AsyncClient` has the same methods as coroutines.

Retries: 429 / 503 answers (queue full, not ready) and failures to reach the server are retried with
exponential backoff and full jitter, honouring `Retry-After`. Inference is side-effect free, so sending a
request twice is safe. Every other error status raises `ServerError` carrying the server's message.
"""

from __future__ import annotations

import asyncio
import email.utils
import pathlib
import random
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from . import kserve

InputValue = np.ndarray | bytes | bytearray | str | Sequence[bytes | str]

RETRY_STATUSES = frozenset({429, 503})

# Failures where the server never produced an answer for this request, so resending cannot duplicate
# anything visible. ReadTimeout is deliberately absent: the server was told the same `timeout` and should
# have answered 504 by then, so a silent server is wedged and the caller's time budget is already spent.
_RETRY_TRANSPORT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteTimeout,
    httpx.WriteError,
    httpx.ReadError,
    httpx.RemoteProtocolError,
)


class ServerError(Exception):
    """The server answered with an error status; `message` is its `{"error": ...}` text."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class ServerUnreachable(ConnectionError):
    """Every attempt to reach the server failed before it answered (refused, reset, connect timeout)."""


class ServerTimeout(TimeoutError):
    """The server accepted the request but did not answer within the client's `timeout`."""


# ---------------------------------------------------------------------------------------------- helpers


def _segment(what: str, value: str | int) -> str:
    """URL-quote one path segment; '/' and dot segments are refused so a name cannot reach another route."""
    text = str(value)
    if not text or text in (".", "..") or "/" in text:
        raise ValueError(
            f"{what} {text!r} is not a valid name: it must be non-empty, not '.' or '..', and contain no '/'"
        )
    return urllib.parse.quote(text, safe="")


def _model_path(model: str, version: str | int | None) -> str:
    path = f"/v2/models/{_segment('model', model)}"
    if version is not None:
        path += f"/versions/{_segment('version', version)}"
    return path


def _to_tensor(name: str, value: Any) -> np.ndarray:
    """One user input -> an ndarray the codec understands (BYTES tensors are object arrays of bytes)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":  # fixed-width numpy strings -> BYTES, shape kept
            return np.array(
                [v.encode() if isinstance(v, str) else bytes(v) for v in value.ravel().tolist()], dtype=object
            ).reshape(value.shape)
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_array([bytes(value)])
    if isinstance(value, str):
        return _bytes_array([value.encode()])
    if isinstance(value, pathlib.PurePath):
        raise TypeError(
            f"input {name!r} is a path ({value}); files are not read implicitly: "
            f"pass Path(...).read_bytes() to send its contents"
        )
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (bytes, bytearray, memoryview, str)) for v in value):
            return _bytes_array([v.encode() if isinstance(v, str) else bytes(v) for v in value])
        raise TypeError(
            f"input {name!r} is a list holding {sorted({type(v).__name__ for v in value})}; lists "
            f"must hold only bytes/str (BYTES tensor); wrap numbers in np.asarray(..., dtype=...) "
            f"so the dtype is explicit"
        )
    raise TypeError(
        f"input {name!r} has unsupported type {type(value).__name__}; "
        f"expected numpy array, bytes, str or a list of bytes/str"
    )


def _bytes_array(items: list[bytes]) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)  # element-wise fill: np.array would make a 'S' array
    arr[:] = items
    return arr


def _error_message(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
        if isinstance(doc, dict) and "error" in doc:
            return str(doc["error"])
    except (ValueError, UnicodeDecodeError):
        pass
    text = resp.text.strip()
    return text[:500] if text else (resp.reason_phrase or "no error message")


def _retry_after(resp: httpx.Response | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds, fractional accepted, or an HTTP date)."""
    value = resp.headers.get("retry-after") if resp is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Base:
    """Everything except I/O, shared by the sync and async clients."""

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        priority: str | None = None,
        timeout: float | None = 30.0,
        retries: int = 4,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        binary: bool = True,
    ):
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {timeout}")
        if "://" not in endpoint:
            endpoint = "http://" + endpoint
        self.endpoint = endpoint.rstrip("/")
        self.priority = priority
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.binary = binary
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _client_kwargs(self) -> dict:
        return dict(base_url=self.endpoint, headers=self._headers, timeout=httpx.Timeout(self.timeout))

    def _build_infer(self, model, inputs, version, outputs, priority, request_id, parameters):
        if not isinstance(inputs, Mapping) or not inputs:
            raise ValueError("inputs must be a non-empty dict of name -> array/bytes/str")
        tensors = {str(k): _to_tensor(str(k), v) for k, v in inputs.items()}
        # No priority sent: the server applies the API key's default level (or "standard").
        params = {"priority": priority or self.priority} if (priority or self.priority) else {}
        if self.timeout is not None:
            # Lets the server drop work the client will not wait for. Microseconds (an int), as tritonclient
            # sends it and as the server reads it (serve/infer_handler.py).
            params["timeout"] = max(1, int(self.timeout * 1e6))
        params.update(parameters or {})
        body, headers = kserve.encode_infer_request(
            tensors,
            outputs=list(outputs) if outputs else None,
            request_id=request_id,
            parameters=params,
            binary=self.binary,
        )
        return _model_path(model, version) + "/infer", body, headers

    @staticmethod
    def _parse_infer(resp: httpx.Response) -> dict[str, np.ndarray]:
        try:
            outputs, _ = kserve.parse_infer_response(resp.content, resp.headers.get(kserve.HEADER_LENGTH))
        except kserve.CodecError as e:  # 502: the codec names the field the server got wrong
            raise ServerError(e.status, e.message) from e
        return outputs

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        """Full-jitter exponential backoff, unless the server said how long to wait."""
        hinted = _retry_after(resp)
        if hinted is not None:
            # Honour the server, but never sleep longer than one request may take.
            return min(hinted, self.timeout) if self.timeout is not None else hinted
        return random.uniform(0.0, min(self.max_backoff_s, self.backoff_s * (2**attempt)))

    def _check(self, resp: httpx.Response) -> httpx.Response:
        if resp.status_code >= 400:
            raise ServerError(resp.status_code, _error_message(resp))
        return resp

    def _unreachable(self, method: str, path: str, attempts: int, err: Exception) -> ServerUnreachable:
        return ServerUnreachable(
            f"{method} {self.endpoint}{path} failed after {attempts} attempt(s): {type(err).__name__}: {err}"
        )

    def _timed_out(self, method: str, path: str, err: Exception) -> ServerTimeout:
        return ServerTimeout(f"{method} {self.endpoint}{path}: no answer within {self.timeout} s ({err})")

    @staticmethod
    def _json(resp: httpx.Response):
        return resp.json() if resp.content else {}


# ------------------------------------------------------------------------------------------------- sync


class Client(_Base):
    """Blocking client over one keep-alive connection pool; safe to share between threads."""

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        priority: str | None = None,
        timeout: float | None = 30.0,
        retries: int = 4,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        binary: bool = True,
    ):
        super().__init__(endpoint, api_key, priority, timeout, retries, backoff_s, max_backoff_s, binary)
        self._http = httpx.Client(**self._client_kwargs())

    def _send(self, method: str, path: str, *, retry: bool = True, **kw) -> httpx.Response:
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                resp = self._http.request(method, path, **kw)
            except httpx.ReadTimeout as e:
                raise self._timed_out(method, path, e) from e
            except _RETRY_TRANSPORT as e:
                if last:
                    raise self._unreachable(method, path, attempts, e) from e
                time.sleep(self._delay(attempt, None))
                continue
            if resp.status_code in RETRY_STATUSES and not last:
                time.sleep(self._delay(attempt, resp))
                continue
            return self._check(resp)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def infer(
        self,
        model: str,
        inputs: Mapping[str, InputValue],
        version: str | int | None = None,
        outputs: Sequence[str] | None = None,
        priority: str | None = None,
        request_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        path, body, headers = self._build_infer(model, inputs, version, outputs, priority, request_id, parameters)
        return self._parse_infer(self._send("POST", path, content=body, headers=headers))

    def is_live(self) -> bool:
        return self._probe("/v2/health/live")

    def is_ready(self, model: str | None = None, version: str | int | None = None) -> bool:
        return self._probe("/v2/health/ready" if model is None else _model_path(model, version) + "/ready")

    def _probe(self, path: str) -> bool:
        # A health probe answers "now": no retries, and an unreachable server is simply not live/ready.
        try:
            return self._http.get(path).status_code == 200
        except httpx.TransportError:
            return False

    def server_metadata(self) -> dict:
        return self._json(self._send("GET", "/v2"))

    def model_metadata(self, model: str, version: str | int | None = None) -> dict:
        return self._json(self._send("GET", _model_path(model, version)))

    def repository_index(self) -> list:
        return self._json(self._send("POST", "/v2/repository/index", json={}))

    def load_model(self, name: str) -> None:
        self._send("POST", f"/v2/repository/models/{_segment('model', name)}/load", json={})

    def unload_model(self, name: str) -> None:
        self._send("POST", f"/v2/repository/models/{_segment('model', name)}/unload", json={})

    # Names used in the serving design doc.
    metadata = model_metadata
    models = repository_index

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------ async


class AsyncClient(_Base):
    """asyncio twin of `Client`: same arguments and methods, as coroutines; use `async with`."""

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        priority: str | None = None,
        timeout: float | None = 30.0,
        retries: int = 4,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        binary: bool = True,
    ):
        super().__init__(endpoint, api_key, priority, timeout, retries, backoff_s, max_backoff_s, binary)
        self._http = httpx.AsyncClient(**self._client_kwargs())

    async def _send(self, method: str, path: str, *, retry: bool = True, **kw) -> httpx.Response:
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                resp = await self._http.request(method, path, **kw)
            except httpx.ReadTimeout as e:
                raise self._timed_out(method, path, e) from e
            except _RETRY_TRANSPORT as e:
                if last:
                    raise self._unreachable(method, path, attempts, e) from e
                await asyncio.sleep(self._delay(attempt, None))
                continue
            if resp.status_code in RETRY_STATUSES and not last:
                await asyncio.sleep(self._delay(attempt, resp))
                continue
            return self._check(resp)
        raise AssertionError("unreachable")

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, InputValue],
        version: str | int | None = None,
        outputs: Sequence[str] | None = None,
        priority: str | None = None,
        request_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        path, body, headers = self._build_infer(model, inputs, version, outputs, priority, request_id, parameters)
        return self._parse_infer(await self._send("POST", path, content=body, headers=headers))

    async def is_live(self) -> bool:
        return await self._probe("/v2/health/live")

    async def is_ready(self, model: str | None = None, version: str | int | None = None) -> bool:
        return await self._probe("/v2/health/ready" if model is None else _model_path(model, version) + "/ready")

    async def _probe(self, path: str) -> bool:
        try:
            return (await self._http.get(path)).status_code == 200
        except httpx.TransportError:
            return False

    async def server_metadata(self) -> dict:
        return self._json(await self._send("GET", "/v2"))

    async def model_metadata(self, model: str, version: str | int | None = None) -> dict:
        return self._json(await self._send("GET", _model_path(model, version)))

    async def repository_index(self) -> list:
        return self._json(await self._send("POST", "/v2/repository/index", json={}))

    async def load_model(self, name: str) -> None:
        await self._send("POST", f"/v2/repository/models/{_segment('model', name)}/load", json={})

    async def unload_model(self, name: str) -> None:
        await self._send("POST", f"/v2/repository/models/{_segment('model', name)}/unload", json={})

    metadata = model_metadata
    models = repository_index

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
