"""Frames are buffers on every supported Python, as pyzmq's (parity: each case runs on both).

Before Python 3.12 a Python class has no ``__buffer__``: ``memoryview(frame)`` works only
because purezmq's Frame inherits a real buffer (see ``purezmq.sugar.frame``).
"""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest
import zmq as pyzmq
from sockhelp import destroyed_context

import purezmq

_names = itertools.count()
LIBS = [pytest.param(purezmq, id="purezmq"), pytest.param(pyzmq, id="pyzmq")]


@pytest.fixture(params=LIBS)
def lib(request):
    return request.param


@pytest.fixture
def ctx(lib):
    yield from destroyed_context(lib)


def _received(lib, ctx, *parts: bytes) -> list:
    a = ctx.socket(lib.PAIR)
    b = ctx.socket(lib.PAIR)
    a.linger = b.linger = 0
    b.rcvtimeo = 5000
    addr = f"inproc://frames-{next(_names)}"
    a.bind(addr)
    b.connect(addr)
    a.send_multipart(list(parts))
    frames = b.recv_multipart(copy=False)
    a.close()
    b.close()
    return frames


@pytest.mark.parametrize("size", [0, 5, 300, 70_000])
def test_a_received_frame_is_a_writable_buffer(lib, ctx, size):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    (f,) = _received(lib, ctx, payload)
    assert isinstance(f, lib.Frame)
    view = memoryview(f)
    assert (view.readonly, view.format, view.shape, view.nbytes) == (False, "B", (size,), size)
    assert view.tobytes() == payload
    assert f.buffer.readonly is False
    assert f.buffer.tobytes() == payload
    assert bytes(f) == payload
    assert f.bytes == payload and type(f.bytes) is bytes
    assert f.bytes is f.bytes  # cached
    assert len(f) == size
    assert bool(f) is bool(size)


def test_frame_made_from_data(lib):
    for data in (b"abc", bytearray(b"abc"), memoryview(b"abc"), lib.Frame(b"abc")):
        f = lib.Frame(data)
        assert bytes(f) == b"abc" and f.bytes == b"abc" and len(f) == 3
        assert memoryview(f).tobytes() == b"abc"
        assert f.buffer.readonly is False
    assert lib.Frame().bytes == b"" and len(lib.Frame()) == 0
    for not_a_buffer in ("text", 5, [1, 2]):
        with pytest.raises(TypeError):
            lib.Frame(not_a_buffer)
    with pytest.raises(BufferError):
        lib.Frame(memoryview(b"abcd")[::2])


def test_frames_compare_by_identity(lib, ctx):
    (f,) = _received(lib, ctx, b"hello")
    assert (f == b"hello") is False
    assert f != b"hello"
    assert (f == lib.Frame(b"hello")) is False
    assert f == f
    assert hash(f) == hash(f)
    assert len({f, lib.Frame(b"hello")}) == 2
    with pytest.raises(TypeError):
        f + b"x"  # noqa: B018


def test_frame_properties_and_copy(lib, ctx):
    first, last = _received(lib, ctx, b"a", b"b")
    assert first.more is True and last.more is False
    assert first[lib.MORE] == 1 and last.get(lib.MORE) == 0
    with pytest.raises(lib.ZMQError):
        first["no-such-property"]
    dup = copy.copy(first)
    assert dup.bytes == b"a" and dup is not first and dup != first
    with pytest.raises(TypeError):
        pickle.dumps(first)


def test_writing_through_the_buffer_changes_what_is_sent(lib, ctx):
    (f,) = _received(lib, ctx, b"hello")
    f.buffer[0] = ord("J")
    assert bytes(memoryview(f)) == b"Jello"
    (g,) = _received(lib, ctx, f)
    assert g.bytes == b"Jello"


def test_frames_in_the_apis_that_take_buffers(lib, ctx):
    (f,) = _received(lib, ctx, b"payload")
    # What jupyter_client does with comm buffers, and friends.
    assert memoryview(f).shape is not None
    assert b"".join([f, f]) == b"payloadpayload"
    assert bytearray(f) == bytearray(b"payload")
    assert pickle.loads(pickle.dumps(memoryview(f).tobytes())) == b"payload"
    assert str(f) == repr(f) and "payload" in repr(f)
