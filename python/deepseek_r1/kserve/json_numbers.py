"""json.loads for KServe messages whose tensors' `data` arrays are large: numbers go straight into numpy.

    doc = loads_message(header)       # a dict as json.loads makes it, except that each inputs[i]/outputs[i]
                                      # "data" is a JsonData: .numbers() -> (flat array, nesting) or None
                                      # (strings...), .load() -> the list json.loads would have made

Why: json.loads makes a Python object per number, 28-32 bytes for a 2-byte "7,": a 57 MB body of integers
peaked at 966 MB (17x the body) and held the GIL for 3.3 s, stalling every request on the event loop,
health checks included. _core reads each "data" array (r1/wire/json_arrays.h) at memory speed with the GIL
released, into 8 bytes per element; json.loads then sees only the small rest of the document, where each
array is a placeholder string. The placeholder carries a per-call random nonce, so a client's own strings can
never be taken for one. Small messages (under FAST_PATH_BYTES) go through json.loads as before: for them the
extra steps would cost more than they save.
"""

from __future__ import annotations

import json
import secrets

import numpy as np

from .. import _core
from .errors import InvalidMessage

FAST_PATH_BYTES = 64 * 1024


class JsonData:
    """One `data` array of a message, not parsed yet."""

    __slots__ = ("_buf", "begin", "end")

    def __init__(self, buf: bytes, begin: int, end: int):
        self._buf, self.begin, self.end = buf, begin, end

    def numbers(self) -> tuple[np.ndarray, list[int]] | None:
        """(flat int64 / float64 / bool array, nesting) for an array of numbers or booleans; None for anything
        else (strings, objects, integers past 64 bits), which load() reads. InvalidMessage when malformed."""
        try:
            kind, arr, nesting = _core.json_number_array(self._buf, self.begin, self.end)
        except ValueError as e:
            raise InvalidMessage(f"'data' is ragged or not valid JSON ({e} of the message)") from None
        if kind == "other":
            return None
        return (arr.view(np.bool_) if kind == "bool" else arr), nesting

    def load(self):
        try:
            return json.loads(self._buf[self.begin : self.end])
        except ValueError as e:
            raise InvalidMessage(f"'data' is not valid JSON: {e}") from None


def _restore(v, prefix: str, arrays: list[JsonData], tensor_data: bool = False):
    """`v` with placeholders replaced. Only a tensor's own `data` stays lazy; a "data" key anywhere else (say,
    in parameters) is loaded now. Module-level on purpose: a recursive closure is a reference cycle, which
    would keep the whole message (16 MB and more) alive until the cyclic GC happened to run."""
    if isinstance(v, str) and v.startswith(prefix):
        a = arrays[int(v[len(prefix) :])]
        return a if tensor_data else a.load()
    if isinstance(v, dict):
        return {k: _restore(x, prefix, arrays) for k, x in v.items()}
    if isinstance(v, list):
        return [_restore(x, prefix, arrays) for x in v]
    return v


def loads_message(header: bytes) -> object:
    """The JSON document in `header`, with tensors' data arrays as JsonData (see the module docstring)."""
    if len(header) < FAST_PATH_BYTES:
        return json.loads(header)
    try:
        spans = _core.json_data_spans(header)
    except ValueError as e:
        raise json.JSONDecodeError(str(e), "", 0) from None
    if not spans:
        return json.loads(header)
    nonce = secrets.token_hex(8)
    parts, prev = [], 0
    for k, (begin, end) in enumerate(spans):
        parts.append(header[prev:begin])
        parts.append(f'"\\u0000r1:{nonce}:{k}"'.encode())
        prev = end
    parts.append(header[prev:])
    doc = json.loads(b"".join(parts))
    prefix = f"\0r1:{nonce}:"
    arrays = [JsonData(header, b, e) for b, e in spans]
    if not isinstance(doc, dict):
        return _restore(doc, prefix, arrays)
    out = {}
    for key, value in doc.items():
        if key in ("inputs", "outputs") and isinstance(value, list):
            out[key] = [
                {k: _restore(x, prefix, arrays, tensor_data=(k == "data")) for k, x in t.items()}
                if isinstance(t, dict)
                else _restore(t, prefix, arrays)
                for t in value
            ]
        else:
            out[key] = _restore(value, prefix, arrays)
    return out
