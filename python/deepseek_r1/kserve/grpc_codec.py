"""KServe v2 inference messages over gRPC: `inference.ModelInferRequest` -> InferRequest -> ModelInferResponse.

    req = parse_model_infer_request(request, limits)             # inputs raw (zero-copy views) or typed contents
    resp = encode_model_infer_response(name, version, req.id, outputs, req.outputs)

The protobuf classes are the ones tritonclient ships (`tritonclient[grpc]`, the `[grpc]` extra), so the wire format
is by construction the one its clients send. Outputs always travel in `raw_output_contents`.
"""

from __future__ import annotations

import numpy as np
from tritonclient.grpc import service_pb2 as pb

from ..dtypes import GRPC_CONTENTS_FIELD, KSERVE_TO_NUMPY
from .errors import InvalidMessage, LimitExceeded
from .infer_request import InferRequest, RequestedOutput, TensorCheck, check_output_parameters, select_outputs
from .limits import Limits
from .tensors import datatype_of, decode_binary, element_count, numpy_to_kserve, raw_data

_ALL_CONTENTS = tuple(sorted(set(GRPC_CONTENTS_FIELD.values())))


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
    field = GRPC_CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidMessage(f"input '{name}': {datatype} has no typed contents field; send it in raw_input_contents")
    stray = [f for f in _ALL_CONTENTS if f != field and len(getattr(contents, f))]
    if stray:
        raise InvalidMessage(f"input '{name}' is {datatype} (carried in contents.{field}) but sets contents.{stray[0]}")
    values = getattr(contents, field)
    if len(values) != count:
        raise InvalidMessage(
            f"input '{name}': shape {shape} needs {count} elements, contents.{field} has {len(values)}"
        )
    dt = KSERVE_TO_NUMPY[datatype]
    if datatype == "BYTES":
        arr = np.empty(count, dtype=object)
        for i, v in enumerate(values):
            if len(v) > limits.max_bytes_element:
                raise LimitExceeded(
                    f"input '{name}': BYTES element {i} is {len(v)} bytes, over the limit of {limits.max_bytes_element}"
                )
            arr[i] = v
        return arr.reshape(shape)
    if field in ("int_contents", "uint_contents") and count:
        wide = np.array(values, dtype=np.int64)  # int32/uint32 on the wire; narrower dtypes need a range check
        info = np.iinfo(dt)
        lo, hi = wide.min(), wide.max()
        if lo < info.min or hi > info.max:
            raise InvalidMessage(
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
            raise InvalidMessage(
                f"input '{name}': raw_input_contents[{index}] has {len(raw)} bytes but shape {shape} "
                f"of {datatype} needs {need}"
            )
    elif len(raw) < 4 * count:
        raise InvalidMessage(
            f"input '{name}': raw_input_contents[{index}] has {len(raw)} bytes, too few for {count} "
            f"BYTES elements (each needs a 4-byte length prefix)"
        )
    # zero-copy: a read-only view of the message's bytes (copied only when misaligned or BYTES)
    return decode_binary("input", name, datatype, shape, count, memoryview(raw), limits)


def parse_model_infer_request(
    request: pb.ModelInferRequest, limits: Limits, check: TensorCheck | None = None
) -> InferRequest:
    """Raises InvalidMessage / LimitExceeded naming the tensor, as http_codec.parse_infer_request does for HTTP
    (and what `check(name, datatype, shape)` raises, before the tensor is decoded)."""
    if len(request.inputs) > limits.max_tensors:
        raise LimitExceeded(f"{len(request.inputs)} inputs, over the limit of {limits.max_tensors}")
    if len(request.outputs) > limits.max_tensors:
        raise LimitExceeded(f"{len(request.outputs)} requested outputs, over the limit of {limits.max_tensors}")
    raws = request.raw_input_contents
    if raws and len(raws) != len(request.inputs):
        raise InvalidMessage(
            f"raw_input_contents has {len(raws)} entries for {len(request.inputs)} inputs: send every "
            f"input raw, or none"
        )
    inputs: dict[str, np.ndarray] = {}
    total = 0
    for i, t in enumerate(request.inputs):
        name = t.name
        if not name:
            raise InvalidMessage(f"inputs[{i}]: 'name' must be a non-empty string")
        if name in inputs:
            raise InvalidMessage(f"input '{name}' appears more than once")
        datatype_of("input", name, t.datatype)
        shape = list(t.shape)
        count = element_count("input", name, shape, limits.max_elements)
        total += count
        if total > limits.max_elements:
            raise LimitExceeded(
                f"input '{name}': inputs hold {total} elements in all, over the limit of {limits.max_elements}"
            )
        if check is not None:
            check(name, t.datatype, shape)
        if "shared_memory_region" in t.parameters:
            raise InvalidMessage(f"input '{name}': the shared-memory extension is not supported; send the data")
        has_typed = any(len(getattr(t.contents, f)) for f in _ALL_CONTENTS)
        if raws:
            if has_typed:
                raise InvalidMessage(f"input '{name}' has both typed contents and raw_input_contents[{i}]")
            inputs[name] = _raw_contents(name, t.datatype, shape, count, raws[i], i, limits)
        elif has_typed:
            inputs[name] = _typed_contents(name, t.datatype, shape, count, t.contents, limits)
        elif count == 0:
            inputs[name] = np.empty(shape, dtype=KSERVE_TO_NUMPY[t.datatype])
        else:
            raise InvalidMessage(f"input '{name}' has no data: set its contents or raw_input_contents")
    outputs: list[RequestedOutput] | None = None
    if request.outputs:
        outputs, seen = [], set()
        for o in request.outputs:
            if o.name in seen:
                raise InvalidMessage(f"output '{o.name}' is requested more than once")
            seen.add(o.name)
            params = parameters_dict(o.parameters)
            check_output_parameters(o.name, params)
            outputs.append(RequestedOutput(o.name, True, params))
    return InferRequest(request.id or None, inputs, parameters_dict(request.parameters), outputs)


def encode_model_infer_response(
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: dict[str, np.ndarray],
    requested: list[RequestedOutput] | None,
) -> pb.ModelInferResponse:
    resp = pb.ModelInferResponse(model_name=model_name, model_version=model_version, id=request_id or "")
    for r, arr in select_outputs(outputs, requested):
        arr = np.asarray(arr)
        resp.outputs.add(name=r.name, datatype=numpy_to_kserve(arr.dtype), shape=arr.shape)
        raw = raw_data(arr)
        resp.raw_output_contents.append(raw if isinstance(raw, bytes) else raw.tobytes())
    return resp
