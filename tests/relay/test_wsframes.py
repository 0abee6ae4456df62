"""The WebSocket message bound: follows frame headers across any split of the bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.wsframes import MessageLimit, close_frame

pytestmark = pytest.mark.unit
LIMIT = 1000


def frame(opcode: int, length: int, *, final: bool = True) -> bytes:
    """A client's (masked) frame of ``length`` zero bytes."""
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 65536:
        size = bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        size = bytes([0x80 | 127]) + struct.pack("!Q", length)
    return bytes([(0x80 if final else 0) | opcode]) + size + b"mask" + bytes(length)


def reference(frames: list[tuple[int, int, bool]]) -> tuple[bytes, int | None]:
    """The stream, and where the header of the first frame over the limit ends (or None)."""
    stream = b""
    message = 0
    for opcode, length, final in frames:
        data = frame(opcode, length, final=final)
        header_end = len(stream) + len(data) - length
        stream += data
        if opcode >= 8:
            if length > 125 or not final:
                return stream, header_end
            continue
        message += length
        if message > LIMIT:
            return stream, header_end
        if final:
            message = 0
    return stream, None


frames = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([1, 2, 0]), st.integers(0, 700), st.booleans()),
        st.tuples(st.just(9), st.integers(0, 125), st.just(True)),  # pings between fragments
        st.tuples(st.just(2), st.integers(60000, 70000), st.just(True)),  # 16- and 64-bit sizes
    ),
    max_size=12,
)


@given(frames, st.lists(st.integers(1, 300), min_size=1, max_size=40))
def test_any_split_of_the_stream_gives_the_same_answer(
    listed: list[tuple[int, int, bool]], cuts: list[int]
) -> None:
    stream, first_over = reference(listed)
    limit = MessageLimit(LIMIT)
    at = 0
    step = 0
    while at < len(stream):
        chunk = stream[at : at + cuts[step % len(cuts)]]
        step += 1
        if limit.over(chunk):
            assert first_over is not None and at < first_over <= at + len(chunk)
            return
        at += len(chunk)
    assert first_over is None


def test_messages_under_the_limit_pass_and_over_it_do_not() -> None:
    limit = MessageLimit(LIMIT)
    assert not limit.over(frame(1, 1000) + frame(2, 999, final=False) + frame(0, 1))
    assert limit.over(frame(2, 600, final=False) + frame(9, 4) + frame(0, 401))


def test_a_huge_declared_length_is_caught_from_the_header_alone() -> None:
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 2**40) + b"mask"  # 1 TiB announced
    assert MessageLimit(LIMIT).over(header)


def test_the_close_frame_says_why() -> None:
    assert close_frame(1009, "too big") == b"\x88\x09\x03\xf1too big"
