#!/usr/bin/env python3
"""deepseek_r1 vs onnxruntime vs OpenVINO on CPU: latency, peak RSS, bf16 accuracy, 1 vs 2 threads.

    python bench/cpu_vs_peers.py                        # full run -> bench/RESULTS.md + .json
    python bench/cpu_vs_peers.py --quick                # smoke test: 2 models, 5 runs
    python bench/cpu_vs_peers.py --models minilm-b1,gpt2 --threads 1 --runs 50

Cases: MiniLM b1 s128, MiniLM b32 s128, BERT-base b1 s128, GPT-2 b1 s128, ResNet-50 b1 224, ViT-base b1 224
(tests/python/helpers/models.py exports, legacy exporter by default). Engines: r1-fp32 and r1-bf16 (ours; the
ONNX file compiled once to .r1 and loaded by mmap), ort (ORT_ENABLE_ALL, intra_op=t, inter_op=1), ov-f32
(INFERENCE_PRECISION_HINT f32) and ov-default (OpenVINO's default precision: bf16 where the CPU has it).

Every (engine, case, threads) runs in its own worker process, so peak RSS (VmHWM) is that engine's
alone. The workers of one (case, threads) are started one after another (loading and warm-up never
overlap), then timed in rounds: each round every engine does runs/rounds timed runs after one untimed
run, the engine order rotating from round to round, so slow drifts of a shared machine hit every engine
alike. Reported: median and p90 over all timed runs, peak RSS, the ratios r1-fp32/ort, r1-fp32/ov-f32 and
r1-bf16/ov-default, the cosine similarity of r1-bf16 (and ov-default) outputs to r1-fp32's, the max
relative error of each engine vs onnxruntime, and whether 2 threads were faster than 1. An engine that
fails shows "error: ..." in its cells; the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import ROOT, use_test_helpers
from cpu_vs_peers_common import CASES, ENGINES, short
from cpu_vs_peers_measure import compare, measure_group
from cpu_vs_peers_report import fmt, markdown, summarize, versions, write_section
from cpu_vs_peers_worker import worker_main

QUICK = dict(models="minilm-b1,resnet50", runs=5, warmup=1, rounds=1)


def _opt_level(arg: str):
    """The optimization_level to pass: None (the engine's default / an engine without levels) or an int."""
    if arg == "none":
        return None
    if arg != "max":
        return int(arg)
    try:
        from deepseek_r1.compiler import LEVELS
    except ImportError:
        return None
    return max(LEVELS)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(json.loads(argv[1]))
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", default=None, help=f"comma list of cases from {','.join(CASES)} (default: all)")
    p.add_argument("--threads", default="1,2", help="comma list of thread counts")
    p.add_argument("--runs", type=int, default=None, help="timed runs per engine (default 30; >= 30 to publish)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs after loading (default 5)")
    p.add_argument("--rounds", type=int, default=None, help="rounds the timed runs are split into (default 5)")
    p.add_argument("--round-warmup", type=int, default=1, help="untimed runs at the start of each round")
    p.add_argument("--engines", default=",".join(ENGINES), help=f"comma list from {','.join(ENGINES)}")
    p.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK} unless given explicitly")
    p.add_argument("--exporter", default="legacy", choices=["legacy", "dynamo"])
    p.add_argument(
        "--r1-input",
        default="r1",
        choices=["r1", "onnx"],
        help="r1 loads a .r1 compiled from the ONNX file (default) or the ONNX file itself",
    )
    p.add_argument(
        "--r1-opt-level",
        default="max",
        help="optimization_level passed to InferenceEngine when it takes one: an int, 'max', or 'none'",
    )
    p.add_argument("--timeout", type=float, default=900, help="seconds a worker may take per step")
    p.add_argument(
        "--output",
        default=None,
        help="markdown file whose 'CPU vs peers' section is replaced (default bench/RESULTS.md; none with --quick)",
    )
    p.add_argument("--json", default=None, help="JSON results (default: next to --output, cpu_vs_peers.json)")
    a = p.parse_args(argv)
    for k, v in (QUICK if a.quick else dict(models=",".join(CASES), runs=30, warmup=5, rounds=5)).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.output is None and not a.quick:
        a.output = str(ROOT / "bench" / "RESULTS.md")
    if a.json is None and a.output:
        a.json = str(Path(a.output).with_name("cpu_vs_peers.json"))
    cases = [c.strip() for c in a.models.split(",") if c.strip()]
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    threads = [int(t) for t in a.threads.split(",")]
    if [c for c in cases if c not in CASES] or [e for e in engines if e not in ENGINES]:
        p.error(f"cases must be from {list(CASES)}, engines from {ENGINES}")
    if a.runs < 1 or a.warmup < 0 or a.rounds < 1 or a.rounds > a.runs or any(t < 1 for t in threads):
        p.error("need --runs >= 1, --warmup >= 0, 1 <= --rounds <= --runs, threads >= 1")

    use_test_helpers()
    import deepseek_r1 as r1
    from helpers.models import SPECS, ExportFailed, export_model

    opt = _opt_level(a.r1_opt_level)
    results: list[dict] = []
    print(f"{'case':<12} {'thr':>3} {'engine':<11} {'median':>9} {'p90':>9} {'rss MB':>7}  note", flush=True)
    with tempfile.TemporaryDirectory(prefix="cpu_vs_peers-") as tmpd:
        tmp = Path(tmpd)
        for c in cases:
            model, size, _ = CASES[c]
            try:
                onnx_path = export_model(model, a.exporter)
                r1_path = None
                if a.r1_input == "r1":
                    r1_path = str(tmp / f"{model}.r1")
                    if not Path(r1_path).exists():
                        r1.ModelConverter(input_model=str(onnx_path), framework="onnx", output_path=r1_path).convert()
            except (ExportFailed, r1.R1Error, OSError, ValueError) as e:
                results += [
                    {"case": c, "threads": t, "engine": e_, "error": f"setup: {short(e)}"}
                    for t in threads
                    for e_ in engines
                ]
                continue
            feeds = tmp / f"{c}.feeds.npz"
            np.savez(feeds, **SPECS[model].feeds(np.random.default_rng(0), **size))
            spec = {
                "onnx": str(onnx_path),
                "r1_path": r1_path,
                "feeds": str(feeds),
                "opt_level": opt,
                "sys_path": [x for x in sys.path if x],
            }
            for t in threads:
                group = measure_group(c, t, engines, spec, a, tmp)
                compare(group)
                for e in engines:
                    r = group[e]
                    results.append(r)
                    print(
                        f"{c:<12} {t:>3} {e:<11} {fmt(r.get('median_ms'), '9.2f'):>9} "
                        f"{fmt(r.get('p90_ms'), '9.2f'):>9} {fmt(r.get('peak_rss_mb'), '7.0f'):>7}  "
                        f"{('error: ' + r['error']) if r.get('error') else ''}",
                        flush=True,
                    )

    summary = summarize(results, engines, cases, threads)
    feats = r1._core.cpu_features() if hasattr(r1._core, "cpu_features") else {"brand": "", "summary": "?"}
    r1_settings = {}
    for r in results:
        if r["engine"].startswith("r1") and r.get("settings"):
            r1_settings.setdefault(r["engine"], {k: v for k, v in r["settings"].items() if k != "num_threads"})
    ov_prec = sorted(
        {str(r["settings"].get("precision_used")) for r in results if r["engine"] == "ov-default" and r.get("settings")}
    ) or ["?"]
    meta = {
        "ov_default_precision": "/".join(ov_prec),
        "command": (f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else "")
        + "python "
        + " ".join(shlex.quote(x) for x in ["bench/cpu_vs_peers.py"] + list(argv)),
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "quick": a.quick,
        "cpu": {"brand": feats["brand"] or platform.processor(), "summary": feats["summary"]},
        "cpu_profile": r1.hardware_info()["cpu_profile"] if hasattr(r1, "hardware_info") else "?",
        "logical_cpus": os.cpu_count(),
        "versions": versions(),
        "r1_settings": r1_settings,
        "settings": {
            "runs": a.runs,
            "warmup": a.warmup,
            "rounds": a.rounds,
            "round_warmup": a.round_warmup,
            "exporter": a.exporter,
            "r1_input": ".r1 (mmap)" if a.r1_input == "r1" else "the ONNX file",
            "engines": engines,
            "threads": threads,
            "cases": cases,
        },
    }
    md = markdown(meta, results, summary, engines, cases, threads)
    print("\n" + md, flush=True)
    if a.output:
        write_section(Path(a.output), md)
        print(f"wrote the 'CPU vs peers' section of {a.output}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({**meta, "results": results, **summary}, indent=1) + "\n")
        print(f"wrote {a.json}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
