"""The cross-site guard of the HTTP routes that change the server (repository index, load, unload).

    allowed = allowed_origins(("https://dash.example.com",))    # InferenceServer(allowed_origins=...): checked once
    check_same_site(request.headers, allowed, body)             # Forbidden (403) for a cross-site request
    check_origin(headers, allowed)                              # the Origin rule alone

Why: with API keys off (the default) a server on 127.0.0.1 still answers any page its user's browser opens, and
a browser sends a "simple" cross-site POST (a form, or fetch with text/plain) without asking first. So:

- a request that carries an Origin header (browsers send one on every POST) must come from this server's own
  host:port, as the Host header names it, or from an origin the operator allowed ("*" allows any);
- a body must be declared Content-Type: application/json, which a page on another site cannot send without a
  CORS preflight this server never grants. A body without Content-Type is accepted only without an Origin
  header: tritonclient sends its JSON that way, and browsers always send an Origin with a POST.

DNS rebinding (a hostile name re-resolved to 127.0.0.1 makes Origin and Host agree) is met by check_host: a
server bound to a loopback address answers only requests whose Host names a loopback address (or a host the
operator allowed: InferenceServer(allowed_hosts=...)), as Jupyter does; the page still sends its own name.

gRPC needs no such guard: a browser cannot speak it to the server directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from .errors import Forbidden

_DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]  # (scheme, host, port)


def _origin(value: str) -> Origin | None:
    """("https", "host", 443) for "https://host"; None for "null" (sandboxed pages, file://) and anything odd."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username is not None:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _host(value: str | None, scheme: str) -> tuple[str, int] | None:
    """(host, port) of a Host header; its port defaults to the one the Origin's scheme implies."""
    if not value:
        return None
    try:
        parts = urlsplit("//" + value.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path or parts.username is not None:
        return None
    return parts.hostname, port or _DEFAULT_PORTS[scheme]


def allowed_origins(origins: Iterable[str] | str) -> tuple[Origin | str, ...]:
    """The operator's allow-list, parsed: "*" or "scheme://host[:port]" each; ValueError names a bad entry."""
    out: list[Origin | str] = []
    for o in (origins,) if isinstance(origins, str) else origins:
        parsed = "*" if o == "*" else _origin(o) if isinstance(o, str) else None
        if parsed is None:
            raise ValueError(f"allowed_origins takes '*' or origins such as 'https://host:8443', got {o!r}")
        out.append(parsed)
    return tuple(out)


def check_origin(headers: Mapping[str, str], allowed: tuple[Origin | str, ...]) -> None:
    """Forbidden when an Origin header names another site than the Host header (and is not allowed)."""
    origin = headers.get("origin")
    if origin is None or "*" in allowed:
        return
    o = _origin(origin)
    host_header = headers.get("host")
    if o is not None and ((o[1], o[2]) == _host(host_header, o[0]) or o in allowed):
        return
    raise Forbidden(
        f"cross-site request refused: Origin {origin[:100]!r} is not this server "
        f"(Host {str(host_header)[:100]!r}); pages on other sites may not send it "
        "(an operator can allow an origin with InferenceServer(allowed_origins=...))"
    )


def check_same_site(headers: Mapping[str, str], allowed: tuple[Origin | str, ...], body: bytes) -> None:
    """Forbidden unless the request comes from this server's own origin (or an allowed one) with a JSON body."""
    check_origin(headers, allowed)
    origin = headers.get("origin")
    if body:
        content_type = headers.get("content-type")
        media = content_type.split(";", 1)[0].strip().lower() if content_type is not None else None
        if media != "application/json" and (media is not None or origin is not None):
            raise Forbidden(
                f"this request must send its body as Content-Type: application/json, got {str(content_type)[:60]!r} "
                "(form and text/plain posts are refused: a page on another site can send those)"
            )


def is_loopback(host: str) -> bool:
    h = host.strip("[]").lower()
    return h in ("localhost", "::1") or h.endswith(".localhost") or h.startswith("127.")


def host_rule(bind_host: str, allowed_hosts: Iterable[str] | str | None) -> frozenset[str] | None:
    """The Host names a server accepts: None for any. Default (allowed_hosts None): a loopback-bound server takes
    loopback names only, any other takes any; "*" takes any; a list takes loopback names and those."""
    if allowed_hosts == "*" or (allowed_hosts is None and not is_loopback(bind_host)):
        return None
    names = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts or ())
    for n in names:
        if not isinstance(n, str) or not n or any(c in n for c in "/:@ "):
            raise ValueError(f"allowed_hosts takes '*' or host names such as 'models.example.com', got {n!r}")
    return frozenset(n.lower() for n in names)


_HOSTS_OK: dict[str, bool] = {}  # Host header values seen accepted: clients repeat theirs on every request


def check_host(host_header: str | None, allowed: frozenset[str] | None) -> None:
    """Forbidden when the Host header names a host this server does not answer for (DNS rebinding)."""
    if allowed is None or not host_header or host_header in _HOSTS_OK:
        return
    parsed = _host(host_header, "http")
    name = parsed[0] if parsed is not None else ""
    if name and (is_loopback(name) or name.lower() in allowed):
        if len(_HOSTS_OK) < 256 and not allowed:  # only the rule every loopback server shares is cached
            _HOSTS_OK[host_header] = True
        return
    raise Forbidden(
        f"Host {host_header[:100]!r} is not a name this server answers to: it listens on a loopback address, so "
        "only localhost names are accepted (a web page can point its own name at 127.0.0.1); an operator "
        "behind a proxy can allow names with InferenceServer(allowed_hosts=[...])"
    )


__all__ = ["allowed_origins", "check_host", "check_origin", "check_same_site", "host_rule", "is_loopback"]
