"""Closed-loop HTTP load generator for bench/serving.py (asyncio + aiohttp, keep-alive, loopback only).

`concurrency` workers share one aiohttp session holding at most `concurrency` keep-alive connections.
Each worker POSTs the same prebuilt body, reads the whole response, and sends the next request at once.
All workers run through a warm-up, then a measured window of `duration_s`: only requests that complete
inside the window count (throughput = completed / window), and the server's CPU time is sampled at the
window's edges, so its CPU per request is (CPU time in the window) / (requests completed in it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

MAX_CONCURRENCY = 128
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Window:
    concurrency: int
    duration_s: float
    ok: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    server_cpu_s: float = float("nan")
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s

    def pct_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q) * 1e3) if self.latencies_s else float("nan")

    @property
    def cpu_us_per_req(self) -> float:
        return self.server_cpu_s / self.ok * 1e6 if self.ok else float("nan")


def check_url(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the load generator only targets loopback addresses, not {host!r}")


async def _run(
    url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    cpu_sample: Callable[[], float] | None,
    timeout_s: float,
) -> Window:
    import aiohttp

    win = Window(concurrency, duration_s)
    t_start = time.perf_counter()  # not loop.time(): uvloop's clock ticks in whole ms
    t_measure, t_end = t_start + warmup_s, t_start + warmup_s + duration_s
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False, enable_cleanup_closed=True)
    cpu_edges: list[float] = []

    async def sampler():  # CPU time at the window's two edges, taken from this process by psutil
        await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
        cpu_edges.append(cpu_sample() if cpu_sample else float("nan"))
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        cpu_edges.append(cpu_sample() if cpu_sample else float("nan"))

    async def worker(session):
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                return
            try:
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    status = r.status
                    err = None if status == 200 else f"HTTP {status}: {(await r.read())[:200]!r}"
            except Exception as e:  # connection refused/reset, timeout: counted, never fatal
                err = f"{type(e).__name__}: {e}"
            t1 = time.perf_counter()
            if t_measure <= t1 < t_end:
                if err is None:
                    win.ok += 1
                    win.latencies_s.append(t1 - t0)
                else:
                    win.errors += 1
                    win.first_error = win.first_error or err
            if err is not None:
                await asyncio.sleep(0.01)  # don't spin on a dead server

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(sampler(), *(worker(session) for _ in range(concurrency)))
    win.server_cpu_s = cpu_edges[1] - cpu_edges[0]
    return win


def run_window(
    url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    cpu_sample: Callable[[], float] | None = None,
    timeout_s: float = 120.0,
) -> Window:
    check_url(url)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(_run(url, body, headers, concurrency, warmup_s, duration_s, cpu_sample, timeout_s))
