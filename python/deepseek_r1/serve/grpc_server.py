"""The optional gRPC endpoint: KServe v2 `inference.GRPCInferenceService`, as tritonclient.grpc speaks it.

    server, port = await start_grpc_server(state, "127.0.0.1", 0)     # on the event loop that serves HTTP
    r1.InferenceServer(repository="repo/", grpc_port=8001).run(port=8080)   # what users write

The `[grpc]` extra: needs `grpcio` and `tritonclient[grpc]` (we serve the service_pb2 / service_pb2_grpc
classes tritonclient ships, so the wire format is by construction the one its clients send). server.py imports
this module only when a gRPC port is asked for.

Same core as HTTP: ModelInfer goes through InferenceCore (admission for hot reload, priority and timeout
parameters, the batcher, metrics), the same API keys (metadata `authorization: Bearer <key>`; health RPCs are
public) and the same limits (message size = Limits.max_body_bytes, tensor/element counts). Outputs always travel
in `raw_output_contents`; inputs may come raw (zero-copy views) or in the typed `contents` fields. ServeError
statuses become gRPC status codes with the same message.
"""

from __future__ import annotations

import functools
import json
import logging

import grpc
import numpy as np
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from .. import __version__
from .app import EXTENSIONS, ServerState
from .auth import GRPC_HINT, check_api_key
from .errors import BadRequest, NotFound, PayloadTooLarge, ServeError, Unauthorized
from .inference import InferenceCore
from .protocol import InferRequest, RequestedOutput
from .protocol_tensors import (
    KSERVE_TO_NUMPY,
    Limits,
    datatype_of,
    decode_binary,
    element_count,
    numpy_to_kserve,
    raw_data,
)
from .repository import check_name

log = logging.getLogger("deepseek_r1.serve")

_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    # 413 like the transport's own "message larger than max": both mean "send less"
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

# datatype -> the typed InferTensorContents field that may carry it (FP16/BF16 have none: raw only).
_CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_ALL_CONTENTS = tuple(sorted(set(_CONTENTS_FIELD.values())))
_UNSUPPORTED_PARAMS = ("shared_memory_region", "classification")


def status_code(e: ServeError) -> grpc.StatusCode:
    return _CODES.get(e.status, grpc.StatusCode.INTERNAL)


def parameters_dict(params) -> dict:
    """map<string, InferParameter> -> {name: int | str | bool | float} (the oneof that is set)."""
    out = {}
    for k, p in params.items():
        which = p.WhichOneof("parameter_choice")
        if which is not None:
            out[k] = getattr(p, which)
    return out


# ---------------------------------------------------------------- ModelInferRequest -> InferRequest


def _typed_contents(name: str, datatype: str, shape: list, count: int, contents, limits: Limits) -> np.ndarray:
    field = _CONTENTS_FIELD.get(datatype)
    if field is None:
        raise BadRequest(f"input '{name}': {datatype} has no typed contents field; send it in raw_input_contents")
    stray = [f for f in _ALL_CONTENTS if f != field and len(getattr(contents, f))]
    if stray:
        raise BadRequest(f"input '{name}' is {datatype} (carried in contents.{field}) but sets contents.{stray[0]}")
    values = getattr(contents, field)
    if len(values) != count:
        raise BadRequest(f"input '{name}': shape {shape} needs {count} elements, contents.{field} has {len(values)}")
    dt = KSERVE_TO_NUMPY[datatype]
    if datatype == "BYTES":
        arr = np.empty(count, dtype=object)
        for i, v in enumerate(values):
            if len(v) > limits.max_bytes_element:
                raise PayloadTooLarge(
                    f"input '{name}': BYTES element {i} is {len(v)} bytes, over the limit of {limits.max_bytes_element}"
                )
            arr[i] = v
        return arr.reshape(shape)
    if field in ("int_contents", "uint_contents") and count:
        wide = np.array(values, dtype=np.int64)  # int32/uint32 on the wire; narrower dtypes need a range check
        info = np.iinfo(dt)
        lo, hi = wide.min(), wide.max()
        if lo < info.min or hi > info.max:
            raise BadRequest(
                f"input '{name}': value {int(lo if lo < info.min else hi)} is out of range for "
                f"{datatype} [{info.min}, {info.max}]"
            )
        return wide.astype(dt).reshape(shape)
    return np.array(values, dtype=dt).reshape(shape)


def _raw_contents(
    name: str, datatype: str, shape: list, count: int, raw: bytes, index: int, limits: Limits
) -> np.ndarray:
    if datatype != "BYTES":
        need = count * KSERVE_TO_NUMPY[datatype].itemsize
        if len(raw) != need:
            raise BadRequest(
                f"input '{name}': raw_input_contents[{index}] has {len(raw)} bytes but shape {shape} "
                f"of {datatype} needs {need}"
            )
    elif len(raw) < 4 * count:
        raise BadRequest(
            f"input '{name}': raw_input_contents[{index}] has {len(raw)} bytes, too few for {count} "
            f"BYTES elements (each needs a 4-byte length prefix)"
        )
    # zero-copy: a read-only view of the message's bytes (copied only when misaligned or BYTES)
    return decode_binary("input", name, datatype, shape, count, memoryview(raw), limits)


