#!/usr/bin/env python3
"""Latency of deepseek_r1 vs onnxruntime vs OpenVINO on real models, CPU, 1 and 2 threads.

    python bench/bench_vs_peers.py                         # all models, 1 and 2 threads
    python bench/bench_vs_peers.py --models minilm --runs 3 --threads 1
    python bench/bench_vs_peers.py --output bench/RESULTS.md

Models come from tests/python/helpers/models.py (exported once into $R1_TEST_CACHE). Every engine runs the
same ONNX file on the same inputs, in this process, one after the other: warm-up runs, then --runs
timed runs; median and p90 in ms, and the ratio of our median to onnxruntime's. Each row also gives
the max relative error of the engine's outputs vs onnxruntime's (max|a-b| / max|ref|).

Engines: r1 (InferenceEngine(num_threads=n)); ort (ORT_ENABLE_ALL, intra_op=n, inter_op=1, sequential);
ov-f32 (openvino compile_model CPU, INFERENCE_NUM_THREADS=n, INFERENCE_PRECISION_HINT=f32) and ov-default
(the same without the precision hint: OpenVINO may then run in bf16 on CPUs that have it). OpenVINO uses
PERFORMANCE_HINT=LATENCY (one stream). An engine that fails on a model gets its error in the row; the
benchmark goes on.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import ROOT, use_test_helpers

use_test_helpers()
from helpers.models import SPECS, ExportFailed, export_model  # noqa: E402

BENCH_MODELS = ["minilm", "bert-base", "gpt2", "resnet50", "vit-base", "lstm", "mobilenet"]
ENGINES = ["r1", "ort", "ov-f32", "ov-default"]


# --------------------------------------------------------------------------------------------------
# Engines: each factory returns a callable feeds -> {name: array}


def make_r1(path: Path, threads: int):
    import deepseek_r1 as r1

    eng = r1.InferenceEngine(str(path), num_threads=threads)
    if eng.num_threads != threads:
        raise RuntimeError(f"asked for {threads} threads, engine has {eng.num_threads}")
    return eng.run


def make_ort(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]

    def run(feeds):
        return dict(zip(names, sess.run(None, feeds)))

    return run


def _make_ov(path: Path, threads: int, precision: str | None):
    import openvino as ov

    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    compiled = core.compile_model(str(path), "CPU", cfg)
    req = compiled.create_infer_request()
    outs = compiled.outputs
    names = [o.get_any_name() for o in outs]

    def run(feeds):
        res = req.infer(feeds)
        return {n: np.array(res[o]) for n, o in zip(names, outs)}

    return run


def make_ov_f32(path, threads):
    return _make_ov(path, threads, "f32")


def make_ov_default(path, threads):
    return _make_ov(path, threads, None)


FACTORIES = {"r1": make_r1, "ort": make_ort, "ov-f32": make_ov_f32, "ov-default": make_ov_default}


# --------------------------------------------------------------------------------------------------


def max_rel_err(ours: dict, ref: dict) -> float:
    worst = 0.0
    for name, b in ref.items():
        a = ours.get(name)
        if a is None or np.shape(a) != np.shape(b):
            return float("inf")
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if b64.size == 0:
            continue
        worst = max(worst, float(np.max(np.abs(a64 - b64)) / max(float(np.max(np.abs(b64))), 1e-6)))
    return worst


def _short(e: BaseException, limit: int = 160) -> str:
    msg = f"{type(e).__name__}: {e}".replace("\n", " ").replace("|", "/")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def time_engine(run, feeds, warmup: int, runs: int):
    out = None
    for _ in range(warmup):
        out = run(feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = run(feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    t = np.asarray(times)
    return float(np.median(t)), float(np.percentile(t, 90)), out


def _size_label(size: dict) -> str:
    parts = [f"b{size['batch']}"] if "batch" in size else []
    if "seq" in size:
        parts.append(f"s{size['seq']}")
    if "size" in size or "height" in size:
        parts.append(f"{size.get('height', size.get('size'))}x{size.get('width', size.get('size'))}")
    return " ".join(parts)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("deepseek_r1", "onnxruntime", "openvino", "torch", "onnx"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
            if mod == "openvino":
                v[mod] = m.get_version() if hasattr(m, "get_version") else v[mod]
        except Exception as e:
            v[mod] = f"unavailable ({type(e).__name__})"
    return v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", default=",".join(BENCH_MODELS), help=f"comma list from {','.join(SPECS)}")
    p.add_argument("--threads", default="1,2", help="comma list of thread counts")
    p.add_argument("--runs", type=int, default=30, help="timed runs per engine (>= 30 for published numbers)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--engines", default=",".join(ENGINES), help=f"comma list from {','.join(ENGINES)}")
    p.add_argument("--exporter", default="legacy", choices=["legacy", "dynamo"], help="which ONNX export to run")
    p.add_argument("--output", default=None, help="write the markdown report here (e.g. bench/RESULTS.md)")
    a = p.parse_args(argv)

    models = [m.strip() for m in a.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in SPECS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; known: {sorted(SPECS)}")
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in FACTORIES]
    if bad:
        p.error(f"unknown engine(s) {bad}; known: {ENGINES}")
    threads = [int(t) for t in a.threads.split(",")]
    if a.runs < 1 or a.warmup < 0 or any(t < 1 for t in threads):
        p.error("--runs must be >= 1, --warmup >= 0, threads >= 1")

    header = ["model", "input", "threads", "engine", "median ms", "p90 ms", "ours/ort", "max rel err vs ort", "note"]
    rows: list[list[str]] = []

    def emit(row):
        rows.append(row)
        print(" | ".join(row), flush=True)

    print(" | ".join(header), flush=True)
    for model in models:
        spec = SPECS[model]
        size = spec.bench_size
        label = _size_label(size)
        try:
            path = export_model(model, a.exporter)
        except ExportFailed as e:
            for t in threads:
                emit([model, label, str(t), "-", "-", "-", "-", "-", f"export failed: {_short(e)}"])
            continue
        feeds = spec.feeds(np.random.default_rng(0), **size)
        for t in threads:
            results = {}
            for eng in engines:
                try:
                    run = FACTORIES[eng](path, t)
                    med, p90, out = time_engine(run, feeds, a.warmup, a.runs)
                    results[eng] = (med, p90, out, "")
                except Exception as e:
                    if os.environ.get("R1_BENCH_TRACEBACK"):
                        traceback.print_exc()
                    results[eng] = (None, None, None, _short(e))
                finally:
                    run = None
            ref = results.get("ort", (None, None, None, ""))
            for eng in engines:
                med, p90, out, err = results[eng]
                if med is None:
                    emit([model, label, str(t), eng, "-", "-", "-", "-", f"FAILED: {err}"])
                    continue
                ratio = f"{med / ref[0]:.2f}" if eng == "r1" and ref[0] else ""
                rel = f"{max_rel_err(out, ref[2]):.1e}" if ref[2] is not None and eng != "ort" else ""
                emit([model, label, str(t), eng, f"{med:.2f}", f"{p90:.2f}", ratio, rel, ""])

    if a.output:
        cmd = "python " + " ".join(shlex.quote(x) for x in [os.path.relpath(__file__, ROOT)] + sys.argv[1:])
        v = versions()
        lines = [
            "# deepseek_r1 vs onnxruntime vs OpenVINO (CPU latency)",
            "",
            f"- command: `{cmd}`",
            f"- date: {_dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
            f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs visible)",
            "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
            f"- ONNX exporter: {a.exporter}; {a.warmup} warm-up runs, {a.runs} timed runs per engine; "
            "ours/ort = r1 median / onnxruntime median (lower is better)",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        Path(a.output).parent.mkdir(parents=True, exist_ok=True)
        Path(a.output).write_text("\n".join(lines) + "\n")
        print(f"wrote {a.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
