"""The gRPC endpoint under the probes the HTTP transport was hardened against (test_serve_transport.py): oversized
metadata, silent, idle and stalled connections, a connection flood against the descriptor limit, messages that
are cheap to send and costly to build, malformed authorization, odd parameter types, oversized status details.

What grpc's own client never sends (a stalled message, a bare HTTP/2 connection) goes through _H2, a few HTTP/2
frames written by hand."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tritonclient.grpc")
import grpc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

import deepseek_r1 as r1
from deepseek_r1.kserve import InvalidMessage, Limits
from deepseek_r1.kserve.grpc_wire import scan_model_infer_request
from deepseek_r1.serve import grpc_server
from helpers.serve_fixtures import add_relu_model, make_test_repository, save_r1

KEY = "transport-key-0123456789"
INFER = "/inference.GRPCInferenceService/ModelInfer"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_test_repository(tmp_path_factory.mktemp("repo"))


def _serve(repo, **kw) -> r1.InferenceServer:
    return r1.InferenceServer(repository=repo, poll_interval_s=None, grpc_port=0, **kw).start()


def _stub(server, **options):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=list(options.items()))
    return channel, pb_grpc.GRPCInferenceServiceStub(channel)


def _rss_mib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) >> 10 for line in f if line.startswith("VmRSS"))


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
    return out + bytes([n])


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field: what a hostile client writes without protobuf's help."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _raw_infer(model: str, name: str, datatype: str, shape: list[int], contents: bytes) -> bytes:
    shape_bytes = b"".join(_varint(d) for d in shape)
    tensor = _field(1, name.encode()) + _field(2, datatype.encode()) + _field(3, shape_bytes) + _field(5, contents)
    return _field(1, model.encode()) + _field(5, tensor)


class _H2:
    """HTTP/2 by hand: the preface and SETTINGS, then whatever a test sends; a thread reads (acking SETTINGS and
    PINGs, tracking send windows) and records the frames that end streams and GOAWAY."""

    def __init__(self, port: int, preface: bool = True):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.windows: dict[int, int] = {0: 65535}
        self.initial = 65535
        self.ended: set[int] = set()
        self.refused: set[int] = set()  # RST_STREAM REFUSED_STREAM: past the peer's concurrent streams
        self.goaway = self.closed = False
        self.cv = threading.Condition()
        if preface:
            self.sock.sendall(PREFACE + self._frame(4, 0, 0))
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    def _exactly(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    def _read(self) -> None:
        try:
            while True:
                head = self._exactly(9)
                kind, flags, stream = head[3], head[4], int.from_bytes(head[5:], "big") & 0x7FFFFFFF
                payload = self._exactly(int.from_bytes(head[:3], "big"))
                with self.cv:
                    if kind == 4 and not flags & 1:  # SETTINGS: track INITIAL_WINDOW_SIZE, ack
                        for i in range(0, len(payload), 6):
                            ident, value = struct.unpack(">HI", payload[i : i + 6])
                            if ident == 4:
                                for s in self.windows:
                                    self.windows[s] += (value - self.initial) if s else 0
                                self.initial = value
                        self.sock.sendall(self._frame(4, 1, 0))
                    elif kind == 6 and not flags & 1:
                        self.sock.sendall(self._frame(6, 1, 0, payload))
                    elif kind == 8:
                        self.windows[stream] = self.windows.get(stream, self.initial) + int.from_bytes(payload, "big")
                    elif kind == 3 or (kind == 1 and flags & 1):  # RST_STREAM, or trailers ending the stream
                        self.ended.add(stream)
                        if kind == 3 and int.from_bytes(payload, "big") == 7:
                            self.refused.add(stream)
                    elif kind == 7:
                        self.goaway = True
                    self.cv.notify_all()
        except (EOFError, OSError):
            with self.cv:
                self.closed = True
                self.cv.notify_all()

    def start_infer(self, stream: int, message_bytes: int, send_bytes: int) -> None:
        """Opens a ModelInfer stream whose message claims message_bytes and sends only the first send_bytes."""
        headers = [(":method", "POST"), (":scheme", "http"), (":path", INFER), (":authority", "localhost")]
        headers += [("content-type", "application/grpc"), ("te", "trailers")]
        block = b"".join(b"\x00" + bytes([len(k)]) + k.encode() + bytes([len(v)]) + v.encode() for k, v in headers)
        with self.cv:
            self.windows.setdefault(stream, self.initial)
            self.sock.sendall(self._frame(1, 4, stream, block))
        data = memoryview(b"\x00" + message_bytes.to_bytes(4, "big") + bytes(send_bytes))
        while len(data):
            with self.cv:
                assert self.cv.wait_for(lambda: min(self.windows[0], self.windows[stream]) > 0 or self.closed, 10)
                assert not self.closed
                n = min(len(data), self.windows[0], self.windows[stream], 16384)
                self.windows[0] -= n
                self.windows[stream] -= n
                self.sock.sendall(self._frame(0, 0, stream, bytes(data[:n])))
            data = data[n:]

    def wait(self, predicate, timeout: float) -> bool:
        with self.cv:
            return self.cv.wait_for(lambda: predicate(self), timeout)

    def close(self) -> None:
        self.sock.close()


def _closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Reads (the server's SETTINGS come first) until the server closes, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        pass
    return False


# ---- metadata ------------------------------------------------------------------------------------------------
def test_metadata_is_held_to_max_header_bytes(repo):
    """grpc refuses metadata at random between 8 and 16 KiB by default; the server's max_header_bytes is the
    one limit for both transports, and refusals keep no memory."""
    server = _serve(repo, max_header_bytes=4096)
    channel, stub = _stub(server)
    try:
        assert stub.ServerLive(pb.ServerLiveRequest(), metadata=(("x-pad", "a" * 3000),), timeout=10).live
        for size in (6000, 1 << 20):
            with pytest.raises(grpc.RpcError) as e:
                stub.ServerLive(pb.ServerLiveRequest(), metadata=(("x-pad", "a" * size),), timeout=10)
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        many = tuple((f"x-{i}", "v") for i in range(300))  # 32 bytes of accounting each: past 4 KiB as well
        with pytest.raises(grpc.RpcError) as e:
            stub.ServerLive(pb.ServerLiveRequest(), metadata=many, timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        before = _rss_mib()
        for _ in range(4):  # grpc delays each refusal a little (its "tarpit"): a few are enough
            with pytest.raises(grpc.RpcError):
                stub.ServerLive(pb.ServerLiveRequest(), metadata=(("x-pad", "a" * (4 << 20)),), timeout=10)
        assert _rss_mib() - before < 64
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    finally:
        channel.close()
        server.stop()


# ---- connections ---------------------------------------------------------------------------------------------
def test_silent_and_idle_connections_are_closed(repo, monkeypatch):
    """grpc keeps a connection that never sends its preface for 120 s and an idle one for good; here a silent
    one goes after header_timeout_s and an idle one gets GOAWAY after IDLE_S, and ServerLive answers meanwhile."""
    monkeypatch.setattr(grpc_server, "IDLE_S", 1.0)
    server = _serve(repo, header_timeout_s=1.0)
    silent = [socket.create_connection(("127.0.0.1", server.grpc_port)) for _ in range(20)]
    idle = [_H2(server.grpc_port) for _ in range(100)]
    channel, stub = _stub(server)
    try:
        t0 = time.perf_counter()
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live
        assert time.perf_counter() - t0 < 1
        assert all(_closed_by_server(s, 5) for s in silent)
        assert all(c.wait(lambda c: c.goaway or c.closed, 5) for c in idle)
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live  # the channel reconnects unnoticed
    finally:
        for s in silent:
            s.close()
        for c in idle:
            c.close()
        channel.close()
        server.stop()


_SERVE_WITH_256_FILES = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
import deepseek_r1 as r1
s = r1.InferenceServer(model_path=sys.argv[1], grpc_port=0, poll_interval_s=None, header_timeout_s=1.0).start()
print(s.port, s.grpc_port, flush=True)
sys.stdin.read()
s.stop()
"""


