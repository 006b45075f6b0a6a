#!/usr/bin/env python3
"""2:4 sparse int8 feed-forward GEMMs against our dense int8 GEMM, by rows (M) and threads.

    python bench/sparse_gemm.py                               # BERT/GPT-2 FFN shapes, M 1..512, 1 and 2 threads
    python bench/sparse_gemm.py --m 1,128 --threads 1 --runs 50

Each row is one r1::FusedMatMul at precision int8, Y = X @ W + b with X [M, K] fp32 (quantized per row on each
call) and a constant W [K, N] packed at load:
  dense     W dense int8 (per-channel), the VNNI kernel: the baseline every ratio is against
  sparse    W pruned 2:4 (r1.quantize.sparsify.prune_2to4), stored compressed, forced through the sparse kernel
  held      the same weights forced through the dense kernel over a dense copy held beside the compressed one
            (the fallback: made only for a shape where it measures faster, at 8/5 of the compressed bytes more)
  auto      what ships: the faster of the two (held by a 2% margin), measured once per shape
            (cpp/r1/cpu/gemm/sparse_choice.h)
Engines are interleaved in rounds (each round: a block of 10 timed calls per engine) and the medians of --runs
calls reported, in microseconds;
dense/x > 1 means x is faster than dense. M = 1 is a decode step of a language model (batch 1): the weights'
bytes bound it. M = 128 is BERT-base at batch 1, sequence 128: the dot products bound it. One layer's weights
stay in the L3 cache between calls; the "stack" rows chain --stack FFN layers (up, ReLU, down: GPT-2's widths)
whose int8 weights exceed the L3 cache, so every call streams them from memory, as a decode step does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _paths import use_r1

use_r1()
import deepseek_r1 as r1  # noqa: E402
from deepseek_r1 import _core  # noqa: E402
from deepseek_r1.quantize.sparsify import prune_2to4  # noqa: E402
from gemm_micro import fused_model  # noqa: E402

F = TensorProto.FLOAT
SHAPES = [("ffn-up (BERT-base, GPT-2)", 768, 3072), ("ffn-down (BERT-base, GPT-2)", 3072, 768)]
ENGINES = ("dense", "sparse", "held", "auto")


def engine(w, b, m, threads):
    model = fused_model(w, b, "", m, "int8")
    return r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads)


def stack_model(ws, m, k):
    """x -> (x @ up + b1 -> ReLU -> @ down + b2) per layer, chained."""
    nodes, inits, cur = [], [], "x"
    for i, (up, down) in enumerate(ws):
        inits += [numpy_helper.from_array(up, f"up{i}"), numpy_helper.from_array(down, f"down{i}")]
        nodes += [
            helper.make_node("MatMul", [cur, f"up{i}"], [f"h{i}"]),
            helper.make_node("Relu", [f"h{i}"], [f"r{i}"]),
            helper.make_node("MatMul", [f"r{i}", f"down{i}"], [f"y{i}"]),
        ]
        cur = f"y{i}"
    g = helper.make_graph(
        nodes, "stack", [helper.make_tensor_value_info("x", F, [m, k])], [helper.make_tensor_value_info(cur, F, None)],
        inits,
    )  # fmt: skip
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def time_interleaved(paths, feeds, runs, block=10):
    """Median microseconds per engine: rounds interleave the engines, each round times a block of `block` calls of
    one engine after one untimed call (each engine has its own thread pool: single calls alternating between two
    pools on 2 cores measure their hand-overs more than the products)."""
    times: dict[str, list[float]] = {e: [] for e in paths}
    for _ in range(max(1, runs // block)):
        for e, (path, eng) in paths.items():
            _core.set_sparse_path(path)
            eng.run(feeds)
            for _ in range(block):
                t0 = time.perf_counter()
                eng.run(feeds)
                times[e].append(time.perf_counter() - t0)
    return {e: float(np.median(v)) * 1e6 for e, v in times.items()}


def stack_rows(layers, threads, runs, rng):
    k, n = 768, 3072
    ws = [
        ((rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32),
         (rng.standard_normal((n, k)) / np.sqrt(n)).astype(np.float32))
        for _ in range(layers)
    ]  # fmt: skip
    wss = [(prune_2to4(u, 0), prune_2to4(d, 0)) for u, d in ws]
    mib = layers * 2 * k * n / 2**20
    for th in threads:
        x = rng.standard_normal((1, k)).astype(np.float32)
        dense = r1.InferenceEngine(r1.Model(r1.load_onnx(stack_model(ws, 1, k))), precision="int8", num_threads=th)
        sparse = r1.InferenceEngine(r1.Model(r1.load_onnx(stack_model(wss, 1, k))), precision="int8", num_threads=th)
        _core.clear_sparse_choices()
        paths = {"dense": ("auto", dense), "sparse": ("sparse", sparse), "held": ("dense", sparse)}
        paths["auto"] = ("auto", sparse)
        for path, eng in paths.values():
            _core.set_sparse_path(path)
            eng.run({"x": x})
        med = time_interleaved(paths, {"x": x}, runs)
        print(
            f"| stack of {layers} FFN layers ({mib:.0f} MiB int8 dense) | 1x{k}x{n} x{2 * layers} | {th} | "
            + " | ".join(f"{med[e]:.0f}" for e in ENGINES)
            + f" | {med['dense'] / med['sparse']:.2f}x | {med['dense'] / med['auto']:.2f}x |",
            flush=True,
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", default="1,4,16,64,128,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--stack", type=int, default=24, help="FFN layers in the beyond-L3 rows (0: none)")
    a = ap.parse_args()
    if not _core.sparse_kernel_available():
        print("note: no sparse kernel on this CPU (needs AVX512-VNNI and AVX512-VBMI): 'sparse' runs expanded")
    print(f"r1 int8 GEMM path: {_core.gemm_path('int8')}; medians of {a.runs} interleaved rounds, microseconds")
    print("| layer | M x K x N | threads | " + " | ".join(ENGINES) + " | dense / sparse | dense / auto |")
    print("|---|---|---|" + "---|" * (len(ENGINES) + 2))
    rng = np.random.default_rng(0)
    for label, k, n in SHAPES:
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
        ws = prune_2to4(w, 0)
        b = rng.standard_normal(n).astype(np.float32)
        for th in [int(t) for t in a.threads.split(",")]:
            for m in [int(x) for x in a.m.split(",")]:
                x = rng.standard_normal((m, k)).astype(np.float32)
                dense, sparse = engine(w, b, m, th), engine(ws, b, m, th)
                with threadpool_limits(1):  # OpenBLAS's own threads would spin on our cores while we time
                    ref = x.astype(np.float64) @ ws + b
                paths = {"dense": ("auto", dense), "sparse": ("sparse", sparse), "held": ("dense", sparse)}
                _core.clear_sparse_choices()  # 'auto' measures this shape anew, in its warm-up call
                paths["auto"] = ("auto", sparse)
                for e, (path, eng) in paths.items():  # warm-up, and the check that each is right
                    _core.set_sparse_path(path)
                    y = eng.run({"x": x})["y"]
                    if e != "dense":
                        err = np.abs(y - ref).max() / np.abs(ref).max()
                        assert err < 3e-2, f"{e} on {label} M={m}: error {err:.2e}"
                med = time_interleaved(paths, {"x": x}, a.runs)
                print(
                    f"| {label} | {m}x{k}x{n} | {th} | "
                    + " | ".join(f"{med[e]:.0f}" for e in ENGINES)
                    + f" | {med['dense'] / med['sparse']:.2f}x | {med['dense'] / med['auto']:.2f}x |",
                    flush=True,
                )
                del dense, sparse
    if a.stack:
        stack_rows(a.stack, [int(t) for t in a.threads.split(",")], a.runs, rng)
    _core.set_sparse_path("auto")


if __name__ == "__main__":
    main()
