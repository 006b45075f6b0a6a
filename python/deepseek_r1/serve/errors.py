"""Serving errors: each carries the HTTP status it maps to and a fixed `reason` used as a metrics label.

    raise NotFound(f"model 'bert' has no version '7'; available: ['1', '2']")

The app turns any ServeError into `{"error": message}` with `status`; `reason` is a closed vocabulary so
client-supplied strings never become Prometheus label values.
"""

from __future__ import annotations


class ServeError(Exception):
    status: int = 500
    reason: str = "internal"

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(ServeError):
    status, reason = 400, "bad_request"


class Unauthorized(ServeError):
    status, reason = 401, "unauthorized"


class Forbidden(ServeError):
    status, reason = 403, "forbidden"


class NotFound(ServeError):
    status, reason = 404, "not_found"


class PayloadTooLarge(ServeError):
    status, reason = 413, "too_large"


class QueueFull(ServeError):
    """A priority level's queue is full: 429 (retry later) or 503 when its policy says so."""

    status, reason = 429, "queue_full"


class ClientGone(ServeError):
    """The client disconnected before its request ran (nginx's 499); the request is dropped unrun."""

    status, reason = 499, "cancelled"


class Unavailable(ServeError):
    status, reason = 503, "unavailable"


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
