"""M3: large JSON requests are read by _core (kserve/json_numbers.py), with the same results as json.loads.

The fast path is held to the json.loads path on random documents (values, dtypes and errors alike); its memory
peak is bounded to a small multiple of the body, and it releases the GIL while it reads, so a server's event
loop keeps answering while a heavy body is parsed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_r1.kserve import CodecError, json_numbers, parse_infer_request

DATATYPES = ["BOOL", "INT8", "INT32", "INT64", "UINT8", "UINT64", "FP16", "FP32", "FP64", "BF16", "BYTES"]


def _scalars():
    return st.one_of(
        st.integers(-(2**70), 2**70),
        st.integers(-300, 300),
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.booleans(),
        st.text(max_size=3),
        st.none(),
    )


@st.composite
def _data(draw):
    """Nested arrays: mostly rectangular and of one kind, sometimes ragged or mixed (both must agree then too)."""
    rank = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(0, 4), min_size=rank, max_size=rank))
    pick = draw(st.sampled_from(["int", "small", "float", "bool", "mixed", "text"]))
    elem = {
        "int": st.integers(-(2**64), 2**64),
        "small": st.integers(-300, 300),
        "float": st.one_of(st.floats(width=64), st.integers(-5, 5)),
        "bool": st.booleans(),
        "mixed": _scalars(),
        "text": st.text(max_size=4),
    }[pick]

    def build(dims):
        if not dims:
            return draw(elem)
        return [build(dims[1:]) for _ in range(dims[0])]

    data = build(shape)
    if draw(st.integers(0, 9)) == 0 and isinstance(data, list) and data:  # ragged now and then
        data[0] = [data[0]] if not isinstance(data[0], list) else data[0][:-1]
    count = math.prod(shape)
    declared = shape if draw(st.integers(0, 9)) else [count + 1]
    return data, declared


def _parse(body: bytes, fast: bool):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(json_numbers, "FAST_PATH_BYTES", 0 if fast else 1 << 62)
        try:
            return parse_infer_request(body, None).inputs
        except CodecError as e:
            return type(e)


@settings(max_examples=400, deadline=None)
@given(_data(), st.sampled_from(DATATYPES), st.booleans())
def test_fast_path_agrees_with_json_loads(data_declared, datatype, pretty):
    data, shape = data_declared
    doc = {
        "id": "r",
        "parameters": {"data": [1, 2], "note": '"data": [1]'},  # "data" elsewhere stays ordinary JSON
        "inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}],
    }
    body = json.dumps(doc, indent=2 if pretty else None).encode()
    slow, fast = _parse(body, False), _parse(body, True)
    if isinstance(slow, type):
        assert fast is slow, (slow, fast)
        return
    assert isinstance(fast, dict), fast
    a, b = slow["x"], fast["x"]
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == object:
        assert a.tolist() == b.tolist()
    else:  # NaN-aware, exact: both read the same decimal text (bfloat16 compared as the float32 it widens to)
        np.testing.assert_array_equal(*(v.astype(np.float32) if v.dtype.kind == "V" else v for v in (a, b)))


def test_parameters_and_outputs_keep_their_json(monkeypatch):
    monkeypatch.setattr(json_numbers, "FAST_PATH_BYTES", 0)
    body = json.dumps(
        {
            "parameters": {"data": [1, 2, 3], "priority": "standard"},
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2.5], [3, 4]]}],
            "outputs": [{"name": "y", "parameters": {"binary_data": True}}],
        }
    ).encode()
    req = parse_infer_request(body, None)
    assert req.parameters == {"data": [1, 2, 3], "priority": "standard"}
    assert req.outputs[0].name == "y" and req.outputs[0].binary is True
    np.testing.assert_array_equal(req.inputs["x"], np.array([[1, 2.5], [3, 4]], np.float32))
    assert req.inputs["x"].dtype == np.float32


def test_a_client_string_cannot_pose_as_a_placeholder(monkeypatch):
    monkeypatch.setattr(json_numbers, "FAST_PATH_BYTES", 0)
    body = json.dumps(
        {
            "parameters": {"p": "\u0000r1:00:0"},
            "inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [7]}],
        }
    ).encode()
    req = parse_infer_request(body, None)
    assert req.parameters["p"] == "\u0000r1:00:0"


_PEAK = """
import resource, sys, time
import numpy as np
from deepseek_r1.kserve import parse_infer_request
n = int(sys.argv[1])
body = b'{"inputs":[{"name":"x","datatype":"INT32","shape":[%d],"data":[' % n + b"7," * (n - 1) + b"7]}]}"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
x = parse_infer_request(body, None).inputs["x"]
assert x.shape == (n,) and x.dtype == np.int32 and int(x.sum()) == 7 * n
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(len(body), peak - base, time.perf_counter() - t)
"""


def test_peak_memory_is_a_small_multiple_of_the_body():
    """A 24 MB body of 2-byte integers, the worst case per byte: json.loads grew the process by 9x the body
    (17x with integers past 256, which Python does not cache); now by ~5x: the int64 array read (4x, reserved
    at once) and the INT32 result (2x), less what the allocator reuses."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # this process's deepseek_r1
    p = subprocess.run(
        [sys.executable, "-c", _PEAK, str(12 << 20)], capture_output=True, text=True, env=env, timeout=120
    )
    assert p.returncode == 0, p.stderr[-2000:]
    size, grown, _ = p.stdout.split()
    assert int(grown) < 6 * int(size), f"the parse grew the process by {int(grown) / int(size):.1f}x its body"


