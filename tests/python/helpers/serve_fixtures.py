"""Model files and repositories for the server tests (tiny models built with onnx.helper, compiled to .r1)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from helpers.small_models import add_relu_model


def matmul_model(width: int = 256, seed: int = 0) -> onnx.ModelProto:
    """y = relu(x @ W + b), x: float32[batch, width]; W is width*width floats (256 KB at 256)."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
    b = rng.standard_normal(width).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])
    g = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["m"]),
            helper.make_node("Add", ["m", "b"], ["a"]),
            helper.make_node("Relu", ["a"], ["y"]),
        ],
        "mm",
        [x],
        [y],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def multi_dtype_model() -> onnx.ModelProto:
    """Identity on each of several dtypes: f32 [batch, 3], i64 [batch, 2], u8 [batch, 5], bool [batch, 1]."""
    specs = [
        ("f", TensorProto.FLOAT, 3),
        ("i", TensorProto.INT64, 2),
        ("u", TensorProto.UINT8, 5),
        ("b", TensorProto.BOOL, 1),
        ("h", TensorProto.FLOAT16, 2),
        ("k", TensorProto.INT32, 2),
    ]
    ins = [helper.make_tensor_value_info(n, t, ["batch", w]) for n, t, w in specs]
    outs = [helper.make_tensor_value_info(n + "_out", t, ["batch", w]) for n, t, w in specs]
    nodes = [helper.make_node("Identity", [n], [n + "_out"]) for n, _, _ in specs]
    return helper.make_model(helper.make_graph(nodes, "ids", ins, outs), opset_imports=[helper.make_opsetid("", 17)])


def save_r1(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    r1.save_model(r1.Model(r1.load_onnx(model)), tmp)
    os.replace(tmp, path)  # atomic: a scanning server never sees half a file
    return path


def add_version(repo: Path, name: str, version: int, model: onnx.ModelProto) -> Path:
    return save_r1(model, repo / name / str(version) / "model.r1")


def make_test_repository(root: Path) -> Path:
    """addrelu v1 and v2 (seeds 1, 2), dtypes v1 (max_batch_size 8), and spare v1 for load/unload tests."""
    import json

    add_version(root, "addrelu", 1, add_relu_model(width=4, seed=1))
    add_version(root, "addrelu", 2, add_relu_model(width=4, seed=2))
    add_version(root, "dtypes", 1, multi_dtype_model())
    (root / "dtypes" / "config.json").write_text(json.dumps({"max_batch_size": 8}))
    add_version(root, "spare", 1, add_relu_model(width=4, seed=3))
    return root


def reference_add_relu(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    w = numpy_helper.to_array(model.graph.initializer[0])
    return np.maximum(x + w, 0)


__all__ = [
    "add_relu_model",
    "add_version",
    "make_test_repository",
    "matmul_model",
    "multi_dtype_model",
    "reference_add_relu",
    "save_r1",
]


def http_request(
    url: str, body: bytes | None = None, headers: dict | None = None, method: str | None = None, timeout=30
):
    """(status, body, headers) of one HTTP request through urllib, so the test chooses every header (tritonclient
    sends no Content-Type; a test may send a Host of its own). Error statuses are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
