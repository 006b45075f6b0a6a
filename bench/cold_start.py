#!/usr/bin/env python3
"""Cold start: a fresh process imports the engine, loads a model and runs it once.

    python bench/cold_start.py                                    # MiniLM, BERT-base, ResNet-50; 10 rounds
    python bench/cold_start.py --models minilm --runs 3           # smoke test
    python bench/cold_start.py --output bench/RESULTS.md          # also write the table there

Engines, each in a fresh `python` process per measurement, one thread:
  r1    `import deepseek_r1`; `InferenceEngine(model.r1)` (compiled once by ModelConverter beforehand:
        what a server does on restart); `engine.run(feeds)`
  ort   `import onnxruntime`; `InferenceSession(model.onnx)` (ORT_ENABLE_ALL); `session.run`
  ov    `import openvino`; `Core().compile_model(model.onnx, "CPU")`; `infer`

Reported per model and engine: median over the rounds of import time, load time, first run, load +
first run, and RSS after load (VmRSS); then load + first run as a ratio to onnxruntime's, and import
time as a ratio to `import onnxruntime`. Rounds interleave the engines (the order rotates every
round) so a shared machine's slow spells hit every engine alike. Model files are read from the page
cache (a restart of a server whose model was just written or read), not from the disk.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _paths import ROOT, r1_pythonpath, use_test_helpers

MODELS = {"minilm": dict(batch=1, seq=128), "bert-base": dict(batch=1, seq=128), "resnet50": dict(batch=1, size=224)}
ENGINES = ("r1", "ort", "ov")

# The child: nothing imported before the clock starts but what the interpreter itself needs.
CHILD = r"""
import time, sys, json
t0 = time.perf_counter()
engine, model, feeds_path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if engine == "r1":
    import deepseek_r1 as r1
elif engine == "ort":
    import onnxruntime as ort
else:
    import openvino as ov
t1 = time.perf_counter()
import numpy as np
feeds = dict(np.load(feeds_path))
t2 = time.perf_counter()
if engine == "r1":
    e = r1.InferenceEngine(model, num_threads=threads)
    run = e.run
elif engine == "ort":
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.log_severity_level = 3
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    run = lambda f: s.run(None, f)
else:
    c = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
    req = c.create_infer_request()
    run = lambda f: req.infer(f)
t3 = time.perf_counter()
rss = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
run(feeds)
t4 = time.perf_counter()
print("@@cold " + json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t3 - t2) * 1e3,
                             "first_ms": (t4 - t3) * 1e3, "rss_mb": rss}))
