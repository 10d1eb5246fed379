"""purezmq.eventloop: pyzmq's tornado ``ZMQStream`` and ``ioloop``, proved against pyzmq.

Every test runs twice, on purezmq and on pyzmq's ``zmq.eventloop`` (the reference: an
expectation pyzmq fails is a wrong expectation).  Each runs on tornado's ``IOLoop`` over a
fresh asyncio loop, with a guard timer on the IOLoop so a lost message fails the test
instead of hanging it.  Ports are ephemeral (``tcp://127.0.0.1:*`` and ``LAST_ENDPOINT``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
import types
import warnings

import pytest

pytest.importorskip("tornado")
from sockhelp import destroyed_context  # noqa: E402
from tornado.ioloop import IOLoop  # noqa: E402

pytestmark = pytest.mark.timeout(60)

LOCAL = "tcp://127.0.0.1:*"
GUARD = 5.0  # seconds any one wait may take


def _library(name: str) -> types.SimpleNamespace:
    if name == "pyzmq":
        zmq = pytest.importorskip("zmq")
        pytest.importorskip("zmq.eventloop.zmqstream")
    else:
        zmq = importlib.import_module("purezmq")
    zmqstream = importlib.import_module(f"{zmq.__name__}.eventloop.zmqstream")
    return types.SimpleNamespace(name=name, zmq=zmq, ZMQStream=zmqstream.ZMQStream)


@pytest.fixture(params=["purezmq", "pyzmq"])
def lib(request):
    return _library(request.param)


@pytest.fixture
def ctx(lib):
    yield from destroyed_context(lib.zmq)


def run(body, timeout: float = 20.0):
    """``await body(io_loop)`` on ``IOLoop.current()`` of a fresh asyncio loop; an IOLoop
    timer cancels it after ``timeout`` s (a hang fails, never blocks the suite)."""

    async def main():
        io_loop = IOLoop.current()
        task = asyncio.ensure_future(body(io_loop))
        guard = io_loop.call_later(timeout, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            raise AssertionError(f"timed out after {timeout} s") from None
        finally:
            io_loop.remove_timeout(guard)

    return asyncio.run(main())


async def until(cond, what: str = "condition") -> None:
    """Let the loop run until ``cond()`` holds, at most ``GUARD`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GUARD
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def pair(lib, ctx, a_type, b_type):
    """Two sockets over tcp on an ephemeral port: ``a`` binds, ``b`` connects."""
    a = ctx.socket(a_type)
    a.linger = 0
    a.bind(LOCAL)
    b = ctx.socket(b_type)
    b.linger = 0
    b.connect(a.getsockopt(lib.zmq.LAST_ENDPOINT))
    return a, b


# -- round trips -------------------------------------------------------------------------
def test_req_rep_echo(lib, ctx):
    zmq = lib.zmq
    rep, req = pair(lib, ctx, zmq.REP, zmq.REQ)

    async def body(io_loop):
        server = lib.ZMQStream(rep)
        client = lib.ZMQStream(req)
        assert server.io_loop is io_loop and server.socket is rep
        server.on_recv_stream(lambda stream, msg: stream.send_multipart(msg))
        replies = []
        client.on_recv(replies.append)
        client.send(b"hello")
        client.send_multipart([b"two", b"frames"])  # waits for the first reply (REQ)
        await until(lambda: len(replies) == 2, "two replies")
        assert replies == [[b"hello"], [b"two", b"frames"]]
        server.close()
        client.close()

    run(body)


def test_push_pull_multipart_in_order(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        got = []
        rx.on_recv(got.append)
        assert rx.receiving() and not tx.sending()
        sent = [[b"part%d" % i, b"", b"x" * i] for i in range(20)]
        for msg in sent:
            tx.send_multipart(msg)
        assert tx.sending()  # queued, not sent yet: sends happen on the loop
        await until(lambda: len(got) == len(sent), "20 messages")
        assert got == sent
        assert all(type(f) is bytes for m in got for f in m)
        assert not tx.sending()

    run(body)


def test_copy_false_gives_frames(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        got = []
        rx.on_recv(got.append, copy=False)
        tx.send_multipart([b"a", b"bc"])
        await until(lambda: got, "a message")
        (msg,) = got
        assert all(isinstance(f, zmq.Frame) for f in msg)
        assert [f.bytes for f in msg] == [b"a", b"bc"]

    run(body)


def test_send_helpers_round_trip(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)
    obj = {"a": [1, 2.5, None], "b": "é"}

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        got = []
        rx.on_recv(got.append)
        tx.send_json(obj)
        tx.send_pyobj(obj)
        tx.send_string("héllo")
        tx.send_unicode("x", encoding="latin-1")
        with pytest.raises(TypeError):
            tx.send_string(b"bytes")
        await until(lambda: len(got) == 4, "four messages")
        assert json.loads(got[0][0]) == obj
        import pickle

        assert pickle.loads(got[1][0]) == obj
        assert got[2:] == [["héllo".encode()], [b"x"]]

    run(body)


def test_coroutine_callback(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        done = []

        async def handler(msg):
            await asyncio.sleep(0)
            done.append(msg)

        rx.on_recv(handler)
        tx.send(b"a")
        tx.send(b"b")
        await until(lambda: len(done) == 2, "both coroutines")
        assert done == [[b"a"], [b"b"]]

    run(body)


# -- on_send -----------------------------------------------------------------------------
def test_on_send_arguments(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        tx = lib.ZMQStream(push)
        sent = []
        tx.on_send(lambda msg, status: sent.append((msg, status)))
        tx.send(b"one")
        tx.send_multipart([b"t", b"wo"])
        assert sent == []  # queued: the callback runs once the loop sent it
        await until(lambda: len(sent) == 2, "two sends")
        assert sent == [([b"one"], None), ([b"t", b"wo"], None)]

        tx.send(b"tracked", copy=False, track=True)
        await until(lambda: len(sent) == 3, "a tracked send")
        assert isinstance(sent[2][1], zmq.MessageTracker)

        # on_send_stream: the stream comes first.
        streamed = []
        tx.on_send_stream(lambda stream, msg, status: streamed.append((stream, msg, status)))
        tx.send(b"s")
        await until(lambda: streamed, "the stream callback")
        assert streamed == [(tx, [b"s"], None)]

        # send(callback=) replaces the on_send callback for later sends too.
        per_call = []
        tx.send(b"p", callback=lambda msg, status: per_call.append(msg))
        tx.send(b"q")
        await until(lambda: len(per_call) == 2, "the new callback")
        assert per_call == [[b"p"], [b"q"]]

        # stop_on_send stops the callback, not the sending.
        tx.stop_on_send()
        tx.send(b"quiet")
        await until(lambda: not tx.sending(), "the quiet send")
        assert len(per_call) == 2
        for expected in (b"one", b"t", b"tracked", b"s", b"p", b"q", b"quiet"):
            assert pull.poll(int(GUARD * 1000))
            assert pull.recv_multipart()[0] == expected

    run(body)


def test_send_error_goes_to_on_send(lib, ctx):
    zmq = lib.zmq
    router, dealer = pair(lib, ctx, zmq.ROUTER, zmq.DEALER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)

    async def body(io_loop):
        stream = lib.ZMQStream(router)
        peers = []
        stream.on_recv(lambda msg: peers.append(msg[0]))
        dealer.send(b"hi")
        await until(lambda: peers, "the dealer's hello")
        sent = []
        stream.on_send(lambda msg, status: sent.append((msg, status)))
        stream.send_multipart([b"nobody", b"x"])
        stream.send_multipart([peers[0], b"y"])
        await until(lambda: len(sent) == 2, "two sends")
        assert isinstance(sent[0][1], zmq.ZMQError)
        assert sent[0][1].errno == zmq.EHOSTUNREACH
        assert sent[1] == ([peers[0], b"y"], None)

    run(body)


# -- flush -------------------------------------------------------------------------------
def test_flush(lib, ctx):
    zmq = lib.zmq
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://flush")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://flush")

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        sent = []
        tx.on_send(lambda msg, status: sent.append(msg))
        for i in range(3):
            tx.send(b"%d" % i)
        assert tx.flush(zmq.POLLIN) == 0  # nothing to receive, sends not flushed
        assert tx.flush(zmq.POLLOUT) == 3  # sent now, callbacks included
        assert sent == [[b"0"], [b"1"], [b"2"]] and not tx.sending()
        assert tx.flush() == 0

        got = []
        rx.stop_on_recv()
        rx.on_recv(got.append)  # registered, but flush beats the loop to the messages
        await until(lambda: pull.poll(0), "the messages")
        assert rx.flush(zmq.POLLIN, limit=1) == 1
        assert got == [[b"0"]]
        assert rx.flush(zmq.POLLOUT) == 0
        await until(lambda: len(got) == 3, "the rest, on the loop")

        # With no recv callback, flush(POLLIN) receives and drops.
        rx.stop_on_recv()
        tx.send(b"dropped")
        tx.send(b"too")
        assert tx.flush() == 2
        dropped = 0
        while dropped < 2:
            await until(lambda: pull.poll(0), "a message to drop")
            dropped += rx.flush(zmq.POLLIN)
        assert dropped == 2 and got == [[b"0"], [b"1"], [b"2"]]
        assert pull.poll(0) == 0

    run(body)


# -- stopping and closing ----------------------------------------------------------------
def test_stop_on_recv(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        got = []

        def first_only(msg):
            got.append(msg)
            rx.stop_on_recv()

        rx.on_recv(first_only)
        for i in range(3):
            tx.send(b"%d" % i)
        await until(lambda: got and not tx.sending(), "the first message")
        await asyncio.sleep(0.2)  # time enough for the others to arrive, and not be handed
        assert got == [[b"0"]] and not rx.receiving()
        rx.on_recv(got.append)  # they waited in the socket
        await until(lambda: len(got) == 3, "the others")
        assert got == [[b"0"], [b"1"], [b"2"]]

    run(body)


def test_close_and_close_callback(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        rx, tx = lib.ZMQStream(pull), lib.ZMQStream(push)
        closed = []
        rx.set_close_callback(lambda: closed.append("rx"))
        rx.on_recv(lambda msg: None)
        assert not rx.closed()
        rx.close(linger=0)
        assert closed == ["rx"]  # at once
        assert rx.closed() and rx.socket is None and pull.closed
        rx.close()  # again: nothing
        assert closed == ["rx"]
        for call in (lambda: rx.on_recv(print), lambda: rx.send(b"x"), rx.flush):
            with pytest.raises(OSError):
                call()

        # Closing from inside a recv callback.
        rx2 = lib.ZMQStream(ctx.socket(zmq.PULL))
        rx2.bind(LOCAL)
        tx.close()
        tx2 = lib.ZMQStream(ctx.socket(zmq.PUSH))
        tx2.connect(rx2.getsockopt(zmq.LAST_ENDPOINT))
        got = []

        def close_me(msg):
            got.append(msg)
            rx2.close()

        rx2.set_close_callback(lambda: closed.append("rx2"))
        rx2.on_recv(close_me)
        tx2.send(b"bye")
        tx2.send(b"unseen")
        await until(lambda: "rx2" in closed, "the close callback")
        await asyncio.sleep(0.05)
        assert got == [[b"bye"]] and rx2.closed()
        tx2.close(linger=0)

    run(body)


def test_socket_closed_directly(lib, ctx):
    zmq = lib.zmq
    pull, push = pair(lib, ctx, zmq.PULL, zmq.PUSH)

    async def body(io_loop):
        rx = lib.ZMQStream(pull)
        closed = []
        rx.set_close_callback(lambda: closed.append(True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyzmq warns about its file descriptor
            pull.close()
            assert rx.closed()
        assert closed == [True] and rx.socket is None

    run(body)


# -- the rest of the API -----------------------------------------------------------------
def test_linked_socket_methods(lib, ctx):
    zmq = lib.zmq

    async def body(io_loop):
        rx = lib.ZMQStream(ctx.socket(zmq.PULL))
        rx.setsockopt(zmq.LINGER, 0)
        assert rx.getsockopt(zmq.LINGER) == 0
        rx.bind(LOCAL)
        endpoint = rx.getsockopt_string(zmq.LAST_ENDPOINT)
        assert endpoint.startswith("tcp://127.0.0.1:")
        port = rx.bind_to_random_port("tcp://127.0.0.1")
        assert port > 0
        tx = lib.ZMQStream(ctx.socket(zmq.PUSH))
        tx.connect(endpoint)
        got = []
        rx.on_recv(got.append)
        tx.send(b"linked")
        await until(lambda: got, "a message")
        tx.close(linger=0)
        rx.close()

    run(body)


def test_api_names_match_pyzmq():
    theirs, ours = _library("pyzmq"), _library("purezmq")

    def names(lib) -> set:
        c = lib.zmq.Context()
        try:
            stream = lib.ZMQStream(c.socket(lib.zmq.PULL))
            stream.close(linger=0)
            return {n for n in dir(stream) if not n.startswith("_")}
        finally:
            c.term()

    async def body(io_loop):
        missing = names(theirs) - names(ours)
        assert not missing, f"ZMQStream lacks {sorted(missing)}"

    run(body)


def test_explicit_io_loop_started_and_stopped(lib, ctx):
    """The classic form: a stream on a given IOLoop, which is then started."""
    zmq = lib.zmq
    rep, req = pair(lib, ctx, zmq.REP, zmq.REQ)
    io_loop = IOLoop(make_current=False)
    try:
        server = lib.ZMQStream(rep, io_loop)
        client = lib.ZMQStream(req, io_loop=io_loop)
        assert server.io_loop is io_loop
        server.on_recv_stream(lambda stream, msg: stream.send_multipart(msg[::-1]))
        replies = []

        def on_reply(msg):
            replies.append(msg)
            io_loop.stop()

        client.on_recv(on_reply)
        client.send_multipart([b"a", b"b"])
        io_loop.call_later(GUARD, io_loop.stop)
        io_loop.start()
        assert replies == [[b"b", b"a"]]
        server.close()
        client.close()
    finally:
        io_loop.close()


def test_async_socket_is_cast_to_a_base_socket(lib):
    zaio = importlib.import_module(f"{lib.zmq.__name__}.asyncio")
    zmq = lib.zmq

    async def body(io_loop):
        actx = zaio.Context()
        try:
            pull = actx.socket(zmq.PULL)
            pull.bind(LOCAL)
            push = actx.socket(zmq.PUSH)
            push.connect(pull.getsockopt(zmq.LAST_ENDPOINT))
            with pytest.warns(RuntimeWarning):
                rx = lib.ZMQStream(pull)
            assert rx.socket is not pull
            got = []
            rx.on_recv(got.append)
            await push.send_multipart([b"async", b"peer"])
            await until(lambda: got, "a message")
            assert got == [[b"async", b"peer"]]  # lists, not futures
            rx.close(linger=0)
            assert pull.closed
            push.close(linger=0)
        finally:
            actx.term()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        run(body)


def test_ioloop_module(lib):
    import tornado.ioloop

    eventloop = importlib.import_module(f"{lib.zmq.__name__}.eventloop")
    assert eventloop.IOLoop is tornado.ioloop.IOLoop
    name = f"{lib.zmq.__name__}.eventloop.ioloop"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mod = importlib.import_module(name)
    with pytest.warns(DeprecationWarning):
        importlib.reload(mod)  # importing warns (the module is deprecated since pyzmq 17)
    assert mod.IOLoop is tornado.ioloop.IOLoop
    assert mod.ZMQIOLoop is tornado.ioloop.IOLoop
    assert mod.PeriodicCallback is tornado.ioloop.PeriodicCallback
    with pytest.warns(DeprecationWarning):
        assert mod.install() is None


def test_ioloop_close_all_fds_closes_stream_sockets_so_term_returns(lib):
    """pyzmq's stream registers its socket with the IOLoop: closing the loop with
    ``all_fds=True`` closes it, and the context then terminates (no hang at shutdown)."""
    zmq = lib.zmq
    c = zmq.Context()
    io_loop = IOLoop(make_current=False)
    rep = c.socket(zmq.REP)
    rep.linger = 0
    rep.bind(LOCAL)
    req = c.socket(zmq.REQ)
    req.linger = 0
    req.connect(rep.getsockopt(zmq.LAST_ENDPOINT))
    server = lib.ZMQStream(rep, io_loop)
    client = lib.ZMQStream(req, io_loop)
    server.on_recv_stream(lambda stream, msg: stream.send_multipart(msg))
    replies = []

    def on_reply(msg):
        replies.append(msg)
        io_loop.stop()

    client.on_recv(on_reply)
    client.send(b"ping")
    io_loop.call_later(GUARD, io_loop.stop)
    io_loop.start()
    assert replies == [[b"ping"]]
    io_loop.close(all_fds=True)
    assert rep.closed and req.closed
    done = threading.Event()
    threading.Thread(target=lambda: (c.term(), done.set()), daemon=True).start()
    assert done.wait(10), "Context.term() hung after IOLoop.close(all_fds=True)"


def test_eventloop_future_sockets_in_tornado_coroutines(lib):
    """``zmq.eventloop.future``: Future-returning Context / Socket / Poller for tornado."""
    future = importlib.import_module(f"{lib.zmq.__name__}.eventloop.future")
    zmq = lib.zmq
    from tornado import gen

    async def body(io_loop):
        c = future.Context()
        try:
            assert isinstance(c, zmq.Context)
            assert future.Context.instance() is future.Context.instance()
            assert future.Context.instance() is not zmq.Context.instance()
            rep = c.socket(zmq.REP)
            assert isinstance(rep, future.Socket)
            rep.linger = 0
            rep.bind(LOCAL)
            req = c.socket(zmq.REQ)
            req.linger = 0
            req.connect(rep.getsockopt(zmq.LAST_ENDPOINT))

            async def server():
                msg = await rep.recv_multipart()
                await rep.send_multipart(msg[::-1])

            task = io_loop.add_future(gen.convert_yielded(server()), lambda f: f.result())
            del task
            await req.send_multipart([b"a", b"b"])
            poller = future.Poller()
            poller.register(req, zmq.POLLIN)
            events = await gen.with_timeout(io_loop.time() + GUARD, poller.poll())
            assert events == [(req, zmq.POLLIN)]
            assert await req.recv_multipart() == [b"b", b"a"]
            pending = rep.recv()
            assert not pending.done()
            pending.cancel()
            assert pending.done()
            req.close()
            rep.close()
        finally:
            c.destroy(linger=0)
            future.Context.instance().term()

    run(body)
