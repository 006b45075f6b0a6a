"""Byte-level access to .r1 files for the format tests: the header, and files of an older format version.

    h = read_header(path)                 # {"version": 3, "file_size": ..., "checksum": ...}
    rewrite_as_version_1(src, dst)        # the same model as format version 1 wrote it

The version-1 checksum is computed here in Python, from its definition (cpp/r1/format/checksum.cc):
a reader that stopped verifying version-1 files correctly would fail the tests that load these files.
"""

from __future__ import annotations

import struct
from pathlib import Path

HEADER = struct.Struct("<8sIIQQQQQQ")  # magic, version, flags, file_size, ir off/size, weights off/size, checksum
_M = (1 << 64) - 1
_P1, _P2 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F


def read_header(path: str | Path) -> dict:
    magic, version, flags, size, ir_off, ir_size, w_off, w_size, checksum = HEADER.unpack(
        Path(path).read_bytes()[: HEADER.size]
    )
    return {
        "magic": magic,
        "version": version,
        "flags": flags,
        "file_size": size,
        "ir_offset": ir_off,
        "ir_size": ir_size,
        "weights_offset": w_off,
        "weights_size": w_size,
        "checksum": checksum,
    }


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _mix(h: int, w: int) -> int:
    return (_rotl(h ^ ((w * _P2) & _M), 31) * _P1) & _M


def checksum64(data: bytes, seed: int = 0) -> int:
    """format::checksum64: 4 multiply-rotate lanes over 32-byte blocks, then the tail."""
    n = len(data)
    h = [(seed + _P1) & _M, seed ^ _P2, (seed + 1) & _M, (seed - _P1) & _M]
    i = 0
    while i + 32 <= n:
        for k, w in enumerate(struct.unpack_from("<4Q", data, i)):
            h[k] = _mix(h[k], w)
        i += 32
    acc = (_rotl(h[0], 1) + _rotl(h[1], 7) + _rotl(h[2], 12) + _rotl(h[3], 18) + n) & _M
    while i + 8 <= n:
        acc = _mix(acc, struct.unpack_from("<Q", data, i)[0])
        i += 8
    while i < n:
        acc = _mix(acc, data[i])
        i += 1
    acc ^= acc >> 33
    acc = (acc * _P2) & _M
    acc ^= acc >> 29
    return acc


def rewrite_as_version_1(src: str | Path, dst: str | Path) -> Path:
    """Writes `src` (any version) as format version 1: the same bytes, version 1 and its one-pass checksum."""
    data = bytearray(Path(src).read_bytes())
    fields = list(HEADER.unpack_from(data, 0))
    fields[1] = 1  # version
    fields[-1] = 0  # the checksum is computed with its own field zeroed
    header = HEADER.pack(*fields)
    fields[-1] = checksum64(bytes(data[HEADER.size :]), checksum64(header))
    data[: HEADER.size] = HEADER.pack(*fields)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)
