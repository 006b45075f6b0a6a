"""Transport bounds (serve/http_protocol.py) over raw sockets: request-line and header sizes, read timeouts, the
connection cap, and that keep-alive and pipelining still work. Servers serve an empty repository (no model is
needed for /v2/health/live); the body tests use a small echo app on the same protocol class."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import uvicorn

import deepseek_r1 as r1
from deepseek_r1.serve.http_protocol import (
    TransportLimits,
    bounded_protocol,
    default_max_connections,
    raise_open_file_limit,
)

LIVE = b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"
TIMEOUT_S = 0.5  # header and body timeouts of the short-timeout servers


class Conn:
    """A raw HTTP/1.1 client connection that reads responses with a Content-Length."""

    def __init__(self, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), headers, body

    def closed_within(self, seconds: float) -> bool:
        """True when the server closes (EOF or reset) within `seconds`; no unread response may be pending."""
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def _more(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError(f"closed by the server; unread: {self.buf[:200]!r}")
        self.buf += data

    def close(self) -> None:
        self.sock.close()


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Default size limits (16 KiB target, 64 KiB headers, 128 fields), short timeouts."""
    s = r1.InferenceServer(
        repository=tmp_path_factory.mktemp("empty"),
        poll_interval_s=None,
        header_timeout_s=TIMEOUT_S,
        body_timeout_s=TIMEOUT_S,
    ).start()
    yield s
    s.stop()


async def _echo(scope, receive, send):
    """Answers the request body once all of it came: a request is in progress until then."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def _echo_server(**limits):
    config = uvicorn.Config(
        _echo,
        host="127.0.0.1",
        port=0,
        loop="uvloop",
        http=bounded_protocol(TransportLimits(**limits).with_default_cap(None)),
        lifespan="off",
        log_level="error",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the echo server failed to start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


# ---- sizes (H3) ----------------------------------------------------------------------------------------
def test_a_request_target_over_16_kib_is_414_and_closes(server):
    c = Conn(server.port)
    at_limit = b"/" + b"a" * ((16 << 10) - 1)
    c.send(b"GET " + at_limit + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.response()[0] == 404  # served (no such route), on a connection still open
    c.send(b"GET " + at_limit + b"a HTTP/1.1\r\nHost: t\r\n\r\n")
    status, headers, _ = c.response()
    assert status == 414 and headers["connection"] == "close"
    assert c.closed_within(3)


def test_headers_over_64_kib_or_128_fields_are_431(server):
    def status_for(extra: bytes) -> int:
        c = Conn(server.port)
        c.send(b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")
        status, headers = c.response()[:2]
        if status == 431:
            assert headers["connection"] == "close" and c.closed_within(3)
        c.close()
        return status

    big = b"X-Big: " + b"a" * 1000 + b"\r\n"  # 1009 bytes
    assert status_for(big * 60) == 200  # ~59 KiB
    assert status_for(big * 66) == 431  # ~65 KiB
    assert status_for(b"".join(b"X-%d: v\r\n" % i for i in range(127))) == 200  # 128 fields with Host
    assert status_for(b"".join(b"X-%d: v\r\n" % i for i in range(128))) == 431


@pytest.mark.parametrize("part, expected", [("request-line", 414), ("header", 431)])
def test_a_50_mb_head_is_refused_without_buffering_it(server, part, expected):
    """The probe's finding: the whole line was buffered (RSS +51 MB here) and never answered."""
    start = b"GET /" if part == "request-line" else b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: "
    head = start + b"a" * (50 << 20)  # never terminated
    before = _rss_mb()
    c = Conn(server.port)
    sent_error: list[BaseException] = []

    def send():
        try:
            c.send(head)
        except OSError as e:  # the server closed while we were still sending: fine
            sent_error.append(e)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        status = c.response()[0]
    except (ConnectionError, OSError):
        status = None  # reset before the answer could be read: closed early, also fine
    sender.join(10)
    c.close()
    assert status in (expected, None)
    assert status is not None or sent_error, "neither an answer nor an early close"
    assert _rss_mb() - before < 20, "the server buffered the head"


# ---- timeouts (M4) -------------------------------------------------------------------------------------
def test_a_connection_that_never_sends_is_closed_after_the_header_timeout(server):
    c = Conn(server.port)
    t0 = time.monotonic()
    assert c.closed_within(5)
    assert TIMEOUT_S * 0.8 < time.monotonic() - t0 < TIMEOUT_S + 1.5


def test_a_trickling_head_gets_408_within_the_header_timeout(server):
    c = Conn(server.port)
    t0 = time.monotonic()
    for byte in b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100:
        c.send(bytes([byte]))  # slowloris: a byte at a time, never the end of the head
        if select.select([c.sock], [], [], 0.05)[0]:
            break
    status, headers, _ = c.response()
    assert status == 408 and headers["connection"] == "close"
    assert time.monotonic() - t0 < TIMEOUT_S + 1.5
    assert c.closed_within(3)


def test_keep_alive_outlives_the_header_timeout_and_the_next_head_is_timed_from_its_first_byte(server):
    c = Conn(server.port)
    c.send(LIVE)
    assert c.response()[0] == 200
    time.sleep(TIMEOUT_S * 1.6)  # idle in keep-alive: governed by the keep-alive timeout, not the head's
    c.send(LIVE)
    assert c.response()[0] == 200
    t0 = time.monotonic()
    c.send(b"GET /v2/health/live HTTP/1.1\r\n")  # and stalls
    status = c.response()[0]
    assert status == 408 and TIMEOUT_S * 0.8 < time.monotonic() - t0 < TIMEOUT_S + 1.5


