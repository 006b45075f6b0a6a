"""bench/cpu_vs_peers.py's measurement: the workers of one (case, threads) timed in rotating rounds, then their
outputs compared (cosine similarity to r1-fp32, max relative error vs onnxruntime).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from cpu_vs_peers_worker import Worker

# --------------------------------------------------------------------------------------------------
# Coordinator


def measure_group(case, threads, engines, spec, a, tmp: Path) -> dict:
    """Runs every engine on one (case, threads) in its own worker, in rotating rounds."""
    res = {e: {"case": case, "threads": threads, "engine": e, "times_ms": []} for e in engines}
    workers = {}
    for e in engines:  # start one at a time: loads and warm-ups never overlap
        w = Worker(e, {**spec, "threads": threads, "warmup": a.warmup}, a.timeout, tmp)
        rep = w.ask()
        res[e]["settings"] = rep.get("settings", {})
        if w.error:
            res[e]["error"] = w.error
            continue
        res[e].update(load_s=rep["load_s"], base_rss_mb=rep["base_rss_mb"], loaded_rss_mb=rep["loaded_rss_mb"])
        workers[e] = w
    per_round = -(-a.runs // a.rounds)
    for r in range(a.rounds):
        n = min(per_round, a.runs - r * per_round)
        order = [e for e in engines[r % len(engines) :] + engines[: r % len(engines)] if e in workers]
        for e in order:
            w = workers[e]
            if w.error:
                continue
            rep = w.ask(f"run {n} {a.round_warmup}")
            if w.error:
                res[e]["error"] = w.error
            else:
                res[e]["times_ms"] += rep["times_ms"]
            time.sleep(0.05)  # let the previous engine's spinning threads settle
    for e, w in workers.items():
        if w.error:
            continue
        rep = w.ask(f"finish {tmp / (e + '.npz')}")
        w.close()
        if w.error:
            res[e]["error"] = w.error
            continue
        res[e].update(peak_rss_mb=rep["peak_rss_mb"], outputs=str(tmp / (e + ".npz")))
        t = np.asarray(res[e]["times_ms"])
        res[e].update(
            runs=int(t.size),
            median_ms=float(np.median(t)),
            p90_ms=float(np.percentile(t, 90)),
            min_ms=float(t.min()),
            mean_ms=float(t.mean()),
        )
    return res


def _outputs(r):
    return dict(np.load(r["outputs"])) if r.get("outputs") else None


def cosine(a: dict, b: dict) -> float:
    worst = 1.0
    for k, y in b.items():
        x = a.get(k)
        if x is None or x.shape != y.shape:
            return float("nan")
        x64, y64 = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
        den = np.linalg.norm(x64) * np.linalg.norm(y64)
        worst = min(worst, float(x64 @ y64 / den) if den else float(np.array_equal(x64, y64)))
    return worst


def max_rel_err(a: dict, ref: dict) -> float:
    worst = 0.0
    for k, y in ref.items():
        x = a.get(k)
        if x is None or x.shape != y.shape:
            return float("inf")
        if y.size:
            worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y)) / max(float(np.max(np.abs(y))), 1e-6)))
    return worst


def compare(group: dict) -> None:
    """Adds accuracy fields: cosine vs r1-fp32, max rel err vs ort; drops the output files."""
    outs = {e: _outputs(r) for e, r in group.items()}
    for e, r in group.items():
        if outs[e] is None:
            continue
        if outs.get("r1-fp32") is not None and e != "r1-fp32":
            r["cos_vs_r1_fp32"] = cosine(outs[e], outs["r1-fp32"])
        if outs.get("ort") is not None and e != "ort":
            r["max_rel_err_vs_ort"] = max_rel_err(outs[e], outs["ort"])
    for r in group.values():
        if r.get("outputs"):
            os.unlink(r.pop("outputs"))
