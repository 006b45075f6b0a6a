"""Give memory back after a burst: a fixed mmap threshold and a periodic malloc_trim (glibc only).

    release = MemoryHygiene()        # InferenceServer does this once, when it is made (before its threads)
    await release.run(every_s=10)    # a background task: trims while the server runs

Why: a server that took a burst of large requests (16 MB bodies, their decoded arrays, their answers) kept
~130-220 MB more RSS after the burst had passed (bench/serving_abuse.py). Part of it is the engines' host pool
(cpu/host_pool.h), which keeps freed output blocks for the next run: each trim frees the blocks no run took
during a whole period (steady traffic keeps its blocks; a burst's go within two periods). glibc raises its mmap threshold
each time a large mmapped block is freed (up to 32 MB), so later blocks of that size come from the heap,
whose free pages stay resident and, in the worker threads' arenas, fragmented. Pinning the threshold
(4 MiB: every block that large is its own mapping, unmapped when freed; smaller ones are reused from the
heap as before) and trimming free heap pages every few seconds returns them. Elsewhere (musl, macOS) only the
pool is trimmed.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os

from .. import _core

log = logging.getLogger("deepseek_r1.serve")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD_BYTES = 4 << 20
# Pinning the mmap threshold also pins the trim threshold at its 128 KiB default, and the heap's top would
# then be given back (brk) and taken again (page faults) around every request; the periodic trim does it.
TRIM_THRESHOLD_BYTES = 64 << 20
# glibc gives threads arenas of their own, up to 8 per core; gRPC's threads each fragmented theirs: +40-60 MB
# that no trim returned after 16 MB messages (1 arena: +1 MB, 2: +8 MB). Two arenas on a 2-core server.
ARENA_MAX = 2


def _glibc():
    # The process's own symbols (libc is loaded already): find_library would run ldconfig in a subprocess on every
    # InferenceServer made.
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


class MemoryHygiene:
    def __init__(self):
        self._libc = _glibc()
        if self._libc is not None:
            # Fixed, so glibc stops raising it: blocks of 4 MiB and more go back to the OS when freed.
            self._libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
            self._libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
            # Applies to arenas made from now on: the server makes this before its threads start.
            self._libc.mallopt(M_ARENA_MAX, max(ARENA_MAX, min(8, os.cpu_count() or 1)))

    def trim(self) -> None:
        # The engines' host pool first: blocks a burst left that no run has taken since the last trim.
        _core.trim_cached_memory()
        if self._libc is not None:
            self._libc.malloc_trim(0)  # free pages of every arena, not only the heap's top

    async def run(self, every_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every_s)
            try:
                await loop.run_in_executor(None, self.trim)  # takes arena locks: not on the event loop
            except Exception:  # hygiene must never stop the server
                log.exception("malloc_trim failed")
