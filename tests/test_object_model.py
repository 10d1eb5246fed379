"""pyzmq's object model (issue 16), run against pyzmq (libzmq) and purezmq alike.

Socket lifetime, errors and validation, context managers and the small behaviours users
see (repr, copy, Poller with fileno() objects, recv_into).  Every test takes the library
as ``zmq``; a check pyzmq fails is not pyzmq's behaviour and does not belong here.
"""

from __future__ import annotations

import copy
import errno
import gc
import importlib
import os
import platform
import tempfile
import threading
import warnings
import weakref

import pytest


@pytest.fixture(params=["purezmq", "pyzmq"])
def zmq(request):
    if request.param == "pyzmq":
        return pytest.importorskip("zmq")
    return importlib.import_module("purezmq")


def _wording_reference(zmq) -> None:
    """Exact error wording is pyzmq's Cython backend's (CPython); its cffi backend (PyPy)
    words some errors differently, so pyzmq on PyPy is no reference for them."""
    if zmq.__name__ == "zmq" and platform.python_implementation() == "PyPy":
        pytest.skip("pyzmq's cffi backend words this error differently")


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


# -- errors and validation ----------------------------------------------------------------
@pytest.fixture
def ctx(zmq):
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def test_bind_and_connect_errors_name_the_endpoint(zmq, ctx):
    s = ctx.socket(zmq.PUSH)
    with pytest.raises(zmq.ZMQError) as info:
        s.connect("tcp://127.0.0.1")  # no port
    assert info.value.errno == zmq.EINVAL
    assert str(info.value) == "Invalid argument (addr='tcp://127.0.0.1')"
    with pytest.raises(zmq.ZMQError) as info:
        s.bind("foo://x")
    assert info.value.errno == zmq.EPROTONOSUPPORT
    assert str(info.value).endswith(" (addr='foo://x')")
    # (libzmq: ENODEV for the host, taken as an interface; purezmq: EINVAL for the port)
    with pytest.raises(zmq.ZMQError) as info:
        s.bind("tcp://1.2.3.4.5:1234567")
    assert str(info.value).endswith(" (addr='tcp://1.2.3.4.5:1234567')")


def test_ipc_errors_explain_the_path(zmq, ctx):
    _wording_reference(zmq)
    s = ctx.socket(zmq.PULL)
    path = "/tmp/" + "x" * 120
    with pytest.raises(zmq.ZMQError) as info:
        s.bind("ipc://" + path)
    assert info.value.errno == errno.ENAMETOOLONG
    assert str(info.value).startswith(f'ipc path "{path}" is longer than 107 characters')
    assert "zmq.IPC_PATH_MAX_LEN" in str(info.value)
    missing = os.path.join(tempfile.gettempdir(), "objmodel-no-such-dir", "sock")
    with pytest.raises(zmq.ZMQError) as info:
        s.bind("ipc://" + missing)
    assert info.value.errno == errno.ENOENT
    assert str(info.value) == (
        f'No such file or directory for ipc path "{missing}". (addr=\'ipc://{missing}\')'
    )


def test_multipart_type_errors_name_the_frame(zmq, ctx):
    _wording_reference(zmq)
    s = ctx.socket(zmq.PUSH)
    with pytest.raises(TypeError, match=r"^Frame 1 \(5\) does not support the buffer"):
        s.send_multipart([b"a", 5, b"c"])
    with pytest.raises(TypeError, match=r"^Frame 1 \('x'\) does not support the buffer"):
        s.send_multipart([b"a", "x"])
    with pytest.raises(TypeError, match="a bytes-like object is required, not 'int'"):
        s.send(5)
    with pytest.raises(IndexError):
        s.send_multipart([])