"""


def measure(engine: str, model_path: str, feeds: str, threads: int, env: dict) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", CHILD, engine, model_path, feeds, str(threads)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in p.stdout.splitlines():
        if line.startswith("@@cold "):
            return json.loads(line[7:])
    raise RuntimeError(f"{engine} on {model_path} failed (exit {p.returncode}): {p.stderr.strip()[-800:]}")


def prepare(models: list[str], workdir: Path) -> dict[str, dict[str, str]]:
    """Exports each model (tests/python/helpers/models.py, legacy exporter), compiles it to .r1, writes feeds."""
    use_test_helpers()
    import numpy as np

    import deepseek_r1 as r1
    from helpers.models import SPECS, export_model

    out = {}
    for m in models:
        onnx_path = export_model(m, "legacy")
        r1_path = workdir / f"{m}.r1"
        # Compiled for this machine's CPU profile, as a deployment does: weights stored packed.
        r1.ModelConverter(str(onnx_path), target_hardware="native", output_path=r1_path).convert()
        feeds = workdir / f"{m}.npz"
        np.savez(feeds, **SPECS[m].feeds(np.random.default_rng(0), **MODELS[m]))
        out[m] = {"onnx": str(onnx_path), "r1": str(r1_path), "feeds": str(feeds)}
    return out


def run(models: list[str], engines: list[str], rounds: int, threads: int) -> dict:
    env = dict(os.environ)
    paths = r1_pythonpath()
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    samples: dict[tuple[str, str], list[dict]] = {(m, e): [] for m in models for e in engines}
    with tempfile.TemporaryDirectory(prefix="cold_start-") as tmp:
        files = prepare(models, Path(tmp))
        for r in range(rounds):
            order = engines[r % len(engines) :] + engines[: r % len(engines)]
            for m in models:
                for e in order:
                    path = files[m]["r1"] if e == "r1" else files[m]["onnx"]
                    samples[(m, e)].append(measure(e, path, files[m]["feeds"], threads, env))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    med = {}
    for key, s in samples.items():
        med[key] = {k: statistics.median(x[k] for x in s) for k in ("import_ms", "load_ms", "first_ms", "rss_mb")}
        med[key]["load_first_ms"] = statistics.median(x["load_ms"] + x["first_ms"] for x in s)
    return {"medians": med, "rounds": rounds, "threads": threads}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("deepseek_r1", "onnxruntime", "openvino", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def markers(threads: int) -> tuple[str, str]:
    """The section of RESULTS.md a run at this thread count owns (a later run replaces it)."""
    return f"<!-- cold_start:t{threads}:begin -->", f"<!-- cold_start:t{threads}:end -->"


def markdown(res: dict, models: list[str], engines: list[str], command: str) -> str:
    med = res["medians"]
    begin, end = markers(res["threads"])
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        begin,
        f"## Cold start, {res['threads']} thread(s) (fresh process: import, load, first run)",
        "",
        f"`{command}`  ",
        f"{_dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {cpu}, "
        f"{os.cpu_count()} logical CPUs, {res['threads']} thread(s), median of {res['rounds']} fresh processes "
        f"per cell, engines interleaved; model files in the page cache. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "| model | engine | import ms | load ms | first run ms | load + first run ms | vs onnxruntime | RSS after load MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in models:
        for e in engines:
            d = med[(m, e)]
            ratio = d["load_first_ms"] / med[(m, "ort")]["load_first_ms"] if "ort" in engines else float("nan")
            name = {"r1": "deepseek_r1 (.r1)", "ort": "onnxruntime", "ov": "OpenVINO"}[e]
            lines.append(
                f"| {m} | {name} | {d['import_ms']:.0f} | {d['load_ms']:.1f} | {d['first_ms']:.1f} | "
                f"{d['load_first_ms']:.1f} | {ratio:.2f}x | {d['rss_mb']:.0f} |"
            )
    if "ort" in engines and "r1" in engines:
        imp = {e: statistics.median(med[(m, e)]["import_ms"] for m in models) for e in engines}
        lines += [
            "",
            "Import time, median over the models' processes: "
            + ", ".join(f"{e} {v:.0f} ms" for e, v in imp.items())
            + f"; deepseek_r1 / onnxruntime = {imp['r1'] / imp['ort']:.2f}x.",
        ]
    lines.append(end)
    return "\n".join(lines)


def write_section(path: Path, md: str, threads: int) -> None:
    begin, end = markers(threads)
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + md + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + md + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--runs", type=int, default=10, help="fresh processes per (model, engine): the median's sample")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--output", help="markdown file to write the table into (its cold_start section)")
    p.add_argument("--json", help="also write the medians here")
    a = p.parse_args(argv)
    models = [m for m in a.models.split(",") if m]
    engines = [e for e in a.engines.split(",") if e]
    if [m for m in models if m not in MODELS] or [e for e in engines if e not in ENGINES] or a.runs < 1:
        p.error(f"models from {list(MODELS)}, engines from {list(ENGINES)}, --runs >= 1")
    res = run(models, engines, a.runs, a.threads)
    command = "python bench/cold_start.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = markdown(res, models, engines, command.strip())
    print(md)
    if a.output:
        write_section(Path(a.output), md, a.threads)
    if a.json:
        Path(a.json).write_text(json.dumps({f"{m}/{e}": v for (m, e), v in res["medians"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
