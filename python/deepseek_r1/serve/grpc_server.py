"""The optional gRPC endpoint: KServe v2 `inference.GRPCInferenceService`, as tritonclient.grpc speaks it.

    server, port = await start_grpc_server(state, "127.0.0.1", 0)     # on the event loop that serves HTTP
    r1.InferenceServer(repository="repo/", grpc_port=8001).run(port=8080)   # what users write

The `[grpc]` extra: needs `grpcio` and `tritonclient[grpc]` (we serve the service_pb2 / service_pb2_grpc
classes tritonclient ships; kserve/grpc_codec.py decodes and encodes the messages). server.py imports this
module only when a gRPC port is asked for.

Same path as HTTP: ModelInfer goes through InferHandler (admission for hot reload, priority and timeout
parameters, the batcher, metrics), the same API keys and rights (metadata `authorization: Bearer <key>`; health
RPCs are public; repository load / unload need an admin key; a key's priority is a ceiling) and the same limits
(message size = Limits.max_body_bytes, tensor/element counts). Failures become gRPC status codes through the
same mapping as HTTP statuses (errors.py), with the same message (cut to DETAILS_CHARS: it travels as metadata).

Transport bounds, from InferenceServer's HTTP ones (TransportLimits) where they map: metadata past
`max_header_bytes` is refused (RESOURCE_EXHAUSTED); a connection must finish the HTTP/2 preface within
`header_timeout_s` and a ModelInfer message must arrive whole within `body_timeout_s` (DEADLINE_EXCEEDED: gRPC
shows no progress to time, and a stalled message holds the memory its partial bytes fill); at most
`max_connections` connections (refused past it: grpc cannot close an idle one instead, so idle connections are
closed after IDLE_S and every connection after MAX_AGE_S); MAX_STREAMS RPCs per connection. A large ModelInfer
is scanned on the wire (kserve/grpc_wire.py) before protobuf builds it, and decoded in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging

import grpc
from google.protobuf.message import DecodeError
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from .. import __version__
from ..kserve import InferRequest, InvalidMessage
from ..kserve.grpc_codec import encode_model_infer_response, parameters_dict, parse_model_infer_request
from ..kserve.grpc_wire import model_of, scan_model_infer_request
from .app import EXTENSIONS, ServerState
from .auth import GRPC_HINT, check_api_key, require_admin
from .errors import BadRequest, NotFound, RequestTimeout, ServeError, Unauthorized, grpc_code_name, to_serve_error
from .http_protocol import TransportLimits, raise_open_file_limit
from .infer_handler import InferHandler
from .infer_route import _PARSERS, OFF_LOOP_BYTES
from .repository import check_name

log = logging.getLogger("deepseek_r1.serve")
SERVICE = "inference.GRPCInferenceService"
IDLE_S = 30.0  # a connection without an RPC this long gets GOAWAY (a client reconnects unnoticed): HTTP's keep-alive
MAX_AGE_S = 3600.0  # then every connection: a slot under the cap is never held for good (grpc adds +-10% jitter)
AGE_GRACE_S = 600.0  # RPCs in flight at that GOAWAY get this long to finish
MAX_STREAMS = 128  # RPCs at once per connection (nginx's HTTP/2 default): each may hold a whole message
KEEPALIVE_S = 120.0  # a connection with RPCs in flight is pinged this often, and dropped when a ping goes
KEEPALIVE_TIMEOUT_S = 20.0  # unanswered this long (a peer gone without a FIN holds its slot no longer)
MIN_CLIENT_PING_S = 300.0  # grpc's default: a client pinging more often without data gets GOAWAY too_many_pings
CONTROL_MESSAGE_BYTES = 1 << 20  # every RPC but ModelInfer: names, a load's config (config.json reads 64 KiB)
DETAILS_CHARS = 1000  # status details are a trailer: past the client's metadata limit it would see no message


def status_code(err: ServeError) -> grpc.StatusCode:
    return grpc.StatusCode[grpc_code_name(err)]


def _rpc(public: bool = False, infer: bool = False):
    """Auth (unless public), then the handler; ServeErrors and bugs become `context.abort(code, message)`."""

    def deco(fn):
        @functools.wraps(fn)
        async def handler(self: InferenceServicer, request, context):
            try:
                key = {} if public else self.authorize(context)
            except Unauthorized as e:
                if infer:
                    self.state.metrics.request_failed_unknown(e.reason)
                await context.abort(status_code(e), e.message)
            try:
                return await fn(self, request, context, key)
            except Exception as e:
                if not isinstance(e, ServeError):  # a bug must not take the server down; say what happened
                    log.exception("unhandled error in gRPC %s", fn.__name__)
                err = to_serve_error(e)
            message = err.message if len(err.message) <= DETAILS_CHARS else err.message[: DETAILS_CHARS - 3] + "..."
            await context.abort(status_code(err), message)  # raises: ends the RPC

        return handler

    return deco


async def _unimplemented(what: str, context) -> None:
    await context.abort(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{what} is not supported by the deepseek_r1 server (use the HTTP /metrics and status page "
        f"for statistics; send tensor data in the request instead of shared memory)",
    )


def _decode(raw: bytes) -> pb.ModelInferRequest:
    try:
        return pb.ModelInferRequest.FromString(raw)
    except DecodeError:
        raise InvalidMessage("the request is not a valid ModelInferRequest") from None


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, state: ServerState, message_timeout_s: float = 30.0):
        self.state = state
        self.repo = state.repository
        self.handler = InferHandler(state.repository, state.metrics)
        self.message_timeout_s = message_timeout_s

    def authorize(self, context) -> dict:
        if self.state.api_keys is None:
            return {}
        value = next((v for k, v in context.invocation_metadata() or () if k == "authorization"), None)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return check_api_key(self.state.api_keys, value, GRPC_HINT)

    # ---- health and metadata ---------------------------------------------------------------------------
    @_rpc(public=True)
    async def ServerLive(self, request, context, key):
        return pb.ServerLiveResponse(live=True)

    @_rpc(public=True)
    async def ServerReady(self, request, context, key):
        # as app.ready: every model not explicitly unloaded has a serving version
        entries = self.repo.entries
        ok = bool(entries) and all(e.versions for e in entries.values() if e.reason != "unloaded")
        return pb.ServerReadyResponse(ready=ok)

    @_rpc()
    async def ModelReady(self, request, context, key):
        try:
            self.repo.get(request.name, request.version or None)
        except ServeError:  # unknown, unloading or malformed: not ready (as Triton answers, no error)
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    @_rpc()
    async def ServerMetadata(self, request, context, key):
        return pb.ServerMetadataResponse(name="deepseek_r1", version=__version__, extensions=EXTENSIONS)

    @_rpc()
    async def ModelMetadata(self, request, context, key):
        mv = self.repo.get(request.name, request.version or None)
        meta = mv.metadata(sorted(self.repo.entries[mv.name].versions, key=int))
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=[tensor(**t) for t in meta["inputs"]],
            outputs=[tensor(**t) for t in meta["outputs"]],
        )

    @_rpc()
    async def ModelConfig(self, request, context, key):
        mv = self.repo.get(request.name, request.version or None)
        c = mv.config
        batching = None
        if c.dynamic_batching:
            delay = c.max_queue_delay_ms
            batching = mc.ModelDynamicBatching(
                preferred_batch_size=list(c.preferred_batch_sizes),
                max_queue_delay_microseconds=int(delay * 1000) if delay else 0,
            )
        config = mc.ModelConfig(
            name=mv.name, platform="deepseek_r1", max_batch_size=c.max_batch_size, dynamic_batching=batching
        )
        return pb.ModelConfigResponse(config=config)

    # ---- inference -------------------------------------------------------------------------------------
    async def _receive(self, context) -> tuple[bytes, pb.ModelInferRequest | None, str, str]:
        """The request message as bytes, its model and version; decoded too when small. ModelInfer is served as
        a client-streaming method that reads one message (the same on the wire) so that this read is timed."""
        try:
            try:
                raw = await asyncio.wait_for(context.read(), self.message_timeout_s)
            except asyncio.TimeoutError:
                raise RequestTimeout(
                    f"the request message did not arrive within {self.message_timeout_s:g} s "
                    f"(InferenceServer(body_timeout_s=...))"
                ) from None
            if raw is grpc.aio.EOF:
                raise BadRequest("the RPC carried no request message")
            if len(raw) < OFF_LOOP_BYTES:  # whatever it holds, protobuf builds it in well under a millisecond
                request = _decode(raw)
                return raw, request, request.model_name, request.model_version
            return (raw, None, *model_of(raw, self.state.limits))  # the rest is scanned once the model is known
        except Exception as e:  # counted as handler.infer counts what fails before a model is known
            self.state.metrics.request_failed_unknown(to_serve_error(e).reason)
            raise

    @_rpc(infer=True)
    async def ModelInfer(self, requests, context, key):
        limits = self.state.limits
        raw, request, name, version = await self._receive(context)

        def decode(mv) -> InferRequest:
            msg = request
            if msg is None:
                scan_model_infer_request(raw, limits, mv.check_request_tensor)  # bounds what protobuf builds
                msg = _decode(raw)
            return parse_model_infer_request(msg, limits, mv.check_request_tensor)

        async def parse(mv) -> InferRequest:
            if request is not None:
                req = decode(mv)
            else:  # in a worker thread, as large HTTP bodies are (infer_route.py): health probes keep answering
                req = await asyncio.get_running_loop().run_in_executor(_PARSERS, decode, mv)
            remaining = context.time_remaining()
            if "timeout" not in req.parameters and remaining is not None and remaining < 1e9:
                # the client's deadline bounds the queue wait too: no work for an answer nobody will read
                req.parameters["timeout"] = max(1, int(remaining * 1e6))
            return req

        def encode(mv, req, outputs):
            return encode_model_infer_response(mv.name, mv.version, req.id, outputs, req.outputs)

        async def disconnected() -> bool:
            return context.cancelled()

        return await self.handler.infer(name, version or None, parse, encode, key, disconnected)

    # ---- repository ------------------------------------------------------------------------------------
    @_rpc()
    async def RepositoryIndex(self, request, context, key):
        rows = self.repo.index()
        if request.ready:
            rows = [r for r in rows if r["state"] == "READY"]
        return pb.RepositoryIndexResponse(
            models=[
                pb.RepositoryIndexResponse.ModelIndex(
                    name=r["name"], version=r.get("version", ""), state=r["state"], reason=r.get("reason", "")
                )
                for r in rows
            ]
        )

    @_rpc()
    async def RepositoryModelLoad(self, request, context, key):
        require_admin(key, self.state.api_keys)  # as HTTP: loading (and a config override) is an admin's
        name = check_name(request.model_name)
        params = parameters_dict(request.parameters)
        unknown = sorted(k for k in params if k != "config")
        if unknown:
            raise BadRequest(f"load parameter '{unknown[0]}' is not supported (only 'config'; override files are not)")
        config = params.get("config")
        if config is not None:
            try:
                config = json.loads(config)  # Triton sends the config as a JSON string
            except (TypeError, ValueError) as e:
                raise BadRequest(f"parameters.config is not valid JSON: {e}") from None
            if not isinstance(config, dict):
                raise BadRequest("parameters.config must be a JSON object")
        if name not in self.repo.model_names():
            raise NotFound(f"model '{name}' is not in the repository")
        await self.repo.load(name, overrides=config, force=True)
        return pb.RepositoryModelLoadResponse()

    @_rpc()
    async def RepositoryModelUnload(self, request, context, key):
        require_admin(key, self.state.api_keys)
        await self.repo.unload(check_name(request.model_name))
        return pb.RepositoryModelUnloadResponse()

    # ---- not served --------------------------------------------------------------------------------------
    async def ModelStreamInfer(self, request_iterator, context):
        await _unimplemented("ModelStreamInfer (decoupled streaming)", context)

    async def ModelStatistics(self, request, context):
        await _unimplemented("ModelStatistics", context)

    async def TraceSetting(self, request, context):
        await _unimplemented("TraceSetting", context)

    async def LogSettings(self, request, context):
        await _unimplemented("LogSettings", context)

    async def SystemSharedMemoryStatus(self, request, context):
        await _unimplemented("the system shared-memory extension", context)

    SystemSharedMemoryRegister = SystemSharedMemoryUnregister = SystemSharedMemoryStatus

    async def CudaSharedMemoryStatus(self, request, context):
        await _unimplemented("the CUDA shared-memory extension", context)

    CudaSharedMemoryRegister = CudaSharedMemoryUnregister = CudaSharedMemoryStatus


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def grpc_options(max_message_bytes: int, transport: TransportLimits) -> list[tuple[str, int]]:
    """The grpc server options for these bounds (transport.max_connections set: with_default_cap first)."""
    assert transport.max_connections is not None
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", -1),  # outputs are the model's: bounded by what it computes
        # a second server on a taken port must fail, not silently share it (grpc's Linux default)
        ("grpc.so_reuseport", 0),
        # soft = hard: grpc refuses at random between the two (defaults 8 and 16 KiB); one limit, as HTTP's
        ("grpc.max_metadata_size", transport.max_header_bytes),
        ("grpc.absolute_max_metadata_size", transport.max_header_bytes),
        # a connection that sends nothing (or no HTTP/2 preface) is closed after this, not after grpc's 120 s
        ("grpc.server_handshake_timeout_ms", _ms(transport.header_timeout_s)),
        # gRPC connections are descriptors too: past the cap grpc closes new ones at once (HTTP evicts an idle
        # connection instead; grpc cannot), so the timers here keep idle and stuck ones from holding slots
        ("grpc.max_allowed_incoming_connections", transport.max_connections),
        ("grpc.max_connection_idle_ms", _ms(IDLE_S)),
        ("grpc.max_connection_age_ms", _ms(MAX_AGE_S)),
        ("grpc.max_connection_age_grace_ms", _ms(AGE_GRACE_S)),
        ("grpc.max_concurrent_streams", MAX_STREAMS),
        ("grpc.keepalive_time_ms", _ms(KEEPALIVE_S)),
        ("grpc.keepalive_timeout_ms", _ms(KEEPALIVE_TIMEOUT_S)),
        ("grpc.keepalive_permit_without_calls", 0),  # idle connections are closed, not kept alive
        ("grpc.http2.max_pings_without_data", 0),  # keep pinging through a long inference (no data flows)
        ("grpc.http2.min_ping_interval_without_data_ms", _ms(MIN_CLIENT_PING_S)),
        ("grpc.http2.max_ping_strikes", 2),
    ]


def _decoded(behavior, message_class):
    """A unary RPC's message as bytes, decoded within CONTROL_MESSAGE_BYTES: grpc would have protobuf build all of
    it (millions of map entries: seconds on the event loop, GiBs) before the handler, and its auth, runs."""

    async def handler(raw: bytes, context):
        if len(raw) > CONTROL_MESSAGE_BYTES:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"a {message_class.__name__} of {len(raw)} bytes is over the limit of {CONTROL_MESSAGE_BYTES}",
            )
        try:
            request = message_class.FromString(raw)
        except DecodeError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not a valid {message_class.__name__}")
        return await behavior(request, context)

    return handler


def _method_handlers(servicer: InferenceServicer) -> dict[str, grpc.RpcMethodHandler]:
    """The service's methods as service_pb2_grpc registers them, but each takes its message as bytes: ModelInfer
    from a client-streaming read (InferenceServicer._receive: timed, scanned before it is built), the unary
    ones through _decoded. ModelStreamInfer (refused unread) keeps protobuf's decoder."""
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    out = {}
    for m in pb.DESCRIPTOR.services_by_name[SERVICE.rsplit(".", 1)[1]].methods:
        streaming = (m.client_streaming, m.server_streaming)
        behavior, message_class = getattr(servicer, m.name), getattr(pb, m.input_type.name)
        deserialize = None
        if m.name == "ModelInfer":
            streaming = (True, False)
        elif streaming == (False, False):
            behavior = _decoded(behavior, message_class)
        else:
            deserialize = message_class.FromString
        out[m.name] = kinds[streaming](
            behavior,
            request_deserializer=deserialize,
            response_serializer=getattr(pb, m.output_type.name).SerializeToString,
        )
    return out


async def start_grpc_server(
    state: ServerState, host: str, port: int, transport: TransportLimits | None = None
) -> tuple[grpc.aio.Server, int]:
    """Starts the service on the running event loop; returns the server and its bound port (port 0: any).

    `transport`: InferenceServer's bounds (its max_connections already the gRPC endpoint's share); None: the
    defaults, capped from RLIMIT_NOFILE."""
    transport = (transport or TransportLimits()).with_default_cap(raise_open_file_limit())
    server = grpc.aio.server(options=grpc_options(state.limits.max_body_bytes, transport))
    handlers = _method_handlers(InferenceServicer(state, transport.body_timeout_s))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    if hasattr(server, "add_registered_method_handlers"):  # grpcio >= 1.63: matched in core, before generic
        server.add_registered_method_handlers(SERVICE, handlers)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as e:
        raise RuntimeError(f"cannot bind the gRPC port {address}: {e}") from None
    if bound == 0:
        raise RuntimeError(f"cannot bind the gRPC port {address}")
    await server.start()
    return server, bound


__all__ = ["InferenceServicer", "grpc_options", "start_grpc_server", "status_code"]
