#!/usr/bin/env python3
"""Serving benchmark: deepseek_r1's InferenceServer (dynamic batching on and off) vs LitServe, KServe and
PyTriton serving the same ONNX model through onnxruntime, under a closed-loop HTTP load over loopback.

    python bench/serving.py --setup-peers                       # once: peers into bench/.venv-peers
    python bench/serving.py                   # full run -> table + bench/serving_results.json
    python bench/serving.py --quick           # smoke run (2 s windows, 1 repeat)
    python bench/serving.py --servers litserve,kserve --concurrency 1,64 --duration 5

Workload: all-MiniLM-L6-v2 (sentence_embedding output only), one 128-token sequence per request, at each
--concurrency (default 1,8,64; at most 128); then the echo model (y = x + 1 on [1, 4]) at
--echo-concurrency for the server-CPU-per-request figure. Every window: --warmup s of load, then
--duration s measured; --repeats windows per point, the table shows their median (errors: their sum).
Server CPU = user+system time of the server's whole process tree (psutil) over the window / requests
completed in it. Each server runs alone in its own process group on a free port, bound to 127.0.0.1, and
is killed at exit. Peers that are not installed or fail to start are reported as "skipped: <reason>".
Requests: ours, KServe and PyTriton get KServe v2 JSON (--payload binary: the v2 binary tensor
extension); LitServe gets its own JSON (flat lists per input). Each response is checked against
onnxruntime before timing starts. The load generator is this process (bench/serving_loadgen.py).
A default run (5 servers, 3 + 2 levels, 3 x (3 s + 10 s) windows each) takes about 18 minutes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving_models as M
from serving_loadgen import MAX_CONCURRENCY, run_window

ROOT = M.ROOT
BENCH = ROOT / "bench"
PEERS = BENCH / "serving_peers"
VENV = BENCH / ".venv-peers"
VENV_PY = VENV / "bin" / "python"
HOST = "127.0.0.1"
DEFAULT_SERVERS = "r1-batch,r1-nobatch,litserve,kserve,pytriton"
QUICK = dict(duration=2.0, warmup=1.0, repeats=1, concurrency="1,8", echo_concurrency="1,8")


@dataclass
class Spec:
    name: str
    kind: str  # r1 | litserve | kserve | pytriton
    batching: bool
    auto_bf16: bool = False  # ours only: a bf16 variant that takes batches while the queue is deep

    @property
    def label(self) -> str:
        name = {"r1": "deepseek_r1", "litserve": "LitServe", "kserve": "KServe", "pytriton": "PyTriton"}[self.kind]
        return name + (" (auto bf16)" if self.auto_bf16 else "")


SPECS = {
    s.name: s
    for s in [
        Spec("r1-batch", "r1", True),
        Spec("r1-nobatch", "r1", False),
        Spec("r1-batch-auto-bf16", "r1", True, True),
        Spec("litserve", "litserve", True),
        Spec("litserve-nobatch", "litserve", False),
        Spec("kserve", "kserve", False),
        Spec("pytriton", "pytriton", True),
        Spec("pytriton-nobatch", "pytriton", False),
    ]
}
PEER_PACKAGE = {"litserve": "litserve", "kserve": "kserve", "pytriton": "nvidia-pytriton"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Server:
    """One server subprocess in its own process group; `stop()` kills the group and any stragglers."""

    def __init__(self, spec: Spec, model_file: Path, args):
        self.spec, self.model_name, self.port = spec, model_file.stem, free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"serving-{spec.name}-"))
        self.log_path = self.workdir / "server.log"
        mbs = str(args.batch_size if spec.batching else 1)
        if spec.kind == "r1":
            code = (
                "import deepseek_r1 as r1; s = r1.InferenceServer(model_path={!r}, batch_size={}, "
                "dynamic_batching={}, variants={!r}); s.set_auto_precision({}); s.run(port={})"
            ).format(
                str(model_file),
                args.batch_size,
                spec.batching,
                ("bf16",) if spec.auto_bf16 else (),
                0.25 if spec.auto_bf16 else None,
                self.port,
            )
            cmd, env = [sys.executable, "-c", code], {"PYTHONPATH": str(ROOT / "python")}
        else:
            cmd = [
                str(VENV_PY),
                str(PEERS / f"{spec.kind}_server.py"),
                "--model",
                str(model_file),
                "--port",
                str(self.port),
                "--max-batch-size",
                mbs,
                "--batch-timeout-ms",
                str(args.peer_batch_timeout_ms),
                "--threads",
                str(args.threads),
            ]
            env = {"PYTHONPATH": str(PEERS)}
        self.cmd = cmd
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._ps: dict[int, object] = {}

    # -- endpoints and bodies ------------------------------------------------------------------
    @property
    def infer_url(self) -> str:
        return (
            f"{self.base}/predict" if self.spec.kind == "litserve" else f"{self.base}/v2/models/{self.model_name}/infer"
        )

    def ready_urls(self) -> list[str]:
        if self.spec.kind == "litserve":
            return [f"{self.base}/health"]
        return [f"{self.base}/v2/health/ready", f"{self.base}/v2/models/{self.model_name}/ready"]

    def body(self, feeds, payload: str) -> M.Body:
        if self.spec.kind == "litserve":
            return M.litserve_json(feeds)
        return M.v2_binary(feeds) if payload == "binary" else M.v2_json(feeds)

    # -- lifecycle ------------------------------------------------------------------------------
    def log_tail(self, n: int = 400) -> str:
        self.log.flush()
        return self.log_path.read_bytes()[-n:].decode(errors="replace")

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = self.ready_urls()
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with code {self.proc.returncode}: {_short(self.log_tail())}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout_s:.0f} s ({pending[0]}): {_short(self.log_tail())}")
            try:
                with urllib.request.urlopen(pending[0], timeout=2) as r:
                    if r.status == 200:
                        pending.pop(0)
                        continue
            except Exception:
                pass
            time.sleep(0.25)

    def cpu_seconds(self) -> float:
        """user+system CPU of the server's process tree (LitServe workers, tritonserver + proxy included)."""
        import psutil

        try:
            root = self._ps.setdefault(self.proc.pid, psutil.Process(self.proc.pid))
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return float("nan")
        total = 0.0
        for p in procs:
            p = self._ps.setdefault(p.pid, p)  # reuse Process objects: psutil caches their identity
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def stop(self, keep_log: bool = False) -> None:
        import psutil

        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(wait_s)
                except subprocess.TimeoutExpired:
                    continue
            break
        for k in kids:  # a child that moved to its own session escapes killpg
            try:
                k.kill()
            except psutil.Error:
                pass
        self.log.close()
        if not keep_log:  # a failed server's log stays behind for reading; its path is in the message
            shutil.rmtree(self.workdir, ignore_errors=True)


