"""Evicting files from the page cache, so that a timed read comes from the disk (bench/disk_read.py, tiering*.py).

from _page_cache import evict
evict(path_a, path_b)        # fsync, then posix_fadvise(DONTNEED) over each whole file
"""

from __future__ import annotations

import os


def evict(*paths: str | os.PathLike) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
