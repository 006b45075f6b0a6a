"""What the codec raises: the message names the field or tensor, `status` is the HTTP status KServe gives it.

    try:
        req = parse_infer_request(body, header_length, limits)
    except CodecError as e:          # InvalidMessage (400) or LimitExceeded (413)
        answer(e.status, e.message)

The codec is shared by the server and the client, so it knows nothing of either: the server maps these onto
its own errors (serve/errors.py), the client onto ServerError.
"""

from __future__ import annotations


class CodecError(ValueError):
    status: int = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidMessage(CodecError):
    """The message (or a tensor to put in one) breaks the protocol: a client's fault, 400."""

    status = 400


class LimitExceeded(CodecError):
    """The message is well formed but over one of the receiver's Limits: 413."""

    status = 413


class InvalidResponse(CodecError):
    """Client side: the server's response could not be decoded. The server's fault, so 502 (bad gateway)."""

    status = 502
