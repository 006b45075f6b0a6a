"""M3: heavy request bodies neither block the event loop nor cost memory out of proportion to their size.

A 61 MB binary body of 16M empty BYTES elements stalled every request for 5.3 s (a Python object per element)
although the model takes no BYTES at all; a 57 MB JSON body of integers stalled the loop 3.3 s. Now each tensor's
header is held to the model's declared inputs before its data is decoded, and large bodies decode off the loop.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from onnx import TensorProto, helper

import deepseek_r1 as r1
from deepseek_r1.kserve import tensors
from helpers.serve_fixtures import add_relu_model, http_request, save_r1


def _relu_any_width():
    x = helper.make_tensor_value_info("x", TensorProto.INT32, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, ["batch", "n"])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _post(url, body: bytes, headers=None):
    status, reply, _ = http_request(url, body, headers, "POST", timeout=60)
    return status, reply


def test_bytes_for_a_model_without_bytes_inputs_is_refused_before_decoding(tmp_path, monkeypatch):
    calls = []
    real = tensors.decode_bytes_tensor
    monkeypatch.setattr(tensors, "decode_bytes_tensor", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = save_r1(add_relu_model(4), tmp_path / "m.r1")
    n = 4 << 20  # 4M empty elements: 16 MB of length prefixes
    header = json.dumps(
        {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [n], "parameters": {"binary_data_size": 4 * n}}]}
    ).encode()
    with r1.InferenceServer(model_path=path, poll_interval_s=None) as s:
        status, body = _post(
            f"{s.url}/v2/models/m/infer",
            header + b"\0" * (4 * n),
            {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
        )
        assert status == 400 and b"must be FP32" in body, body
        # ...and so is a legal datatype with more rows than max_batch_size (32): no 2 GB of rows decoded
        header = json.dumps(
            {
                "inputs": [
                    {
                        "name": "x",
                        "datatype": "FP32",
                        "shape": [1 << 20, 4],
                        "parameters": {"binary_data_size": 16 << 20},
                    }
                ]
            }
        ).encode()
        status, body = _post(
            f"{s.url}/v2/models/m/infer",
            header + b"\0" * (16 << 20),
            {"Inference-Header-Content-Length": str(len(header))},
        )
        assert status == 400 and b"max_batch_size 32" in body, body
    assert calls == []


def test_health_answers_while_a_large_json_body_is_parsed(tmp_path):
    path = save_r1(_relu_any_width(), tmp_path / "m.r1")
    n = 8 << 20  # 8M integers, 24 MB of JSON: json.loads held the event loop ~1.5 s for this
    body = b'{"inputs":[{"name":"x","datatype":"INT32","shape":[1,%d],"data":[' % n + b"-7," * (n - 1) + b"5]}]}"
    with r1.InferenceServer(model_path=path, poll_interval_s=None, max_request_bytes=64 << 20) as s:
        result = {}

        def heavy():
            result["status"], result["body"] = _post(f"{s.url}/v2/models/m/infer", body)

        t = threading.Thread(target=heavy)
        t.start()
        worst = 0.0
        while t.is_alive():
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"{s.url}/v2/health/live", timeout=30) as r:
                assert r.status == 200
            worst = max(worst, time.perf_counter() - t0)
            time.sleep(0.01)
        t.join()
        assert result["status"] == 200, result["body"][:300]
        out = json.loads(result["body"])["outputs"][0]
        assert out["datatype"] == "INT32" and out["shape"] == [1, n]
        assert out["data"][-1] == 5 and out["data"][0] == 0
        assert worst < 0.5, f"a health probe waited {worst:.2f} s behind the parse"


def test_binary_header_length_with_absurd_digits_is_a_400(tmp_path):
    path = save_r1(add_relu_model(4), tmp_path / "m.r1")
    with r1.InferenceServer(model_path=path, poll_interval_s=None) as s:
        body = struct.pack("<4f", 1, 2, 3, 4)
        status, reply = _post(f"{s.url}/v2/models/m/infer", body, {"Inference-Header-Content-Length": "9" * 5000})
        assert status == 400 and b"Inference-Header-Content-Length" in reply, reply
        assert np.frombuffer(body, np.float32).size == 4