def test_unknown_attribute_is_an_error_and_options_are_validated(zmq, ctx):
    s = ctx.socket(zmq.DEALER)
    with pytest.raises(AttributeError, match="LINGR"):
        s.lingr = 0
    for name, bad in [("sndhwm", -5), ("rcvhwm", -1), ("linger", -2), ("rcvtimeo", -2),
                      ("backlog", -1), ("immediate", 2), ("conflate", -1)]:
        with pytest.raises(zmq.ZMQError) as info:
            setattr(s, name, bad)
        assert info.value.errno == zmq.EINVAL, name
    s.linger = -1  # the limits themselves are accepted
    s.sndhwm = 0
    with pytest.raises(zmq.ZMQError) as info:
        zmq.Context(io_threads=-1)
    assert info.value.errno == zmq.EINVAL


def test_wrong_types_raise_pyzmqs_exceptions(zmq, ctx):
    _wording_reference(zmq)
    with pytest.raises(TypeError):
        ctx.socket("PUSH")
    p = zmq.Poller()
    p.register("abc")  # (accepted here, as pyzmq: the error comes with poll)
    with pytest.raises(TypeError, match="must be a 0MQ socket, an integer fd or have a fileno"):
        p.poll(0)


def test_socket_used_after_term_and_after_close(zmq):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    t = threading.Thread(target=ctx.term)
    t.start()
    t.join(0.3)
    try:
        for op in (s.recv, lambda: s.linger, lambda: setattr(s, "linger", 0),
                   lambda: s.bind("tcp://127.0.0.1:*")):
            with pytest.raises(zmq.ContextTerminated):
                op()
    finally:
        s.close()
        t.join(10)
    assert not t.is_alive()
    with pytest.raises(zmq.ZMQError) as info:
        s.recv()
    assert info.value.errno == zmq.ENOTSOCK
    with pytest.raises(zmq.ZMQError) as info:
        s.getsockopt(zmq.LINGER)
    assert info.value.errno == zmq.ENOTSOCK
    with pytest.raises(zmq.ZMQError) as info:
        ctx.socket(zmq.PUSH)
    assert info.value.errno == zmq.ENOTSUP


# -- context managers ---------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_with_bind_unbinds_and_with_connect_disconnects(zmq, ctx, transport):
    pull = ctx.socket(zmq.PULL)
    push = ctx.socket(zmq.PUSH)
    pull.rcvtimeo = push.sndtimeo = 5000
    addr = "tcp://127.0.0.1:*" if transport == "tcp" else "inproc://objmodel-with"
    with pull.bind(addr) as s:
        assert s is pull
        endpoint = pull.last_endpoint.decode()
        with push.connect(endpoint) as c:
            assert c is push
            push.send(b"x")
            assert pull.recv() == b"x"
        assert not push.closed
        with pytest.raises(zmq.ZMQError) as info:
            push.disconnect(endpoint)  # already disconnected
        assert info.value.errno == errno.ENOENT
    assert not pull.closed
    with pytest.raises(zmq.ZMQError) as info:
        pull.unbind(endpoint)  # already unbound
    assert info.value.errno == errno.ENOENT
    if transport == "inproc":  # (libzmq releases a tcp port asynchronously)
        pull.bind(endpoint)  # the name is free again
    with pull:
        pass
    assert pull.closed
    assert repr(push.connect(endpoint)) == f"<SocketContext(connect={endpoint!r})>"


# -- the smaller things users see -----------------------------------------------------------
def _lib_prefix(zmq) -> str:
    return "zmq" if zmq.__name__ == "zmq" else "purezmq"


def test_reprs(zmq):
    p = _lib_prefix(zmq)
    ctx = zmq.Context()
    assert repr(ctx) == f"<{p}.Context() at {hex(id(ctx))}>"
    s = ctx.socket(zmq.PUSH)
    assert repr(ctx) == f"<{p}.Context(1 socket) at {hex(id(ctx))}>"
    t = ctx.socket(zmq.PULL)
    assert repr(ctx) == f"<{p}.Context(2 sockets) at {hex(id(ctx))}>"
    t.close()
    assert repr(s) == f"<{p}.Socket(zmq.PUSH) at {hex(id(s))}>"
    s.close()
    assert repr(ctx) == f"<{p}.Context() at {hex(id(ctx))}>"
    assert repr(s) == f"<{p}.Socket(zmq.PUSH) at {hex(id(s))} closed>"
    ctx.term()
    assert repr(ctx) == f"<{p}.Context() at {hex(id(ctx))} closed>"
    assert repr(zmq.Frame(b"abc")) == f"<{p}.Frame(b'abc')>"