def peer_problem(kind: str) -> str | None:
    """None when the peer can be imported from bench/.venv-peers, else why not."""
    if kind == "r1":
        try:
            import deepseek_r1 as r1
        except Exception as e:
            return f"deepseek_r1 does not import: {_short(e)}"
        return None if hasattr(r1, "InferenceServer") else "deepseek_r1.InferenceServer does not exist yet"
    if not VENV_PY.exists():
        return f"{VENV} missing (run: python bench/serving.py --setup-peers)"
    mod = {"litserve": "litserve", "kserve": "kserve", "pytriton": "pytriton.triton"}[kind]
    r = subprocess.run([str(VENV_PY), "-c", f"import onnxruntime, {mod}"], capture_output=True, text=True)
    if r.returncode:
        return f"{PEER_PACKAGE[kind]} does not import: {_short(r.stderr.strip().splitlines()[-1] if r.stderr else r.returncode)}"
    return None


def peer_versions() -> dict[str, str]:
    if not VENV_PY.exists():
        return {}
    code = (
        "import importlib.metadata as m, json\nout = {}\nfor p in ['litserve', 'kserve', 'nvidia-pytriton', "
        "'onnxruntime', 'fastapi', 'uvicorn']:\n    try: out[p] = m.version(p)\n    except Exception: pass\n"
        "print(json.dumps(out))"
    )
    r = subprocess.run([str(VENV_PY), "-c", code], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def reference(onnx_file: Path, feeds) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, feeds)[0], dtype=np.float64).ravel()


