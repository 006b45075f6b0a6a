"""One KServe v2 tensor to and from JSON `data` or raw binary bytes: datatypes, element counts, BYTES, ranges.

http_codec.py and grpc_codec.py build whole messages out of these. Everything here works on a single tensor and
raises InvalidMessage / LimitExceeded with a message that starts with the tensor's role and name
("input 'x': ..."), so a client can tell which of its tensors is wrong.

Wire facts (as tritonclient.http 2.73 speaks them): raw tensors are little-endian, row-major, no padding;
BF16 travels as raw 2-byte values; BYTES binary is repeated (uint32 LE length, bytes).
"""

from __future__ import annotations

import struct
import sys

import numpy as np

from .. import _core
from ..dtypes import KSERVE_TO_NUMPY, NUMPY_TO_KSERVE
from .errors import InvalidMessage, LimitExceeded
from .json_numbers import JsonData
from .limits import Limits

# np.frombuffer with native dtypes is only the wire's little-endian layout on little-endian hosts.
assert sys.byteorder == "little", "the KServe binary codec assumes a little-endian host"

_U32 = struct.Struct("<I")
HEADER_ALIGN = 64  # our encoders pad the JSON header so the first raw tensor starts aligned


def numpy_to_kserve(dtype) -> str:
    dt = np.dtype(dtype)
    if dt.kind in "SU":  # fixed-width numpy strings are sent as BYTES, like tritonclient does for 'S'
        return "BYTES"
    try:
        return NUMPY_TO_KSERVE[dt]
    except KeyError:
        raise InvalidMessage(
            f"numpy dtype {dt} has no KServe datatype; supported: {', '.join(str(d) for d in NUMPY_TO_KSERVE)}"
        ) from None


def datatype_of(role: str, name: str, datatype) -> np.dtype:
    if not isinstance(datatype, str) or datatype not in KSERVE_TO_NUMPY:
        raise InvalidMessage(
            f"{role} '{name}': unknown datatype {datatype!r}; expected one of {', '.join(KSERVE_TO_NUMPY)}"
        )
    return KSERVE_TO_NUMPY[datatype]


def element_count(role: str, name: str, shape, limit: int) -> int:
    """prod(shape), checked before anything is allocated so a declared [2**40] can't cost memory."""
    if not isinstance(shape, list):
        raise InvalidMessage(f"{role} '{name}': 'shape' must be a JSON array of integers, got {json_type(shape)}")
    count = 1
    for d in shape:
        # bool is an int subclass in Python, but `true` is not a dimension
        if not isinstance(d, int) or isinstance(d, bool):
            raise InvalidMessage(f"{role} '{name}': shape {shape} has a non-integer dimension {d!r}")
        if d < 0:
            raise InvalidMessage(f"{role} '{name}': shape {shape} has a negative dimension {d}")
        count *= d
        if count > limit:  # Python ints don't overflow, but checking per dim keeps the product small
            raise LimitExceeded(f"{role} '{name}': shape {shape} has more than the limit of {limit} elements")
    return count


def json_type(v) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }.get(type(v), type(v).__name__)


# ---------------------------------------------------------------- BYTES


def encode_bytes_tensor(arr) -> bytes:
    """Elements (bytes/str, row-major) as repeated uint32-LE length + data, like tritonclient."""
    parts = []
    for i, v in enumerate(np.asarray(arr, dtype=object).reshape(-1)):
        if isinstance(v, (str, np.str_)):
            v = v.encode("utf-8")
        elif not isinstance(v, (bytes, bytearray, memoryview)):
            raise InvalidMessage(f"BYTES element {i} is {type(v).__name__}; expected bytes or str")
        parts.append(_U32.pack(len(v)))
        parts.append(v)
    return b"".join(parts)


def decode_bytes_tensor(
    buf, count: int, *, role: str = "tensor", name: str = "", max_element: int = 16 << 20
) -> np.ndarray:
    """Exactly `count` length-prefixed elements filling all of `buf` -> 1-D object array of bytes."""
    mv = memoryview(buf).cast("B")
    n, off = len(mv), 0
    out = np.empty(count, dtype=object)
    for i in range(count):
        if off + 4 > n:
            raise InvalidMessage(
                f"{role} '{name}': BYTES data truncated: element {i} of {count} has no 4-byte "
                f"length prefix ({n - off} bytes left)"
            )
        (length,) = _U32.unpack_from(mv, off)
        off += 4
        if length > max_element:
            raise LimitExceeded(
                f"{role} '{name}': BYTES element {i} is {length} bytes, over the limit of {max_element}"
            )
        if off + length > n:
            raise InvalidMessage(
                f"{role} '{name}': BYTES data truncated: element {i} declares {length} bytes but only {n - off} remain"
            )
        out[i] = bytes(mv[off : off + length])
        off += length
    if off != n:
        raise InvalidMessage(f"{role} '{name}': BYTES data has {n - off} trailing bytes after {count} elements")
    return out


# ---------------------------------------------------------------- decode one tensor


