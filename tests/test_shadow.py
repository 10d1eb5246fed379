"""pyzmq's shadow idiom: an int address (``underlying``) or an object names an existing
context or socket, and ``shadow`` / ``Socket(shadow=...)`` / ``Context(shadow=...)`` give an
object over it, sync or async.  Each check runs against pyzmq too, as the reference."""

from __future__ import annotations

import asyncio
import gc
import importlib

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["purezmq", "pyzmq"])
def lib(request):
    if request.param == "pyzmq":
        return pytest.importorskip("zmq")
    return importlib.import_module("purezmq")


@pytest.fixture
def pair(lib):
    ctx = lib.Context()
    a, b = ctx.socket(lib.PAIR), ctx.socket(lib.PAIR)
    for s in (a, b):
        s.rcvtimeo = 5000
    a.bind("inproc://shadowed")
    b.connect("inproc://shadowed")
    yield ctx, a, b
    a.close(linger=0)
    b.close(linger=0)
    ctx.term()


def test_a_socket_shadowed_by_address_works_and_outlives_the_shadow(lib, pair):
    _ctx, a, b = pair
    for shadow in (lib.Socket.shadow(a.underlying), lib.Socket(shadow=a.underlying)):
        assert shadow.underlying == a.underlying
        assert shadow.type == lib.PAIR
        b.send(b"to the shadow")
        assert shadow.recv() == b"to the shadow"
        shadow.send(b"from the shadow")
        assert b.recv() == b"from the shadow"
    del shadow
    gc.collect()  # a collected shadow leaves the socket open
    b.send(b"still there")
    assert a.recv() == b"still there"


def test_a_context_shadowed_by_address(lib, pair):
    ctx, _a, _b = pair
    for shadow in (lib.Context.shadow(ctx.underlying), lib.Context(shadow=ctx.underlying)):
        assert shadow.underlying == ctx.underlying
        s = shadow.socket(lib.PAIR)
        s.connect("inproc://shadowed-too")  # the shared context's inproc names
        s.close(linger=0)


def test_async_and_sync_shadows_of_each_other(lib, pair):
    aio = importlib.import_module(lib.__name__ + ".asyncio")
    _ctx, a, b = pair

    async def main() -> None:
        asock = aio.Socket.shadow(a.underlying)  # async over the sync socket
        b.send(b"awaited")
        assert await asock.recv() == b"awaited"
        plain = lib.Socket.shadow(asock.underlying)  # and a blocking one over that
        b.send(b"blocking")
        assert plain.recv() == b"blocking"
        assert not isinstance(plain, aio.Socket)  # a blocking socket, not the async one

    asyncio.run(main())


def test_an_unknown_address_is_einval():
    import purezmq as zmq

    with pytest.raises(zmq.ZMQError) as info:
        zmq.Socket.shadow(12345)
    assert info.value.errno == zmq.EINVAL
    with pytest.raises(zmq.ZMQError) as info:
        zmq.Context.shadow(12345)
    assert info.value.errno == zmq.EINVAL