def check_response(server: Server, body: M.Body, ref: np.ndarray) -> None:
    req = urllib.request.Request(server.infer_url, data=body.data, headers=body.headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, data, headers = r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        status, data, headers = e.code, e.read(), dict(e.headers)
    got = M.first_output(status, data, headers, server.spec.kind)
    if got.shape != ref.shape or not np.allclose(got, ref, rtol=1e-3, atol=1e-4):
        raise RuntimeError(f"wrong answer: {got.shape} values {got[:4]} vs onnxruntime {ref[:4]}")


def bench_server(spec: Spec, model: str, model_file: Path, concs: list[int], args, ref) -> dict:
    """One server on one model: start, verify, then every concurrency x repeats; always stopped."""
    feeds = M.feeds(model)
    server = Server(spec, model_file, args)
    failed = True
    try:
        server.wait_ready(args.ready_timeout)
        body = server.body(feeds, args.payload)
        check_response(server, body, ref)
        rows = []
        for c in concs:
            wins = [
                run_window(server.infer_url, body.data, body.headers, c, args.warmup, args.duration, server.cpu_seconds)
                for _ in range(args.repeats)
            ]
            med = lambda xs: float(statistics.median(xs))
            row = dict(
                model=model,
                server=spec.label,
                config=spec.name,
                batching="on" if spec.batching else "off",
                payload=body.fmt,
                concurrency=c,
                rps=med([w.rps for w in wins]),
                p50_ms=med([w.pct_ms(50) for w in wins]),
                p99_ms=med([w.pct_ms(99) for w in wins]),
                errors=sum(w.errors for w in wins),
                cpu_us_per_req=med([w.cpu_us_per_req for w in wins]),
                repeats=[
                    dict(
                        rps=w.rps,
                        p50_ms=w.pct_ms(50),
                        p99_ms=w.pct_ms(99),
                        errors=w.errors,
                        cpu_us_per_req=w.cpu_us_per_req,
                    )
                    for w in wins
                ],
                first_error=next((w.first_error for w in wins if w.first_error), None),
            )
            print("  " + fmt_row(row), flush=True)
            rows.append(row)
        failed = False
        return dict(rows=rows)
    except Exception as e:
        return dict(rows=[], skipped=f"failed: {_short(e, 300)} (log: {server.log_path})")
    finally:
        server.stop(keep_log=failed)


HEAD = (
    "| model | server | batching | concurrency | req/s | p50 ms | p99 ms | errors | server CPU µs/req |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|"
)


def fmt_row(r: dict) -> str:
    return (
        f"| {r['model']} | {r['server']} | {r['batching']} | {r['concurrency']} | {r['rps']:.1f} | "
        f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['cpu_us_per_req']:.0f} |"
    )


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, checked on what was measured (a missing row says so)."""

    def get(model, config, c):
        return next((r for r in rows if (r["model"], r["config"], r["concurrency"]) == (model, config, c)), None)

    out = []
    cmax = max((r["concurrency"] for r in rows if r["model"] == "minilm"), default=None)
    on, off = get("minilm", "r1-batch", cmax), get("minilm", "r1-nobatch", cmax)
    if on and off:
        out.append(f"- concurrency {cmax}: batching on / off throughput = {on['rps'] / off['rps']:.2f}x (target >= 3x)")
    on1, off1 = get("minilm", "r1-batch", 1), get("minilm", "r1-nobatch", 1)
    if on1 and off1:
        out.append(f"- concurrency 1: p50 batching on / off = {on1['p50_ms'] / off1['p50_ms']:.3f} (target <= 1.05)")
    peers = [r for r in rows if r["model"] == "minilm" and r["concurrency"] == cmax and r["config"][:2] != "r1"]
    if on and peers:
        best = max(peers, key=lambda r: r["rps"])
        out.append(
            f"- concurrency {cmax}: deepseek_r1 / best peer ({best['server']}, batching {best['batching']}) "
            f"throughput = {on['rps'] / best['rps']:.2f}x (target >= 1.5x)"
        )
    for r in rows:
        if r["model"] == "echo" and r["config"][:2] == "r1":
            out.append(
                f"- echo model, {r['config']}, concurrency {r['concurrency']}: "
                f"{r['cpu_us_per_req']:.0f} µs server CPU per request (target <= 150)"
            )
    return out or ["- no deepseek_r1 rows measured: targets not checked"]


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def setup_peers() -> int:
    if not VENV_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    return subprocess.call([str(VENV_PY), "-m", "pip", "install", "-q", "-r", str(PEERS / "requirements.txt")])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default=DEFAULT_SERVERS, help=f"comma list from {','.join(SPECS)}")
    p.add_argument("--concurrency", default=None, help="MiniLM concurrency levels (default 1,8,64)")
    p.add_argument("--echo-concurrency", default=None, help="echo-model levels; '' skips the echo runs (default 1,64)")
    p.add_argument("--duration", type=float, default=None, help="measured seconds per window (default 10)")
    p.add_argument("--warmup", type=float, default=None, help="seconds of load before each window (default 3)")
    p.add_argument(
        "--repeats", type=int, default=None, help="windows per point; the table shows the median (default 3)"
    )
    p.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    p.add_argument("--payload", choices=["json", "binary"], default="json", help="what v2 servers are sent")
    p.add_argument("--batch-size", type=int, default=64, help="max batch size of every batching server")
    p.add_argument(
        "--peer-batch-timeout-ms",
        type=float,
        default=5.0,
        help="LitServe batch_timeout / Triton max_queue_delay (ours adapts its own delay)",
    )
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads in the peers")
    p.add_argument("--ready-timeout", type=float, default=240.0)
    p.add_argument("--output", default=str(BENCH / "serving_results.json"))
    p.add_argument("--setup-peers", action="store_true", help="create bench/.venv-peers and install the peers")
    a = p.parse_args(argv)
    if a.setup_peers:
        return setup_peers()
    # SIGTERM (timeout, CI) unwinds like Ctrl-C, so the running server's `finally: stop()` still kills it.
    signal.signal(signal.SIGTERM, _interrupt)
    base = (
        QUICK if a.quick else dict(duration=10.0, warmup=3.0, repeats=3, concurrency="1,8,64", echo_concurrency="1,64")
    )
    for k, v in base.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    levels = lambda s: [int(x) for x in s.split(",") if x.strip()]
    concs, echo_concs = levels(a.concurrency), levels(a.echo_concurrency)
    bad = [c for c in concs + echo_concs if not 1 <= c <= MAX_CONCURRENCY]
    if bad:
        p.error(f"concurrency must be 1..{MAX_CONCURRENCY}: {bad}")
    names = [s.strip() for s in a.servers.split(",") if s.strip()]
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        p.error(f"unknown servers {unknown}; known: {list(SPECS)}")

    models = [("minilm", M.minilm_onnx(), concs)] + ([("echo", M.echo_onnx(), echo_concs)] if echo_concs else [])
    skipped: dict[str, str] = {}
    rows: list[dict] = []
    problems = {k: peer_problem(k) for k in {SPECS[n].kind for n in names}}
    for model, onnx_file, levels_ in models:
        ref = reference(onnx_file, M.feeds(model))
        for n in names:
            spec = SPECS[n]
            key = f"{n}/{model}"
            if problems[spec.kind]:
                skipped[key] = f"skipped: {problems[spec.kind]}"
                print(f"{key}: {skipped[key]}", flush=True)
                continue
            model_file = onnx_file
            if spec.kind == "r1":
                try:
                    model_file = M.to_r1(onnx_file)
                except Exception as e:
                    skipped[key] = f"skipped: ModelConverter failed: {_short(e)}"
                    print(f"{key}: {skipped[key]}", flush=True)
                    continue
            print(f"{key}: {n} serving {model_file.name}", flush=True)
            res = bench_server(spec, model, model_file, levels_, a, ref)
            rows += res["rows"]
            if "skipped" in res:
                skipped[key] = res["skipped"]
                print(f"{key}: {res['skipped']}", flush=True)

    table = "\n".join([HEAD] + [fmt_row(r) for r in rows])
    payloads = sorted({f"{r['server']}: {r['payload']}" for r in rows})
    lines = [
        table,
        "",
        "Requests: " + "; ".join(payloads) + ".",
        *[f"- {k}: {v}" for k, v in skipped.items()],
        "",
        "Targets:",
        *targets(rows),
    ]
    print("\n" + "\n".join(lines))
    meta = dict(
        date=_dt.datetime.now().isoformat(timespec="seconds"),
        command=" ".join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
        cpu=platform.processor() or platform.machine(),
        cores=os.cpu_count(),
        python=platform.python_version(),
        peers=peer_versions(),
        duration_s=a.duration,
        warmup_s=a.warmup,
        repeats=a.repeats,
        batch_size=a.batch_size,
        peer_batch_timeout_ms=a.peer_batch_timeout_ms,
        threads=a.threads,
        payload=a.payload,
    )
    Path(a.output).write_text(
        json.dumps(
            dict(meta=meta, rows=rows, skipped=skipped, targets=targets(rows), markdown="\n".join(lines)), indent=1
        )
        + "\n"
    )
    print(f"\nwrote {a.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
