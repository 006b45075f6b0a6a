"""uvicorn's httptools protocol with bounds: request-line and header sizes, read timeouts, a connection cap.

    limits = TransportLimits(max_connections=None)               # the defaults below; None: from RLIMIT_NOFILE
    limits = limits.with_default_cap(raise_open_file_limit())    # once, when the server starts
    uvicorn.Config(app, http=bounded_protocol(limits), loop="uvloop", ...)

Stock uvicorn (0.55, HttpToolsProtocol) buffers a request line or a header whole, however long (httptools joins
a header value's pieces until its CRLF arrives), arms no timer before a connection's first request and none
while a head or body trickles in, and accepts connections until accept() fails with EMFILE, after which
nothing (not even a health probe) gets an answer. This subclass adds, per connection:

- a request target over `max_url_bytes` is answered 414, a head whose headers pass `max_header_bytes` (or
  `max_headers` fields) 431; a read is fed to the parser in slices that never go past the budget, so no more
  than the limit (plus the tail of one read after a complete request) is ever buffered;
- the head must be complete within `header_timeout_s` of the connection opening or of its first byte after a
  keep-alive wait (408 when part of it came, a plain close when none did; uvicorn's keep-alive timer is armed
  at connection open too); a body must make progress every `body_timeout_s` (408), time spent waiting for
  the server (reading paused by uvicorn's flow control, or no 100 Continue sent yet) not counting;
- at `max_connections` a new connection closes the oldest connection that has no request in progress (idle in
  keep-alive, or still sending a head: what slowloris holds), as nginx reuses keep-alive connections, so health
  probes keep answering; only when every connection has a request in progress is it refused: 503,
  Retry-After and Connection: close.

A 414, 431 or 408 closes the connection after a short linger (half-close, read and drop) so that a client still
sending reads the answer rather than a reset. The 503 closes at once (a refused connection must not hold a
descriptor past the cap; Linux delivers the answer before the reset: 300 of 300 in a test). Refusals are logged
at most once per 10 s. Everything else (keep-alive, pipelining, graceful shutdown, upgrades) is uvicorn's code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("deepseek_r1.serve")

# Method, spaces and " HTTP/1.1\r\n" around the target: a head may be this much longer than target + headers.
_REQUEST_LINE_SLACK = 64
# How long an error answer waits, reading and dropping, before the close: the client gets to read the answer
# (closing with unread input sends a reset, which can destroy it) without holding the descriptor for long.
_LINGER_S = 1.0
_RETRY_AFTER_S = 1
_LOG_EVERY_S = 10.0  # refusals are logged at most this often per server: a flood must not flood the log too


@dataclass(frozen=True)
class TransportLimits:
    max_url_bytes: int = 16 << 10
    max_header_bytes: int = 64 << 10
    max_headers: int = 128
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int | None = None  # None: default_max_connections(the soft RLIMIT_NOFILE)

    def __post_init__(self):
        for name in ("max_url_bytes", "max_header_bytes", "max_headers", "header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.max_connections is not None and not self.max_connections >= 1:
            raise ValueError(f"max_connections must be >= 1 (or None), got {self.max_connections!r}")

    def with_default_cap(self, soft_nofile: int | None) -> TransportLimits:
        if self.max_connections is not None:
            return self
        return replace(self, max_connections=default_max_connections(soft_nofile))


def default_max_connections(soft_nofile: int | None) -> int:
    """Leave 64 descriptors for everything else (model files, the listening socket, logs); 4096 at most."""
    if soft_nofile is None:
        return 4096
    return max(16, min(4096, soft_nofile - 64))


def raise_open_file_limit() -> int | None:
    """Raises the soft RLIMIT_NOFILE to the hard one (each connection is a descriptor); returns the soft limit
    now in effect (None: unlimited or no such limit on this platform)."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)  # macOS: "unlimited" is refused
    if target <= soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        log.warning("could not raise the open-file limit (RLIMIT_NOFILE) from %d to %d: %s", soft, target, e)
        return soft
    log.info("raised the open-file limit (RLIMIT_NOFILE) from %d to %d", soft, target)
    return target


