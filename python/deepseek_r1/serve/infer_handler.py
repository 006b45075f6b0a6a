"""InferHandler: one inference request from model lookup to encoded answer, whatever transport it came by.

    handler = InferHandler(repository, metrics)
    result = await handler.infer(name, version, parse, encode, key_settings, disconnected)

HTTP (infer_route.py) and gRPC (grpc_server.py) each wrap it: `parse(mv)` (async) reads and decodes the
transport's request into a kserve.InferRequest, holding each tensor to mv.check_request_tensor first;
`encode(mv, request, outputs)` builds the transport's response.
Between them: model lookup, admission (so a hot reload lets this request finish on its version), priority and
timeout from the request parameters, the batcher, and the metrics: every outcome is counted once, under a label
the server chose. Every failure leaves as a ServeError (errors.to_serve_error) except a bug, which the transport
logs with its traceback before answering with the same mapping.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..kserve import InferRequest
from .batcher import LEVELS
from .errors import BadRequest, Forbidden, ServeError, is_expected, to_serve_error
from .metrics import ServerMetrics
from .model_version import ModelVersion
from .repository import ModelRepository

T = TypeVar("T")
# Triton's integer priorities (1 = highest; 0 = the caller's default level) map onto our named levels.
_INT_LEVELS = {1: "critical", 2: "premium"}
_MAX_TIMEOUT_US = 86_400e6  # a day: longer is no timeout in practice, and comparisons stay finite


def request_priority(parameters: dict, key_settings: dict) -> str:
    """The level a request queues at: its `priority` parameter, else its key's level (else "standard").

    With keys on, the key's level is also a ceiling (server._keys gives every key one): a "standard" key asking
    for "critical" would jump every queue, so asking above it is Forbidden. With keys off ({}) there is none."""
    ceiling = key_settings.get("priority")
    default = ceiling or "standard"
    p = parameters.get("priority", default)
    if isinstance(p, int) and not isinstance(p, bool):
        p = default if p == 0 else _INT_LEVELS.get(p, "standard")
    elif p not in LEVELS:
        raise BadRequest(f"unknown priority {str(p)[:40]!r}; levels: {list(LEVELS)} (or 1, 2, 3)")
    if ceiling is not None and LEVELS.index(p) < LEVELS.index(ceiling):  # LEVELS: highest first
        raise Forbidden(f"priority '{p}' is above this API key's level '{ceiling}'; ask for '{ceiling}' or lower")
    return p


def request_timeout_s(parameters: dict) -> float | None:
    """tritonclient sends `timeout` in microseconds (an int); so does our Client."""
    t = parameters.get("timeout")
    if t is None:
        return None
    # JSON admits NaN, Infinity, 1e400 and 400-digit ints: each would fail later, as a 500, not here as a 400
    ok = not isinstance(t, bool) and isinstance(t, (int, float)) and 0 < t <= _MAX_TIMEOUT_US
    if not ok:
        raise BadRequest(
            f"parameter 'timeout' must be a positive number of microseconds up to {_MAX_TIMEOUT_US:.0f}, "
            f"got {str(t)[:40]}"
        )
    return t / 1e6


class InferHandler:
    def __init__(self, repository: ModelRepository, metrics: ServerMetrics):
        self.repository, self.metrics = repository, metrics

    async def infer(
        self,
        name: str,
        version: str | None,
        parse: Callable[[ModelVersion], Awaitable[InferRequest]],
        encode: Callable[..., T | Awaitable[T]],
        key_settings: dict,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> T:
        t0 = time.perf_counter()
        try:
            mv = self.repository.get(name, version or None)
        except ServeError as e:
            self.metrics.request_failed_unknown(e.reason)
            raise
        try:
            with mv.admit():
                req = await parse(mv)  # the model version's inputs check each tensor before it is decoded
                priority = request_priority(req.parameters, key_settings)
                outputs = await mv.infer(req.inputs, priority, request_timeout_s(req.parameters), disconnected)
                encoded = encode(mv, req, outputs)
                # HTTP encodes large answers off the event loop (an awaitable); gRPC returns the message
                result: T = await encoded if inspect.isawaitable(encoded) else encoded
        except Exception as e:
            err = to_serve_error(e)
            mv.metrics.on_request_failed(err.reason)
            if isinstance(e, ServeError) or not is_expected(e):
                raise  # as it is: a ServeError already says what to answer; a bug is logged by the transport
            raise err from None
        mv.metrics.on_request_done(time.perf_counter() - t0)
        return result
