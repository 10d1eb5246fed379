"""pyzmq's object model (issue 16), run against pyzmq (libzmq) and purezmq alike.

Socket lifetime, errors and validation, context managers and the small behaviours users
see (repr, copy, Poller with fileno() objects, recv_into).  Every test takes the library
as ``zmq``; a check pyzmq fails is not pyzmq's behaviour and does not belong here.
"""

from __future__ import annotations

import gc
import importlib
import threading
import warnings
import weakref

import pytest


@pytest.fixture(params=["purezmq", "pyzmq"])
def zmq(request):
    if request.param == "pyzmq":
        return pytest.importorskip("zmq")
    return importlib.import_module("purezmq")


def _term_returns(ctx, timeout: float = 10.0) -> bool:
    t = threading.Thread(target=ctx.term, daemon=True)
    t.start()
    t.join(timeout)
    return not t.is_alive()


def _collect() -> None:
    gc.collect()
    gc.collect()


# -- socket lifetime ----------------------------------------------------------------------
def test_threads_drop_sockets_with_endpoints_and_term_returns(zmq):
    """The everyday pattern: threads make sockets (tcp and inproc, bound and connected),
    return without closing them; the main thread's term() returns."""
    ctx = zmq.Context()
    refs = []
    errors = []

    def work(i: int) -> None:
        try:
            s = ctx.socket(zmq.PULL if i % 2 else zmq.PUSH)
            s.linger = 0
            s.bind("tcp://127.0.0.1:*")
            s.bind(f"inproc://objmodel-drop-{i}")
            s.connect("tcp://127.0.0.1:1")  # nobody there: a connect that never succeeds
            c = ctx.socket(zmq.PAIR)
            c.connect(f"inproc://objmodel-drop-{i}-nobody")
            refs.append(weakref.ref(s))
            refs.append(weakref.ref(c))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        _collect()
        assert not errors
        assert all(r() is None for r in refs)
        assert _term_returns(ctx), "term() hung on dropped sockets"


def test_dropped_socket_with_endpoint_warns(zmq):
    ctx = zmq.Context()
    try:
        s = ctx.socket(zmq.PUB)
        s.bind("tcp://127.0.0.1:*")
        with pytest.warns(ResourceWarning, match="Unclosed socket"):
            del s
            _collect()
    finally:
        assert _term_returns(ctx)


def test_socket_still_held_is_not_closed_and_term_waits(zmq):
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    del push  # dropped: closed (linger -1) once it delivered what it holds
    _collect()
    pull.rcvtimeo = 5000
    t = threading.Thread(target=ctx.term, daemon=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        t.start()
        t.join(0.3)
    assert t.is_alive(), "term() returned while a socket is still open"
    assert not pull.closed
    pull.close()
    t.join(10)
    assert not t.is_alive()


def test_shadow_of_a_dropped_socket_is_not_what_closes_it(zmq):
    ctx = zmq.Context()
    try:
        a = ctx.socket(zmq.PAIR)
        b = ctx.socket(zmq.PAIR)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        b.connect(f"tcp://127.0.0.1:{port}")
        sh = zmq.Socket.shadow(a.underlying)
        del sh
        _collect()
        assert not a.closed
        b.send(b"x")
        a.rcvtimeo = 5000
        assert a.recv() == b"x"
        a.close()
        b.close()
    finally:
        assert _term_returns(ctx)


def test_async_socket_works_and_a_dropped_one_is_closed(zmq):
    import asyncio

    zaio = importlib.import_module(zmq.__name__ + ".asyncio")

    ctx = zaio.Context()

    async def main() -> None:
        a = ctx.socket(zmq.PAIR)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        b = ctx.socket(zmq.PAIR)
        b.connect(f"tcp://127.0.0.1:{port}")
        await b.send(b"x")
        assert await asyncio.wait_for(a.recv(), 5) == b"x"
        b.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del a
            _collect()

    asyncio.run(main())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _collect()
        assert _term_returns(ctx)