def binary_size_of(role: str, name: str, datatype: str, count: int, size) -> int:
    """Validate a declared binary_data_size against shape x datatype before touching the body."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidMessage(f"{role} '{name}': binary_data_size must be a non-negative integer, got {size!r}")
    if datatype == "BYTES":
        if size < 4 * count:
            raise InvalidMessage(
                f"{role} '{name}': binary_data_size {size} is too small for {count} BYTES elements "
                f"(each needs a 4-byte length prefix)"
            )
    elif size != count * KSERVE_TO_NUMPY[datatype].itemsize:
        raise InvalidMessage(
            f"{role} '{name}': binary_data_size is {size} bytes but {count} {datatype} elements "
            f"need {count * KSERVE_TO_NUMPY[datatype].itemsize}"
        )
    return size


def decode_binary(
    role: str, name: str, datatype: str, shape: list, count: int, raw: memoryview, limits: Limits
) -> np.ndarray:
    if datatype == "BYTES":
        return decode_bytes_tensor(raw, count, role=role, name=name, max_element=limits.max_bytes_element).reshape(
            shape
        )
    dt = KSERVE_TO_NUMPY[datatype]
    arr = np.frombuffer(raw, dtype=dt).reshape(shape)  # zero-copy, read-only view of the body
    if not arr.flags.aligned:
        # The engine wraps the array's pointer as-is (numpy_bridge.cc ExternalBuffer); a misaligned float*
        # is UB in C++ and faults under aligned SIMD loads. Our encoders align the first tensor; others copy.
        arr = arr.copy()
    if datatype == "BOOL" and arr.size and arr.view(np.uint8).max() > 1:
        raise InvalidMessage(f"{role} '{name}': BOOL data has bytes other than 0 and 1")
    return arr


def _flatten_strings(role: str, name: str, data: list, out: list, max_element: int) -> None:
    for v in data:
        if isinstance(v, list):
            _flatten_strings(role, name, v, out, max_element)  # depth already bounded by check_json_depth
        elif isinstance(v, str):
            b = v.encode("utf-8", "surrogatepass")
            if len(b) > max_element:
                raise LimitExceeded(
                    f"{role} '{name}': BYTES element {len(out)} is {len(b)} bytes, over the limit of {max_element}"
                )
            out.append(b)
        else:
            raise InvalidMessage(f"{role} '{name}': BYTES data must hold strings, got a {json_type(v)} ({v!r:.40})")


def decode_json(role: str, name: str, datatype: str, shape: list, count: int, data, limits: Limits) -> np.ndarray:
    """`data` as flat or nested JSON lists (or a JsonData of a large message) -> array; integer ranges and float
    overflow are checked."""
    src = None
    if isinstance(data, JsonData):
        parsed = data.numbers() if datatype != "BYTES" else None
        if parsed is None:
            data = data.load()  # strings (BYTES), integers past 64 bits: as json.loads reads them
        else:
            src, _ = parsed  # the nesting is not checked against the shape, as with a list: only the count
            if datatype == "UINT64" and src.dtype.kind == "f":
                data = data.load()
    if src is None and not isinstance(data, list):
        raise InvalidMessage(f"{role} '{name}': 'data' must be a JSON array, got {json_type(data)}")
    if datatype == "BYTES":
        flat: list = []
        _flatten_strings(role, name, data, flat, limits.max_bytes_element)
        if len(flat) != count:
            raise InvalidMessage(f"{role} '{name}': shape {shape} needs {count} elements, 'data' has {len(flat)}")
        arr = np.empty(count, dtype=object)
        arr[:] = flat
        return arr.reshape(shape)
    if src is None:
        try:
            # numpy does the flattening at C speed and refuses ragged nesting (numpy >= 1.24)
            src = np.asarray(data)
        except (ValueError, OverflowError) as e:
            raise InvalidMessage(f"{role} '{name}': 'data' is ragged or not numeric ({e})") from None
    if src.size != count:
        raise InvalidMessage(f"{role} '{name}': shape {shape} needs {count} elements, 'data' has {src.size}")
    dt = KSERVE_TO_NUMPY[datatype]
    if count == 0:
        return np.empty(shape, dtype=dt)
    kind = src.dtype.kind
    if datatype == "BOOL":
        if kind != "b":
            raise InvalidMessage(f"{role} '{name}': BOOL data must be true/false, got {_describe(src)}")
    elif dt.kind in "iu":
        # float kind also covers ints mixed with floats and int64/uint64 mixes numpy widened to float64
        if kind in "fO" and datatype == "UINT64":
            src = _uint64_from_json(role, name, data)  # numpy widens [2**63, 0] to float64 (lossy)
        elif kind not in "iu":
            raise InvalidMessage(f"{role} '{name}': {datatype} data must be integers, got {_describe(src)}")
        info = np.iinfo(dt)
        lo, hi = src.min(), src.max()
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise InvalidMessage(
                f"{role} '{name}': value {int(bad)} is out of range for {datatype} [{info.min}, {info.max}]"
            )
    elif kind in "UO" and datatype in ("FP16", "BF16", "FP32", "FP64"):
        src = _floats_with_non_finite(role, name, datatype, data, src)  # "NaN", "Infinity", "-Infinity" as strings
    elif kind not in "iuf":
        raise InvalidMessage(f"{role} '{name}': {datatype} data must be numbers, got {_describe(src)}")
    with np.errstate(over="ignore", invalid="ignore"):
        arr = src.astype(dt, copy=False)  # no second copy when the wire type is already the model's
        if dt.kind == "f" and (np.isinf(arr.astype(np.float64)) & np.isfinite(src)).any():
            raise InvalidMessage(
                f"{role} '{name}': a finite value overflows {datatype} (max {float(np.finfo(dt).max)})"
            )
    return arr.reshape(shape)


def _flatten(data: list, out: list) -> None:
    """Nested lists' leaves into `out` (module-level: a recursive closure would be a reference cycle). The
    nesting is already bounded by check_json_depth."""
    for x in data:
        if isinstance(x, list):
            _flatten(x, out)
        else:
            out.append(x)


_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _floats_with_non_finite(role: str, name: str, datatype: str, data: list, src: np.ndarray) -> np.ndarray:
    """Float data holding the strings JSON writers use for non-finite values (ours does: json_data)."""
    flat: list = []
    _flatten(data, flat)
    for i, v in enumerate(flat):
        if isinstance(v, str) and v in _NON_FINITE:
            flat[i] = _NON_FINITE[v]
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InvalidMessage(
                f"{role} '{name}': {datatype} data must be numbers, got {_describe(src)} "
                f'(the strings "NaN", "Infinity" and "-Infinity" stand for the non-finite values)'
            )
    return np.array(flat, dtype=np.float64)


def _uint64_from_json(role: str, name: str, data: list) -> np.ndarray:
    """Re-read values numpy couldn't type as one integer dtype; a Python pass, only on this rare path."""
    flat: list = []
    _flatten(data, flat)
    if not all(type(v) is int for v in flat):
        raise InvalidMessage(
            f"{role} '{name}': UINT64 data must be integers, got {_describe(np.asarray(flat, object))}"
        )
    try:
        return np.array(flat, dtype=np.uint64)
    except OverflowError:
        bad = next(v for v in flat if not 0 <= v < 1 << 64)
        raise InvalidMessage(f"{role} '{name}': value {bad} is out of range for UINT64 [0, {(1 << 64) - 1}]") from None


