"""A look at a serialized `inference.ModelInferRequest` before protobuf builds it: what it would cost, refused early.

    name, version = model_of(raw, limits)               # the top-level fields only
    scan_model_infer_request(raw, limits, check)        # then pb.ModelInferRequest.FromString(raw) is bounded

Why: protobuf (upb) builds every element a message holds before any of our checks can run, and the cheapest
elements on the wire are the costliest in memory. 64 MiB of empty `bytes_contents` is 31 million elements:
upb takes 0.65 s and 1 GiB to build them (a server peaked at 3.2 GiB over three such requests) only for
check_request_tensor to refuse the tensor as soon as it can see it. The same holds for millions of `inputs`,
`outputs` or parameter map entries, a `shape` of millions of dims, and packed varints (1 byte on the wire, 8
in memory). This walks the wire format (a few steps per tensor, one per BYTES element) and applies the checks
parse_model_infer_request applies, before anything is built, so upb never builds more elements than the tensor
headers declare and the model accepts: the same limits, the model's declared inputs, and contents that hold at
most the elements their shape declares. grpc_codec.parse_model_infer_request still checks everything after.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from google.protobuf.descriptor import FieldDescriptor
from tritonclient.grpc import service_pb2 as pb

from .errors import InvalidMessage, LimitExceeded
from .infer_request import TensorCheck
from .limits import Limits
from .tensors import datatype_of, element_count

MAX_RANK = 64  # no model has more dims; an unbounded shape is millions of Python ints in messages about it
MAX_PARAMETERS = 256  # parameter map entries per message: a map of millions is millions of objects
# Bytes on the wire per element of each InferTensorContents field, from the descriptor (so a field added to
# the proto is counted too): 0 for varints, counted by their terminating bytes; None for bytes_contents.
_FIXED = {FieldDescriptor.TYPE_FLOAT: 4, FieldDescriptor.TYPE_DOUBLE: 8, FieldDescriptor.TYPE_BYTES: None}
_CONTENTS = {f.number: _FIXED.get(f.type, 0) for f in pb.InferTensorContents.DESCRIPTOR.fields}
_REQUEST = {f.name: f.number for f in pb.ModelInferRequest.DESCRIPTOR.fields}
_INPUT = {f.name: f.number for f in pb.ModelInferRequest.InferInputTensor.DESCRIPTOR.fields}
_LENGTH_DELIMITED = 2


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while shift < 70:
        b = buf[i]  # IndexError past the end: the caller's "truncated"
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7
    raise InvalidMessage("the request is not a valid ModelInferRequest (a varint longer than 10 bytes)")


def _fields(buf: bytes, start: int, end: int, limit: int, what: str) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) for each field of the message in buf[start:end]."""
    i, n = start, 0
    while i < end:
        n += 1
        if n > limit:
            raise LimitExceeded(f"{what} has more than {limit} fields")
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            j = _varint(buf, i)[1]
        elif wire == 1:
            j = i + 8
        elif wire == _LENGTH_DELIMITED:
            length, i = _varint(buf, i)
            j = i + length
        elif wire == 5:
            j = i + 4
        else:  # groups (3, 4): deprecated, in no KServe message; refused rather than walked
            raise InvalidMessage(f"{what}: wire type {wire} (a group) is not valid in a ModelInferRequest")
        if j > end:
            raise InvalidMessage(f"{what} is truncated")
        yield key >> 3, wire, i, j
        i = j


def _text(buf: bytes, s: int, e: int, what: str) -> str:
    try:
        return buf[s:e].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage(f"{what} is not valid UTF-8") from None


def _top_fields(limits: Limits) -> int:
    return 3 * limits.max_tensors + MAX_PARAMETERS + 8  # inputs, outputs and raw contents; parameters; scalars


