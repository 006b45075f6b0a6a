"""The attacker of bench/serving_abuse.py: every abuse class at once, in its own process, for a bounded time.

    abuse(port, seconds, (served, spare_a, spare_b), queue, only="", grpc_port=None)   # puts {class: {outcome: n}}

Loopback only. Each class is a thread that repeats its probe until the time is up (see serving_abuse.py's
docstring for the list and the rates) and counts what came back: a status, a gRPC code, or how soon the
server closed the connections it held.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import socket
import threading
import time
from collections import Counter

INFER_KEY, ADMIN_KEY = "inference-key-0123", "admin-key-0123456"
WIDTH = 256


def _raw(port: int, payload: bytes, chunk: int = 1 << 16, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        try:
            for i in range(0, len(payload), chunk):
                s.sendall(payload[i : i + chunk])
        except OSError:
            pass  # the server answered and closed early: what it should do
        if not read:
            return b""
        try:
            return s.recv(256)
        except OSError:
            return b""


def _status(reply: bytes) -> str:
    parts = reply.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and reply.startswith(b"HTTP/") else "closed"


def _http(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> str:
    import http.client

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        r.read()
        return str(r.status)
    except OSError as e:
        return type(e).__name__
    finally:
        c.close()


def _grpc_abuse(grpc_port: int, stop: float, loop) -> list[threading.Thread]:
    """gRPC: silent connections (no HTTP/2 preface) and 16 MB ModelInfer messages of empty BYTES elements to a
    model that takes none (the message is serialized once and sent as raw bytes)."""
    import grpc
    from tritonclient.grpc import service_pb2 as pb

    m = 4 << 20
    req = pb.ModelInferRequest(model_name="mm")
    req.inputs.add(name="x", datatype="BYTES", shape=[m]).contents.bytes_contents.extend([b""] * m)
    raw = req.SerializeToString()
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=[("grpc.max_send_message_length", 64 << 20)])
    call = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    metadata = (("authorization", f"Bearer {INFER_KEY}"),)

    def flood():
        try:
            call(raw, metadata=metadata, timeout=30)
            return "served (!)"
        except grpc.RpcError as e:
            return e.code().name

    return [
        loop("gRPC BYTES flood (16 MB, model takes none)", flood, pause=0.5),
        loop("gRPC silent connections (100)", lambda: _hold_silent(grpc_port, 100, stop)),
    ]


def abuse(
    port: int, seconds: float, files: tuple[str, str, str], out: mp.Queue, only: str = "", grpc_port: int | None = None
) -> None:
    stop = time.monotonic() + seconds
    got: dict[str, Counter] = {}

    def count(kind: str, what: str) -> None:
        got.setdefault(kind, Counter())[what] += 1

    def loop(kind: str, fn, pause: float = 0.0):
        def run():
            while time.monotonic() < stop:
                count(kind, fn())
                if pause:
                    time.sleep(pause)

        return threading.Thread(target=run, daemon=True, name=kind)

    header_flood = b"POST /v2/models/mm/infer HTTP/1.1\r\nHost: x\r\nX-Flood: " + b"a" * (1 << 20) + b"\r\n\r\n"
    long_line = b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    n = 5_000_000  # 16 MB of JSON integers, a legal request for `any`
    heavy_json = b'{"inputs":[{"name":"x","datatype":"INT32","shape":[1,%d],"data":[' % n + b"3," * (n - 1) + b"3]}]}"
    m = 4 << 20  # 16 MB of empty BYTES elements to a model that takes no BYTES
    bytes_head = json.dumps(
        {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [m], "parameters": {"binary_data_size": 4 * m}}]}
    ).encode()
    auth = {"Authorization": f"Bearer {INFER_KEY}"}
    served, spare_a, spare_b = files

    def slowloris():
        socks = []
        for _ in range(50):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"POST /v2/models/mm/infer HTTP/1.1\r\n")
                socks.append(s)
            except OSError:
                pass
        t0 = time.monotonic()
        while socks and time.monotonic() < min(stop, t0 + 20):
            time.sleep(1.0)
            for s in _readable(socks):  # answered (408) or closed by the server
                s.close()
                socks.remove(s)
            for s in list(socks):
                try:
                    s.sendall(b"X")
                except OSError:
                    s.close()
                    socks.remove(s)
        for s in socks:
            s.close()
        return _outcome(len(socks), t0, stop, "all cut off by the server")

    reload_state = [0]

    def reload_by_copy():
        src = spare_b if reload_state[0] % 2 == 0 else spare_a
        reload_state[0] += 1
        with open(src, "rb") as f, open(served, "r+b") as d:  # what `cp` does: same inode, truncate, write
            d.truncate(0)
            shutil.copyfileobj(f, d)
        return "copied"

    threads = [
        loop("header flood (1 MB header)", lambda: _status(_raw(port, header_flood)), pause=0.05),
        loop("header flood (1 MB request line)", lambda: _status(_raw(port, long_line)), pause=0.05),
        loop("slow clients (50 slowloris)", slowloris),
        loop("idle connections (200)", lambda: _hold_silent(port, 200, stop)),
        loop(
            "heavy JSON body (16 MB)", lambda: _http(port, "POST", "/v2/models/any/infer", heavy_json, auth), pause=1.0
        ),
        loop(
            "BYTES flood (16 MB, model takes none)",
            lambda: _http(
                port,
                "POST",
                "/v2/models/mm/infer",
                bytes_head + b"\0" * (4 * m),
                {**auth, "Inference-Header-Content-Length": str(len(bytes_head))},
            ),
            pause=0.5,
        ),
        loop("reload by in-place copy (every 3 s)", reload_by_copy, pause=3.0),
        loop(
            "admin call with an inference key",
            lambda: _http(
                port, "POST", "/v2/repository/models/mm/unload", b"{}", {**auth, "Content-Type": "application/json"}
            ),
            pause=0.2,
        ),
        loop(
            "priority above the key's level",
            lambda: _http(
                port,
                "POST",
                "/v2/models/mm/infer",
                json.dumps(
                    {
                        "parameters": {"priority": "critical"},
                        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, WIDTH], "data": [0.0] * WIDTH}],
                    }
                ).encode(),
                auth,
            ),
            pause=0.2,
        ),
    ]
    if grpc_port is not None:
        threads += _grpc_abuse(grpc_port, stop, loop)
    if only:  # a subset, to see which class costs what: --only flood,heavy
        threads = [t for t in threads if any(w in t.name for w in only.split(","))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    out.put({k: dict(v) for k, v in got.items()})


def _hold_silent(port: int, n: int, stop: float) -> str:
    """Opens n connections that never send a byte and waits (up to 20 s) for the server to close them."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
    t0 = time.monotonic()
    while time.monotonic() < min(stop, t0 + 20) and len(_readable(socks)) < len(socks):
        time.sleep(0.5)
    still_open = len(socks) - len(_readable(socks))
    for s in socks:
        s.close()
    return _outcome(still_open, t0, stop, "all closed by the server")


def _outcome(still_open: int, t0: float, stop: float, done: str) -> str:
    now = time.monotonic()
    if not still_open:
        return f"{done} within {now - t0:.0f} s"
    if now >= stop and now - t0 < 20:
        return "the run ended first"
    return f"{still_open} still open after {now - t0:.0f} s"


def _readable(socks: list[socket.socket]) -> list[socket.socket]:
    """The sockets the server has closed: what they had to read (a 408, a gRPC server's SETTINGS frame) is
    read and dropped, and a read returns EOF."""
    import select

    closed = []
    for s in select.select(socks, [], [], 0)[0]:
        try:
            while True:
                data = s.recv(65536, socket.MSG_DONTWAIT)
                if not data:
                    closed.append(s)
                    break
        except BlockingIOError:
            pass  # data came, the connection is still open
        except OSError:
            closed.append(s)  # reset
    return closed