def test_a_grpc_connection_flood_leaves_descriptors_for_http(tmp_path):
    """300 silent gRPC connections against 256 descriptors: without a gRPC cap they took every descriptor, and
    neither endpoint answered (HTTP's health probe was reset, gRPC's timed out) for grpc's 120 s handshake
    timeout. Each endpoint now caps at half; the silent ones go after header_timeout_s."""
    model = save_r1(add_relu_model(width=4, seed=1), tmp_path / "m.r1")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(r1.__file__)))}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE_WITH_256_FILES, str(model)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    flood: list[socket.socket] = []
    try:
        http_port, grpc_port = map(int, proc.stdout.readline().split())
        flood = [socket.create_connection(("127.0.0.1", grpc_port)) for _ in range(300)]
        time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v2/health/live", timeout=5) as r:
            assert r.status == 200
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:  # once the silent ones are gone
            live = pb_grpc.GRPCInferenceServiceStub(channel).ServerLive
            assert live(pb.ServerLiveRequest(), timeout=5, wait_for_ready=True).live
    finally:
        for s in flood:
            s.close()
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_stalled_message_is_dropped_after_body_timeout(repo):
    """Four streams each send 8 MiB of a 32 MiB ModelInfer message and stop, then more streams open until past
    MAX_STREAMS: grpc held every partial message (and its memory) for as long as the client liked, on as many
    streams as it opened (300 in a probe); now each RPC ends after body_timeout_s, counted as a timeout, and
    streams past MAX_STREAMS are refused."""
    server = _serve(repo, body_timeout_s=1.0)
    conn = _H2(server.grpc_port)
    channel, stub = _stub(server)
    n = grpc_server.MAX_STREAMS + 8
    try:
        for i in range(n):
            conn.start_infer(1 + 2 * i, 32 << 20, 8 << 20 if i < 4 else 0)
        assert conn.wait(lambda c: len(c.ended) == n, 5), "the stalled messages were held past body_timeout_s"
        assert len(conn.refused) == 8
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as r:
            assert 'reason="timeout"' in r.read().decode()
    finally:
        conn.close()
        channel.close()
        server.stop()


