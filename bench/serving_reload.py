"""Hot reload under load: >= 20,000 requests while a new model version lands every few seconds.

    python bench/serving_reload.py                      # 20,000 requests, reload every 2 s
    python bench/serving_reload.py --requests 50000 --reload-every 1 --concurrency 64

The server (a subprocess, repository mode, scanning every 0.2 s) serves y = relu(x @ W_v + b_v) with a 1024 x 1024
weight (4 MB) per version v. A writer thread adds version v+1 (written to a temp name, then renamed, as a
deployment tool would) and deletes the version before the last; the server loads it, swaps it in and retires the
old one. The load generator (aiohttp, closed loop, keep-alive) checks every answer against the weights of the
version the response names. Reported: requests sent, answered, failed, lost (sent - answered - failed: must be
0), versions served, and the server's RSS over time (flat = the retired versions' memory is returned).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import ROOT, use_test_helpers

use_test_helpers()

import deepseek_r1 as r1  # noqa: E402
from deepseek_r1.kserve import encode_infer_request, parse_infer_response  # noqa: E402
from helpers.serve_fixtures import matmul_model  # noqa: E402

WIDTH = 1024


def weights(v: int):
    import onnx.numpy_helper as nh

    w, b = (nh.to_array(t) for t in matmul_model(WIDTH, seed=v).graph.initializer)
    return w, b


def write_version(repo: Path, v: int) -> None:
    d = repo / "mm" / str(v)
    tmp = repo / f".tmp-{v}"
    tmp.mkdir(parents=True, exist_ok=True)
    d.parent.mkdir(parents=True, exist_ok=True)
    r1.save_model(r1.Model(r1.load_onnx(matmul_model(WIDTH, seed=v))), tmp / "model.r1")
    os.rename(tmp, d)  # the version directory appears whole
    old = repo / "mm" / str(v - 2)
    if old.exists():
        shutil.rmtree(old)  # the server keeps serving from its mapping until the version retires


def start_server(repo: Path, port: int, batch: int) -> subprocess.Popen:
    code = (
        f"import deepseek_r1 as r1; r1.InferenceServer(repository={str(repo)!r}, batch_size={batch}, "
        f"poll_interval_s=0.2, num_threads=2).run(port={port})"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, total: int, concurrency: int, stats: dict, refs: dict) -> None:
    import aiohttp

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, WIDTH)).astype(np.float32) for _ in range(16)]
    bodies = [encode_infer_request({"x": x}, binary=True) for x in xs]

    async def worker(session, k):
        while stats["sent"] < total:
            stats["sent"] += 1
            i = (stats["sent"] + k) % len(xs)
            body, headers = bodies[i]
            try:
                async with session.post(url, data=body, headers=headers) as r:
                    payload = await r.read()
                    if r.status != 200:
                        stats["failed"] += 1
                        stats["errors"].append(f"{r.status}: {payload[:200]!r}")
                        continue
                    outs, meta = parse_infer_response(payload, r.headers.get("Inference-Header-Content-Length"))
            except Exception as e:
                stats["failed"] += 1
                stats["errors"].append(repr(e))
                continue
            v = int(meta["model_version"])
            stats["answered"] += 1
            stats["versions"].add(v)
            if stats["answered"] % 50 == 0:  # spot-check answers against the version that gave them
                if v not in refs:
                    refs[v] = weights(v)
                w, b = refs[v]
                if not np.allclose(outs["y"], np.maximum(xs[i] @ w + b, 0), rtol=1e-3, atol=1e-3):
                    stats["wrong"] += 1

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as s:
        await asyncio.gather(*(worker(s, k) for k in range(concurrency)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--reload-every", type=float, default=2.0, help="seconds between new versions")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--output", default=str(ROOT / "bench" / "serving_reload.json"))
    a = p.parse_args(argv)
    repo = Path(tempfile.mkdtemp(prefix="r1-reload-"))
    write_version(repo, 1)
    port = free_port()
    server = start_server(repo, port, a.batch_size)
    proc = psutil.Process(server.pid)
    stats = {"sent": 0, "answered": 0, "failed": 0, "wrong": 0, "versions": set(), "errors": []}
    rss: list[tuple[float, int]] = []
    done = threading.Event()
    written = [1]
    try:
        import urllib.request

        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/mm/ready", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.1)
        t0 = time.time()

        def writer():
            v = 1
            while not done.wait(a.reload_every):
                v += 1
                write_version(repo, v)
                written[0] = v

        def sampler():
            while not done.wait(0.5):
                rss.append((time.time() - t0, proc.memory_info().rss))

        threads = [threading.Thread(target=writer, daemon=True), threading.Thread(target=sampler, daemon=True)]
        for t in threads:
            t.start()
        asyncio.run(load(f"http://127.0.0.1:{port}/v2/models/mm/infer", a.requests, a.concurrency, stats, {}))
        elapsed = time.time() - t0
        done.set()
        for t in threads:
            t.join()
    finally:
        done.set()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        shutil.rmtree(repo, ignore_errors=True)
    q = max(1, len(rss) // 4)
    first = float(np.median([r for _, r in rss[q : 2 * q]])) / 2**20  # after warm-up
    last = float(np.median([r for _, r in rss[-q:]])) / 2**20
    lost = stats["sent"] - stats["answered"] - stats["failed"]
    result = {
        "requests": stats["sent"],
        "answered": stats["answered"],
        "failed": stats["failed"],
        "lost": lost,
        "wrong_answers": stats["wrong"],
        "versions_written": written[0],
        "versions_served": len(stats["versions"]),
        "seconds": round(elapsed, 1),
        "req_per_s": round(stats["answered"] / elapsed, 1),
        "rss_mb_second_quarter": round(first, 1),
        "rss_mb_last_quarter": round(last, 1),
        "rss_mb_peak": round(max(r for _, r in rss) / 2**20, 1),
        "errors": stats["errors"][:5],
        "concurrency": a.concurrency,
        "reload_every_s": a.reload_every,
    }
    print("| requests | answered | failed | lost | wrong | versions served | req/s | RSS MB (2nd quarter -> last) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {result['requests']} | {result['answered']} | {result['failed']} | {lost} | {stats['wrong']} | "
        f"{result['versions_served']} of {written[0]} | {result['req_per_s']} | {first:.0f} -> {last:.0f} |"
    )
    Path(a.output).write_text(json.dumps(result, indent=1))
    ok = stats["failed"] == 0 and lost == 0 and stats["wrong"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