def test_a_stalled_body_gets_408_and_a_trickling_one_does_not():
    with _echo_server(body_timeout_s=TIMEOUT_S) as port:
        c = Conn(port)
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\nab")
        for _ in range(6):  # 0.6 s in all, past the timeout, but progressing every 0.1 s
            time.sleep(0.1)
            c.send(b"c")
        c.send(b"defg")
        status, _, body = c.response()
        assert (status, body) == (200, b"abccccccdefg")
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab")  # and stalls
        t0 = time.monotonic()
        status, headers, _ = c.response()
        assert status == 408 and headers["connection"] == "close"
        assert TIMEOUT_S * 0.8 < time.monotonic() - t0 < TIMEOUT_S + 1.5
        assert c.closed_within(3)


# ---- the connection cap (M4) ---------------------------------------------------------------------------
def test_at_the_cap_the_oldest_idle_connection_makes_room_and_health_keeps_answering(tmp_path):
    s = r1.InferenceServer(repository=tmp_path, poll_interval_s=None, max_connections=8).start()
    try:
        idle = [Conn(s.port) for _ in range(30)]  # never send: the probe's descriptor exhaustion
        for _ in range(3):
            c = Conn(s.port)
            c.send(LIVE)
            assert c.response()[0] == 200
            c.close()
        time.sleep(0.2)
        closed = [i for i, c in enumerate(idle) if c.closed_within(0.05)]
        assert closed == list(range(len(closed))), "not the oldest first"
        assert len(closed) >= 30 - 8 + 1
        t0 = time.monotonic()
    finally:
        s.stop()
    assert time.monotonic() - t0 < 5, "idle connections held up the graceful stop"
    for c in idle:
        c.close()


def test_with_256_descriptors_300_idle_connections_leave_health_and_the_repository_scan_working(tmp_path):
    """The probe's setup: RLIMIT_NOFILE 256 (soft and hard), the default cap (192), a repository polled."""
    script = textwrap.dedent(f"""
        import resource, sys, time
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        import deepseek_r1 as r1
        s = r1.InferenceServer(repository={str(tmp_path)!r}, poll_interval_s=0.1).start()
        print(s.port, flush=True)
        sys.stdin.read()
        s.stop()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        idle = [Conn(port) for _ in range(300)]
        for _ in range(3):
            c = Conn(port)
            c.send(LIVE)
            assert c.response()[0] == 200
            c.close()
        time.sleep(0.3)  # a few repository scans with the connections open
        for c in idle:
            c.close()
    finally:
        _, err = proc.communicate(b"", timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"Too many open files" not in err and b"EMFILE" not in err, err.decode()[-2000:]


def test_when_every_connection_is_busy_a_new_one_gets_503():
    with _echo_server(max_connections=3) as port:
        busy = [Conn(port) for _ in range(3)]
        for c in busy:  # headers complete, body not: a request in progress
            c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab")
        time.sleep(0.1)
        extra = Conn(port)
        extra.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd")
        status, headers, _ = extra.response()
        assert status == 503 and headers["retry-after"] == "1" and headers["connection"] == "close"
        assert extra.closed_within(3)
        busy[0].send(b"cd")  # done: that connection is idle in keep-alive, so the next one gets in
        assert busy[0].response()[0] == 200
        c = Conn(port)
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
        assert c.response()[0] == 200
        assert busy[0].closed_within(1)
        for b in busy[1:]:
            b.close()  # or the graceful stop waits for their bodies


# ---- unchanged behaviour -------------------------------------------------------------------------------
def test_keep_alive_pipelining_and_split_heads_still_work(server):
    c = Conn(server.port)
    c.send(LIVE * 3)  # pipelined in one write
    assert [c.response()[0] for _ in range(3)] == [200, 200, 200]
    for i in range(0, len(LIVE), 7):  # one head in small writes
        c.send(LIVE[i : i + 7])
    assert c.response()[0] == 200
    assert not c.closed_within(0.1)
    c.send(LIVE * 2 + b"GET /" + b"a" * (17 << 10) + b" HTTP/1.1\r\n\r\n")  # the 414 waits for the two
    assert [c.response()[0] for _ in range(3)] == [200, 200, 414]
    assert c.closed_within(3)


# ---- limits --------------------------------------------------------------------------------------------
def test_the_open_file_limit_is_raised_to_the_hard_limit_and_sets_the_default_cap():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard > 1024:
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
            assert raise_open_file_limit() == hard
            assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert default_max_connections(256) == 192  # the probe's limit: room for 64 other descriptors
    assert default_max_connections(1 << 20) == 4096
    assert default_max_connections(None) == 4096
    assert TransportLimits().with_default_cap(256).max_connections == 192
    assert TransportLimits(max_connections=10).with_default_cap(256).max_connections == 10


@pytest.mark.parametrize(
    "kwargs",
    [{"max_connections": 0}, {"header_timeout_s": 0}, {"body_timeout_s": -1}, {"max_url_bytes": 0}, {"max_headers": 0}],
)
def test_bad_limits_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        r1.InferenceServer(repository=tmp_path, poll_interval_s=None, **kwargs)