class _OverLimit(Exception):
    """Raised in a parser callback to stop parsing; httptools re-raises it wrapped in HttpParserCallbackError."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Use bounded_protocol(limits): the class attributes below are per server."""

    limits: ClassVar[TransportLimits]
    max_connections: ClassVar[int]
    # Connections without a request in progress, oldest first (a dict keeps insertion order): the ones to close
    # when the cap is reached.
    evictable: ClassVar[dict[BoundedHttpToolsProtocol, None]]
    unlogged: ClassVar[int]  # refusals since the last warning
    next_log_at: ClassVar[float]

    # ---- connection ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.url = b""
        self._in_head = True  # until the headers of the current request are complete
        self._head_started = False  # a byte of the head came (408 rather than a plain close on timeout)
        self._head_bytes = 0  # head bytes fed so far
        self._in_body = False  # headers complete, body not yet
        self._body_progress = 0.0
        self._over_limit = 0  # the status a parser callback asked for
        self._discarding = False  # an error answer went out: drop what comes until the close
        self._pending: tuple[int, str] | None = None  # an error answer waiting for pipelined responses to go out
        self._timer: asyncio.TimerHandle | None = None  # the head, body or linger deadline (one phase at a time)
        if len(self.connections) >= self.max_connections and not self._evict_one():
            self.transport = transport  # uvicorn's connection_lost closes it
            self._discarding = True
            self._log_refusal(f"503: all {self.max_connections} connections have a request in progress")
            transport.write(self._error(503, "Too many connections", b"retry-after: %d\r\n" % _RETRY_AFTER_S))
            transport.close()
            return
        super().connection_made(transport)
        self.evictable[self] = None
        self._timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)
        # uvicorn arms keep-alive only after a response; a connection that never sends would stay forever.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self.evictable.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    def _evict_one(self) -> bool:
        victim = next(iter(self.evictable), None)
        if victim is None:
            return False
        del self.evictable[victim]
        self.connections.discard(victim)  # its room is this connection's now, before its connection_lost runs
        victim.transport.close()
        return True

    # ---- reading -------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        # Replaces uvicorn's (the same feeding and error handling, in _feed): a head is fed in slices that stop
        # at the header budget, so an unterminated line or header never grows past it inside httptools.
        if self._discarding:
            return
        limit = self.limits.max_header_bytes + _REQUEST_LINE_SLACK  # the target's own limit is on_url's
        while True:
            if not self._in_head:  # a body, or a request waiting for its response: uvicorn's path, one feed
                if data and not self._feed(data):
                    return
                break
            room = limit + len(self.url) - self._head_bytes
            if room <= 0:  # checked after every slice: a head that stops exactly at the budget is refused now
                self._answer_and_close(431, "Request header fields too large")
                return
            if not data:
                break
            self._head_started = True  # a byte of a head came: a timeout now is a 408, not a plain close
            chunk, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
            self._head_bytes += len(chunk)
            if not self._feed(chunk):
                return
        # Deadlines are armed only for a head or body that spans reads: most requests come in one read and cost
        # no timer (call_later + cancel is ~2 us on uvloop).
        if self._in_body:
            self._body_progress = self.loop.time()
            if self._timer is None:
                self._timer = self.loop.call_later(self.limits.body_timeout_s, self._body_check)
        elif self._head_started and self._timer is None:  # the first request's runs from the connection's opening
            self._timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _feed(self, data: bytes) -> bool:
        """uvicorn's data_received; False when this read must not be fed further (answered, closed, upgraded)."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._over_limit:
                status = self._over_limit
                self._answer_and_close(status, "URI too long" if status == 414 else "Request header fields too large")
            else:
                self._log_refusal("400: invalid HTTP request")  # uvicorn warns every time
                self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return not self.transport.is_closing()

    # ---- parser callbacks ----------------------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.limits.max_url_bytes:
            self._over_limit = 414
            raise _OverLimit
        self.url += url

    # The header count is checked once the head is complete, not per header (an override of on_header costs a
    # call per header on every request): until then the byte budget bounds the list (64 KiB of 4-byte fields).

    def on_headers_complete(self) -> None:
        if len(self.headers) > self.limits.max_headers:
            self._over_limit = 431
            raise _OverLimit
        self._disarm()
        self._in_head = self._head_started = False
        self._head_bytes = 0
        self._in_body = True
        self.evictable.pop(self, None)  # a request in progress
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._in_body = True, False
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if pipelined or self.transport.is_closing():
            return
        if self._pending is not None:  # the last response before an error answer is out
            self._answer_and_close(*self._pending)
        elif not self._discarding:
            self.evictable[self] = None  # idle in keep-alive (or reading its next head)

    # ---- deadlines -----------------------------------------------------------------------------------
    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._discarding or self.transport.is_closing() or not self._in_head:
            return
        if self._head_started:
            self._answer_and_close(408, "Request header timeout")
        else:
            self.transport.close()  # idle: nothing to answer

    def _body_check(self) -> None:
        self._timer = None
        if not self._in_body or self._discarding or self.transport.is_closing():
            return
        now = self.loop.time()
        cycle = self.cycle
        if self.flow.read_paused or cycle.waiting_for_100_continue:
            self._body_progress = now  # waiting for us (reading paused, or no 100 Continue yet): not a stall
        waited = now - self._body_progress
        if waited < self.limits.body_timeout_s:
            self._timer = self.loop.call_later(self.limits.body_timeout_s - waited, self._body_check)
            return
        if not cycle.response_started:
            self._log_refusal("408: request body timeout")
            self.transport.write(self._error(408, "Request body timeout"))
            cycle.disconnected = True  # the app's receive() says http.disconnect; its send() writes nothing
            cycle.message_event.set()
        self.transport.close()

    # ---- answers -------------------------------------------------------------------------------------
    def _error(self, status: int, message: str, extra: bytes = b"") -> bytes:
        body = message.encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n")
        head.append(b"content-length: %d\r\n%s\r\n" % (len(body), extra))
        return b"".join(head) + body

    def _log_refusal(self, what: str) -> None:
        cls = type(self)
        cls.unlogged += 1
        now = time.monotonic()
        if now >= cls.next_log_at:
            log.warning(
                "refused a request or connection (%s); %d refusal(s) since the last warning", what, cls.unlogged
            )
            cls.unlogged, cls.next_log_at = 0, now + _LOG_EVERY_S

    def _answer_and_close(self, status: int, message: str) -> None:
        self._discarding = True  # still evictable: closing it early costs the client only the answer
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # Responses to pipelined requests are still to go out: an answer now would land inside one of
            # them; on_response_complete sends it after the last.
            self._pending = (status, message)
            return
        self._pending = None
        self._log_refusal(f"{status}: {message.lower()}")
        self.transport.write(self._error(status, message))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self.flow.read_paused:
            self.flow.resume_reading()
        self._timer = self.loop.call_later(_LINGER_S, self.transport.close)


def bounded_protocol(limits: TransportLimits) -> type[BoundedHttpToolsProtocol]:
    """A protocol class for one server (uvicorn.Config(http=...)): its limits and its set of connections."""
    if limits.max_connections is None:
        raise ValueError("resolve max_connections first: limits.with_default_cap(raise_open_file_limit())")

    class Protocol(BoundedHttpToolsProtocol):
        pass

    Protocol.limits = limits
    Protocol.max_connections = limits.max_connections
    Protocol.evictable = {}
    Protocol.unlogged, Protocol.next_log_at = 0, 0.0
    return Protocol


__all__ = [
    "BoundedHttpToolsProtocol",
    "TransportLimits",
    "bounded_protocol",
    "default_max_connections",
    "raise_open_file_limit",
]
