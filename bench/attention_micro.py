#!/usr/bin/env python3
"""Fused r1::Attention vs the unfused MatMul/Mul/Softmax/MatMul graph, in deepseek_r1 and in onnxruntime.

    python bench/attention_micro.py                       # seq 128..2048, 1 and 2 threads
    python bench/attention_micro.py --seqs 128 --threads 1 --runs 20
    python bench/attention_micro.py --causal               # GPT-2 style: skips masked blocks

Batch 1, 12 heads, head dim 64, Sq = Sk = seq, K given transposed ([B, H, D, Sk], as BERT exports it).
Engines (each gets exactly n intra-op threads):
  fused       one r1::Attention node (k_transposed=1), precision fp32
  fused-bf16  the same with precision=bf16 (AVX512-BF16 dot products, fp32 accumulation)
  unfused     the MatMul -> Mul(scale) -> Softmax -> MatMul graph in deepseek_r1 (optimization level 1,
              so no fusion pass rewrites it)
  ort         the same unfused graph in onnxruntime (ORT_ENABLE_ALL, sequential, inter_op 1)
Reports the median (and p90) of --runs timed runs after --warmup runs, in ms; the engines take turns
run by run so that load from other processes on a shared machine falls on all of them alike.
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

H, D = 12, 64


def fused_model(seq: int, precision: str, causal: bool = False):
    f = TensorProto.FLOAT
    ins = [
        helper.make_tensor_value_info("q", f, [1, H, seq, D]),
        helper.make_tensor_value_info("kt", f, [1, H, D, seq]),
        helper.make_tensor_value_info("v", f, [1, H, seq, D]),
    ]
    node = helper.make_node(
        "Attention",
        ["q", "kt", "v"],
        ["o"],
        domain="r1",
        k_transposed=1,
        precision=precision,
        scale=1.0 / np.sqrt(D),
        causal=int(causal),
    )
    g = helper.make_graph([node], "attn", ins, [helper.make_tensor_value_info("o", f, [1, H, seq, D])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])


def unfused_model(seq: int, causal: bool = False):
    f = TensorProto.FLOAT
    ins = [
        helper.make_tensor_value_info("q", f, [1, H, seq, D]),
        helper.make_tensor_value_info("kt", f, [1, H, D, seq]),
        helper.make_tensor_value_info("v", f, [1, H, seq, D]),
    ]
    nodes = [
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
    ]
    init = [helper.make_tensor("scale", f, [], [1.0 / np.sqrt(D)])]
    if causal:  # an additive -inf mask above the diagonal, as exporters write it
        nodes[2].input[0] = "sm"
        nodes.insert(2, helper.make_node("Add", ["ss", "causal_mask"], ["sm"]))
        m = np.triu(np.full((seq, seq), -np.inf, np.float32), 1)[None, None]
        init.append(numpy_helper.from_array(m, "causal_mask"))
    g = helper.make_graph(nodes, "attn_unfused", ins, [helper.make_tensor_value_info("o", f, [1, H, seq, D])], init)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def make_engine(name: str, seq: int, threads: int, causal: bool = False):
    if name == "ort":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(
            unfused_model(seq, causal).SerializeToString(), so, providers=["CPUExecutionProvider"]
        )
        return lambda feeds: sess.run(None, feeds)[0]
    if name == "unfused":
        eng = r1.InferenceEngine(
            r1.Model(r1.load_onnx(unfused_model(seq, causal))), num_threads=threads, optimization_level=1
        )
    else:
        prec = "bf16" if name == "fused-bf16" else "fp32"
        eng = r1.InferenceEngine(r1.Model(r1.load_onnx(fused_model(seq, prec, causal))), num_threads=threads)
    return lambda feeds: eng.run(feeds)["o"]


def time_all(fns: dict, feeds, runs: int, warmup: int) -> dict:
    """Median and p90 ms per engine. The engines take turns run by run, so load from other processes
    on a shared machine falls on all of them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn(feeds)
    ts = {e: [] for e in fns}
    for _ in range(runs):
        for e, fn in fns.items():
            t0 = time.perf_counter()
            fn(feeds)
            ts[e].append((time.perf_counter() - t0) * 1e3)
    return {e: (float(np.median(t)), float(np.percentile(t, 90))) for e, t in ts.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seqs", default="128,512,1024,2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--engines", default="fused,fused-bf16,unfused,ort")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--causal", action="store_true", help="causal attention (GPT-2); unfused graphs add a -inf mask")
    a = ap.parse_args()
    engines = a.engines.split(",")
    print(f"batch 1, {H} heads, head dim {D}{', causal' if a.causal else ''}; median (p90) ms of {a.runs} runs")
    print("| seq | threads | " + " | ".join(engines) + " | fused vs unfused | fused vs ort |")
    print("|---|---|" + "---|" * (len(engines) + 2))
    rng = np.random.default_rng(0)
    for seq in [int(s) for s in a.seqs.split(",")]:
        feeds = {
            "q": rng.standard_normal((1, H, seq, D), dtype=np.float32),
            "kt": rng.standard_normal((1, H, D, seq), dtype=np.float32),
            "v": rng.standard_normal((1, H, seq, D), dtype=np.float32),
        }
        for th in [int(t) for t in a.threads.split(",")]:
            fns = {e: make_engine(e, seq, th, a.causal) for e in engines}
            outs = {e: fn(feeds) for e, fn in fns.items()}
            res = time_all(fns, feeds, a.runs, a.warmup)
            del fns
            ref = outs.get("ort", outs.get("unfused"))
            for e in engines:  # sanity: every engine computes the same thing
                tol = 3e-2 if e == "fused-bf16" else 1e-4
                err = np.abs(outs[e] - ref).max() / np.abs(ref).max()  # (row 0 of causal sees one key)
                assert err < tol, f"{e} differs from the reference by {err:.2e}"
            cells = [f"{res[e][0]:.3f} ({res[e][1]:.3f})" for e in engines]
            ratio = lambda x, y, res=res: f"{res[y][0] / res[x][0]:.2f}x" if x in res and y in res else "-"
            print(
                f"| {seq} | {th} | "
                + " | ".join(cells)
                + f" | {ratio('fused', 'unfused')} | {ratio('fused', 'ort')} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
