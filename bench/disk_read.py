"""Disk read bandwidth: our O_DIRECT reader against dd's O_DIRECT reads and a buffered read, cold, same file.

    python bench/disk_read.py                     # a 1 GiB file in the system temp dir, 5 rounds
    python bench/disk_read.py --size-mb 4096 --dir /mnt/nvme --rounds 3

Every measurement reads the whole file from the device: before each one the file's pages are evicted from the
page cache (fsync, then posix_fadvise DONTNEED). Readers, interleaved round by round (medians reported):
  dd            dd if=FILE of=/dev/null bs=1M iflag=direct: one 1 MiB O_DIRECT request at a time (the device's
                limit as a plain tool sees it; fio is not installed here)
  r1 qdN xM     _core.DirectReader: N requests of M MiB in flight, into a 64 MiB destination reused
  buffered      Python reads of 1 MiB through the page cache (what mmap or read() would get cold)
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _page_cache import evict
from _paths import use_r1

use_r1()

from deepseek_r1 import _core  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def read_r1(path: Path, size: int, qd: int, request_mb: int) -> None:
    r = _core.DirectReader(str(path), queue_depth=qd, request_bytes=request_mb << 20)
    chunk = 64 << 20
    buf = np.empty(chunk + 4096, np.uint8)
    out = buf[(-buf.ctypes.data) % 4096 :][:chunk]  # aligned: reads land in it directly
    for off in range(0, size, chunk):
        n = min(chunk, size - off)
        r.read_into(off, out[:n])


def read_buffered(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass


def read_dd(path: Path) -> None:
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M", "iflag=direct"], check=True, capture_output=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=int, default=1024)
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    path = Path(a.dir) / f"r1-disk-read-{os.getpid()}.bin"
    size = a.size_mb << 20
    try:
        block = np.random.default_rng(0).integers(0, 256, 64 << 20, dtype=np.uint8).tobytes()
        with open(path, "wb") as f:
            for off in range(0, size, len(block)):
                f.write(block[: min(len(block), size - off)])
        readers = {
            "dd (O_DIRECT, 1 MiB, qd 1)": lambda: read_dd(path),
            "r1 qd1 x1 MiB": lambda: read_r1(path, size, 1, 1),
            "r1 qd8 x1 MiB": lambda: read_r1(path, size, 8, 1),
            "r1 qd8 x4 MiB": lambda: read_r1(path, size, 8, 4),
            "buffered (page cache, cold)": lambda: read_buffered(path),
        }
        times: dict[str, list[float]] = {k: [] for k in readers}
        for _ in range(a.rounds):
            for name, fn in readers.items():
                evict(path)
                times[name].append(timed(fn))
        direct = _core.DirectReader(str(path)).direct
    finally:
        path.unlink(missing_ok=True)
    dd = statistics.median(times["dd (O_DIRECT, 1 MiB, qd 1)"])
    print(f"{a.size_mb} MiB file in {a.dir} (O_DIRECT: {direct}), {a.rounds} rounds, medians, cold each time")
    print("| reader | GB/s | vs dd |")
    print("|---|---:|---:|")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"| {name} | {size / t / 1e9:.2f} | {dd / t:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
