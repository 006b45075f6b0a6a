"""Hardening of the gRPC endpoint: the same rights and checks as HTTP (test_serve_hardening_api.py), through the
shared code: admin keys for repository load / unload, the key's priority ceiling, confined override paths."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
import grpc
from test_serve_hardening_api import ADMIN, CRIT, KEYS, REFUSED, USER, make_repo
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import InferenceServerException

import deepseek_r1 as r1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("repo"))
    s = r1.InferenceServer(repository=repo, poll_interval_s=None, api_keys=KEYS, grpc_port=0).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    c = tritonclient_grpc.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    yield c
    c.close()


def _auth(key):
    return {"authorization": f"Bearer {key}"}


def _fails(code: str, needle: str, fn, *args, **kw) -> str:
    with pytest.raises(InferenceServerException) as e:
        fn(*args, **kw)
    assert e.value.status() == f"StatusCode.{code}" and needle in e.value.message(), e.value.message()
    return e.value.message()


def test_repository_load_and_unload_need_an_admin_key(client):
    for key in (USER, CRIT):
        _fails("PERMISSION_DENIED", "'admin' right", client.unload_model, "spare", headers=_auth(key))
        _fails("PERMISSION_DENIED", "'admin' right", client.load_model, "spare", headers=_auth(key))
    _fails("UNAUTHENTICATED", "missing API key", client.unload_model, "spare")
    rows = client.get_model_repository_index(headers=_auth(USER), as_json=True)["models"]  # reading: any key
    assert any(r["name"] == "spare" for r in rows)
    client.unload_model("spare", headers=_auth(ADMIN))
    assert not client.is_model_ready("spare", headers=_auth(USER))
    client.load_model("spare", headers=_auth(ADMIN), config=json.dumps({"max_batch_size": 2}))
    assert client.get_model_config("spare", headers=_auth(USER)).config.max_batch_size == 2


def test_priority_ceiling(server, client):
    x = np.ones((1, 4), np.float32)
    inp = tritonclient_grpc.InferInput("x", [1, 4], "FP32")
    inp.set_data_from_numpy(x)
    msg = _fails("PERMISSION_DENIED", "'critical'", client.infer, "addrelu", [inp], priority=1, headers=_auth(USER))
    assert "'standard'" in msg
    for p in (3, 0):
        assert client.infer("addrelu", [inp], priority=p, headers=_auth(USER)).as_numpy("y").shape == (1, 4)
    assert client.infer("addrelu", [inp], priority=1, headers=_auth(CRIT)).as_numpy("y").shape == (1, 4)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:  # a string priority, as our Client
        req = pb.ModelInferRequest(model_name="addrelu")
        req.inputs.add(name="x", datatype="FP32", shape=[1, 4]).contents.fp32_contents.extend([1.0] * 4)
        req.parameters["priority"].string_param = "premium"
        with pytest.raises(grpc.RpcError) as e:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(req, timeout=30, metadata=tuple(_auth(USER).items()))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED and "'premium'" in e.value.details()


def test_override_paths_are_confined(server, client, tmp_path):
    model_dir = server.repository.root / "tok"
    (tmp_path / "secret.json").write_text("{}")
    os.symlink(tmp_path / "secret.json", model_dir / "grpc-out.json")

    def load(file):
        config = json.dumps({"tokenizer": {"file": file}})
        return client.load_model("tok", headers=_auth(ADMIN), config=config)

    for file in ("/etc/passwd", "/dev/zero", "../../etc/passwd"):
        _fails("INVALID_ARGUMENT", "relative to the model directory", load, file)
    for file in ("grpc-out.json", "no-such.json"):
        msg = _fails("INVALID_ARGUMENT", REFUSED, load, file)
        assert str(tmp_path) not in msg and str(model_dir) not in msg
    assert client.is_model_ready("tok", headers=_auth(USER))  # the serving version kept serving
    rows = client.get_model_repository_index(headers=_auth(USER), as_json=True)["models"]
    row = next(r for r in rows if r["name"] == "tok")
    assert row["state"] == "READY" and row["reason"].startswith("reload failed: cannot load tokenizer")
    load("tokenizer.json")
    meta = client.get_model_metadata("tok", headers=_auth(USER), as_json=True)
    assert any(i["name"] == "text" for i in meta["inputs"])
