"""Activation spilling: a U-Net-like model whose skip connections do not fit its memory budget, against the same
model held whole, and against the disk's own O_DIRECT write and read bandwidth measured in the same run.

    python bench/activation_spill.py                 # 64 MiB activations, chain of 10 MatMuls, 2 threads
    python bench/activation_spill.py --rows 16384    # a quick look (16 MiB activations)

The model (tests/python/helpers/skip_model.py, decoder=True): a chain of MatMuls [rows, 256] x [256, 256] whose first
two results are added back by a decoder (d = d @ wd1a @ wd1b + h1, then the same with h0). Held whole, its arena holds the two
skips and two chain results (4 activations). Budgets: "fits" (no spill) and "spill" (room for 3 activations: the
first skip is written out after its early read and read back while the decoder's next-to-last MatMul computes).
Each configuration runs in this process, interleaved over rounds, medians; the spill file is written and read with
O_DIRECT (nothing comes from the page cache). dd measures the disk: bs=1M oflag=direct write, then iflag=direct
read of a file the size of what a run moves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import use_r1, use_test_helpers

use_r1()
use_test_helpers()

import numpy as np  # noqa: E402

import deepseek_r1 as r1  # noqa: E402
from helpers.skip_model import build_skip_model  # noqa: E402

MIB = 1 << 20


def dd_gbps(directory: str, mib: int) -> tuple[float, float]:
    path = Path(directory) / f"r1-spill-dd-{os.getpid()}.bin"
    try:
        t0 = time.perf_counter()
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}", "oflag=direct", "conv=fsync"],
            check=True, capture_output=True,
        )  # fmt: skip
        w = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M", "iflag=direct"], check=True, capture_output=True)
        r = time.perf_counter() - t0
    finally:
        path.unlink(missing_ok=True)
    return mib * MIB / w / 1e9, mib * MIB / r / 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=65536)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dir", default=tempfile.gettempdir())
    a = p.parse_args(argv)
    act = a.rows * 256 * 4
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        model = build_skip_model(Path(d) / "unet.onnx", decoder=True)
        x = np.random.default_rng(0).standard_normal((a.rows, 256)).astype(np.float32)
        fixed = act + 8 * MIB  # the output (outside the arena), weights, the spill buffer, slack
        budgets = {"fits": 4 * act + fixed, "spill": 3 * act + fixed}
        engines = {"resident": r1.InferenceEngine(model, num_threads=a.threads)}
        for name, b in budgets.items():
            engines[name] = r1.InferenceEngine(model, num_threads=a.threads, memory_budget={"cpu": b}, offload_dir=d)
        want = engines["resident"].run({"x": x})["y"]
        for eng in engines.values():
            for _ in range(2):
                assert np.array_equal(eng.run({"x": x})["y"], want), "outputs differ from the resident engine's"
        times: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(a.rounds):
            for name, eng in engines.items():
                t0 = time.perf_counter()
                eng.run({"x": x})
                times[name].append(time.perf_counter() - t0)
        moved = max(e.tiering_report().get("spilled_bytes_last_run", 0) for e in engines.values())
        write_gbps, read_gbps = dd_gbps(d, max(64, moved // 2 // MIB))
    base = statistics.median(times["resident"])
    print(
        f"activations {act / MIB:.0f} MiB, {a.threads} threads, {a.rounds} rounds, medians; disk (dd, O_DIRECT, 1 MiB): "
        f"write {write_gbps:.2f} GB/s, read {read_gbps:.2f} GB/s"
    )
    print("| configuration | budget MiB | median ms | vs resident | arena MiB | pool peak MiB | spilled | moved MiB/run "
          "| copies ms (at dd speed) | compute waited ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, eng in engines.items():
        t = statistics.median(times[name])
        rep = eng.tiering_report() if name != "resident" else {}
        arena = eng._executor.memory_report()["arena_bytes"] / MIB
        spilled = rep.get("spilled_bytes_last_run", 0)
        dd_ms = (spilled / 2 / (write_gbps * 1e9) + spilled / 2 / (read_gbps * 1e9)) * 1e3
        budget = f"{budgets[name] / MIB:.0f}" if name in budgets else ""
        peak = f"{rep['pool_peak_bytes'] / MIB:.0f}" if rep else ""
        print(
            f"| {name} | {budget} | {t * 1e3:.1f} | {t / base:.2f}x | {arena:.0f} | {peak} | "
            f"{rep.get('spilled_activations', '')} | {spilled / MIB:.0f} | {dd_ms:.0f} | "
            f"{rep.get('spill_wait_ms_last_run', 0.0):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
