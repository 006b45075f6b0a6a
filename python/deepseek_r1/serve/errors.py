"""Serving errors and the one mapping onto them: engine and codec exceptions -> ServeError -> HTTP / gRPC status.

    raise NotFound(f"model 'bert' has no version '7'; available: ['1', '2']")
    err = to_serve_error(exc)                # InputError -> BadRequest (400), ModelError -> ModelFailed (500), ...
    context.abort(grpc.StatusCode[grpc_code_name(err)], err.message)

Each ServeError carries the HTTP status it maps to and a fixed `reason` used as a metrics label. HTTP answers
`{"error": message}` with `status` and `headers()` (Retry-After for the transient 429 / 503); gRPC aborts with
the code grpc_code_name gives and the same message; the batcher fails each request of a batch with its own
instance. `reason` is a closed vocabulary so client-supplied strings never become Prometheus label values.
"""

from __future__ import annotations

import math

from .._core import InputError, R1Error
from ..kserve.errors import CodecError, InvalidMessage, LimitExceeded


class ServeError(Exception):
    status: int = 500
    reason: str = "internal"
    retry_after_s: float | None = None  # set: the answer carries Retry-After (the condition is transient)

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries: Retry-After (whole seconds, at least 1) when the error is transient."""
        if self.retry_after_s is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}


class BadRequest(ServeError):
    status, reason = 400, "bad_request"


class Unauthorized(ServeError):
    status, reason = 401, "unauthorized"


class Forbidden(ServeError):
    """A valid key without the right it needs (admin, a priority above its level), or a cross-site request."""

    status, reason = 403, "forbidden"


class NotFound(ServeError):
    status, reason = 404, "not_found"


class PayloadTooLarge(ServeError):
    status, reason = 413, "too_large"


class QueueFull(ServeError):
    """A priority level's queue is full: 429 (retry later) or 503 when its policy says so."""

    status, reason = 429, "queue_full"
    retry_after_s = 1.0


class ClientGone(ServeError):
    """The client disconnected before its request ran (nginx's 499); the request is dropped unrun."""

    status, reason = 499, "cancelled"


class ModelFailed(ServeError):
    """The engine failed on inputs it accepted (any R1Error but InputError): the model's fault, not the client's."""

    status, reason = 500, "model_error"


class Unavailable(ServeError):
    status, reason = 503, "unavailable"
    retry_after_s = 1.0


class RequestTimeout(ServeError):
    status, reason = 504, "timeout"


REASONS = (
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "too_large",
    "queue_full",
    "cancelled",
    "unavailable",
    "timeout",
    "internal",
    "model_error",
)

# HTTP status -> gRPC status code name (names, so this module needs no grpc: it is an optional extra).
_GRPC_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    # 413 like the transport's own "message larger than max": both mean "send less"
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_CODEC_ERRORS: dict[type, type[ServeError]] = {InvalidMessage: BadRequest, LimitExceeded: PayloadTooLarge}


def to_serve_error(exc: BaseException) -> ServeError:
    """The ServeError a request fails with, for any exception raised while serving it.

    Always a fresh instance (a batch fails each of its requests with its own, so tracebacks stay per request).
    """
    if isinstance(exc, ServeError):
        return type(exc)(exc.message, exc.status, exc.retry_after_s)
    if isinstance(exc, CodecError):
        return _CODEC_ERRORS.get(type(exc), ServeError)(exc.message, exc.status)
    if isinstance(exc, InputError):
        return BadRequest(str(exc))
    if isinstance(exc, R1Error):
        return ModelFailed(f"model error ({type(exc).__name__}): {exc}")
    return ServeError(f"internal error: {type(exc).__name__}: {exc}")


def is_expected(exc: BaseException) -> bool:
    """False for a bug (an exception no layer raises on purpose): the transports log those with a traceback."""
    return isinstance(exc, (ServeError, CodecError, R1Error))


def grpc_code_name(err: ServeError) -> str:
    """The grpc.StatusCode name for `err` (INTERNAL for the 5xx statuses gRPC has no closer code for)."""
    return _GRPC_CODES.get(err.status, "INTERNAL")
