"""InferRoute: the HTTP infer route as raw ASGI, in front of the Starlette app: the one path that runs per request.

    app = InferRoute(starlette_app, state, handler)     # POST /v2/models/{m}[/versions/{v}]/infer here,
                                                         # everything else (and lifespan) to Starlette

Why: with a tiny model, the server's CPU per request is the product. Starlette's middleware stack, its linear
regex route match over ~25 routes and its Request object cost about a quarter of a request's CPU (py-spy on the
echo model at concurrency 64); this path reads the scope directly and sends the response as two ASGI messages.
Behaviour is the same as a Starlette handler: the same auth, limits, error shape and metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from starlette.requests import Request

from ..kserve import check_infer_header, encode_infer_response, error_body, parse_infer_request
from .auth import check_api_key
from .errors import BadRequest, ClientGone, Forbidden, PayloadTooLarge, ServeError, Unauthorized, to_serve_error
from .infer_handler import InferHandler
from .same_site import check_host, check_origin

log = logging.getLogger("deepseek_r1.serve")
_PREFIX, _SUFFIX = "/v2/models/", "/infer"
OFF_LOOP_BYTES = 256 * 1024  # below this a parse takes well under a millisecond: a thread hop would cost more
# Large bodies decode and large answers encode here: two threads bound the memory of those at once.
_PARSERS = ThreadPoolExecutor(2, thread_name_prefix="r1-codec")


def _header(scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:  # ASGI servers give lower-case names
            return v.decode("latin-1")
    return None


async def _send(send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def read_body(scope, receive, limit: int, head: tuple[int, Callable[[bytes], None]] | None = None) -> bytes:
    """The request body, refused past `limit` bytes (by Content-Length first, then as chunks arrive).
    head=(n, check): check(first n bytes) runs as soon as they have arrived, before the rest is read: a binary
    request's JSON header is checked against the model while its tensors are still on the wire, so a refused
    16 MB body costs its header, not 16 MB of buffering and joining."""
    length = _header(scope, b"content-length")
    if length is not None:
        if not length.isdigit():
            raise BadRequest(f"invalid Content-Length {length[:20]!r}")
        if int(length) > limit:
            raise PayloadTooLarge(f"request body of {int(length)} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("the client disconnected while sending its request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:  # chunked transfer (no Content-Length): stop at the limit
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        if chunk:
            chunks.append(chunk)
        if head is not None and size >= head[0]:
            joined = b"".join(chunks)
            chunks = [joined]
            try:
                head[1](joined[: head[0]])
            except Exception:
                # Refused: read the rest without keeping it, so the client, still sending, gets to read the
                # answer (closing with its bytes unread would reset the connection under it).
                while message.get("more_body", False):
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        break
                raise
            head = None
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class InferRoute:
    def __init__(self, app, state, handler: InferHandler):
        self.app, self.state, self.handler = app, state, handler

    def __getattr__(self, name):  # .state, .routes, ... of the wrapped Starlette app
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]  # mounted under a prefix (Ray Serve's route_prefix)
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                parts = path[len(_PREFIX) : -len(_SUFFIX)].split("/")
                if len(parts) == 1 or (len(parts) == 3 and parts[1] == "versions"):
                    await self._infer(scope, receive, send, parts[0], parts[2] if len(parts) == 3 else None)
                    return
        await self.app(scope, receive, send)

    async def _infer(self, scope, receive, send, name: str, version: str | None) -> None:
        state = self.state
        binary = [False]

        async def parse(mv):
            header_length = _header(scope, b"inference-header-content-length")
            if header_length is not None and not (header_length.isdigit() and len(header_length) <= 18):
                raise BadRequest(f"invalid Inference-Header-Content-Length {header_length[:20]!r}")
            binary[0] = header_length is not None
            head = None
            length = _header(scope, b"content-length")
            if header_length is not None and not (
                length is not None and length.isdigit() and int(length) < OFF_LOOP_BYTES
            ):
                # A body that may be large: its tensors' headers are checked before their bytes are read. A small
                # one has come whole already; parse_infer_request checks the same, once.
                limits = state.limits
                head = (int(header_length), lambda h: check_infer_header(h, limits, mv.check_request_tensor))
            body = await read_body(scope, receive, state.limits.max_body_bytes, head)
            args = (body, int(header_length) if header_length else None, state.limits, mv.check_request_tensor)
            if len(body) < OFF_LOOP_BYTES:
                return parse_infer_request(*args)
            # A large body decodes in a worker thread (the JSON number reader releases the GIL), so the
            # event loop, health probes included, keeps answering meanwhile.
            return await asyncio.get_running_loop().run_in_executor(_PARSERS, parse_infer_request, *args)

        def encode(mv, req, outputs):
            # Binary outputs by default when the request used the binary extension (as tritonclient expects).
            binary_default = bool(req.parameters.get("binary_data_output", binary[0]))
            args = (mv.name, mv.version, req.id, outputs, req.outputs, binary_default)
            if sum(a.nbytes for a in outputs.values()) < OFF_LOOP_BYTES:
                return encode_infer_response(*args)
            # Large outputs as JSON text take tens of ms (_core writes the numbers without the GIL): off the
            # loop. The handler awaits the future; small answers above skip the hop (and a coroutine).
            return asyncio.get_running_loop().run_in_executor(_PARSERS, encode_infer_response, *args)

        def disconnected():
            return Request(scope, receive).is_disconnected()

        try:
            try:
                host = _header(scope, b"host")
                check_host(host, state.allowed_hosts)
                key = check_api_key(state.api_keys, _header(scope, b"authorization"))
                origin = _header(scope, b"origin")
                if origin is not None:  # browsers send it: a page on another site may not spend our cores
                    check_origin({"origin": origin, "host": host or ""}, state.allowed_origins)
            except (Unauthorized, Forbidden) as e:
                state.metrics.request_failed_unknown(e.reason)
                raise
            answer = await self.handler.infer(name, version, parse, encode, key, disconnected)
            # encode returns the answer or a future of it (large answers): mypy cannot tell T from that union
            body, headers = cast(tuple[bytes, dict[str, str]], answer)
        except ClientGone:
            await _send(send, 499, b"", {})
            return
        except Exception as e:
            if not isinstance(e, ServeError):  # a bug must not take the server down; say what happened
                log.exception("unhandled error in infer")
            err = to_serve_error(e)
            headers = {"content-type": "application/json", **err.headers()}  # Retry-After on 429 / 503
            await _send(send, err.status, error_body(err.message), headers)
            return
        await _send(send, 200, body, headers)
