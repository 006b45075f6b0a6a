"""KServe v2 inference request/response over HTTP/REST: JSON, plus the binary tensor extension.

Server side:
    req = parse_infer_request(body, request.headers.get("Inference-Header-Content-Length"), limits)
    body, headers = encode_infer_response(name, version, req.id, outputs, req.outputs, req.binary_output)
Client side (client.py):
    body, headers = encode_infer_request({"x": x}, outputs=["y"])
    tensors, meta = parse_infer_response(resp.content, resp.headers.get("Inference-Header-Content-Length"))

Wire format matches tritonclient.http 2.73 (tested against it): the JSON header, then, when some tensors
carry `parameters.binary_data_size`, their raw bytes back to back in the order the tensors are listed, with
the header's byte length in the `Inference-Header-Content-Length` HTTP header. Per-tensor work (datatypes,
BYTES, range checks) lives in tensors.py.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import CodecError, InvalidMessage, InvalidResponse, LimitExceeded
from .infer_request import InferRequest, RequestedOutput, TensorCheck, check_output_parameters, select_outputs
from .json_depth import check_json_depth
from .json_numbers import loads_message
from .limits import CLIENT_LIMITS, Limits
from .tensors import (
    JsonText,
    binary_size_of,
    datatype_of,
    decode_binary,
    decode_json,
    element_count,
    json_data,
    json_type,
    numpy_to_kserve,
    pad_header,
    raw_data,
)

HEADER_LENGTH = "Inference-Header-Content-Length"
# Marks where _core's number text goes in an encoded message. Random per process and never sent (it is replaced
# before the message leaves), so no string a client sends (a request id) can pose as one.
_NONCE = secrets.token_hex(8)


MAX_ERROR_CHARS = 1000  # messages quote what the client sent (a name, a datatype): never all of it


def error_body(message: str) -> bytes:
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 15] + "... (truncated)"
    return json.dumps({"error": message}).encode()


# ---------------------------------------------------------------- decoding


def _header_length(value, body_len: int) -> int | None:
    if value is None:
        return None
    try:  # the HTTP header arrives as a string; the app may also pass an int
        n = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        n = -1
    if n <= 0:
        raise InvalidMessage(f"{HEADER_LENGTH} must be a positive integer, got {value!r}")
    if n > body_len:
        raise InvalidMessage(f"{HEADER_LENGTH} is {n} but the body has only {body_len} bytes")
    return n


def _load_header(body, header_length, limits: Limits, what: str) -> tuple[dict, int | None, memoryview]:
    if len(body) > limits.max_body_bytes:
        raise LimitExceeded(f"{what} body is {len(body)} bytes, over the limit of {limits.max_body_bytes}")
    mv = memoryview(body).cast("B")
    hlen = _header_length(header_length, len(mv))
    header = mv[:hlen].tobytes() if hlen is not None else (body if isinstance(body, bytes) else mv.tobytes())
    check_json_depth(header, limits.max_json_depth)
    try:
        doc = loads_message(header)  # large `data` arrays are read by _core, not as Python objects
    except RecursionError:  # belt and braces: check_json_depth should have caught it
        raise InvalidMessage(f"{what} JSON nests too deeply") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        where = f"JSON header ({hlen} bytes)" if hlen is not None else "JSON body"
        raise InvalidMessage(f"{what} {where} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidMessage(f"{what} JSON must be an object, got {json_type(doc)}")
    return doc, hlen, mv


def _params(obj: dict, where: str) -> dict:
    p = obj.get("parameters", {})
    if not isinstance(p, dict):
        raise InvalidMessage(f"{where}: 'parameters' must be a JSON object, got {json_type(p)}")
    return p


def _decode_tensors(
    role: str, entries, mv: memoryview, hlen: int | None, limits: Limits, check: TensorCheck | None = None
) -> dict[str, np.ndarray]:
    """Each entry's tensor from its `data` or from the next binary_data_size bytes after the header.
    `check(name, datatype, shape)` (the server's: the model's declared inputs) runs before any data is decoded."""
    key = role + "s"
    if not isinstance(entries, list):
        raise InvalidMessage(f"'{key}' must be a JSON array, got {json_type(entries)}")
    if len(entries) > limits.max_tensors:
        raise LimitExceeded(f"{len(entries)} {key}, over the limit of {limits.max_tensors}")
    tensors: dict[str, np.ndarray] = {}
    offset, total = (hlen or 0), 0
    for i, t in enumerate(entries):
        if not isinstance(t, dict):
            raise InvalidMessage(f"{key}[{i}] must be a JSON object, got {json_type(t)}")
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidMessage(f"{key}[{i}]: 'name' must be a non-empty string, got {name!r:.60}")
        if name in tensors:
            raise InvalidMessage(f"{role} '{name}' appears more than once")
        for k in ("datatype", "shape"):
            if k not in t:
                raise InvalidMessage(f"{role} '{name}': missing '{k}'")
        datatype = t["datatype"]
        datatype_of(role, name, datatype)
        count = element_count(role, name, t["shape"], limits.max_elements)
        total += count
        if total > limits.max_elements:
            raise LimitExceeded(
                f"{role} '{name}': {key} hold {total} elements in all, over the limit of {limits.max_elements}"
            )
        if check is not None:
            check(name, datatype, t["shape"])  # a tensor the model cannot take costs nothing to refuse
        shape, params = t["shape"], _params(t, f"{role} '{name}'")
        if "shared_memory_region" in params:
            raise InvalidMessage(f"{role} '{name}': the shared-memory extension is not supported; send the data")
        size = params.get("binary_data_size")
        if size is not None:
            if "data" in t:
                raise InvalidMessage(f"{role} '{name}' has both 'data' and parameters.binary_data_size")
            if hlen is None:
                raise InvalidMessage(
                    f"{role} '{name}' declares binary_data_size but there is no {HEADER_LENGTH} "
                    f"header saying where the JSON ends"
                )
            size = binary_size_of(role, name, datatype, count, size)
            if offset + size > len(mv):
                raise InvalidMessage(
                    f"{role} '{name}': binary data truncated: needs {size} bytes at offset "
                    f"{offset - hlen} of the binary section, only {len(mv) - offset} remain"
                )
            tensors[name] = decode_binary(role, name, datatype, shape, count, mv[offset : offset + size], limits)
            offset += size
        elif "data" in t:
            tensors[name] = decode_json(role, name, datatype, shape, count, t["data"], limits)
        else:
            raise InvalidMessage(f"{role} '{name}' has neither 'data' nor parameters.binary_data_size")
    if hlen is not None and offset != len(mv):
        raise InvalidMessage(
            f"{len(mv) - offset} trailing bytes after the binary data of all {key} "
            f"(body {len(mv)} bytes, JSON header {hlen}, binary tensors {offset - hlen})"
        )
    return tensors


def _requested_outputs(doc: dict, limits: Limits) -> list[RequestedOutput] | None:
    outs = doc.get("outputs")
    if outs is None or outs == []:
        return None
    if not isinstance(outs, list):
        raise InvalidMessage(f"'outputs' must be a JSON array, got {json_type(outs)}")
    if len(outs) > limits.max_tensors:
        raise LimitExceeded(f"{len(outs)} requested outputs, over the limit of {limits.max_tensors}")
    result, seen = [], set()
    for i, o in enumerate(outs):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str):
            raise InvalidMessage(f"outputs[{i}] must be a JSON object with a string 'name', got {o!r:.60}")
        name = o["name"]
        if name in seen:
            raise InvalidMessage(f"output '{name}' is requested more than once")
        seen.add(name)
        params = _params(o, f"requested output '{name}'")
        check_output_parameters(name, params)
        binary = params.get("binary_data")
        if binary is not None and not isinstance(binary, bool):
            raise InvalidMessage(f"requested output '{name}': binary_data must be true or false, got {binary!r:.40}")
        result.append(RequestedOutput(name, binary, params))
    return result


def check_infer_header(header: bytes, limits: Limits, check: TensorCheck) -> None:
    """The JSON header of a binary request alone (its tensors' bytes still unread): each input's name, datatype
    and shape are checked (limits, then `check`) as parse_infer_request will check them. Only what can be
    refused early is: a malformed header raises here as it would there."""
    doc, _, _ = _load_header(header, None, limits, "request")
    entries = doc.get("inputs")
    if not isinstance(entries, list):
        return  # parse_infer_request names the problem
    for t in entries[: limits.max_tensors]:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or "datatype" not in t or "shape" not in t:
            continue
        datatype_of("input", t["name"], t["datatype"])
        element_count("input", t["name"], t["shape"], limits.max_elements)
        check(t["name"], t["datatype"], t["shape"])


def parse_infer_request(
    body: bytes, header_length: int | str | None, limits: Limits | None = None, check: TensorCheck | None = None
) -> InferRequest:
    """Decode a POST .../infer body. Raises InvalidMessage / LimitExceeded naming the field or tensor, or what
    `check(name, datatype, shape)` raises for a tensor the model does not take (checked before decoding it)."""
    limits = limits or Limits()
    doc, hlen, mv = _load_header(body, header_length, limits, "request")
    req_id = doc.get("id")
    if req_id is not None and not isinstance(req_id, str):
        raise InvalidMessage(f"request 'id' must be a string, got {json_type(req_id)}")
    params = _params(doc, "request")
    if not isinstance(params.get("binary_data_output", False), bool):
        raise InvalidMessage(
            f"request parameter binary_data_output must be true or false, got {params['binary_data_output']!r:.40}"
        )
    if "inputs" not in doc:
        raise InvalidMessage("request has no 'inputs'")
    outputs = _requested_outputs(doc, limits)  # before the tensors: cheap checks first
    inputs = _decode_tensors("input", doc["inputs"], mv, hlen, limits, check)
    return InferRequest(req_id, inputs, params, outputs)


def parse_infer_response(
    body: bytes, header_length: int | str | None, limits: Limits = CLIENT_LIMITS
) -> tuple[dict[str, np.ndarray], dict]:
    """Client side: a server's response -> (name -> array, response JSON with outputs' `data` removed).

    A response we can't decode is the server's fault, so it raises InvalidResponse (status 502), not 400.
    """
    try:
        doc, hlen, mv = _load_header(body, header_length, limits, "response")
        tensors = _decode_tensors("output", doc.get("outputs", []), mv, hlen, limits)
    except CodecError as e:
        raise InvalidResponse(f"malformed inference response: {e.message}") from None
    meta = dict(doc)
    meta["outputs"] = [{k: v for k, v in o.items() if k != "data"} for o in doc.get("outputs", [])]
    return tensors, meta


# ---------------------------------------------------------------- encoding


def _encode(head: dict, key: str, items) -> tuple[bytes, dict[str, str]]:
    """head + key: [tensor entries]; binary tensors' bytes follow the (padded) JSON header."""
    entries: list[dict] = []
    raws: list = []
    texts: list[JsonText] = []
    for name, arr, binary in items:
        arr = np.asarray(arr)
        entry = {"name": name, "datatype": numpy_to_kserve(arr.dtype), "shape": list(arr.shape)}
        # BYTES that aren't UTF-8 can't be JSON strings: they go binary even when JSON was asked for
        data = None if binary else json_data(arr)
        if data is None:
            raw = raw_data(arr)
            raws.append(raw)
            entry["parameters"] = {"binary_data_size": len(raw)}
        elif isinstance(data, JsonText):
            entry["data"] = f"\0r1:{_NONCE}:{len(texts)}"
            texts.append(data)
        else:
            entry["data"] = data
        entries.append(entry)
    head[key] = entries
    header = json.dumps(head, separators=(",", ":"), allow_nan=False).encode()  # ensure_ascii: len == bytes
    if texts:  # numbers written by _core take the place of their placeholders
        parts = header.split(f'"\\u0000r1:{_NONCE}:'.encode())
        out = [parts[0]]
        for part in parts[1:]:
            k, _, rest = part.partition(b'"')
            out += [texts[int(k)], rest]
        header = b"".join(out)
    if not raws:
        return header, {"Content-Type": "application/json"}
    header = pad_header(header)
    # one copy: join reads the uint8 views of the arrays directly
    return b"".join([header, *raws]), {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}