def parse_model_infer_request(request: pb.ModelInferRequest, limits: Limits) -> InferRequest:
    """Raises BadRequest / PayloadTooLarge naming the tensor, as protocol.parse_infer_request does for HTTP."""
    if len(request.inputs) > limits.max_tensors:
        raise PayloadTooLarge(f"{len(request.inputs)} inputs, over the limit of {limits.max_tensors}")
    if len(request.outputs) > limits.max_tensors:
        raise PayloadTooLarge(f"{len(request.outputs)} requested outputs, over the limit of {limits.max_tensors}")
    raws = request.raw_input_contents
    if raws and len(raws) != len(request.inputs):
        raise BadRequest(
            f"raw_input_contents has {len(raws)} entries for {len(request.inputs)} inputs: send every "
            f"input raw, or none"
        )
    inputs: dict[str, np.ndarray] = {}
    total = 0
    for i, t in enumerate(request.inputs):
        name = t.name
        if not name:
            raise BadRequest(f"inputs[{i}]: 'name' must be a non-empty string")
        if name in inputs:
            raise BadRequest(f"input '{name}' appears more than once")
        datatype_of("input", name, t.datatype)
        shape = list(t.shape)
        count = element_count("input", name, shape, limits.max_elements)
        total += count
        if total > limits.max_elements:
            raise PayloadTooLarge(
                f"input '{name}': inputs hold {total} elements in all, over the limit of {limits.max_elements}"
            )
        if "shared_memory_region" in t.parameters:
            raise BadRequest(f"input '{name}': the shared-memory extension is not supported; send the data")
        has_typed = any(len(getattr(t.contents, f)) for f in _ALL_CONTENTS)
        if raws:
            if has_typed:
                raise BadRequest(f"input '{name}' has both typed contents and raw_input_contents[{i}]")
            inputs[name] = _raw_contents(name, t.datatype, shape, count, raws[i], i, limits)
        elif has_typed:
            inputs[name] = _typed_contents(name, t.datatype, shape, count, t.contents, limits)
        elif count == 0:
            inputs[name] = np.empty(shape, dtype=KSERVE_TO_NUMPY[t.datatype])
        else:
            raise BadRequest(f"input '{name}' has no data: set its contents or raw_input_contents")
    outputs: list[RequestedOutput] | None = None
    if request.outputs:
        outputs, seen = [], set()
        for o in request.outputs:
            if o.name in seen:
                raise BadRequest(f"output '{o.name}' is requested more than once")
            seen.add(o.name)
            params = parameters_dict(o.parameters)
            for k in _UNSUPPORTED_PARAMS:
                if params.get(k):
                    raise BadRequest(
                        f"requested output '{o.name}': parameter '{k}' (a Triton extension) is not supported"
                    )
            outputs.append(RequestedOutput(o.name, True, params))
    return InferRequest(request.id or None, inputs, parameters_dict(request.parameters), outputs)


def encode_model_infer_response(
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: dict[str, np.ndarray],
    requested: list[RequestedOutput] | None,
) -> pb.ModelInferResponse:
    if requested is None:
        items = list(outputs.items())
    else:
        items = []
        for r in requested:
            if r.name not in outputs:
                raise BadRequest(f"requested output '{r.name}' does not exist; available: {sorted(outputs)}")
            items.append((r.name, outputs[r.name]))
    resp = pb.ModelInferResponse(model_name=model_name, model_version=model_version, id=request_id or "")
    for name, arr in items:
        arr = np.asarray(arr)
        resp.outputs.add(name=name, datatype=numpy_to_kserve(arr.dtype), shape=arr.shape)
        raw = raw_data(arr)
        resp.raw_output_contents.append(raw if isinstance(raw, bytes) else raw.tobytes())
    return resp


# ---------------------------------------------------------------- the service


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
            except ServeError as e:
                err = e
            except Exception as e:  # a bug must not take the server down; say what happened
                log.exception("unhandled error in gRPC %s", fn.__name__)
                err = ServeError(f"internal error: {type(e).__name__}: {e}")
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
        self.core = InferenceCore(state.repository, state.metrics)

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

        async def parse() -> InferRequest:
            req = parse_model_infer_request(request, limits)
            remaining = context.time_remaining()
            if "timeout" not in req.parameters and remaining is not None and remaining < 1e9:
                # the client's deadline bounds the queue wait too: no work for an answer nobody will read
                req.parameters["timeout"] = max(1, int(remaining * 1e6))
            return req

        def encode(mv, req, outputs):
            return encode_model_infer_response(mv.name, mv.version, req.id, outputs, req.outputs)

        async def disconnected() -> bool:
            return context.cancelled()

        return await self.core.infer(
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


__all__ = [
    "InferenceServicer",
    "encode_model_infer_response",
    "parse_model_infer_request",
    "start_grpc_server",
    "status_code",
]
