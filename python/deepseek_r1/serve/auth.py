"""API keys: one check for HTTP and gRPC.

    settings = check_api_key(state.api_keys, request_authorization_value, HTTP_HINT)   # {} when keys are off

Every key is compared with hmac.compare_digest, so the time taken does not tell a caller how close its guess was.
"""

from __future__ import annotations

import hmac

from .errors import Unauthorized

HTTP_HINT = "send 'Authorization: Bearer <key>'"
GRPC_HINT = "send gRPC metadata 'authorization: Bearer <key>'"


def check_api_key(api_keys: dict[str, dict] | None, authorization: str | None, hint: str = HTTP_HINT) -> dict:
    """The caller's key settings ({} when keys are off); Unauthorized when a key is needed and wrong."""
    if api_keys is None:
        return {}
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(f"missing API key: {hint}")
    token_b = token.strip().encode()
    for key, settings in api_keys.items():  # compare_digest against each: no early-exit timing leak
        if hmac.compare_digest(token_b, key.encode()):
            return settings
    raise Unauthorized("invalid API key")
