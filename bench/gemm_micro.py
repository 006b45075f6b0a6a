#!/usr/bin/env python3
"""r1::FusedMatMul (fp32 and bf16) vs numpy/OpenBLAS, onnxruntime (MLAS) and OpenVINO on transformer GEMMs.

    python bench/gemm_micro.py                        # every shape, 1 and 2 threads
    python bench/gemm_micro.py --shapes bert --threads 1 --runs 30

Each row is one layer's Y = epilogue(X @ W + b) with X [M, K] and a constant W [K, N]:
  the FFN up-projection (N = 4K) has a GELU (erf) epilogue, the others only the bias.
Engines (each gets exactly n intra-op threads, one stream):
  numpy       X @ W alone through numpy's OpenBLAS (threadpoolctl), no bias/activation: the GEMM floor
  r1-fp32     one r1::FusedMatMul node, W packed by _core.pack_weights (what weight_prepack does)
  r1-bf16     the same with precision=bf16 (AVX512-BF16 dot products, fp32 accumulation)
  r1-int8     the same with precision=int8 (int8 weights per channel, X quantized per row on each call, VNNI)
  ort         MatMul -> Add (-> Gelu) in onnxruntime, ORT_ENABLE_ALL (it fuses these into its own ops)
  ov-fp32     the same graph in OpenVINO, INFERENCE_PRECISION_HINT f32
  ov-bf16     the same graph in OpenVINO, INFERENCE_PRECISION_HINT bf16
GFLOP/s = 2 M K N / median seconds of --runs timed calls (after --warmup); higher is better. Every
engine's result is checked against numpy (fp32 engines to 1e-4, bf16 to 3e-2 of the max).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _paths import use_r1

use_r1()
import deepseek_r1 as r1  # noqa: E402
from deepseek_r1 import _core  # noqa: E402

# (model, M, K, N, activation): BERT-base / MiniLM / GPT-2 at batch 1, seq 128; MiniLM at batch 32.
SHAPES = {
    "bert": [
        ("bert-qkv/out", 128, 768, 768, ""),
        ("bert-ffn-up", 128, 768, 3072, "Gelu"),
        ("bert-ffn-down", 128, 3072, 768, ""),
    ],
    "minilm": [
        ("minilm-qkv/out", 128, 384, 384, ""),
        ("minilm-ffn-up", 128, 384, 1536, "Gelu"),
        ("minilm-ffn-down", 128, 1536, 384, ""),
    ],
    "gpt2": [("gpt2-c_attn", 128, 768, 2304, "")],
    "minilm-b32": [
        ("minilm-b32-qkv", 4096, 384, 384, ""),
        ("minilm-b32-up", 4096, 384, 1536, "Gelu"),
        ("minilm-b32-down", 4096, 1536, 384, ""),
    ],
}
F = TensorProto.FLOAT


def unfused_model(w, b, act, m):
    k, n = w.shape
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["y" if not act else "z"]),
    ]
    if act:
        nodes.append(helper.make_node("Gelu", ["z"], ["y"]))
    g = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("x", F, [m, k])],
        [helper.make_tensor_value_info("y", F, [m, n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])


def fused_model(w, b, act, m, precision):
    k, n = w.shape
    blob = _core.pack_weights(w, False, precision)
    node = helper.make_node(
        "FusedMatMul", ["x", "w", "b"], ["y"], domain="r1", activation=act, packed_b=1, k=k, n=n, precision=precision
    )
    g = helper.make_graph(
        [node],
        "fused",
        [helper.make_tensor_value_info("x", F, [m, k])],
        [helper.make_tensor_value_info("y", F, [m, n])],
        [numpy_helper.from_array(blob, "w"), numpy_helper.from_array(b, "b")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])


def make_engine(name, w, b, act, m, threads):
    if name == "numpy":
        from threadpoolctl import threadpool_limits

        def run(x):
            with threadpool_limits(threads):
                return x @ w

        return run
    if name.startswith("r1-"):
        eng = r1.InferenceEngine(r1.Model(r1.load_onnx(fused_model(w, b, act, m, name[3:]))), num_threads=threads)
        return lambda x: eng.run({"x": x})["y"]
    model = unfused_model(w, b, act, m)
    if name == "ort":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return lambda x: sess.run(None, {"x": x})[0]
    import openvino as ov

    core = ov.Core()
    cfg = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "bf16" if name == "ov-bf16" else "f32",
    }
    req = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU", cfg).create_infer_request()
    return lambda x: req.infer({0: x})[0].copy()


def median_seconds(fn, x, runs, warmup):
    for _ in range(warmup):
        fn(x)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def reference(x, w, b, act):
    y = x.astype(np.float64) @ w + b
    if act == "Gelu":
        from scipy.special import erf

        y = 0.5 * y * (1 + erf(y / np.sqrt(2)))
    return y


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="bert,minilm,gpt2,minilm-b32", help="groups: " + ",".join(SHAPES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--engines", default="numpy,r1-fp32,r1-bf16,ort,ov-fp32,ov-bf16")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    engines = a.engines.split(",")
    print(
        f"GFLOP/s (2MKN / median of {a.runs} runs); r1 GEMM path: fp32 {_core.gemm_path('fp32')}, "
        f"bf16 {_core.gemm_path('bf16')}"
    )
    print("| layer | M x K x N | threads | " + " | ".join(engines) + " | r1-fp32 / ort | r1-bf16 / ov-bf16 |")
    print("|---|---|---|" + "---|" * (len(engines) + 2))
    rng = np.random.default_rng(0)
    for group in a.shapes.split(","):
        for label, m, k, n, act in SHAPES[group]:
            x = rng.standard_normal((m, k), dtype=np.float32)
            w = (rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(k)).astype(np.float32)
            b = rng.standard_normal(n, dtype=np.float32)
            ref = reference(x, w, b, act)
            for th in [int(t) for t in a.threads.split(",")]:
                gf = {}
                for e in engines:
                    fn = make_engine(e, w, b, act, m, th)
                    if e != "numpy":
                        err = np.abs(fn(x) - ref).max() / np.abs(ref).max()
                        assert err < (3e-2 if "bf16" in e or "int8" in e else 1e-4), f"{e} on {label}: error {err:.2e}"
                    gf[e] = 2.0 * m * k * n / median_seconds(fn, x, a.runs, a.warmup) / 1e9
                    del fn
                ratio = lambda p, q, gf=gf: f"{gf[p] / gf[q]:.2f}x" if p in gf and q in gf else "-"
                print(
                    f"| {label} | {m}x{k}x{n} | {th} | "
                    + " | ".join(f"{gf[e]:.0f}" for e in engines)
                    + f" | {ratio('r1-fp32', 'ort')} | {ratio('r1-bf16', 'ov-bf16')} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