def model_of(raw: bytes, limits: Limits) -> tuple[str, str]:
    """The model name and version of a serialized request (the last of each, as protobuf reads them)."""
    name = version = ""
    try:
        for number, wire, s, e in _fields(raw, 0, len(raw), _top_fields(limits), "the request"):
            if number == _REQUEST["model_name"] and wire == _LENGTH_DELIMITED:
                name = _text(raw, s, e, "model_name")
            elif number == _REQUEST["model_version"] and wire == _LENGTH_DELIMITED:
                version = _text(raw, s, e, "model_version")
    except IndexError:
        raise InvalidMessage("the request is truncated") from None
    return name, version


def scan_model_infer_request(raw: bytes, limits: Limits, check: TensorCheck | None = None) -> None:
    """Raises InvalidMessage / LimitExceeded (and what `check(name, datatype, shape)` raises) for a request that
    would build more than its tensor headers declare, or headers parse_model_infer_request would refuse."""
    total = 0
    try:
        for number, wire, s, e in _fields(raw, 0, len(raw), _top_fields(limits), "the request"):
            if wire != _LENGTH_DELIMITED:
                continue
            if number == _REQUEST["inputs"]:
                total += _scan_input(raw, s, e, limits, check)
                if total > limits.max_elements:
                    raise LimitExceeded(f"inputs hold more than the limit of {limits.max_elements} elements in all")
            elif number == _REQUEST["outputs"]:
                for _ in _fields(raw, s, e, MAX_PARAMETERS + 8, "a requested output"):
                    pass
    except IndexError:
        raise InvalidMessage("the request is truncated") from None


def _scan_input(buf: bytes, start: int, end: int, limits: Limits, check: TensorCheck | None) -> int:
    name = datatype = ""
    shape: list[int] = []
    contents: list[tuple[int, int]] = []
    for number, wire, s, e in _fields(buf, start, end, MAX_RANK + MAX_PARAMETERS + 8, "an input"):
        if number == _INPUT["name"] and wire == _LENGTH_DELIMITED:
            name = _text(buf, s, e, "an input's name")
        elif number == _INPUT["datatype"] and wire == _LENGTH_DELIMITED:
            datatype = _text(buf, s, e, "an input's datatype")[:64]
        elif number == _INPUT["shape"]:
            if wire == _LENGTH_DELIMITED:  # packed, as every encoder writes it
                if e - s > 10 * MAX_RANK:
                    raise LimitExceeded(f"input '{name[:80]}': shape has more than {MAX_RANK} dims")
                while s < e:
                    dim, s = _varint(buf, s)
                    shape.append(dim - (1 << 64) if dim >> 63 else dim)  # int64: two's complement
            elif wire == 0:
                dim = _varint(buf, s)[0]
                shape.append(dim - (1 << 64) if dim >> 63 else dim)
            if len(shape) > MAX_RANK:
                raise LimitExceeded(f"input '{name[:80]}': shape has more than {MAX_RANK} dims")
        elif number == _INPUT["contents"] and wire == _LENGTH_DELIMITED:
            contents.append((s, e))  # a message field seen twice is merged: count every occurrence
    if not name:
        raise InvalidMessage("an input has no 'name'")
    datatype_of("input", name[:80], datatype)
    count = element_count("input", name[:80], shape, limits.max_elements)
    if check is not None:
        check(name, datatype, shape)
    held = 0
    for s, e in contents:
        for number, wire, fs, fe in _fields(buf, s, e, count + 8, f"input '{name[:80]}' contents"):
            width = _CONTENTS.get(number)
            if wire != _LENGTH_DELIMITED or width is None:
                held += 1  # one scalar, one bytes_contents element, or an unknown field (kept as raw bytes)
            elif width:
                held += (fe - fs) // width
            else:  # packed varints: one terminating byte (high bit clear) each
                held += int(np.count_nonzero(np.frombuffer(buf, np.uint8, fe - fs, fs) < 0x80))
            if held > count:
                raise InvalidMessage(
                    f"input '{name[:80]}': contents hold more than the {count} elements of shape {shape}"
                )
    return count


__all__ = ["MAX_PARAMETERS", "MAX_RANK", "model_of", "scan_model_infer_request"]