def encode_infer_response(
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Mapping[str, np.ndarray],
    requested: list[RequestedOutput] | None,
    binary_default: bool,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers (Content-Type, plus Inference-Header-Content-Length when any output is binary)."""
    items = [
        (r.name, arr, binary_default if r.binary is None else r.binary) for r, arr in select_outputs(outputs, requested)
    ]
    head: dict = {"model_name": model_name}
    if model_version is not None:
        head["model_version"] = model_version
    if request_id is not None:
        head["id"] = request_id
    return _encode(head, "outputs", items)


def encode_infer_request(
    inputs: Mapping[str, np.ndarray],
    outputs: Sequence[str | RequestedOutput] | None = None,
    request_id: str | None = None,
    parameters: Mapping | None = None,
    binary: bool = True,
) -> tuple[bytes, dict[str, str]]:
    """Client side: body and headers for POST .../infer. `binary` picks the inputs' encoding and the
    default for outputs (a RequestedOutput's own `binary` wins)."""
    head: dict = {}
    if request_id is not None:
        head["id"] = request_id
    params = dict(parameters or {})
    if outputs:
        head["outputs"] = []
        for o in outputs:
            r = o if isinstance(o, RequestedOutput) else RequestedOutput(o)
            p = dict(r.parameters)
            p["binary_data"] = binary if r.binary is None else r.binary
            head["outputs"].append({"name": r.name, "parameters": p})
    else:
        params.setdefault("binary_data_output", binary)
    if params:
        head["parameters"] = params
    return _encode(head, "inputs", [(name, arr, binary) for name, arr in inputs.items()])