def test_copy_gives_a_shadow(zmq):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PAIR)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    for dup in (copy.copy(s), copy.deepcopy(s)):
        assert dup is not s and isinstance(dup, zmq.Socket)
        assert dup.underlying == s.underlying
        assert dup.getsockopt(zmq.LAST_ENDPOINT) == f"tcp://127.0.0.1:{port}".encode()
    del dup
    _collect()
    assert not s.closed  # a collected shadow leaves the socket open
    for c in (copy.copy(ctx), copy.deepcopy(ctx)):
        assert c is not ctx and isinstance(c, zmq.Context)
        assert c.underlying == ctx.underlying
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del c
        _collect()
    assert not ctx.closed
    s.close()
    assert _term_returns(ctx)


def test_recv_into_sync_and_async(zmq):
    import asyncio

    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    push = ctx.socket(zmq.PUSH)
    pull.rcvtimeo = 5000
    pull.bind("inproc://objmodel-recv-into")
    push.connect("inproc://objmodel-recv-into")
    push.send(b"hello world")
    buf = bytearray(5)
    assert pull.recv_into(buf) == 11  # the whole frame's size; the buffer holds its start
    assert buf == b"hello"
    push.close()
    pull.close()
    ctx.term()

    zaio = importlib.import_module(zmq.__name__ + ".asyncio")
    actx = zaio.Context()

    async def main() -> None:
        a = actx.socket(zmq.PULL)
        b = actx.socket(zmq.PUSH)
        a.bind("inproc://objmodel-recv-into-aio")
        b.connect("inproc://objmodel-recv-into-aio")
        await b.send(b"abc")
        buf = bytearray(10)
        assert await asyncio.wait_for(a.recv_into(buf, nbytes=2), 5) == 3
        assert buf[:3] == b"ab\x00"
        a.close()
        b.close()

    asyncio.run(main())
    actx.term()


def test_async_poll_is_cancelled_when_its_socket_closes(zmq):
    import asyncio

    zaio = importlib.import_module(zmq.__name__ + ".asyncio")
    actx = zaio.Context()

    async def main() -> None:
        s = actx.socket(zmq.PULL)
        fut = s.poll(5000)
        await asyncio.sleep(0.05)
        s.close()
        for _ in range(100):
            if fut.done():
                break
            await asyncio.sleep(0.01)
        assert fut.cancelled()

    asyncio.run(main())
    actx.term()


@pytest.mark.skipif(platform.python_implementation() != "CPython",
                    reason="places the finaliser on the I/O thread by reference counting")
def test_a_socket_collected_on_the_io_thread_is_closed_there_with_no_lock_held():
    """The garbage collector may run a dropped socket's finaliser on the I/O thread, at an
    allocation inside any callback, even one holding a lock that close() takes (here the
    socket's own I/O lock): the finaliser must not close it there and then, or the I/O
    thread deadlocks and term() never returns."""
    import purezmq

    ctx = purezmq.Context()
    sock = ctx.socket(purezmq.PUSH)
    sock.bind("tcp://127.0.0.1:*")
    reactor = sock._io_reactor or ctx._reactor
    io_lock = sock._io_lock
    holder = [sock]
    del sock
    dropped = threading.Event()

    def drop_while_holding_the_lock() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with io_lock:
                holder.clear()  # the last reference: the finaliser runs here, now
        dropped.set()

    reactor.call_soon_threadsafe(drop_while_holding_the_lock)
    assert dropped.wait(5), "the finaliser blocked the I/O thread"
    assert _term_returns(ctx)
