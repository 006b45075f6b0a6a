"""Normal traffic under every abuse class at once: does the server keep serving, and at what latency?

    python bench/serving_abuse.py                          # 30 s clean, then 60 s under abuse (loopback only)
    python bench/serving_abuse.py --seconds 20 --clean-seconds 10

The server (a subprocess, repository mode, API keys on) serves `mm` (relu(x @ W + b), 256 x 256) and `any` (INT32
relu of any width). The normal load (this process, closed loop, keep-alive, inference key) sends binary requests
to `mm` and checks each answer. First a clean run, then the same load while a second process attacks, all at
once, until the end:

  header floods       heads with a 1 MB header and 1 MB request lines (431 / 414, then closed)
  slow clients        slowloris: a header byte every second on 50 connections (408 after the header timeout)
  idle connections    200 connections that never send a byte (closed by the server, reopened)
  heavy legal bodies  16 MB JSON requests to `any`, and 16 MB binary BYTES floods to `mm` (refused unread)
  reload by copy      `cp` of another model over mm's file in place every 3 s (the old version keeps serving)
  admin with an inference key, and priority above the key's level (403 each)
  gRPC (with the [grpc] extra)  100 silent connections, and 16 MB ModelInfer messages of empty BYTES elements

Reported: normal requests sent / answered / failed (lost = failed: must be 0), p50 / p99 latency clean and under
abuse (the goal: p99 under abuse <= 2x clean), what each abuse class got back, the server's RSS over time (back
within 50 MB of its start after the run), and whether it crashed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import ROOT, r1_pythonpath, use_test_helpers

use_test_helpers()

import deepseek_r1 as r1  # noqa: E402
from helpers.serve_fixtures import matmul_model, save_r1  # noqa: E402
from serving_abuse_attacks import ADMIN_KEY, INFER_KEY, WIDTH, abuse  # noqa: E402


def _any_width_model():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.INT32, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, ["batch", "n"])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def make_repository(root: Path) -> tuple[Path, Path, Path]:
    served = save_r1(matmul_model(WIDTH, seed=1), root / "mm" / "1" / "model.r1")
    save_r1(_any_width_model(), root / "any" / "1" / "model.r1")
    a = save_r1(matmul_model(WIDTH, seed=1), root.parent / "spare-a.r1")
    b = save_r1(matmul_model(WIDTH, seed=2), root.parent / "spare-b.r1")
    return served, a, b


def start_server(repo: Path, port: int, grpc_port: int | None) -> subprocess.Popen:
    keys = {INFER_KEY: "standard", ADMIN_KEY: {"priority": "critical", "admin": True}}
    code = (
        "import deepseek_r1 as r1; "
        f"r1.InferenceServer(repository={str(repo)!r}, api_keys={keys!r}, poll_interval_s=0.5, num_threads=1, "
        f"max_request_bytes=48 << 20, grpc_port={grpc_port!r}).run(port={port})"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(r1_pythonpath()), **json.loads(os.environ.get("ABUSE_SERVER_ENV", "{}"))
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- normal traffic (this process)


def normal_load(url: str, seconds: float, clients: int) -> dict:
    lat: list[float] = []
    failures: list[str] = []
    sent = [0]
    x = np.random.default_rng(0).standard_normal((1, WIDTH)).astype(np.float32)
    stop = time.monotonic() + seconds

    def worker():
        c = r1.Client(url, api_key=INFER_KEY, retries=0, timeout=30)
        while time.monotonic() < stop:
            sent[0] += 1
            t0 = time.perf_counter()
            try:
                y = c.infer("mm", {"x": x})["y"]
                if y.shape != (1, WIDTH) or y.dtype != np.float32:
                    failures.append(f"wrong answer {y.shape} {y.dtype}")
                    continue
            except Exception as e:  # every failure of a normal request is a lost request
                failures.append(repr(e)[:200])
                continue
            lat.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a = np.array(lat) * 1e3
    return {
        "sent": sent[0],
        "answered": len(lat),
        "failed": len(failures),
        "failures": failures[:5],
        "p50_ms": round(float(np.percentile(a, 50)), 2) if a.size else None,
        "p99_ms": round(float(np.percentile(a, 99)), 2) if a.size else None,
        "req_per_s": round(len(lat) / seconds, 1),
    }


# ---------------------------------------------------------------- the run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="the run under abuse")
    p.add_argument("--clean-seconds", type=float, default=30.0, help="the clean run before it")
    p.add_argument("--clients", type=int, default=4, help="normal closed-loop clients")
    p.add_argument("--only", default="", help="comma-separated words: run the abuse classes whose names have one")
    p.add_argument("--output", default=str(ROOT / "bench" / "serving_abuse.json"))
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="r1-abuse-"))
    repo = tmp / "repo"
    served, spare_a, spare_b = make_repository(repo)
    port = free_port()
    try:
        import grpc  # noqa: F401  (the [grpc] extra: without it, no gRPC endpoint and no gRPC abuse)

        grpc_port: int | None = free_port()
    except ImportError:
        grpc_port = None
    server = start_server(repo, port, grpc_port)
    url = f"http://127.0.0.1:{port}"
    rss: list[tuple[float, float]] = []
    done = threading.Event()
    try:
        deadline = time.time() + 120
        while not r1.Client(url, api_key=INFER_KEY, retries=0).is_ready("mm"):
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        t0 = time.monotonic()

        def sampler():
            while not done.wait(1.0):
                if server.poll() is None:
                    rss.append((time.monotonic() - t0, rss_mb(server.pid)))

        threading.Thread(target=sampler, daemon=True).start()
        normal_load(url, 3.0, a.clients)  # warm-up: plans, pools, the first connections
        rss_start = rss_mb(server.pid)
        cpu0 = cpu_s(server.pid)
        clean = normal_load(url, a.clean_seconds, a.clients)
        cpu1 = cpu_s(server.pid)
        queue: mp.Queue = mp.get_context("spawn").Queue()
        attacker = mp.get_context("spawn").Process(
            target=abuse, args=(port, a.seconds, (str(served), str(spare_a), str(spare_b)), queue, a.only, grpc_port)
        )
        t_abuse = time.monotonic() - t0
        attacker.start()
        under = normal_load(url, a.seconds, a.clients)
        cpu2 = cpu_s(server.pid)
        attacker_cpu = cpu_s(attacker.pid) if attacker.is_alive() else float("nan")
        abuse_results = queue.get(timeout=a.seconds + 120)
        attacker.join(30)
        time.sleep(12.0)  # two memory-trim periods: what the burst left is freed; its connections are closed
        crashed = server.poll() is not None
        live = False if crashed else r1.Client(url, api_key=INFER_KEY, retries=0).is_live()
        rss_end = rss_mb(server.pid) if not crashed else float("nan")
        done.set()
    finally:
        done.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "clean": clean,
        "under_abuse": under,
        "p99_ratio": round(under["p99_ms"] / clean["p99_ms"], 2) if under["p99_ms"] and clean["p99_ms"] else None,
        "abuse": abuse_results,
        "crashed": crashed,
        "live_after": live,
        "server_exit_code": server.returncode if crashed else None,
        # CPU seconds per second of wall time: the server in each run, and the attacker (same 2 cores)
        "server_cpu_clean": round((cpu1 - cpu0) / a.clean_seconds, 2),
        "server_cpu_under_abuse": round((cpu2 - cpu1) / a.seconds, 2),
        "attacker_cpu": round(attacker_cpu / a.seconds, 2),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_peak": round(max(r for _, r in rss), 1),
        "rss_mb_end": round(rss_end, 1),
        "rss_timeline": [(round(t, 1), round(r, 1)) for t, r in rss],
        "abuse_started_at_s": round(t_abuse, 1),
        "seconds": a.seconds,
        "clients": a.clients,
        "cpus": os.cpu_count(),
    }
    Path(a.output).write_text(json.dumps(result, indent=1))
    print(report(result))
    ok = (
        not crashed
        and live
        and under["failed"] == 0
        and clean["failed"] == 0
        and (result["p99_ratio"] or 99) <= 2.0
        and rss_end - rss_start <= 50
    )
    return 0 if ok else 1


def report(r: dict) -> str:
    c, u = r["clean"], r["under_abuse"]
    lines = [
        "| run | sent | answered | failed (lost) | p50 ms | p99 ms | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| clean | {c['sent']} | {c['answered']} | {c['failed']} | {c['p50_ms']} | {c['p99_ms']} | {c['req_per_s']} |",
        f"| under abuse | {u['sent']} | {u['answered']} | {u['failed']} | {u['p50_ms']} | {u['p99_ms']} | {u['req_per_s']} |",
        "",
        f"p99 under abuse / clean: **{r['p99_ratio']}x**; crashed: **{r['crashed']}**; live after: {r['live_after']}; "
        f"server RSS {r['rss_mb_start']} MB at the start, {r['rss_mb_peak']} MB peak, {r['rss_mb_end']} MB after "
        f"(**{r['rss_mb_end'] - r['rss_mb_start']:+.1f} MB**); CPU (cores busy): server {r['server_cpu_clean']} clean, "
        f"{r['server_cpu_under_abuse']} under abuse, the attacker {r['attacker_cpu']}, on {r['cpus']} cores",
        "",
        "| abuse class | what it got (count) |",
        "|---|---|",
    ]
    for kind, got in r["abuse"].items():
        lines.append(f"| {kind} | {', '.join(f'{k}: {v}' for k, v in sorted(got.items()))} |")
    if u["failures"] or c["failures"]:
        lines += ["", f"failures: {c['failures'] + u['failures']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