# ---- messages cheap to send, costly to build -------------------------------------------------------------------
def test_millions_of_bytes_elements_are_refused_before_they_are_built(repo):
    """62 MiB of empty bytes_contents (31 million elements) for an FP32 input: protobuf built them all (1 GiB or
    more, about a second on the event loop) before the tensor check refused them; now the wire scan refuses."""
    server = _serve(repo)
    n = 31 << 20
    raw = _raw_infer("addrelu", "x", "BYTES", [n], b"\x42\x00" * n)
    channel, _ = _stub(server, **{"grpc.max_send_message_length": -1})
    infer = channel.unary_unary(INFER, request_serializer=None, response_deserializer=None)
    peak, done = [_rss_mib()], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    before = peak[0]
    sampler.start()
    try:
        with pytest.raises(grpc.RpcError) as e:
            infer(raw, timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "must be FP32" in e.value.details()
    finally:
        done.set()
        sampler.join()
        channel.close()
        server.stop()
    assert peak[0] - before < 640, f"peak RSS grew {peak[0] - before} MiB for a {len(raw) >> 20} MiB message"


def _message(**tensors) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name="m")
    for name, (datatype, shape, field, values) in tensors.items():
        t = req.inputs.add(name=name, datatype=datatype, shape=shape)
        getattr(t.contents, field).extend(values)
    return req


def test_wire_scan_bounds_what_protobuf_would_build():
    limits = Limits()
    ok = _message(
        f=("FP32", [2, 3], "fp32_contents", np.arange(6, dtype=np.float32)),
        i=("INT64", [3], "int64_contents", [1, -(1 << 40), 1 << 62]),
        b=("BYTES", [2], "bytes_contents", [b"", b"abc" * 1000]),
        z=("BOOL", [0, 4], "bool_contents", []),
    )
    seen = []
    scan_model_infer_request(ok.SerializeToString(), limits, lambda *a: seen.append(a))
    assert seen == [("f", "FP32", [2, 3]), ("i", "INT64", [3]), ("b", "BYTES", [2]), ("z", "BOOL", [0, 4])]
    refused = [
        (_message(x=("FP32", [1, 4], "fp32_contents", [1.0] * 5)).SerializeToString(), "more than the 4 elements"),
        (_message(x=("INT32", [2], "int_contents", [1, 2, 3])).SerializeToString(), "more than the 2 elements"),
        (_raw_infer("m", "x", "BYTES", [1], b"\x42\x00" * 1000), "more than the 1 elements"),
        (_raw_infer("m", "x", "FP32", [1] * 65, b""), "more than 64 dims"),
        (_raw_infer("m", "x", "FP32", [1 << 20, 1 << 20], b""), "limit"),
        (_raw_infer("m", "x", "Z" * 100000, [1], b""), "unknown datatype"),
        (_field(1, b"m") + _field(5, _field(1, b"x") + _field(2, b"FP32")) * 10000, "more than"),  # inputs
        (_field(1, b"m") + _field(4, b"") * 10000, "more than"),  # ten thousand parameters
        (_field(1, b"m") + _field(6, _field(2, b"") * 10000), "more than"),  # an output's parameters
        (_field(1, b"m") + b"\x2a\xff", "truncated"),
    ]
    for raw, needle in refused:
        with pytest.raises(Exception) as e:
            scan_model_infer_request(raw, limits)
        assert needle in str(e.value) and len(str(e.value)) < 400, str(e.value)[:400]
    with pytest.raises(InvalidMessage, match="wire type"):
        scan_model_infer_request(_field(1, b"m") + b"\x2b", limits)  # a group