def test_parsing_releases_the_gil():
    """While another thread parses a 20 MB body, this thread keeps running (the event loop would too)."""
    n = 10 << 20
    body = b'{"inputs":[{"name":"x","datatype":"FP32","shape":[%d],"data":[' % n + b"1.5," * (n - 1) + b"2]}]}"
    done = threading.Event()

    def parse():
        parse_infer_request(body, None)
        done.set()

    t = threading.Thread(target=parse)
    gaps, last = [], time.perf_counter()
    t.start()
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    t.join()
    assert len(gaps) > 5 and max(gaps) < 0.25, f"longest stall {max(gaps):.3f} s over {len(gaps)} ticks"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"[1, 2", "not valid JSON"),
        (b"[[1, 2], [3]]", "ragged"),
        (b"[1, [2]]", "ragged"),
        (b"[01, 2]", "not valid JSON"),
    ],
)
def test_malformed_large_data_names_the_problem(monkeypatch, data, message):
    monkeypatch.setattr(json_numbers, "FAST_PATH_BYTES", 0)
    body = b'{"inputs":[{"name":"x","datatype":"INT32","shape":[2],"data":' + data + b"}]}"
    with pytest.raises(CodecError, match=message):
        parse_infer_request(body, None)


_NUMERIC = st.sampled_from(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"] * 1)
_FLOATS = st.sampled_from(["float16", "float32", "float64"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(_NUMERIC, _FLOATS), st.integers(0, 40), st.data())
def test_json_output_text_is_strict_json_and_reads_back_exactly(dtype, n, data):
    """Outputs written by _core: strict JSON (no bare NaN), each value reads back to itself in its own dtype
    (through our reader and through numpy, as tritonclient reads JSON data), floats stay floats."""
    from hypothesis.extra import numpy as hnp

    from deepseek_r1.kserve import encode_infer_response, parse_infer_response

    arr = data.draw(hnp.arrays(np.dtype(dtype), n))
    body, _ = encode_infer_response("m", "1", None, {"y": arr}, None, False)

    def no_constants(c):
        raise AssertionError(f"bare {c} in a JSON response")

    doc = json.loads(body, parse_constant=no_constants)
    values = doc["outputs"][0]["data"]
    got, _ = parse_infer_response(body, None)
    assert got["y"].dtype == arr.dtype
    np.testing.assert_array_equal(got["y"], arr)  # NaN-aware; exact
    np.testing.assert_array_equal(np.array(values, dtype=arr.dtype).reshape(arr.shape), arr)
    if arr.dtype.kind == "f":
        assert all(isinstance(v, (float, str)) for v in values), values


def test_a_parsed_message_leaves_no_reference_cycle(monkeypatch):
    """A recursive closure over the message kept every large body alive until the cyclic GC ran: the server
    grew ~10 MB per 16 MB request (bench/serving_abuse.py). Reference counting alone must free it all."""
    import gc

    monkeypatch.setattr(json_numbers, "FAST_PATH_BYTES", 0)
    body = json.dumps(
        {
            "parameters": {"data": [1, [2]], "x": {"y": ["z"]}},
            "inputs": [
                {"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2.5], [3, "NaN"]]},
                {"name": "u", "datatype": "UINT64", "shape": [2], "data": [2**64 - 1, 0]},
                {"name": "s", "datatype": "BYTES", "shape": [1], "data": ["t"]},
            ],
        }
    ).encode()
    gc.collect()
    gc.disable()
    try:
        req = parse_infer_request(body, None)
        assert req.inputs["u"].dtype == np.uint64 and np.isnan(req.inputs["x"][1, 1])
        del req
        assert gc.collect() == 0, "parsing left objects that only the cyclic GC frees"
    finally:
        gc.enable()
