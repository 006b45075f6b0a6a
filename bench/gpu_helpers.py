"""bench/gpu.py's pure helpers: FLOP counts, percentiles and summaries, ratios, the relative error, table cells
and markdown tables, the command line and argument lists (unit-tested in tests/python/gpu/test_bench_gpu_script.py
without a GPU); also the log line and the traceback printed when R1_BENCH_TRACEBACK is set.
"""

from __future__ import annotations

import math
import os
import shlex
import traceback

from gpu_config import MODELS

# --------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested in tests/python/gpu/test_bench_gpu_script.py without a GPU)


def matmul_flops(m: int, n: int, k: int) -> float:
    """Floating-point operations of an [m, k] x [k, n] product (a multiply and an add per term)."""
    return 2.0 * m * n * k


def attention_flops(batch: int, heads: int, seq_q: int, seq_k: int, head_dim: int, causal: bool = False) -> float:
    """Q.K^T and P.V (2 * 2 * b * h * sq * sk * d), softmax not counted, as FlashAttention counts; half when causal."""
    f = 4.0 * batch * heads * seq_q * seq_k * head_dim
    return f / 2 if causal else f


def tflops(flops: float, ms: float | None) -> float | None:
    """TFLOP/s of `flops` done in `ms` milliseconds (None when there is no positive time)."""
    if ms is None or not ms > 0:
        return None
    return flops / (ms * 1e-3) / 1e12


def chain_per_op_ms(t_one_ms: float | None, t_chain_ms: float | None, chain: int) -> float | None:
    """Per-op device time from a 1-op and a `chain`-op model that copy the same bytes in and out."""
    if t_one_ms is None or t_chain_ms is None or chain < 2:
        return None
    per = (t_chain_ms - t_one_ms) / (chain - 1)
    return per if per > 0 else None


def percentile(xs, q: float) -> float:
    """The q-th percentile with linear interpolation (numpy's default method)."""
    s = sorted(float(x) for x in xs)
    if not s:
        raise ValueError("percentile of no values")
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(times_ms) -> dict:
    times = [float(t) for t in times_ms]
    if not times:
        return {"runs": 0}
    return {
        "runs": len(times),
        "median_ms": percentile(times, 50),
        "p90_ms": percentile(times, 90),
        "mean_ms": sum(times) / len(times),
        "min_ms": min(times),
    }


def throughput(batch: int, median_ms: float | None) -> float | None:
    """Samples per second at `median_ms` per batch."""
    return None if not median_ms or median_ms <= 0 else batch * 1000.0 / median_ms


def ratio(ours: dict | None, peer: dict | None) -> float | None:
    """Our median over the peer's (below 1: ours is faster); None when either has no median."""
    a = (ours or {}).get("median_ms")
    b = (peer or {}).get("median_ms")
    return a / b if a and b else None


def max_rel_err(out: dict, ref: dict) -> float:
    """max over outputs of max|out - ref| / max|ref| (inf when an output is missing or its shape differs)."""
    import numpy as np

    worst = 0.0
    for name, y in ref.items():
        x = out.get(name)
        y = np.asarray(y, dtype=np.float64)
        if x is None or np.shape(x) != y.shape:
            return float("inf")
        if y.size == 0:
            continue
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            return float("nan")
        worst = max(worst, float(np.max(np.abs(x - y))) / max(float(np.max(np.abs(y))), 1e-30))
    return worst


def short(e, limit: int = 160) -> str:
    """One line for a table cell: no newlines, no '|'."""
    msg = e if isinstance(e, str) else f"{type(e).__name__}: {e}"
    msg = " ".join(msg.split()).replace("|", "/")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def fmt(x, spec: str = ".2f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def fmt_err(x) -> str:
    if x is None:
        return "-"
    if x != x:
        return "NaN"
    if x == float("inf"):
        return "mismatch"
    return f"{x:.1e}"


def latency_cell(r: dict | None) -> str:
    """'median / p90' in ms, or why there is none."""
    if not r:
        return "-"
    if r.get("error"):
        return "error: " + short(r["error"], 80)
    if r.get("skipped"):
        return "skipped"
    if r.get("median_ms") is None:
        return "-"
    return f"{r['median_ms']:.3f} / {r['p90_ms']:.3f}"


def md_table(headers, rows) -> str:
    """A markdown table; numbers right-aligned, cells made safe (no '|' or newlines inside)."""

    def cell(c):
        return short(str(c), 10_000) if c is not None else "-"

    def numeric(col):
        vals = [r[col] for r in rows if col < len(r) and r[col] not in (None, "-", "")]
        return bool(vals) and all(isinstance(v, (int, float)) or _is_number(str(v)) for v in vals)

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---:" if numeric(i) else "---" for i in range(len(headers))) + "|",
    ]
    for r in rows:
        r = list(r) + ["-"] * (len(headers) - len(r))
        lines.append("| " + " | ".join(cell(c) for c in r) + " |")
    return "\n".join(lines)


def _is_number(s: str) -> bool:
    try:
        float(s.rstrip("x%"))
        return True
    except ValueError:
        return False


def command_line(argv, env=None) -> str:
    """The command as typed to reproduce this run, with the environment variables that change it."""
    env = os.environ if env is None else env
    pre = [f"{k}={shlex.quote(env[k])}" for k in ("PYTHONPATH", "R1_BENCH_CACHE", "CUDA_VISIBLE_DEVICES") if k in env]
    return " ".join(pre + ["python", shlex.join(["bench/gpu.py"] + list(argv))])


def parse_list(text: str | None, allowed, what: str) -> list:
    """A comma list checked against `allowed`; 'none' or '' gives an empty list."""
    if text is None:
        return list(allowed)
    items = [x.strip() for x in text.split(",") if x.strip() and x.strip() != "none"]
    bad = [x for x in items if x not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}; choose from {', '.join(allowed)}")
    return items


def batches_for(model: str, override: list[int] | None) -> list[int]:
    return list(override) if override else list(MODELS[model].batches)


def rotate(items: list, r: int) -> list:
    if not items:
        return []
    k = r % len(items)
    return items[k:] + items[:k]


def maybe_traceback():
    if os.environ.get("R1_BENCH_TRACEBACK"):
        traceback.print_exc()


def log(msg: str) -> None:
    print(msg, flush=True)
