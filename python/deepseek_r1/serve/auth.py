"""API keys and their rights: one check for HTTP and gRPC.

    settings = check_api_key(state.api_keys, request_authorization_value, HTTP_HINT)   # {} when keys are off
    require_admin(settings, state.api_keys)       # before a repository load / unload: Forbidden without the right

Each key has two rights (server._keys normalises what users pass): `priority`, the highest level it may ask for
and its default, and `admin`, whether it may load and unload models. Inference is every valid key's right; admin
is opt-in per key, so a key handed to an application cannot take the models down. With keys off every caller has
every right (the cross-site guard, same_site.py, is what protects a local server then).

Every key is compared with hmac.compare_digest, so the time taken does not tell a caller how close its guess was.
"""

from __future__ import annotations

import hmac

from .errors import Forbidden, Unauthorized

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


def require_admin(settings: dict, api_keys: dict[str, dict] | None) -> None:
    """Forbidden unless keys are off or the caller's key has the admin right (load, unload, config override)."""
    if api_keys is not None and settings.get("admin") is not True:
        raise Forbidden(
            "this API key lacks the 'admin' right, which loading and unloading models needs "
            "(give the key {'admin': True} in api_keys)"
        )
