"""The optional gRPC endpoint (KServe v2 GRPCInferenceService), driven by tritonclient.grpc (sync and aio),
unmodified, plus the generated stub where tritonclient can't say something (typed contents, string priority)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
import grpc
import tritonclient.grpc.aio as triton_aio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import InferenceServerException

import deepseek_r1 as r1
from deepseek_r1.kserve import InvalidMessage, LimitExceeded, Limits
from deepseek_r1.kserve.grpc_codec import encode_model_infer_response, parse_model_infer_request
from helpers.serve_fixtures import add_relu_model, make_test_repository, reference_add_relu

KEY = "grpc-test-key-0123456789"
DT = {np.float32: "FP32", np.int64: "INT64", np.uint8: "UINT8", np.bool_: "BOOL", np.float16: "FP16", np.int32: "INT32"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_test_repository(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def server(repo):
    s = r1.InferenceServer(repository=repo, batch_size=16, poll_interval_s=None, versions=2, grpc_port=0).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    c = tritonclient_grpc.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    yield c
    c.close()


@pytest.fixture(scope="module")
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield pb_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def _input(name, arr):
    i = tritonclient_grpc.InferInput(name, list(arr.shape), DT[arr.dtype.type])
    i.set_data_from_numpy(arr)
    return i


def _code(e: InferenceServerException) -> str:
    return e.status().replace("StatusCode.", "")


def test_health_and_metadata(server, client):
    assert server.grpc_port and server.grpc_port != server.port
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta.name == "deepseek_r1" and "binary_tensor_data" in meta.extensions
    m = client.get_model_metadata("addrelu", as_json=True)
    assert m["versions"] == ["1", "2"] and m["platform"] == "deepseek_r1"
    assert m["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "4"]}]  # int64 -> JSON strings
    assert m["outputs"][0]["name"] == "y"
    assert client.is_model_ready("addrelu") and client.is_model_ready("addrelu", "1")
    assert not client.is_model_ready("nope") and not client.is_model_ready("addrelu", "7")
    config = client.get_model_config("dtypes").config
    assert config.max_batch_size == 8 and config.name == "dtypes" and config.platform == "deepseek_r1"


@pytest.mark.parametrize("version", ["", "1", "2"])
def test_infer_matches_reference_and_echoes_id(client, version):
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    res = client.infer(
        "addrelu",
        [_input("x", x)],
        model_version=version,
        outputs=[tritonclient_grpc.InferRequestedOutput("y")],
        request_id="r-42",
    )
    seed = 2 if version in ("", "2") else 1
    np.testing.assert_allclose(res.as_numpy("y"), reference_add_relu(add_relu_model(4, seed=seed), x), rtol=1e-6)
    resp = res.get_response()
    assert resp.id == "r-42" and resp.model_name == "addrelu" and resp.model_version == (version or "2")
    assert len(resp.raw_output_contents) == 1


def test_every_engine_dtype_round_trips_and_requested_outputs(client):
    rng = np.random.default_rng(0)
    feeds = {
        "f": rng.standard_normal((2, 3)).astype(np.float32),
        "i": rng.integers(-(2**40), 2**40, (2, 2)),
        "u": rng.integers(0, 256, (2, 5)).astype(np.uint8),
        "b": rng.random((2, 1)) > 0.5,
        "h": rng.standard_normal((2, 2)).astype(np.float16),
        "k": rng.integers(-(2**31), 2**31, (2, 2)).astype(np.int32),
    }
    inputs = [_input(k, v) for k, v in feeds.items()]
    res = client.infer("dtypes", inputs)
    for k, v in feeds.items():
        got = res.as_numpy(k + "_out")
        assert got.dtype == v.dtype and np.array_equal(got, v), k
    res = client.infer(
        "dtypes",
        inputs,
        outputs=[tritonclient_grpc.InferRequestedOutput("h_out"), tritonclient_grpc.InferRequestedOutput("b_out")],
    )
    assert [o.name for o in res.get_response().outputs] == ["h_out", "b_out"]
    assert np.array_equal(res.as_numpy("h_out"), feeds["h"]) and res.as_numpy("f_out") is None


def test_typed_contents_and_string_priority(stub):
    x = np.array([[1.5, -2.0, 0.25, 3.0]], np.float32)
    req = pb.ModelInferRequest(model_name="addrelu", id="typed")
    req.inputs.add(name="x", datatype="FP32", shape=[1, 4]).contents.fp32_contents.extend(x.ravel().tolist())
    req.parameters["priority"].string_param = "premium"
    resp = stub.ModelInfer(req, timeout=30)
    y = np.frombuffer(resp.raw_output_contents[0], np.float32).reshape(1, 4)
    np.testing.assert_allclose(y, reference_add_relu(add_relu_model(4, seed=2), x), rtol=1e-6)
    assert resp.id == "typed" and list(resp.outputs[0].shape) == [1, 4] and resp.outputs[0].datatype == "FP32"


def _bad_request(**kw) -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name=kw.pop("model", "addrelu"))
    t = req.inputs.add(name=kw.pop("name", "x"), datatype=kw.pop("datatype", "FP32"), shape=kw.pop("shape", [1, 4]))
    if "raw" in kw:
        req.raw_input_contents.append(kw.pop("raw"))
    for field, values in kw.pop("contents", {}).items():
        getattr(t.contents, field).extend(values)
    for k, v in kw.pop("params", {}).items():
        setattr(req.parameters[k], "string_param" if isinstance(v, str) else "int64_param", v)
    for o in kw.pop("outputs", ()):
        req.outputs.add(name=o)
    assert not kw
    return req


def test_half_precision_must_travel_raw():
    """The codec's own rule (the server's model check comes first for a model that wants FP32)."""
    with pytest.raises(InvalidMessage, match="raw_input_contents"):
        parse_model_infer_request(_bad_request(datatype="FP16", contents={"fp32_contents": [1.0] * 4}), Limits())


@pytest.mark.parametrize(
    "req,code,needle",
    [
        (_bad_request(raw=b"\0" * 12), "INVALID_ARGUMENT", "'x'"),  # 3 floats for [1, 4]
        (_bad_request(contents={"fp32_contents": [1.0, 2.0]}), "INVALID_ARGUMENT", "'x'"),
        (_bad_request(contents={"int64_contents": [1, 2, 3, 4]}), "INVALID_ARGUMENT", "int64_contents"),
        (_bad_request(datatype="INT64", raw=b"\0" * 32), "INVALID_ARGUMENT", "float32"),  # the model wants FP32
        (_bad_request(datatype="FP17", raw=b"\0" * 16), "INVALID_ARGUMENT", "datatype"),
        (  # wrong in two ways: the model's datatype is checked first, before any contents are read
            _bad_request(datatype="FP16", contents={"fp32_contents": [1.0] * 4}),
            "INVALID_ARGUMENT",
            "must be FP32",
        ),
        (_bad_request(shape=[1, 5], raw=b"\0" * 20), "INVALID_ARGUMENT", "x"),
        (_bad_request(name="q", raw=b"\0" * 16), "INVALID_ARGUMENT", "q"),
        (_bad_request(shape=[1, -4], raw=b""), "INVALID_ARGUMENT", "negative"),
        (_bad_request(), "INVALID_ARGUMENT", "no data"),
        (_bad_request(raw=b"\0" * 16, params={"priority": "vip"}), "INVALID_ARGUMENT", "priority"),
        (_bad_request(raw=b"\0" * 16, outputs=["nope"]), "INVALID_ARGUMENT", "nope"),
        (_bad_request(model="nope", raw=b"\0" * 16), "NOT_FOUND", "nope"),
        (_bad_request(model="..hidden", raw=b"\0" * 16), "INVALID_ARGUMENT", "name"),
        (_bad_request(shape=[1 << 40], raw=b""), "RESOURCE_EXHAUSTED", "limit"),
    ],
)
def test_bad_requests_get_status_and_message(stub, client, req, code, needle):
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(req, timeout=30)
    assert e.value.code().name == code, e.value.details()
    assert needle.lower() in e.value.details().lower(), e.value.details()
    assert client.is_server_live() and client.is_model_ready("addrelu")  # still serving


def test_unknown_model_and_version_via_tritonclient(client):
    x = np.ones((1, 4), np.float32)
    with pytest.raises(InferenceServerException) as e:
        client.infer("nope", [_input("x", x)])
    assert _code(e.value) == "NOT_FOUND" and "nope" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.infer("addrelu", [_input("x", x)], model_version="7")
    assert _code(e.value) == "NOT_FOUND" and "7" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("nope")
    assert _code(e.value) == "NOT_FOUND"


def test_timeout_and_priority_parameters(client):
    x = np.ones((1, 4), np.float32)
    with pytest.raises(InferenceServerException) as e:
        client.infer("addrelu", [_input("x", x)], timeout=1)  # 1 microsecond: expires before it runs
    assert _code(e.value) == "DEADLINE_EXCEEDED" and "tim" in e.value.message().lower()
    for p in (1, 2, 3, 0):  # tritonclient's integer priorities (uint64_param on the wire)
        assert client.infer("addrelu", [_input("x", x)], priority=p).as_numpy("y").shape == (1, 4)
    # a generous gRPC deadline becomes the request's timeout and does not get in the way
    assert client.infer("addrelu", [_input("x", x)], client_timeout=30).as_numpy("y").shape == (1, 4)


def test_repository_index_load_unload(client):
    rows = client.get_model_repository_index(as_json=True)["models"]
    assert {(r["name"], r.get("version"), r["state"]) for r in rows} >= {
        ("addrelu", "1", "READY"),
        ("addrelu", "2", "READY"),
        ("dtypes", "1", "READY"),
        ("spare", "1", "READY"),
    }
    x = np.ones((1, 4), np.float32)
    client.unload_model("spare")
    assert not client.is_model_ready("spare") and client.is_server_ready()  # unloaded on purpose: still ready
    with pytest.raises(InferenceServerException) as e:
        client.infer("spare", [_input("x", x)])
    assert _code(e.value) == "UNAVAILABLE" and "spare" in e.value.message()
    row = next(r for r in client.get_model_repository_index(as_json=True)["models"] if r["name"] == "spare")
    assert row["state"] == "UNAVAILABLE" and row["reason"] == "unloaded"
    client.load_model("spare", config=json.dumps({"max_batch_size": 4}))
    assert client.is_model_ready("spare") and client.get_model_config("spare").config.max_batch_size == 4
    np.testing.assert_allclose(
        client.infer("spare", [_input("x", x)]).as_numpy("y"),
        reference_add_relu(add_relu_model(4, seed=3), x),
        rtol=1e-6,
    )
    for bad, code in (("nope", "NOT_FOUND"), ("../etc", "INVALID_ARGUMENT")):
        with pytest.raises(InferenceServerException) as e:
            client.load_model(bad)
        assert _code(e.value) == code, e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.load_model("spare", config="{not json")
    assert _code(e.value) == "INVALID_ARGUMENT" and "JSON" in e.value.message()


def test_unserved_rpcs_are_unimplemented_with_a_message(client):
    with pytest.raises(InferenceServerException) as e:
        client.get_inference_statistics("addrelu")
    assert _code(e.value) == "UNIMPLEMENTED" and "ModelStatistics" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.get_system_shared_memory_status()
    assert _code(e.value) == "UNIMPLEMENTED" and "shared-memory" in e.value.message()


def test_aio_client_32_concurrent_requests(server):
    async def main():
        c = triton_aio.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
        try:
            xs = [np.random.default_rng(i).standard_normal((1 + i % 3, 4)).astype(np.float32) for i in range(32)]
            results = await asyncio.gather(
                *(c.infer("addrelu", [_input("x", x)], request_id=str(i)) for i, x in enumerate(xs))
            )
            return xs, results
        finally:
            await c.close()

    xs, results = asyncio.run(main())
    model = add_relu_model(4, seed=2)
    for i, (x, res) in enumerate(zip(xs, results)):
        assert res.get_response().id == str(i)
        np.testing.assert_allclose(res.as_numpy("y"), reference_add_relu(model, x), rtol=1e-6)


def test_api_keys_and_message_limit(repo):
    with r1.InferenceServer(
        repository=repo, api_keys={KEY: "premium"}, poll_interval_s=None, grpc_port=0, max_request_bytes=1024
    ) as s:
        c = tritonclient_grpc.InferenceServerClient(f"127.0.0.1:{s.grpc_port}")
        x = np.ones((1, 4), np.float32)
        auth = {"authorization": f"Bearer {KEY}"}
        assert c.is_server_live() and c.is_server_ready()  # health stays open for probes
        for headers, needle in ((None, "missing API key"), ({"authorization": "Bearer wrong-key-123"}, "invalid")):
            with pytest.raises(InferenceServerException) as e:
                c.infer("addrelu", [_input("x", x)], headers=headers)
            assert _code(e.value) == "UNAUTHENTICATED" and needle in e.value.message()
        with pytest.raises(InferenceServerException) as e:
            c.get_model_metadata("addrelu")
        assert _code(e.value) == "UNAUTHENTICATED"
        assert c.infer("addrelu", [_input("x", x)], headers=auth).as_numpy("y").shape == (1, 4)
        assert c.get_model_metadata("addrelu", headers=auth).name == "addrelu"
        with pytest.raises(InferenceServerException) as e:  # 1600 bytes of tensor > 1024
            c.infer("addrelu", [_input("x", np.ones((100, 4), np.float32))], headers=auth)
        assert _code(e.value) == "RESOURCE_EXHAUSTED"
        assert c.infer("addrelu", [_input("x", x)], headers=auth).as_numpy("y").shape == (1, 4)
        c.close()


# ---------------------------------------------------------------- the codec alone (no server)

_DTYPES = [
    np.float32,
    np.float16,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.bool_,
]
_TYPED = {
    np.float32: "fp32_contents",
    np.float64: "fp64_contents",
    np.int8: "int_contents",
    np.int16: "int_contents",
    np.int32: "int_contents",
    np.int64: "int64_contents",
    np.uint8: "uint_contents",
    np.uint16: "uint_contents",
    np.uint32: "uint_contents",
    np.uint64: "uint64_contents",
    np.bool_: "bool_contents",
}
_NAMES = {
    np.float64: "FP64",
    np.int8: "INT8",
    np.int16: "INT16",
    np.uint16: "UINT16",
    np.uint32: "UINT32",
    np.uint64: "UINT64",
    **DT,
}


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    ),
    st.booleans(),
)
def test_parse_then_encode_round_trips(arr, typed):
    typed = typed and arr.dtype.type in _TYPED
    req = pb.ModelInferRequest(model_name="m")
    t = req.inputs.add(name="t", datatype=_NAMES[arr.dtype.type], shape=arr.shape)
    if typed:
        getattr(t.contents, _TYPED[arr.dtype.type]).extend(arr.ravel().tolist())
    else:
        req.raw_input_contents.append(arr.tobytes())
    parsed = parse_model_infer_request(pb.ModelInferRequest.FromString(req.SerializeToString()), Limits())
    got = parsed.inputs["t"]
    assert got.dtype == arr.dtype and got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)
    resp = encode_model_infer_response("m", "1", None, {"t": got}, None)
    back = np.frombuffer(resp.raw_output_contents[0], arr.dtype).reshape(tuple(resp.outputs[0].shape))
    np.testing.assert_array_equal(back, arr)


def test_bytes_tensors_raw_and_typed():
    values = [b"", b"abc", "h\u00e9".encode()]
    raw = b"".join(len(v).to_bytes(4, "little") + v for v in values)
    for use_raw in (True, False):
        req = pb.ModelInferRequest(model_name="m")
        t = req.inputs.add(name="s", datatype="BYTES", shape=[3])
        if use_raw:
            req.raw_input_contents.append(raw)
        else:
            t.contents.bytes_contents.extend(values)
        got = parse_model_infer_request(req, Limits()).inputs["s"]
        assert got.dtype == object and list(got) == values
        resp = encode_model_infer_response("m", "1", "id", {"s": got}, None)
        assert resp.outputs[0].datatype == "BYTES" and resp.raw_output_contents[0] == raw
    truncated = pb.ModelInferRequest(model_name="m", raw_input_contents=[raw[:-1]])
    truncated.inputs.add(name="s", datatype="BYTES", shape=[3])
    with pytest.raises(InvalidMessage, match="'s'"):
        parse_model_infer_request(truncated, Limits())


def test_limits_and_ranges():
    req = pb.ModelInferRequest(model_name="m")
    req.inputs.add(name="a", datatype="INT8", shape=[2]).contents.int_contents.extend([1, 300])
    with pytest.raises(InvalidMessage, match="'a'.*300.*INT8"):
        parse_model_infer_request(req, Limits())
    req = pb.ModelInferRequest(model_name="m")
    for i in range(3):
        req.inputs.add(name=f"t{i}", datatype="FP32", shape=[1]).contents.fp32_contents.append(1.0)
    with pytest.raises(LimitExceeded, match="3 inputs"):
        parse_model_infer_request(req, Limits(max_tensors=2))
    with pytest.raises(LimitExceeded, match="elements"):
        parse_model_infer_request(req, Limits(max_elements=2))
