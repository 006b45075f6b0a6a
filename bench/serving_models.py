"""Models and request bodies for bench/serving.py.

minilm: all-MiniLM-L6-v2 (tests/python/helpers/models.py's cached legacy export) with one graph output,
sentence_embedding [batch, 384]: last_hidden_state ([batch, seq, 384], 49k floats per request) is dropped
so that no server spends its time serialising a tensor nobody asked for. One request = one sequence of
128 tokens (input_ids, attention_mask, token_type_ids: int64 [1, 128]).
echo: y = x + 1 on float32 [batch, 4], for the server-CPU-per-request figure (the model costs ~nothing).
Both are written once into ~/.cache/deepseek_r1/serving-bench/ (override: $R1_SERVING_CACHE), next to
their .r1 compilations; the file stem is the model name every server uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEQ = 128


def cache_dir() -> Path:
    d = Path(os.environ.get("R1_SERVING_CACHE", Path.home() / ".cache" / "deepseek_r1" / "serving-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def minilm_onnx() -> Path:
    out = cache_dir() / "minilm.onnx"
    if out.is_file():
        return out
    import onnx

    from _paths import use_test_helpers

    use_test_helpers()
    from helpers.models import export_model  # the project's cached exporter

    m = onnx.load(str(export_model("minilm", "legacy")))
    keep = [o for o in m.graph.output if o.name == "sentence_embedding"]
    del m.graph.output[:]
    m.graph.output.extend(keep)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    onnx.save(m, str(tmp))
    os.replace(tmp, out)
    return out


def echo_onnx() -> Path:
    out = cache_dir() / "echo.onnx"
    if out.is_file():
        return out
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    g = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "echo", [x], [y], [one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return out


def to_r1(onnx_path: Path) -> Path:
    """Compiles with deepseek_r1.ModelConverter once (again when the ONNX file is newer)."""
    out = onnx_path.with_suffix(".r1")
    if not out.is_file() or out.stat().st_mtime < onnx_path.stat().st_mtime:
        import deepseek_r1 as r1

        r1.ModelConverter(input_model=str(onnx_path), framework="onnx", output_path=str(out)).convert()
    return out


def feeds(model: str) -> dict[str, np.ndarray]:
    """One request's tensors, batch dimension 1. Fixed seed: every server gets the same bytes."""
    rng = np.random.default_rng(0)
    if model == "minilm":
        ids = rng.integers(1000, 30000, size=(1, SEQ), dtype=np.int64)
        ids[0, 0], ids[0, -1] = 101, 102  # [CLS] ... [SEP]
        return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    if model == "echo":
        return {"x": rng.standard_normal((1, 4)).astype(np.float32)}
    raise KeyError(f"unknown model {model!r}")


_V2 = {np.dtype(np.int64): "INT64", np.dtype(np.float32): "FP32"}


@dataclass
class Body:
    data: bytes
    headers: dict[str, str]
    fmt: str  # what the report says this server was sent


def v2_json(f: dict[str, np.ndarray]) -> Body:
    req = {
        "inputs": [
            {"name": k, "shape": list(v.shape), "datatype": _V2[v.dtype], "data": v.ravel().tolist()}
            for k, v in f.items()
        ]
    }
    return Body(json.dumps(req, separators=(",", ":")).encode(), {"Content-Type": "application/json"}, "v2 JSON")


def v2_binary(f: dict[str, np.ndarray]) -> Body:
    """KServe v2 binary tensor extension: JSON header + raw little-endian tensor bytes; outputs binary too."""
    header = {
        "inputs": [
            {"name": k, "shape": list(v.shape), "datatype": _V2[v.dtype], "parameters": {"binary_data_size": v.nbytes}}
            for k, v in f.items()
        ],
        "parameters": {"binary_data_output": True},
    }
    h = json.dumps(header, separators=(",", ":")).encode()
    raw = b"".join(np.ascontiguousarray(v).astype(v.dtype.newbyteorder("<")).tobytes() for v in f.values())
    return Body(
        h + raw,
        {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(h))},
        "v2 binary ext",
    )


def litserve_json(f: dict[str, np.ndarray]) -> Body:
    req = {k: v[0].tolist() for k, v in f.items()}  # one example, no batch dimension
    return Body(
        json.dumps(req, separators=(",", ":")).encode(),
        {"Content-Type": "application/json"},
        "LitServe JSON (flat lists)",
    )


def first_output(status: int, body: bytes, headers: dict[str, str], kind: str) -> np.ndarray:
    """The response's (only) output as a flat float array, for the correctness check before timing."""
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    if kind == "litserve":
        return np.asarray(next(iter(json.loads(body).values())), dtype=np.float64).ravel()
    hlen = headers.get("Inference-Header-Content-Length") or headers.get("inference-header-content-length")
    head = json.loads(body[: int(hlen)] if hlen else body)
    out = head["outputs"][0]
    if "data" in out:
        return np.asarray(out["data"], dtype=np.float64).ravel()
    return np.frombuffer(body[int(hlen) : int(hlen) + out["parameters"]["binary_data_size"]], "<f4").astype(np.float64)