def _describe(src: np.ndarray) -> str:
    if src.dtype.kind == "O":
        for v in src.reshape(-1):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                return f"a {json_type(v)} ({v!r:.40})"
        return "integers outside the 64-bit range"
    return {
        "b": "booleans",
        "f": "non-integers (or integers no single 64-bit type holds)",
        "U": "strings",
        "i": "integers",
        "u": "integers",
    }.get(src.dtype.kind, str(src.dtype))


# ---------------------------------------------------------------- encode one tensor


class JsonText(bytes):
    """A tensor's `data` already written as JSON text (numbers: _core.json_array_text); _encode splices it in."""


def json_data(arr: np.ndarray) -> list | JsonText | None:
    """`data` for a JSON message (None: send it binary): BYTES as a list of str (None when they aren't UTF-8
    text), BF16 None, numbers as their
    JSON text, written by _core without the GIL (shortest round-trip floats of the tensor's own precision;
    NaN and the infinities as the strings "NaN", "Infinity", "-Infinity": JSON has no number for them)."""
    flat = arr.reshape(-1)
    if arr.dtype == object or arr.dtype.kind in "SU":
        try:
            return [v if isinstance(v, str) else bytes(v).decode("utf-8") for v in flat.tolist()]
        except (UnicodeDecodeError, TypeError):
            return None
    if arr.dtype == KSERVE_TO_NUMPY["BF16"]:
        # Binary, as Triton has BF16 travel: JSON readers (tritonclient's as_numpy) cannot read the
        # non-finite strings into bfloat16, and no JSON number is a bfloat16 anyway.
        return None
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
        flat = flat.astype(np.float32)  # exact: every FP16 value is a float32
    elif arr.dtype.kind == "i" and arr.dtype.itemsize < 4:
        flat = flat.astype(np.int32)
    elif arr.dtype.kind == "u" and arr.dtype.itemsize < 8:
        flat = flat.astype(np.int64)
    return JsonText(_core.json_array_text(flat))


def raw_data(arr: np.ndarray):
    """Bytes-like raw tensor for b"".join: a uint8 view (no copy when already C-contiguous)."""
    if arr.dtype == object or arr.dtype.kind in "SU":
        return encode_bytes_tensor(arr)
    # viewing as uint8 also sidesteps memoryview's refusal of bfloat16 ("cannot include dtype 'E'")
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data


def pad_header(header: bytes) -> bytes:
    """JSON allows trailing whitespace: pad so the first raw tensor starts HEADER_ALIGN-aligned."""
    return header + b" " * (-len(header) % HEADER_ALIGN)
