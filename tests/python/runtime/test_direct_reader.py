"""The O_DIRECT reader (r1/io/direct_reader.h): any range, any alignment, the same bytes as a plain read, through
io_uring (where built and allowed) and through the pread pool alike."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_r1 import InputError, ModelError, _core

SIZE = 3 * (1 << 20) + 12345  # not a multiple of 4 KiB: the last aligned request reads past the end


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> tuple[Path, bytes]:
    path = tmp_path_factory.mktemp("direct") / "blob.bin"
    data = np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    return path, data


@pytest.fixture(scope="module", params=[True, False], ids=["io_uring", "pread_pool"])
def reader(data_file, request):
    r = _core.DirectReader(str(data_file[0]), queue_depth=8, request_bytes=64 << 10, io_uring=request.param)
    assert r.uses_io_uring == (request.param and _core.IO_URING_BUILT and r.uses_io_uring)
    if not request.param:
        assert not r.uses_io_uring
    return r


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_ranges_match_a_plain_read(reader, data_file, data):
    _, expected = data_file
    offset = data.draw(st.integers(0, SIZE))
    n = data.draw(st.integers(0, min(SIZE - offset, 300_000)))
    shift = data.draw(st.sampled_from([0, 1, 7, 4096]))  # destination alignment: aligned or not
    raw = np.zeros(n + shift + 4096, np.uint8)
    base = (-raw.ctypes.data) % 4096  # an address 4 KiB-aligned, then shifted
    out = raw[base + shift : base + shift + n]
    reader.read_into(offset, out)
    assert out.tobytes() == expected[offset : offset + n]


def test_reads_go_around_the_page_cache(reader, data_file):
    """On a filesystem with O_DIRECT (this machine's /tmp), the reader uses it."""
    if not reader.direct:
        pytest.skip("this filesystem refuses O_DIRECT")
    out = np.empty(SIZE, np.uint8)
    reader.read_into(0, out)
    assert out.tobytes() == data_file[1]


@pytest.mark.parametrize("request_bytes", [4096, 1 << 20])
def test_buffered_reads_match_and_drop_their_pages(data_file, request_bytes):
    """What a filesystem without O_DIRECT gets: plain reads into the destination, the pages dropped after."""
    path, data = data_file
    r = _core.DirectReader(str(path), request_bytes=request_bytes, direct=False)
    assert not r.direct
    out = np.empty(500_001, np.uint8)
    r.read_into(123_457, out)
    assert out.tobytes() == data[123_457:623_458]


@pytest.mark.parametrize("io_uring", [True, False])
def test_reading_past_the_end_or_a_truncated_file_is_a_model_error(tmp_path, io_uring):
    path = tmp_path / "t.bin"
    path.write_bytes(b"x" * 10_000)
    r = _core.DirectReader(str(path), io_uring=io_uring)
    with pytest.raises(ModelError, match="10000 bytes"):
        r.read_into(9_000, np.empty(2_000, np.uint8))
    os.truncate(path, 100)  # truncated under an open reader
    with pytest.raises(ModelError, match="truncated"):
        r.read_into(0, np.empty(5_000, np.uint8))
    r.read_into(0, np.empty(100, np.uint8))  # still usable for what is there


def test_bad_arguments(tmp_path):
    with pytest.raises(ModelError, match="cannot open"):
        _core.DirectReader(str(tmp_path / "missing.bin"))
    with pytest.raises(ModelError, match="not a regular file"):
        _core.DirectReader(str(tmp_path))
    (tmp_path / "f").write_bytes(b"abc")
    with pytest.raises(InputError, match="multiple of 4096"):
        _core.DirectReader(str(tmp_path / "f"), request_bytes=1000)
    with pytest.raises(InputError, match="queue_depth"):
        _core.DirectReader(str(tmp_path / "f"), queue_depth=0)
