"""The CURVE traffic box: the cffi path and PyNaCl's public wrappers agree byte for byte."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("nacl")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from nacl import bindings  # noqa: E402

from purezmq.zmtp.mechanisms import sodium  # noqa: E402
from purezmq.zmtp.mechanisms.sodium import KEEP, Box, CryptoError  # noqa: E402

pytestmark = pytest.mark.timeout(60)

_PK, _SK = bindings.crypto_box_keypair()
KEY = bindings.crypto_box_beforenm(_PK, _SK)
NONCE = os.urandom(24)


def _boxes() -> list[Box]:
    boxes = [Box(KEY, fast=False)]
    if sodium._CFFI is not None:
        boxes.append(Box(KEY, fast=True))
    return boxes


def test_the_fast_path_is_available_with_pynacl() -> None:
    """PyNaCl's cffi layer has the two functions; if it ever loses them, say so here."""
    assert sodium._CFFI is not None
    assert Box(KEY)._fast


@settings(max_examples=200, deadline=None)
@given(flag=st.integers(0, 3), body=st.binary(max_size=3000))
def test_seal_matches_pynacl_and_opens_back(flag: int, body: bytes) -> None:
    expected = bindings.crypto_box_easy_afternm(bytes((flag,)) + body, NONCE, KEY)
    for box in _boxes():
        sealed = box.seal(flag, body, NONCE)
        assert sealed == expected
        for other in _boxes():
            assert other.open(sealed, NONCE) == (flag, body)


@pytest.mark.parametrize("size", [0, 1, 239, 240, KEEP - 17, KEEP, KEEP + 1, 1 << 20])
def test_sizes_around_the_kept_buffer(size: int) -> None:
    body = os.urandom(size)
    for box in _boxes():
        sealed = box.seal(1, body, NONCE)
        assert len(sealed) == size + 1 + sodium.MAC
        assert box.open(sealed, NONCE) == (1, body)
        assert box._cap <= KEEP  # a big frame does not leave a big buffer behind


def test_buffers_are_reused_and_never_leak_old_bytes() -> None:
    for box in _boxes():
        long = box.seal(0, b"x" * 1000, NONCE)
        assert box.open(long, NONCE) == (0, b"x" * 1000)
        short = box.seal(2, b"yz", NONCE)
        assert box.open(short, NONCE) == (2, b"yz")


def test_memoryview_and_bytearray_bodies() -> None:
    data = bytearray(b"abc" * 50)
    for box in _boxes():
        assert box.seal(0, memoryview(data)[3:], NONCE) == box.seal(0, bytes(data[3:]), NONCE)


@pytest.mark.parametrize("where", [0, 15, 16, -1])
def test_tampering_is_refused(where: int) -> None:
    for box in _boxes():
        sealed = bytearray(box.seal(0, b"payload", NONCE))
        sealed[where] ^= 1
        with pytest.raises(CryptoError):
            box.open(bytes(sealed), NONCE)
        with pytest.raises(CryptoError):
            box.open(box.seal(0, b"payload", NONCE), bytes((NONCE[0] ^ 1,)) + NONCE[1:])


def test_too_short_is_refused() -> None:
    for box in _boxes():
        for n in (0, 1, 16):
            with pytest.raises((CryptoError, ValueError)):
                box.open(bytes(n), NONCE)
