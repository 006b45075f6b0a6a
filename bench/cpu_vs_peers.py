#!/usr/bin/env python3
"""deepseek_r1 vs onnxruntime vs OpenVINO on CPU: latency, peak RSS, bf16 accuracy, 1 vs 2 threads.

    PYTHONPATH=python python bench/cpu_vs_peers.py                        # full run -> bench/RESULTS.md + .json
    PYTHONPATH=python python bench/cpu_vs_peers.py --quick                # smoke test: 2 models, 5 runs
    PYTHONPATH=python python bench/cpu_vs_peers.py --models minilm-b1,gpt2 --threads 1 --runs 50

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
import inspect
import json
import os
import platform
import re
import select
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import ROOT, use_test_helpers

CASES = {  # name -> (model in tests/python/helpers/models.py, feed size, label)
    "minilm-b1": ("minilm", dict(batch=1, seq=128), "MiniLM b1 s128"),
    "minilm-b32": ("minilm", dict(batch=32, seq=128), "MiniLM b32 s128"),
    "bert-base": ("bert-base", dict(batch=1, seq=128), "BERT-base b1 s128"),
    "gpt2": ("gpt2", dict(batch=1, seq=128), "GPT-2 b1 s128"),
    "resnet50": ("resnet50", dict(batch=1, size=224), "ResNet-50 b1 224"),
    "vit-base": ("vit-base", dict(batch=1, size=224), "ViT-base b1 224"),
}
ENGINES = ["r1-fp32", "r1-bf16", "ort", "ov-f32", "ov-default"]
QUICK = dict(models="minilm-b1,resnet50", runs=5, warmup=1, rounds=1)
BEGIN, END = "<!-- cpu_vs_peers:begin -->", "<!-- cpu_vs_peers:end -->"
PROTO = "@@cpu_vs_peers "


def _short(e, limit=140) -> str:
    msg = (e if isinstance(e, str) else f"{type(e).__name__}: {e}").replace("\n", " ").replace("|", "/")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------------
# Worker: one engine, one model, one thread count; talks JSON lines on its own copy of stdout.


def _rss_mb() -> dict:
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _load_r1(path, threads, precision, opt_level, kwargs):
    import deepseek_r1 as r1

    params = inspect.signature(r1.InferenceEngine.__init__).parameters
    kwargs["num_threads"] = threads
    if "precision" in params:
        kwargs["precision"] = precision
    elif precision != "fp32":
        raise RuntimeError("this InferenceEngine has no precision argument")
    if opt_level is not None and "optimization_level" in params:
        kwargs["optimization_level"] = opt_level
    eng = r1.InferenceEngine(str(path), **kwargs)
    if eng.num_threads != threads:
        raise RuntimeError(f"asked for {threads} threads, engine has {eng.num_threads}")
    return eng.run


def _load_ort(path, threads, cfg):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    cfg.update(graph_optimization_level="ORT_ENABLE_ALL", intra_op=threads, inter_op=1)
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return lambda feeds: dict(zip(names, sess.run(None, feeds)))


def _load_ov(path, threads, precision, cfg):
    import openvino as ov

    cfg.update(INFERENCE_NUM_THREADS=threads, PERFORMANCE_HINT="LATENCY")
    if precision:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    compiled = ov.Core().compile_model(str(path), "CPU", dict(cfg))
    req, outs = compiled.create_infer_request(), compiled.outputs
    names = [o.get_any_name() for o in outs]

    def run(feeds):  # zero-copy in and out, as ORT and r1 hand back their own buffers
        res = req.infer(feeds, share_inputs=True, share_outputs=True)
        return {n: res[o] for n, o in zip(names, outs)}

    prec = compiled.get_property("INFERENCE_PRECISION_HINT")
    cfg["precision_used"] = prec.get_type_name() if hasattr(prec, "get_type_name") else str(prec)
    return run


def _load(engine, spec, settings: dict):
    """Returns run(feeds) -> {name: array}; fills `settings` with what it passed (before it can fail)."""
    path, t = spec["onnx"], spec["threads"]
    if engine.startswith("r1-"):
        return _load_r1(spec["r1_path"] or path, t, engine[3:], spec["opt_level"], settings)
    if engine == "ort":
        return _load_ort(path, t, settings)
    return _load_ov(path, t, "f32" if engine == "ov-f32" else None, settings)


def worker_main(spec: dict) -> int:
    sys.path[:0] = [x for x in spec.get("sys_path", []) if x not in sys.path]
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library chatter on stdout must not mix with the protocol

    def send(obj):
        proto.write(PROTO + json.dumps(obj) + "\n")

    base = _rss_mb()
    feeds = dict(np.load(spec["feeds"]))
    settings: dict = {}
    try:
        t0 = time.perf_counter()
        run = _load(spec["engine"], spec, settings)
        load_s = time.perf_counter() - t0
        out = None
        for _ in range(spec["warmup"]):
            out = run(feeds)
    except Exception as e:
        send({"ok": False, "error": _short(e), "settings": settings})
        return 0
    send(
        {
            "ok": True,
            "load_s": load_s,
            "settings": settings,
            "base_rss_mb": base.get("VmRSS"),
            "loaded_rss_mb": _rss_mb().get("VmRSS"),
        }
    )
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "run":
            try:
                for _ in range(int(cmd[2])):
                    out = run(feeds)
                times = []
                for _ in range(int(cmd[1])):
                    t0 = time.perf_counter()
                    out = run(feeds)
                    times.append((time.perf_counter() - t0) * 1e3)
                send({"times_ms": times})
            except Exception as e:
                send({"error": _short(e)})
                return 0
        elif cmd and cmd[0] == "finish":
            if out is None:
                out = run(feeds)
            np.savez(cmd[1], **{k: np.asarray(v).astype(np.float32) for k, v in out.items()})
            rss = _rss_mb()
            send({"peak_rss_mb": rss.get("VmHWM", rss["ru_maxrss"]), "ru_maxrss_mb": rss["ru_maxrss"]})
            return 0
    return 0


class Worker:
    def __init__(self, engine: str, spec: dict, timeout: float, logdir: Path):
        self.engine, self.timeout, self.buf, self.error = engine, timeout, b"", None
        self.log = logdir / f"{engine}.stderr"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", json.dumps({**spec, "engine": engine})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
        )

    def _reply(self) -> dict:
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(PROTO.encode()):
                    return json.loads(line[len(PROTO) :])
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                raise RuntimeError(f"no answer in {self.timeout:.0f} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    rc = self.proc.returncode
                    tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                    how = f"killed by signal {-rc}" if rc < 0 else f"exited with {rc}"
                    raise RuntimeError(f"worker {how}" + (f": {tail[0]}" if tail[0] else ""))
                self.buf += chunk

    def ask(self, cmd: str | None = None) -> dict:
        try:
            if cmd:
                self.proc.stdin.write((cmd + "\n").encode())
                self.proc.stdin.flush()
            rep = self._reply()
        except (RuntimeError, OSError, ValueError) as e:
            rep = {"error": _short(e)}
        if rep.get("error") or rep.get("ok") is False:
            self.error = self.error or rep.get("error", "failed")
            self.close()
        return rep

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


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


# --------------------------------------------------------------------------------------------------
# Report


def _ratio(num, den):
    return num["median_ms"] / den["median_ms"] if num.get("median_ms") and den.get("median_ms") else None


def _fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def _cell(r, key_fmt):
    if r is None:
        return "-"
    if r.get("error"):
        return f"error: {_short(r['error'], 90)}"
    return key_fmt(r)


def summarize(results: list[dict], engines: list[str], cases: list[str], threads: list[int]) -> dict:
    by = {(r["case"], r["threads"], r["engine"]): r for r in results}
    ratios, scaling = [], []
    for c in cases:
        for t in threads:
            g = lambda e, c=c, t=t: by.get((c, t, e), {})
            bf = g("r1-bf16")
            ratios.append(
                {
                    "case": c,
                    "threads": t,
                    "r1_fp32_over_ort": _ratio(g("r1-fp32"), g("ort")),
                    "r1_fp32_over_ov_f32": _ratio(g("r1-fp32"), g("ov-f32")),
                    "r1_bf16_over_ov_default": _ratio(bf, g("ov-default")),
                    "bf16_cos_vs_fp32": bf.get("cos_vs_r1_fp32"),
                    "r1_fp32_rss_le_ort": (
                        g("r1-fp32")["peak_rss_mb"] <= g("ort")["peak_rss_mb"]
                        if g("r1-fp32").get("peak_rss_mb") and g("ort").get("peak_rss_mb")
                        else None
                    ),
                }
            )
        if 1 in threads and 2 in threads:
            for e in engines:
                x = _ratio(by.get((c, 2, e), {}), by.get((c, 1, e), {}))
                scaling.append({"case": c, "engine": e, "t2_over_t1": x, "ok": None if x is None else x <= 1.0})
    return {"ratios": ratios, "scaling": scaling}


def markdown(meta: dict, results: list[dict], summary: dict, engines, cases, threads) -> str:
    by = {(r["case"], r["threads"], r["engine"]): r for r in results}
    rat = {(x["case"], x["threads"]): x for x in summary["ratios"]}
    lat = lambda r: f"{r['median_ms']:.2f} / {r['p90_ms']:.2f}"
    L = ["## CPU vs peers", ""]
    if meta["quick"]:
        L += ["**Smoke run (`--quick`, few runs, shared machine): checks the script, not a measurement.**", ""]
    L += [
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}",
        f"- CPU: {meta['cpu']['brand']} ({meta['cpu']['summary']}; profile row `{meta['cpu_profile']}`), "
        f"{meta['logical_cpus']} logical CPUs",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- {meta['settings']['warmup']} warm-up runs, then {meta['settings']['runs']} timed runs in "
        f"{meta['settings']['rounds']} rotating rounds (1 untimed run per round), each engine in its own process; "
        f"ONNX exporter {meta['settings']['exporter']}; r1 loads {meta['settings']['r1_input']}",
        "- r1 settings: " + "; ".join(f"{e}: {s}" for e, s in meta["r1_settings"].items()),
        f"- OpenVINO: PERFORMANCE_HINT LATENCY, INFERENCE_NUM_THREADS = threads; ov-default ran in "
        f"{meta['ov_default_precision']}; all engines run the ONNX model with its dynamic input shapes",
        "",
        "Latency, ms (median / p90); ratios are medians (below 1: ours is faster); bf16 cos = cosine similarity "
        "of r1-bf16 outputs to r1-fp32's (worst output).",
        "",
        "| model | threads | " + " | ".join(engines) + " | r1-fp32 / ort | r1-fp32 / ov-f32 | r1-bf16 / ov-default "
        "| bf16 cos |",
        "|---|---|" + "---|" * (len(engines) + 4),
    ]
    for c in cases:
        for t in threads:
            x = rat[(c, t)]
            L.append(
                f"| {CASES[c][2]} | {t} | "
                + " | ".join(_cell(by.get((c, t, e)), lat) for e in engines)
                + f" | {_fmt(x['r1_fp32_over_ort'])} | {_fmt(x['r1_fp32_over_ov_f32'])} | "
                f"{_fmt(x['r1_bf16_over_ov_default'])} | {_fmt(x['bf16_cos_vs_fp32'], '.6f')} |"
            )
    L += [
        "",
        "Peak RSS, MB (VmHWM of the engine's own process: Python, numpy, the runtime, the model, its "
        "buffers); max rel err = max|out - ort| / max|ort|.",
        "",
        "| model | threads | "
        + " | ".join(engines)
        + " | r1-fp32 <= ort | max rel err vs ort ("
        + ", ".join(e for e in engines if e != "ort")
        + ") |",
        "|---|---|" + "---|" * (len(engines) + 2),
    ]
    for c in cases:
        for t in threads:
            ok = rat[(c, t)]["r1_fp32_rss_le_ort"]
            errs = ", ".join(
                _fmt(by.get((c, t, e), {}).get("max_rel_err_vs_ort"), ".1e") for e in engines if e != "ort"
            )
            L.append(
                f"| {CASES[c][2]} | {t} | "
                + " | ".join(_cell(by.get((c, t, e)), lambda r: f"{r['peak_rss_mb']:.0f}") for e in engines)
                + f" | {'-' if ok is None else ('yes' if ok else 'NO')} | {errs} |"
            )
    if summary["scaling"]:
        sc = {(x["case"], x["engine"]): x for x in summary["scaling"]}
        L += [
            "",
            "2 threads vs 1 thread: median(2) / median(1); 'NO' marks an engine slower at 2 threads.",
            "",
            "| model | " + " | ".join(engines) + " |",
            "|---|" + "---|" * len(engines),
        ]
        for c in cases:
            cells = []
            for e in engines:
                x = sc.get((c, e), {})
                ratio = x.get("t2_over_t1")
                cells.append("-" if ratio is None else f"{'yes' if x['ok'] else 'NO'} ({ratio:.2f})")
            L.append(f"| {CASES[c][2]} | " + " | ".join(cells) + " |")
    L += ["", "Targets: " + "; ".join(_targets(summary)) + "."]
    return "\n".join(L) + "\n"


def _targets(summary: dict) -> list[str]:
    """One line per issue target: how many measured (case, threads) meet it."""

    def tally(name, items):
        items = [x for x in items if x is not None]
        return f"{name}: {sum(items)} of {len(items)} met" if items else f"{name}: not measured"

    bf16 = [
        None
        if x["r1_bf16_over_ov_default"] is None or x["bf16_cos_vs_fp32"] is None
        else x["r1_bf16_over_ov_default"] <= 1.0 and x["bf16_cos_vs_fp32"] >= 0.999
        for x in summary["ratios"]
    ]
    rss = [x["r1_fp32_rss_le_ort"] for x in summary["ratios"]]
    scale = [x["ok"] for x in summary["scaling"] if x["engine"].startswith("r1")]
    return [
        tally("r1-bf16 <= 1.0x ov-default with cos >= 0.999", bf16),
        tally("r1-fp32 peak RSS <= ort", rss),
        tally("r1 2 threads <= 1 thread", scale),
    ]


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{section}{END}\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block
    path.write_text(text)


def versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("deepseek_r1", "onnxruntime", "openvino", "torch"):
        try:
            m = __import__(mod)
            v[mod] = m.get_version() if mod == "openvino" else getattr(m, "__version__", "?")
        except Exception as e:
            v[mod] = f"unavailable ({type(e).__name__})"
    return v


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
                    {"case": c, "threads": t, "engine": e_, "error": f"setup: {_short(e)}"}
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
                        f"{c:<12} {t:>3} {e:<11} {_fmt(r.get('median_ms'), '9.2f'):>9} "
                        f"{_fmt(r.get('p90_ms'), '9.2f'):>9} {_fmt(r.get('peak_rss_mb'), '7.0f'):>7}  "
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