# ---- authorization, parameters, status details -----------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed_server(repo):
    server = _serve(repo, api_keys={KEY: "standard"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keyed(keyed_server):
    channel, stub = _stub(keyed_server)
    yield stub
    channel.close()


def _infer_request(model="addrelu", datatype="FP32", output=None) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name=model)
    req.inputs.add(name="x", datatype=datatype, shape=[1, 4]).contents.fp32_contents.extend([1.0] * 4)
    if output is not None:
        req.outputs.add(name=output)
    return req


def _fails(call, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        call(*args, timeout=10, **kw)
    return e.value


def test_control_messages_are_bounded_before_they_are_built(keyed_server):
    """A million parameter entries (8 MiB) in a RepositoryModelLoad without a key: protobuf built them all (at 52
    MiB: 2.5 s on the event loop, +735 MiB) before auth refused the call. Now control RPCs refuse messages past
    CONTROL_MESSAGE_BYTES unread, and a malformed one is INVALID_ARGUMENT, not UNKNOWN "Unexpected DecodeError"."""
    i = np.arange(1 << 20)
    entries = np.empty((i.size, 8), np.uint8)
    entries[:, :4] = [3 << 3 | 2, 6, 1 << 3 | 2, 4]  # parameters { key: 4 ASCII characters }
    for k in range(4):
        entries[:, 4 + k] = 48 + (i >> (5 * k)) % 32
    channel, stub = _stub(keyed_server)
    try:
        for rpc, raw, code in [
            ("RepositoryModelLoad", _field(2, b"spare") + entries.tobytes(), grpc.StatusCode.RESOURCE_EXHAUSTED),
            ("TraceSetting", entries.tobytes(), grpc.StatusCode.RESOURCE_EXHAUSTED),
            ("RepositoryModelLoad", b"\x1a\xff", grpc.StatusCode.INVALID_ARGUMENT),
        ]:
            e = _fails(channel.unary_unary(f"/inference.GRPCInferenceService/{rpc}"), raw)
            assert e.code() == code, (rpc, e.code(), e.details()[:200])
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    finally:
        channel.close()


def test_status_details_are_cut_to_what_a_client_reads(keyed):
    """A 100 KB datatype or output name came back in the error message; as a trailer it was over the client's
    metadata limit, so the client saw RESOURCE_EXHAUSTED and no message instead of INVALID_ARGUMENT."""
    auth = (("authorization", f"Bearer {KEY}"),)
    for req in (_infer_request(datatype="Z" * 100_000), _infer_request(output="o" * 100_000)):
        e = _fails(keyed.ModelInfer, req, metadata=auth)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.details()[:200]
        assert len(e.details()) <= grpc_server.DETAILS_CHARS and e.details().endswith("...")
    assert keyed.ModelInfer(_infer_request(), metadata=auth, timeout=10).outputs[0].name == "y"


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", ""),),
        (("authorization", "Bearer"),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", f"Token {KEY}"),),
        (("authorization", "Bearer " + "k" * 8000),),
        (("authorization", "Bearer wrong-key-0123456789"), ("authorization", f"Bearer {KEY}")),  # the first counts
        (("authorization-bin", KEY.encode()),),
    ],
)
def test_malformed_authorization_is_unauthenticated(keyed, metadata):
    """Regression guard (no finding): every malformed form is UNAUTHENTICATED and echoes nothing it was sent."""
    e = _fails(keyed.ModelInfer, _infer_request(), metadata=metadata)
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "wrong-key" not in e.details() and "kkkk" not in e.details() and "dXNl" not in e.details()


@pytest.mark.parametrize(
    "name,kind,value",
    [
        ("timeout", "double_param", float("nan")),
        ("timeout", "double_param", float("inf")),
        ("timeout", "double_param", 1e300),
        ("timeout", "int64_param", -5),
        ("timeout", "uint64_param", (1 << 64) - 1),
        ("timeout", "bool_param", True),
        ("timeout", "string_param", "5"),
        ("priority", "bool_param", True),
        ("priority", "double_param", float("nan")),
    ],
)
def test_odd_parameter_types_are_invalid_argument(keyed, name, kind, value):
    """Regression guard (no finding): NaN, infinite, huge and bool values are refused as the client's error."""
    req = _infer_request()
    setattr(req.parameters[name], kind, value)
    e = _fails(keyed.ModelInfer, req, metadata=(("authorization", f"Bearer {KEY}"),))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and name in e.details(), e.details()
