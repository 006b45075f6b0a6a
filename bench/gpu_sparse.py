#!/usr/bin/env python3
"""2:4 sparse fp16 / bf16 GEMMs on cuSPARSELt (deepseek_r1._cusparselt) against the same shapes dense on cuBLASLt
(deepseek_r1._cublas), one r1::FusedMatMul (Y = X @ W + b) on cuda:0, in the same process on the same card.

    python bench/gpu_sparse.py                       # FFN shapes of BERT-base / GPT-2 and a 4096 square, M 1..4096
    python bench/gpu_sparse.py --m 1,16 --precisions fp16 --iters 200

Each row: the dense engine (weights as they are: cuBLASLt) and the sparse one (the same weights pruned 2:4 by
magnitude: cuSPARSELt, checked with _cusparselt.stats()), timed in alternating blocks of --iters calls after a
warm-up, medians in microseconds host to host (numpy in, numpy out, as every engine of bench/gpu.py). Without a
CUDA device, or without both modules, it says why and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _paths import use_test_helpers

use_test_helpers()
import deepseek_r1 as r1  # noqa: E402
from deepseek_r1 import gpu  # noqa: E402
from deepseek_r1.quantize.sparsify import prune_2to4  # noqa: E402
from helpers.ffn_model import ffn_model  # noqa: E402

SHAPES = [("ffn-up", 768, 3072), ("ffn-down", 3072, 768), ("square", 4096, 4096)]


def median_us(eng, x, iters):
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        eng.run({"x": x})
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", default="1,16,128,1024,4096")
    ap.add_argument("--precisions", default="fp16,bf16")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    devices = [d for d in r1.devices() if d.startswith("cuda")]
    if not devices:
        print("no CUDA device: nothing to measure (cuSPARSELt is CUDA only)")
        return 0
    if not (gpu.cusparselt_active() and gpu.cublas_active()):
        print(f"needs deepseek_r1._cusparselt and _cublas (pip install 'deepseek_r1[cuda]'): {gpu.load_errors()}")
        return 0
    sp = importlib.import_module("deepseek_r1._cusparselt")
    print(f"device {devices[0]}; medians of {a.rounds} x {a.iters} calls, microseconds host to host")
    print("| layer | M x K x N | precision | cuBLASLt dense | cuSPARSELt 2:4 | dense / sparse |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for label, k, n in SHAPES:
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        for prec in a.precisions.split(","):
            dense = r1.InferenceEngine(ffn_model(w, b), device=devices[0], precision=prec)
            sparse = r1.InferenceEngine(ffn_model(prune_2to4(w, 0), b), device=devices[0], precision=prec)
            for m in [int(v) for v in a.m.split(",")]:
                x = rng.standard_normal((m, k)).astype(np.float32)
                for e in (dense, sparse):
                    e.run({"x": x})
                sp.reset_stats()
                sparse.run({"x": x})
                if sp.stats()["sparse_calls"] < 1:
                    print(f"| {label} | {m}x{k}x{n} | {prec} | - | not run on cuSPARSELt ({sp.stats()}) | - |")
                    continue
                td, ts = [], []
                for _ in range(a.rounds):
                    td.append(median_us(dense, x, a.iters))
                    ts.append(median_us(sparse, x, a.iters))
                d, s = float(np.median(td)), float(np.median(ts))
                print(f"| {label} | {m}x{k}x{n} | {prec} | {d:.0f} | {s:.0f} | {d / s:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
