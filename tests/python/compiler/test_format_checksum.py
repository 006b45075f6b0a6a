"""The .r1 checksum's segment hash: 4 CRC-32C lanes, by SSE4.2 where the CPU has it, else by tables. A file
written on one machine is verified on another, so both paths must give the same value for every input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deepseek_r1 import _core

LANE = st.integers(0, 2**32 - 1)


def test_crc32c_known_answer():
    # CRC-32C("123456789") = 0xE3069283 (RFC 3720): init ~0, the 8-byte word and the tail byte in lane 0.
    for portable in (True, False):
        lanes = _core._crc32c_lanes(b"123456789", [0xFFFFFFFF, 0, 0, 0], portable)
        assert lanes[0] ^ 0xFFFFFFFF == 0xE3069283
        assert lanes[1:] == [0, 0, 0]


@given(data=st.binary(min_size=0, max_size=600), lanes=st.lists(LANE, min_size=4, max_size=4))
def test_hardware_and_table_paths_agree(data, lanes):
    assert _core._crc32c_lanes(data, lanes, False) == _core._crc32c_lanes(data, lanes, True)


@given(data=st.binary(min_size=1, max_size=200), pos=st.integers(0, 10**6), bit=st.integers(0, 7))
def test_one_flipped_bit_changes_the_lanes(data, pos, bit):
    flipped = bytearray(data)
    flipped[pos % len(data)] ^= 1 << bit
    assert _core._crc32c_lanes(data, [1, 2, 3, 4], False) != _core._crc32c_lanes(bytes(flipped), [1, 2, 3, 4], False)
