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
same mapping as HTTP statuses (errors.py), with the same message.
"""

from __future__ import annotations

import functools
import json
import logging

import grpc
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from .. import __version__
from ..kserve import InferRequest
from ..kserve.grpc_codec import encode_model_infer_response, parameters_dict, parse_model_infer_request
from .app import EXTENSIONS, ServerState
from .auth import GRPC_HINT, check_api_key, require_admin
from .errors import BadRequest, NotFound, ServeError, Unauthorized, grpc_code_name, to_serve_error
from .infer_handler import InferHandler
from .repository import check_name

log = logging.getLogger("deepseek_r1.serve")


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
            await context.abort(status_code(err), err.message)  # raises: ends the RPC

        return handler

    return deco


async def _unimplemented(what: str, context) -> None:
    await context.abort(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{what} is not supported by the deepseek_r1 server (use the HTTP /metrics and status page "
        f"for statistics; send tensor data in the request instead of shared memory)",
    )


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, state: ServerState):
        self.state = state
        self.repo = state.repository
        self.handler = InferHandler(state.repository, state.metrics)

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
    @_rpc(infer=True)
    async def ModelInfer(self, request, context, key):
        limits = self.state.limits

        async def parse(mv) -> InferRequest:
            req = parse_model_infer_request(request, limits, mv.check_request_tensor)
            remaining = context.time_remaining()
            if "timeout" not in req.parameters and remaining is not None and remaining < 1e9:
                # the client's deadline bounds the queue wait too: no work for an answer nobody will read
                req.parameters["timeout"] = max(1, int(remaining * 1e6))
            return req

        def encode(mv, req, outputs):
            return encode_model_infer_response(mv.name, mv.version, req.id, outputs, req.outputs)

        async def disconnected() -> bool:
            return context.cancelled()

        return await self.handler.infer(
            request.model_name, request.model_version or None, parse, encode, key, disconnected
        )

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


async def start_grpc_server(state: ServerState, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """Starts the service on the running event loop; returns the server and its bound port (port 0: any)."""
    options = [
        ("grpc.max_receive_message_length", state.limits.max_body_bytes),
        ("grpc.max_send_message_length", -1),
        # a second server on a taken port must fail, not silently share it (grpc's Linux default)
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.aio.server(options=options)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(state), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as e:
        raise RuntimeError(f"cannot bind the gRPC port {address}: {e}") from None
    if bound == 0:
        raise RuntimeError(f"cannot bind the gRPC port {address}")
    await server.start()
    return server, bound


__all__ = ["InferenceServicer", "start_grpc_server", "status_code"]
