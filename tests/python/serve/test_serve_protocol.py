"""KServe v2 HTTP codec (kserve/http_codec.py): round trips, byte-level interop with tritonclient.http, malformed input."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest
import tritonclient.http as th
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deepseek_r1.kserve import (
    KSERVE_TO_NUMPY,
    CodecError,
    InferRequest,
    InvalidMessage,
    LimitExceeded,
    Limits,
    RequestedOutput,
    decode_bytes_tensor,
    encode_bytes_tensor,
    encode_infer_request,
    encode_infer_response,
    error_body,
    numpy_to_kserve,
    parse_infer_request,
    parse_infer_response,
)

DATATYPES = sorted(KSERVE_TO_NUMPY)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
HL = "Inference-Header-Content-Length"


@st.composite
def tensors(draw, datatype=None, utf8=False):
    """A random array of a KServe datatype that is never all zeros (unless it is empty)."""
    datatype = datatype or draw(st.sampled_from(DATATYPES))
    shape = draw(SHAPES)
    if datatype == "BYTES":
        elem = st.text(max_size=8).map(str.encode) if utf8 else st.binary(max_size=8)
        flat = draw(st.lists(elem, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
        assume(arr.size == 0 or any(flat))
        return arr.reshape(shape)
    if datatype == "BF16":  # hypothesis has no bfloat16: draw float32 in bf16's range, then round
        arr = draw(hnp.arrays(np.float32, shape, elements=st.floats(width=32))).astype(ml_dtypes.bfloat16)
    else:
        arr = draw(hnp.arrays(KSERVE_TO_NUMPY[datatype], shape))
    assume(arr.size == 0 or np.any(arr.astype(np.float64 if datatype in ("BF16", "FP16") else arr.dtype) != 0))
    return arr


def assert_same(a: np.ndarray, b: np.ndarray):
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype == object:
        assert a.tolist() == b.tolist()
    elif a.dtype.kind in "biu":
        assert np.array_equal(a, b)
    else:  # JSON has one NaN (no sign or payload); otherwise values and the sign of zero must survive
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        assert np.array_equal(a64, b64, equal_nan=True)
        assert np.array_equal(np.signbit(a64) | np.isnan(a64), np.signbit(b64) | np.isnan(b64))


def triton_inputs(arrays: dict, binary: bool):
    out = []
    for name, arr in arrays.items():
        i = th.InferInput(name, list(arr.shape), numpy_to_kserve(arr.dtype))
        i.set_data_from_numpy(arr, binary_data=binary or arr.dtype == ml_dtypes.bfloat16)
        out.append(i)
    return out


# ---------------------------------------------------------------- round trips


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from("abcd"), tensors(), min_size=1, max_size=4), st.booleans())
def test_request_round_trip_every_datatype(arrays, binary):
    body, headers = encode_infer_request(arrays, request_id="r-1", parameters={"priority": "premium"}, binary=binary)
    req = parse_infer_request(body, headers.get(HL), Limits())
    assert req.id == "r-1" and req.parameters["priority"] == "premium" and req.binary_output is binary
    assert req.outputs is None and list(req.inputs) == list(arrays)
    for name, arr in arrays.items():
        assert_same(req.inputs[name], arr)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from("xyz"), tensors(), min_size=1, max_size=3), st.booleans())
def test_response_round_trip_ours_and_tritonclient(arrays, binary):
    body, headers = encode_infer_response("m", "2", "id7", arrays, None, binary)
    hl = headers.get(HL)
    assert headers["Content-Type"] == ("application/octet-stream" if hl else "application/json")
    got, meta = parse_infer_response(body, hl)
    assert meta["model_name"] == "m" and meta["model_version"] == "2" and meta["id"] == "id7"
    assert all("data" not in o for o in meta["outputs"])
    result = th.InferResult.from_response_body(body, False, int(hl) if hl else None)
    for name, arr in arrays.items():
        assert_same(got[name], arr)
        theirs = result.as_numpy(name)
        if arr.dtype == object and "data" in result.get_output(name):
            theirs = np.vectorize(str.encode, otypes=[object])(theirs) if theirs.size else theirs.astype(object)
        assert_same(theirs, arr)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from("pqr"), tensors(utf8=True), min_size=1, max_size=3), st.booleans(), st.booleans()
)
def test_tritonclient_requests_parse(arrays, binary, name_outputs):
    outputs = [th.InferRequestedOutput("out", binary_data=False)] if name_outputs else None
    body, hl = th.InferenceServerClient.generate_request_body(
        triton_inputs(arrays, binary), outputs=outputs, request_id="t1", priority=3, timeout=1000
    )
    req = parse_infer_request(body, hl, Limits())
    assert req.id == "t1" and req.parameters["priority"] == 3 and req.parameters["timeout"] == 1000
    if name_outputs:
        assert req.outputs == [RequestedOutput("out", False, {"binary_data": False})] and not req.binary_output
    else:  # tritonclient asks for binary outputs when it names none
        assert req.outputs is None and req.binary_output is True
    for name, arr in arrays.items():
        assert_same(req.inputs[name], arr)


def test_binary_inputs_are_read_only_views_and_our_header_is_aligned():
    x = np.arange(1, 1001, dtype=np.float32).reshape(10, 100)
    body, headers = encode_infer_request({"x": x})
    assert int(headers[HL]) % 64 == 0
    got = parse_infer_request(body, headers[HL], Limits()).inputs["x"]
    assert not got.flags.writeable and got.flags.aligned and np.shares_memory(got, np.frombuffer(body, np.uint8))
    # tritonclient doesn't pad: a misaligned tensor is copied so the engine never gets a misaligned pointer
    i = th.InferInput("x", [3], "FP64").set_data_from_numpy(np.array([1.0, 2.5, -3.0]))
    body, hl = next(
        (b, h)
        for b, h in (th.InferenceServerClient.generate_request_body([i], request_id="a" * n) for n in range(1, 9))
        if h % 8
    )
    assert parse_infer_request(body, hl, Limits()).inputs["x"].flags.aligned


def test_json_data_may_be_nested_and_bytes_json_is_utf8():
    doc = {
        "inputs": [
            {"name": "a", "datatype": "INT16", "shape": [2, 2], "data": [[1, -2], [3, 300]]},
            {"name": "s", "datatype": "BYTES", "shape": [2], "data": ["héllo", ""]},
            {"name": "f", "datatype": "BF16", "shape": [1], "data": [1.5]},
        ]
    }
    req = parse_infer_request(json.dumps(doc).encode(), None, Limits())
    assert req.inputs["a"].tolist() == [[1, -2], [3, 300]] and req.inputs["a"].dtype == np.int16
    assert req.inputs["s"].tolist() == ["héllo".encode(), b""]
    assert req.inputs["f"].dtype == ml_dtypes.bfloat16 and float(req.inputs["f"][0]) == 1.5


def test_bytes_codec_round_trip_with_empty_and_non_utf8():
    arr = np.array([b"", b"\x00\xff\xfe", "ünï".encode(), b"x" * 300], dtype=object).reshape(2, 2)
    raw = encode_bytes_tensor(arr)
    assert raw[:4] == struct.pack("<I", 0)
    assert decode_bytes_tensor(raw, 4).tolist() == arr.reshape(-1).tolist()
    assert encode_bytes_tensor(np.array(["ünï"], dtype=object)) == struct.pack("<I", 5) + "ünï".encode()


def test_requested_outputs_select_order_and_encoding():
    outs = {"a": np.arange(3, dtype=np.int32) + 1, "b": np.array([b"\xff"], dtype=object), "c": np.ones(2)}
    body, headers = encode_infer_request(
        {"x": np.ones(1, np.float32)}, outputs=["c", RequestedOutput("a", True)], binary=False
    )
    req = parse_infer_request(body, headers.get(HL), Limits())
    assert [(r.name, r.binary) for r in req.outputs] == [("c", False), ("a", True)]
    body, headers = encode_infer_response("m", None, None, outs, req.outputs, req.binary_output)
    header = json.loads(body[: int(headers[HL])])
    assert [o["name"] for o in header["outputs"]] == ["c", "a"] and "model_version" not in header
    assert header["outputs"][0]["data"] == [1.0, 1.0] and header["outputs"][1]["parameters"] == {"binary_data_size": 12}
    # non-UTF-8 BYTES can't be JSON strings: they go binary even when JSON was asked for
    body, headers = encode_infer_response("m", "1", None, outs, [RequestedOutput("b", False)], False)
    assert parse_infer_response(body, headers[HL])[0]["b"].tolist() == [b"\xff"]
    with pytest.raises(InvalidMessage, match=r"requested output 'nope' does not exist; available: \['a', 'b', 'c'\]"):
        encode_infer_response("m", "1", None, outs, [RequestedOutput("nope")], True)


def test_error_body():
    assert json.loads(error_body('model "m" says: ünï')) == {"error": 'model "m" says: ünï'}


# ---------------------------------------------------------------- malformed requests


def _json(*inputs, **extra) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def _inp(name="x", datatype="FP32", shape=(2,), **kw) -> dict:
    return {"name": name, "datatype": datatype, "shape": list(shape), **kw}


def _binary(tensor: dict, raw: bytes) -> tuple[bytes, int]:
    header = json.dumps({"inputs": [tensor]}).encode()
    return header + raw, len(header)


F2 = struct.pack("<2f", 1.0, 2.0)
MALFORMED = [
    (b"{not json", None, InvalidMessage, "not valid JSON"),
    (b"[1, 2]", None, InvalidMessage, "must be an object, got array"),
    (b"{}", None, InvalidMessage, "no 'inputs'"),
    (json.dumps({"inputs": {}}).encode(), None, InvalidMessage, "'inputs' must be a JSON array"),
    (_json("x"), None, InvalidMessage, r"inputs\[0\] must be a JSON object"),
    (_json({"datatype": "FP32", "shape": [1], "data": [1]}), None, InvalidMessage, r"inputs\[0\]: 'name'"),
    (_json(_inp(data=[1, 2]), _inp(data=[1, 2])), None, InvalidMessage, "input 'x' appears more than once"),
    (_json({"name": "x", "shape": [1], "data": [1]}), None, InvalidMessage, "input 'x': missing 'datatype'"),
    (_json(_inp(datatype="FLOAT32", data=[1, 2])), None, InvalidMessage, "input 'x': unknown datatype 'FLOAT32'"),
    (_json(_inp(shape=(2, -1), data=[])), None, InvalidMessage, "input 'x': shape .* negative dimension -1"),
    (_json(_inp(shape=(2.5,), data=[])), None, InvalidMessage, "non-integer dimension"),
    (_json({**_inp(data=[1, 2]), "shape": "2"}), None, InvalidMessage, "'shape' must be a JSON array"),
    (
        _json(_inp(shape=(3,), data=[1, 2])),
        None,
        InvalidMessage,
        r"input 'x': shape \[3\] needs 3 elements, 'data' has 2",
    ),
    (_json(_inp(data={"a": 1})), None, InvalidMessage, "input 'x': 'data' must be a JSON array, got object"),
    (_json(_inp(data=[[1, 2], [3]])), None, InvalidMessage, "input 'x': 'data' is ragged"),
    (_json(_inp(datatype="UINT8", data=[1, 300])), None, InvalidMessage, r"value 300 is out of range for UINT8"),
    (_json(_inp(datatype="INT8", data=[-129, 1])), None, InvalidMessage, r"value -129 is out of range for INT8"),
    (_json(_inp(datatype="INT32", data=[1, 2.5])), None, InvalidMessage, "INT32 data must be integers"),
    (_json(_inp(datatype="UINT64", data=[2**64, 1])), None, InvalidMessage, "value 18446744073709551616 is out of"),
    (_json(_inp(datatype="UINT64", data=[2**63, 0.5])), None, InvalidMessage, "UINT64 data must be integers"),
    (_json(_inp(datatype="INT64", data=[2**63, -1])), None, InvalidMessage, "INT64 data must be integers"),
    (_json(_inp(data=["1", "2"])), None, InvalidMessage, "FP32 data must be numbers, got strings"),
    (_json(_inp(data=[1, None])), None, InvalidMessage, "FP32 data must be numbers, got a null"),
    (_json(_inp(datatype="FP16", data=[1, 1e6])), None, InvalidMessage, "overflows FP16"),
    (_json(_inp(datatype="BOOL", data=[1, 0])), None, InvalidMessage, "BOOL data must be true/false"),
    (_json(_inp(datatype="BYTES", data=["a", 3])), None, InvalidMessage, "BYTES data must hold strings, got a number"),
    (_json(_inp()), None, InvalidMessage, "input 'x' has neither 'data' nor parameters.binary_data_size"),
    (_json(_inp(shape=(1 << 40,))), None, LimitExceeded, r"input 'x': shape \[1099511627776\] has more than"),
    (_json(_inp(parameters={"binary_data_size": 8})), None, InvalidMessage, "no Inference-Header-Content-Length"),
    (_json(_inp(parameters={"shared_memory_region": "r"})), None, InvalidMessage, "shared-memory extension"),
    (
        _json(_inp(data=[1, 2]), outputs=[{"name": "y", "parameters": {"binary_data": "yes"}}]),
        None,
        InvalidMessage,
        "requested output 'y': binary_data must be true or false",
    ),
    (
        _json(_inp(data=[1, 2]), outputs=[{"name": "y", "parameters": {"classification": 3}}]),
        None,
        InvalidMessage,
        "'classification'",
    ),
    (_json(_inp(data=[1, 2]), id=5), None, InvalidMessage, "request 'id' must be a string"),
    (_json(_inp(data=[1, 2]), parameters=[]), None, InvalidMessage, "'parameters' must be a JSON object"),
    (_binary(_inp(parameters={"binary_data_size": 8}), F2)[0], 10**6, InvalidMessage, "is 1000000 but the body has"),
    (_binary(_inp(parameters={"binary_data_size": 8}), F2)[0], "abc", InvalidMessage, "must be a positive integer"),
    (*_binary(_inp(parameters={"binary_data_size": 8}), F2[:6]), InvalidMessage, "input 'x': binary data truncated"),
    (*_binary(_inp(parameters={"binary_data_size": 8}), F2 + b"!"), InvalidMessage, "1 trailing bytes"),
    (
        *_binary(_inp(parameters={"binary_data_size": 6}), F2[:6]),
        InvalidMessage,
        "binary_data_size is 6 bytes but 2 FP32",
    ),
    (*_binary(_inp(parameters={"binary_data_size": -1}), b""), InvalidMessage, "non-negative integer"),
    (*_binary(_inp(data=[1, 2], parameters={"binary_data_size": 8}), F2), InvalidMessage, "both 'data' and"),
    (*_binary(_inp(datatype="BOOL", parameters={"binary_data_size": 2}), b"\x01\x07"), InvalidMessage, "BOOL data has"),
    (
        *_binary(_inp(datatype="BYTES", parameters={"binary_data_size": 4}), b"\0\0\0\0"),
        InvalidMessage,
        "too small for 2",
    ),
    (
        *_binary(_inp(datatype="BYTES", shape=(1,), parameters={"binary_data_size": 6}), b"\x05\0\0\0ab"),
        InvalidMessage,
        "input 'x': BYTES data truncated: element 0 declares 5 bytes but only 2 remain",
    ),
    (
        *_binary(_inp(datatype="BYTES", shape=(1,), parameters={"binary_data_size": 7}), b"\x01\0\0\0abc"),
        InvalidMessage,
        "input 'x': BYTES data has 2 trailing bytes",
    ),
    (b"[" * 100_000 + b"]" * 100_000, None, InvalidMessage, "nesting deeper than the limit of 64"),
    (b'{"inputs": [], "p": "' + b"[" * 100 + b'"}', None, None, None),  # brackets inside strings don't nest
    (b'{"inputs": [], "p": "\\"' + b"[" * 100 + b'\\\\"}', None, None, None),  # nor do ones after \"
    (b'{"inputs": [], "p": "\\\\", "q": ' + b"[" * 70 + b"]" * 70 + b"}", None, InvalidMessage, "deeper than"),
]


@pytest.mark.parametrize("body,header_length,error,message", MALFORMED)
def test_malformed_requests_name_the_problem(body, header_length, error, message):
    if error is None:
        assert parse_infer_request(body, header_length, Limits()).inputs == {}
        return
    with pytest.raises(error, match=message):
        parse_infer_request(body, header_length, Limits())


def test_limits():
    with pytest.raises(LimitExceeded, match="body is 2000 bytes, over the limit of 1000"):
        parse_infer_request(b" " * 2000, None, Limits(max_body_bytes=1000))
    body = _json(*[_inp(f"x{i}", data=[1, 2]) for i in range(5)])
    with pytest.raises(LimitExceeded, match="5 inputs, over the limit of 4"):
        parse_infer_request(body, None, Limits(max_tensors=4))
    with pytest.raises(LimitExceeded, match="input 'x2': inputs hold 6 elements in all, over the limit of 5"):
        parse_infer_request(body, None, Limits(max_elements=5))
    raw = encode_bytes_tensor(np.array([b"x" * 100], dtype=object))
    with pytest.raises(LimitExceeded, match="input 's': BYTES element 0 is 100 bytes"):
        parse_infer_request(
            *_binary(_inp("s", "BYTES", (1,), parameters={"binary_data_size": len(raw)}), raw),
            Limits(max_bytes_element=99),
        )
    deep = {"inputs": [_inp(shape=(1,) * 10, data=[[[[[[[[[[1.0]]]]]]]]]])]}
    assert parse_infer_request(json.dumps(deep).encode(), None, Limits()).inputs["x"].shape == (1,) * 10
    with pytest.raises(InvalidMessage, match="nesting deeper than the limit of 8"):
        parse_infer_request(json.dumps(deep).encode(), None, Limits(max_json_depth=8))


def test_malformed_response_is_a_502_naming_the_output():
    body, headers = encode_infer_response("m", "1", None, {"y": np.ones(4, np.float32)}, None, True)
    with pytest.raises(CodecError, match="malformed inference response: output 'y': binary data truncated") as e:
        parse_infer_response(body[:-1], headers[HL])
    assert e.value.status == 502


def test_numpy_to_kserve_rejects_unknown_dtypes():
    assert numpy_to_kserve(np.dtype("S3")) == "BYTES" and numpy_to_kserve(ml_dtypes.bfloat16) == "BF16"
    with pytest.raises(InvalidMessage, match="complex128 has no KServe datatype"):
        numpy_to_kserve(np.complex128)
    assert isinstance(InferRequest(None, {}, {}, None).binary_output, bool)
