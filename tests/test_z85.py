"""Z85 (RFC 32) against the RFC's vector, libzmq's key vectors and pyzmq's implementation."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purezmq.utils import z85

pytestmark = pytest.mark.timeout(60)

zmq_z85 = pytest.importorskip("zmq.utils.z85")

# RFC 32, "Test Case".
RFC_RAW = bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
RFC_TEXT = b"HelloWorld"

# The key pairs of the zmq_curve(7) manual page: 40 Z85 characters <-> 32 bytes.
KEY_TEXTS = [
    b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
    b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
    b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
]

words = st.binary(max_size=400).map(lambda b: b[: len(b) // 4 * 4])


def test_rfc32_vector() -> None:
    assert z85.encode(RFC_RAW) == RFC_TEXT
    assert z85.decode(RFC_TEXT) == RFC_RAW
    assert z85.decode("HelloWorld") == RFC_RAW


def test_alphabet_matches_rfc() -> None:
    assert len(z85.Z85CHARS) == 85 and len(set(z85.Z85CHARS)) == 85
    assert z85.Z85CHARS == zmq_z85.Z85CHARS
    assert z85.Z85MAP == zmq_z85.Z85MAP


@pytest.mark.parametrize("text", KEY_TEXTS)
def test_key_vectors_round_trip(text: bytes) -> None:
    raw = z85.decode(text)
    assert len(raw) == 32
    assert raw == zmq_z85.decode(text)
    assert z85.encode(raw) == text


def test_edges() -> None:
    assert z85.encode(b"") == b""
    assert z85.decode(b"") == b""
    assert z85.encode(b"\x00" * 4) == b"00000"
    assert z85.encode(b"\xff" * 4) == b"%nSc0"
    assert z85.decode(b"%nSc0") == b"\xff" * 4


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 33])
def test_encode_rejects_bad_length(n: int) -> None:
    with pytest.raises(ValueError):
        z85.encode(b"x" * n)
    with pytest.raises(ValueError):  # pyzmq agrees
        zmq_z85.encode(b"x" * n)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 9, 41])
def test_decode_rejects_bad_length(n: int) -> None:
    with pytest.raises(ValueError):
        z85.decode(b"0" * n)
    with pytest.raises(ValueError):
        z85.decode("0" * n)
    with pytest.raises(ValueError):
        zmq_z85.decode(b"0" * n)


def test_decode_rejects_non_ascii_str() -> None:
    with pytest.raises(ValueError):
        z85.decode("Hell\u00f6World")


@pytest.mark.parametrize("text", [b"Hello Worl", b"Hello\x00orl", b'"ello', b"\xffello", b"~~~~~"])
def test_decode_rejects_characters_outside_alphabet(text: bytes) -> None:
    with pytest.raises(ValueError):
        z85.decode(text)


def test_decode_rejects_groups_above_32_bits() -> None:
    # '#' is 84: 84 * (85**4 + 85**3 + ...) is far above 2**32 - 1.
    with pytest.raises(ValueError):
        z85.decode(b"#####")
    with pytest.raises(ValueError):
        z85.decode(b"%nSc1")  # 2**32, one above the largest word


def test_accepts_buffer_types() -> None:
    assert z85.encode(bytearray(RFC_RAW)) == RFC_TEXT
    assert z85.encode(memoryview(RFC_RAW)) == RFC_TEXT
    assert z85.decode(bytearray(RFC_TEXT)) == RFC_RAW
    assert z85.decode(memoryview(RFC_TEXT)) == RFC_RAW


def test_random_against_pyzmq() -> None:
    for n in range(0, 260, 4):
        raw = os.urandom(n)
        text = z85.encode(raw)
        assert text == zmq_z85.encode(raw)
        assert z85.decode(text) == raw
        assert z85.decode(text.decode()) == zmq_z85.decode(text)


@settings(max_examples=300, deadline=None)
@given(words)
def test_property_matches_pyzmq(raw: bytes) -> None:
    text = z85.encode(raw)
    assert isinstance(text, bytes)
    assert len(text) == len(raw) // 4 * 5
    assert text == zmq_z85.encode(raw)
    assert z85.decode(text) == raw
