"""purezmq.asyncio: pyzmq's zmq.asyncio API, its waiting, cancellation and interop.

Coroutines are driven with a fresh event loop per test (no pytest-asyncio); the tests that
matter for the loop implementation run on asyncio's default loop and on uvloop when it is
installed.  Tests taking the ``ctx`` fixture run twice: with the connections on the
context's I/O thread, and on the event loop (``Context(io_on_loop=True)``).  The pyzmq
peers run sync pyzmq in a separate process (multiprocessing, spawn).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import socket
import threading
import time

import pytest

import purezmq as zmq
import purezmq.asyncio as zaio
from purezmq.asyncio._reactor import LoopReactor

pytestmark = pytest.mark.timeout(60)

try:
    import uvloop
except ImportError:  # pragma: no cover - depends on the machine
    uvloop = None

LOCAL = "tcp://127.0.0.1"


# -- helpers -----------------------------------------------------------------------------
def run(coro, kind: str = "asyncio", timeout: float = 30.0):
    """Run ``coro`` on a new loop of ``kind`` (as asyncio.run does), failing after timeout."""
    if kind == "uvloop":
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    uvloop is None, reason="uvloop is not installed"))]


@pytest.fixture(params=LOOPS)
def loop_kind(request):
    return request.param


@pytest.fixture(params=["thread", "loop"], ids=["io-thread", "io-on-loop"])
def ctx(request):
    """An async context; its connections run on an I/O thread, or on the event loop."""
    c = zaio.Context(io_on_loop=request.param == "loop")
    yield c
    c.destroy(linger=0)


def tcp_pair(ctx, bind_type, connect_type):
    a = ctx.socket(bind_type)
    port = a.bind_to_random_port(LOCAL)
    b = ctx.socket(connect_type)
    b.connect(f"{LOCAL}:{port}")
    return a, b


def endpoint_pair(ctx, transport, bind_type, connect_type):
    if transport == "tcp":
        return tcp_pair(ctx, bind_type, connect_type)
    a = ctx.socket(bind_type)
    name = f"inproc://aio-{random.getrandbits(48):x}"
    a.bind(name)
    b = ctx.socket(connect_type)
    b.connect(name)
    return a, b


# -- the API's shape -----------------------------------------------------------------------
def test_api_shape():
    import zmq.asyncio as pyzmq_asyncio

    for name in pyzmq_asyncio.__all__:
        assert hasattr(zaio, name), name
    inst = zaio.Context.instance()
    assert isinstance(inst, zaio.Context)
    assert inst is zaio.Context.instance()
    assert inst is not zmq.Context.instance()
    assert isinstance(zmq.Context.instance(), zmq.Context)
    assert not isinstance(zmq.Context.instance(), zaio.Context)
    s = inst.socket(zmq.PUSH)
    try:
        assert isinstance(s, zaio.Socket)
        assert isinstance(s, zmq.Socket)
        assert s.context is inst
        s.linger = 0
        assert s.getsockopt(zmq.LINGER) == 0
        assert s.socket_type == zmq.PUSH
    finally:
        s.close()
    sync = inst.socket(zmq.PULL, socket_class=zmq.Socket)
    assert type(sync) is zmq.Socket
    sync.close()


def test_send_recv_variants(ctx, loop_kind):
    async def main():
        for transport in ("inproc", "tcp"):
            pull, push = endpoint_pair(ctx, transport, zmq.PULL, zmq.PUSH)
            await push.send(b"one")
            assert await pull.recv() == b"one"
            await push.send_multipart([b"a", b"b", b"c"])
            assert await pull.recv_multipart() == [b"a", b"b", b"c"]
            # frame by frame, SNDMORE on the sending side too
            await push.send(b"x", zmq.SNDMORE)
            await push.send(b"y")
            assert await pull.recv() == b"x"
            assert pull.rcvmore
            assert await pull.recv() == b"y"
            assert not pull.rcvmore
            await push.send_string("héllo")
            assert await pull.recv_string() == "héllo"
            await push.send_json({"a": [1, 2]})
            assert await pull.recv_json() == {"a": [1, 2]}
            await push.send_pyobj({"k": (1, 2)})
            assert await pull.recv_pyobj() == {"k": (1, 2)}
            await push.send_serialized({"s": 1}, lambda o: [repr(o).encode()])
            assert await pull.recv_serialized(lambda m: eval(m[0])) == {"s": 1}
            await push.send_multipart([b"f1", b"f2"], copy=False, track=True)
            frames = await pull.recv_multipart(copy=False)
            assert [f.bytes for f in frames] == [b"f1", b"f2"]
            assert [f.more for f in frames] == [True, False]
            await push.send(memoryview(b"mv"))
            frame = await pull.recv(copy=False)
            assert isinstance(frame, zmq.Frame) and frame.bytes == b"mv" and not frame.more
            # a recv that has to wait, woken by the peer
            fut = pull.recv()
            await asyncio.sleep(0.01)
            assert not fut.done()
            await push.send(b"late")
            assert await asyncio.wait_for(fut, 5) == b"late"
            pull.close()
            push.close()

    run(main(), loop_kind)


def test_errors_go_to_the_future(ctx):
    async def main():
        push = ctx.socket(zmq.PUSH)
        f = push.recv()
        with pytest.raises(zmq.ZMQError) as e:
            await f
        assert e.value.errno == zmq.ENOTSUP
        with pytest.raises(TypeError):
            await push.send("text")
        req = ctx.socket(zmq.REQ)
        with pytest.raises(zmq.ZMQError) as e:
            await req.recv()
        assert e.value.errno == zmq.EFSM
        pull = ctx.socket(zmq.PULL)
        with pytest.raises(zmq.Again):
            await pull.recv(zmq.DONTWAIT)
        with pytest.raises(zmq.Again):
            await push.send(b"x", zmq.DONTWAIT)  # no peer: would block
        pull.close()
        with pytest.raises(zmq.ZMQError):
            await pull.recv()
        push.close()
        req.close()

    run(main())


def test_req_rep(ctx, loop_kind):
    async def main():
        rep, req = tcp_pair(ctx, zmq.REP, zmq.REQ)

        async def server():
            for _ in range(200):
                msg = await rep.recv_multipart()
                await rep.send_multipart([b"re:" + msg[0], *msg[1:]])

        task = asyncio.ensure_future(server())
        for i in range(200):
            await req.send_multipart([b"%d" % i, b"extra"])
            assert await req.recv_multipart() == [b"re:%d" % i, b"extra"]
        await task

    run(main(), loop_kind)


def test_pub_sub(ctx, loop_kind):
    async def main():
        pub, sub = tcp_pair(ctx, zmq.PUB, zmq.SUB)
        sub.subscribe(b"keep")
        # slow joiner: publish until the subscription has arrived
        while True:
            await pub.send_multipart([b"keep", b"hello"])
            try:
                assert await asyncio.wait_for(sub.recv_multipart(), 0.05) == [b"keep", b"hello"]
                break
            except asyncio.TimeoutError:
                pass
        while True:  # drain the extra hellos
            try:
                await asyncio.wait_for(sub.recv_multipart(), 0.05)
            except asyncio.TimeoutError:
                break
        for i in range(50):
            await pub.send_multipart([b"drop", b"%d" % i])
            await pub.send_multipart([b"keep", b"%d" % i])
        got = [await sub.recv_multipart() for _ in range(50)]
        assert got == [[b"keep", b"%d" % i] for i in range(50)]

    run(main(), loop_kind)


def test_dealer_router(ctx, loop_kind):
    async def main():
        router, dealer = tcp_pair(ctx, zmq.ROUTER, zmq.DEALER)
        dealer2 = ctx.socket(zmq.DEALER)
        dealer2.routing_id = b"second"
        dealer2.connect(router.last_endpoint.decode())

        async def server():
            for _ in range(100):
                rid, *body = await router.recv_multipart()
                await router.send_multipart([rid, b"echo", *body])

        task = asyncio.ensure_future(server())

        async def client(d, tag):
            for i in range(50):
                await d.send_multipart([tag, b"%d" % i])
            return [await d.recv_multipart() for _ in range(50)]

        r1, r2 = await asyncio.gather(client(dealer, b"one"), client(dealer2, b"two"))
        assert r1 == [[b"echo", b"one", b"%d" % i] for i in range(50)]
        assert r2 == [[b"echo", b"two", b"%d" % i] for i in range(50)]
        await task
        dealer2.close()

    run(main(), loop_kind)


def test_wakeup_from_another_thread(ctx, loop_kind):
    """A sync socket in a thread feeds an async socket: the waker crosses threads."""

    async def main():
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://from-thread")
        push = ctx.socket(zmq.PUSH, socket_class=zmq.Socket)
        push.connect("inproc://from-thread")

        def feed():
            for i in range(300):
                push.send(b"%d" % i)
                if i % 50 == 0:
                    time.sleep(0.01)
            push.close()

        th = threading.Thread(target=feed)
        th.start()
        got = [await pull.recv() for _ in range(300)]
        th.join()
        assert got == [b"%d" % i for i in range(300)]

    run(main(), loop_kind)


# -- timeouts ---------------------------------------------------------------------------------
def test_rcvtimeo_sndtimeo(ctx):
    async def main():
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://timeo")
        pull.rcvtimeo = 50
        t0 = time.monotonic()
        with pytest.raises(zmq.Again):
            await pull.recv()
        assert 0.04 <= time.monotonic() - t0 < 2
        push = ctx.socket(zmq.PUSH)
        push.sndtimeo = 50
        with pytest.raises(zmq.Again):
            await push.send(b"nobody")  # no peer at all
        assert pull._waiters == () and push._waiters == ()
        # the socket still works after a timeout
        push.sndtimeo = -1
        push.connect("inproc://timeo")
        await push.send(b"now")
        assert await pull.recv() == b"now"

    run(main())


def test_wait_for_loses_nothing(ctx, loop_kind):
    async def main():
        pull, push = endpoint_pair(ctx, "tcp", zmq.PULL, zmq.PUSH)
        for _ in range(5):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(pull.recv(), 0.01)
        assert pull._waiters == ()
        for i in range(100):
            await push.send(b"%d" % i)
        got = []
        while len(got) < 100:
            try:
                got.append(await asyncio.wait_for(pull.recv(), 0.0005))
            except asyncio.TimeoutError:
                pass
        assert got == [b"%d" % i for i in range(100)]

    run(main(), loop_kind)


# -- cancellation -----------------------------------------------------------------------------
def _cancel_storm(ctx, kind, transport):
    """Many recv tasks, most cancelled at random moments (also right after their future
    got its message, before the task ran): every sent message arrives exactly once."""

    async def main():
        pull, push = endpoint_pair(ctx, transport, zmq.PULL, zmq.PUSH)
        loop = asyncio.get_running_loop()
        rnd = random.Random(7)
        sent, got = [], []
        counter = 0
        for _ in range(60):
            async def one():
                return await pull.recv_multipart()

            tasks = [asyncio.ensure_future(one()) for _ in range(20)]
            stop = [False]

            def canceller(tasks=tasks, stop=stop):
                if stop[0]:
                    return
                for t in tasks:
                    if not t.done() and rnd.random() < 0.3:
                        t.cancel()
                loop.call_soon(canceller)

            def feeder(k, stop=stop):
                nonlocal counter
                if stop[0] or k == 0:
                    return
                push.send_multipart([b"m", b"%d" % counter])
                sent.append(counter)
                counter += 1
                loop.call_soon(feeder, k - 1)

            loop.call_soon(feeder, 15)
            loop.call_soon(canceller)
            await asyncio.sleep(0.005)
            stop[0] = True
            for t in tasks:
                t.cancel()
            for r in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(r, list):
                    assert r[0] == b"m"
                    got.append(int(r[1]))
        while True:
            try:
                msg = await asyncio.wait_for(pull.recv_multipart(), 0.3)
            except asyncio.TimeoutError:
                break
            got.append(int(msg[1]))
        assert len(got) == len(sent)
        assert sorted(got) == sorted(sent)
        assert pull._waiters == ()

    run(main(), kind)


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
def test_cancelled_recv_loses_nothing(ctx, loop_kind, transport):
    _cancel_storm(ctx, loop_kind, transport)


def test_cancelled_frame_recv_gives_frames_back(ctx):
    async def main():
        pull, push = endpoint_pair(ctx, "inproc", zmq.PULL, zmq.PUSH)

        async def one():
            return await pull.recv()

        task = asyncio.ensure_future(one())
        await asyncio.sleep(0)
        push.send_multipart([b"a", b"b"])
        # The handler runs in this iteration and hands b"a" to the task's future; the task
        # only runs in the next one, so this cancel comes in between.
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pull.recv() == b"a"
        assert pull.rcvmore
        assert await pull.recv() == b"b"
        assert not pull.rcvmore

    run(main())


def test_cancelled_send_is_all_or_nothing(ctx, loop_kind):
    async def main():
        push = ctx.socket(zmq.PUSH)
        push.sndhwm = 1
        push.bind("inproc://sendcancel")
        pull = ctx.socket(zmq.PULL)
        pull.rcvhwm = 1
        futs = []
        for i in range(20):
            if i % 3 == 0:  # a message made of SNDMORE frames and a final frame
                await push.send(b"head%d" % i, zmq.SNDMORE)
                futs.append(push.send(b"tail%d" % i))
            else:
                futs.append(push.send_multipart([b"head%d" % i, b"tail%d" % i]))
        await asyncio.sleep(0.01)
        cancelled = set()
        for i, f in enumerate(futs):
            if i % 2 and not f.done():
                f.cancel()
                cancelled.add(i)
        assert cancelled
        pull.connect("inproc://sendcancel")
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(pull.recv_multipart(), 0.2))
            except asyncio.TimeoutError:
                break
        assert all(f.done() for f in futs)
        expected = [[b"head%d" % i, b"tail%d" % i] for i in range(20) if i not in cancelled]
        assert got == expected
        assert push._waiters == ()

    run(main(), loop_kind)


def test_close_cancels_pending(ctx):
    async def main():
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://closing")
        f = pull.recv()
        g = pull.recv_multipart()
        await asyncio.sleep(0)
        pull.close()
        assert f.cancelled() and g.cancelled()

    run(main())


@pytest.mark.parametrize("io_on_loop", [False, True], ids=["io-thread", "io-on-loop"])
def test_context_term_fails_pending(loop_kind, io_on_loop):
    c = zaio.Context(io_on_loop=io_on_loop)

    async def main():
        pull = c.socket(zmq.PULL)
        pull.bind("inproc://term")
        f = pull.recv()
        th = threading.Thread(target=c.term)
        th.start()
        with pytest.raises(zmq.ContextTerminated):
            await asyncio.wait_for(f, 5)
        pull.close()
        await asyncio.get_running_loop().run_in_executor(None, th.join, 5)
        assert not th.is_alive()

    run(main(), loop_kind)
    assert c.closed


# -- no busy loops --------------------------------------------------------------------------
def test_idle_socket_costs_no_cpu(ctx, loop_kind):
    async def main():
        pull = ctx.socket(zmq.PULL)
        pull.bind(f"{LOCAL}:*")
        sub = ctx.socket(zmq.SUB)
        sub.connect(pull.last_endpoint.decode().replace("tcp", "tcp"))
        waiting = [pull.recv(), pull.recv_multipart(), pull.poll(), sub.recv()]
        poller = zaio.Poller()
        poller.register(pull, zmq.POLLIN)
        waiting.append(poller.poll())
        await asyncio.sleep(0.1)
        t0 = time.process_time()
        w0 = time.monotonic()
        await asyncio.sleep(1.0)
        cpu = time.process_time() - t0
        wall = time.monotonic() - w0
        assert not any(f.done() for f in waiting)
        assert cpu < 0.1 * wall, f"idle sockets used {cpu:.3f}s of CPU in {wall:.3f}s"
        for f in waiting:
            f.cancel()
        await asyncio.sleep(0)
        assert pull._waiters == () and sub._waiters == ()
        sub.close()

    run(main(), loop_kind)


# -- polling -----------------------------------------------------------------------------------
def test_socket_poll_and_poller(ctx, loop_kind):
    async def main():
        pull, push = endpoint_pair(ctx, "tcp", zmq.PULL, zmq.PUSH)
        assert await pull.poll(timeout=20) == 0
        fut = pull.poll()
        await asyncio.sleep(0.01)
        assert not fut.done()
        await push.send(b"x")
        assert await asyncio.wait_for(fut, 5) == zmq.POLLIN
        assert await push.poll(0, zmq.POLLOUT) == zmq.POLLOUT
        assert await pull.recv() == b"x"

        a, b = socket.socketpair()
        try:
            poller = zaio.Poller()
            poller.register(pull, zmq.POLLIN)
            poller.register(a, zmq.POLLIN)
            assert await poller.poll(20) == []
            f = poller.poll()
            await asyncio.sleep(0.01)
            assert not f.done()
            b.send(b"raw")
            assert await asyncio.wait_for(f, 5) == [(a, zmq.POLLIN)]
            a.recv(10)
            f = poller.poll(5000)
            await push.send(b"y")
            assert await asyncio.wait_for(f, 5) == [(pull, zmq.POLLIN)]
            assert await poller.poll(0) == [(pull, zmq.POLLIN)]
        finally:
            a.close()
            b.close()
        assert pull._waiters == ()

    run(main(), loop_kind)


def test_queued_calls_complete_in_order(ctx, loop_kind):
    async def main():
        pull, push = endpoint_pair(ctx, "tcp", zmq.PULL, zmq.PUSH)
        kinds = [pull.recv, pull.recv_multipart, pull.recv_string, pull.recv_json]
        futs = [kinds[i % 4]() for i in range(40)]
        await asyncio.sleep(0.01)
        assert not any(f.done() for f in futs)
        for i in range(40):
            payload = b'{"n": %d}' % i if i % 4 == 3 else b"%d" % i
            await push.send(payload)
        got = await asyncio.wait_for(asyncio.gather(*futs), 10)
        expected = []
        for i in range(40):
            expected.append([b"%d" % i, [b"%d" % i], str(i), {"n": i}][i % 4])
        assert got == expected

    run(main(), loop_kind)


def test_poller_mixes_sync_and_async_sockets(ctx):
    async def main():
        apull, push = endpoint_pair(ctx, "inproc", zmq.PULL, zmq.PUSH)
        spull = ctx.socket(zmq.PULL, socket_class=zmq.Socket)
        spull.bind("inproc://sync-polled")
        spush = ctx.socket(zmq.PUSH, socket_class=zmq.Socket)
        spush.connect("inproc://sync-polled")
        poller = zaio.Poller()
        poller.register(apull, zmq.POLLIN)
        poller.register(spull, zmq.POLLIN)
        f = poller.poll(5000)
        await asyncio.sleep(0.01)
        assert not f.done()
        spush.send(b"sync")
        assert await asyncio.wait_for(f, 5) == [(spull, zmq.POLLIN)]
        assert spull.recv() == b"sync"
        await push.send(b"async")
        assert await poller.poll(1000) == [(apull, zmq.POLLIN)]
        for s in (spull, spush):
            s.close()

    run(main())


# -- sharing with sync sockets -----------------------------------------------------------------
def test_shadow_context_shares_state():
    sync_ctx = zmq.Context()
    actx = zaio.Context(sync_ctx)
    actx2 = zaio.Context.shadow(sync_ctx.underlying)
    assert actx.underlying == sync_ctx.underlying == actx2.underlying

    async def main():
        pull = actx.socket(zmq.PULL)
        pull.bind("inproc://shared")
        push = sync_ctx.socket(zmq.PUSH)
        push.connect("inproc://shared")
        push.send(b"from sync")
        assert await pull.recv() == b"from sync"
        back = actx2.socket(zmq.PUSH)
        port = back.bind_to_random_port(LOCAL)
        sync_pull = sync_ctx.socket(zmq.PULL)
        sync_pull.rcvtimeo = 5000
        sync_pull.connect(f"{LOCAL}:{port}")
        await back.send(b"from async")
        got = await asyncio.get_running_loop().run_in_executor(None, sync_pull.recv)
        assert got == b"from async"
        for s in (pull, push, back, sync_pull):
            s.close(0)

    run(main())
    import gc

    actx = actx2 = None  # a shadow going away must not stop the shared context
    gc.collect()
    assert not sync_ctx.closed
    s = sync_ctx.socket(zmq.PAIR)
    s.bind(f"{LOCAL}:*")
    s.close(0)
    sync_ctx.term()
    assert sync_ctx.closed


def test_from_socket(ctx):
    async def main():
        sync_pull = ctx.socket(zmq.PULL, socket_class=zmq.Socket)
        apull = zaio.Socket.from_socket(sync_pull)
        assert zaio.Socket(sync_pull).underlying != 0
        port = apull.bind_to_random_port(LOCAL)
        push = ctx.socket(zmq.PUSH)
        push.connect(f"{LOCAL}:{port}")
        await push.send(b"to the shadow")
        assert await apull.recv() == b"to the shadow"
        await push.send(b"to the sync one")
        sync_pull.rcvtimeo = 5000
        got = await asyncio.get_running_loop().run_in_executor(None, sync_pull.recv)
        assert got == b"to the sync one"
        apull.close()
        assert sync_pull.closed
        push.close()

    run(main())


def test_socket_survives_a_new_loop(ctx):
    pull, push = endpoint_pair(ctx, "tcp", zmq.PULL, zmq.PUSH)

    async def exchange(tag):
        await push.send(tag)
        return await pull.recv()

    assert run(exchange(b"first")) == b"first"
    assert run(exchange(b"second")) == b"second"


# -- against pyzmq in another process -----------------------------------------------------------
N_INTEROP = 200


def _pyzmq_peer(role, endpoint, bind, n, results, stop):  # runs in a child process
    import zmq as pyzmq

    c = pyzmq.Context()
    kinds = {"push": pyzmq.PUSH, "pull": pyzmq.PULL, "rep": pyzmq.REP, "req": pyzmq.REQ,
             "pub": pyzmq.PUB, "sub": pyzmq.SUB, "router": pyzmq.ROUTER,
             "dealer": pyzmq.DEALER}
    s = c.socket(kinds[role])
    s.rcvtimeo = s.sndtimeo = 20000
    s.linger = 5000
    if role == "sub":
        s.subscribe(b"t")
    if bind:
        port = s.bind_to_random_port("tcp://127.0.0.1")
        results.put(("port", port))
    else:
        s.connect(endpoint)
    out = None
    try:
        if role == "push":
            for i in range(n):
                s.send_multipart([b"m", b"%d" % i])
        elif role == "pull":
            out = [s.recv_multipart() for _ in range(n)]
        elif role == "rep":
            for _ in range(n):
                s.send_multipart([b"re", *s.recv_multipart()])
        elif role == "req":
            out = []
            for i in range(n):
                s.send_multipart([b"q", b"%d" % i])
                out.append(s.recv_multipart())
        elif role == "router":
            for _ in range(n):
                rid, *body = s.recv_multipart()
                s.send_multipart([rid, b"re", *body])
        elif role == "dealer":
            for i in range(n):
                s.send_multipart([b"q", b"%d" % i])
            out = [s.recv_multipart() for _ in range(n)]
        elif role == "pub":
            deadline = time.monotonic() + 20
            i = 0
            while time.monotonic() < deadline:
                s.send_multipart([b"t", b"%d" % i])
                s.send_multipart([b"other", b"%d" % i])
                i += 1
                time.sleep(0.002)
                if stop.is_set():
                    break
        elif role == "sub":
            out = [s.recv_multipart() for _ in range(n)]
        results.put(("done", out))
    except Exception as e:  # reported to the test
        results.put(("error", repr(e)))
    finally:
        s.close()
        c.term()


class _Peer:
    def __init__(self, role, endpoint=None, bind=False, n=N_INTEROP):
        mp = multiprocessing.get_context("spawn")
        self.results = mp.Queue()
        self.stop = mp.Event()
        self.proc = mp.Process(
            target=_pyzmq_peer, args=(role, endpoint, bind, n, self.results, self.stop),
            daemon=True,
        )
        self.proc.start()
        self.endpoint = endpoint
        if bind:
            kind, port = self.results.get(timeout=30)
            assert kind == "port"
            self.endpoint = f"{LOCAL}:{port}"

    async def result(self):
        loop = asyncio.get_running_loop()
        kind, value = await loop.run_in_executor(None, self.results.get, True, 30)
        assert kind == "done", value
        return value

    def close(self):
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def _ours(ctx, sock_type, peer_binds):
    """Our socket and, when we bind, its endpoint."""
    s = ctx.socket(sock_type)
    s.linger = 5000
    if peer_binds:
        return s, None
    port = s.bind_to_random_port(LOCAL)
    return s, f"{LOCAL}:{port}"


def _start(ctx, our_type, role, peer_binds):
    s, ep = _ours(ctx, our_type, peer_binds)
    peer = _Peer(role, ep, bind=peer_binds)
    if peer_binds:
        s.connect(peer.endpoint)
    return s, peer


DIRECTIONS = pytest.mark.parametrize("peer_binds", [False, True], ids=["we-bind", "pyzmq-binds"])


@DIRECTIONS
def test_pyzmq_push_to_us(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.PULL, "push", peer_binds)
        got = [await s.recv_multipart() for _ in range(N_INTEROP)]
        assert got == [[b"m", b"%d" % i] for i in range(N_INTEROP)]
        await peer.result()
        peer.close()

    run(main())


@DIRECTIONS
def test_we_push_to_pyzmq(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.PUSH, "pull", peer_binds)
        for i in range(N_INTEROP):
            await s.send_multipart([b"m", b"%d" % i])
        assert await peer.result() == [[b"m", b"%d" % i] for i in range(N_INTEROP)]
        peer.close()

    run(main())


@DIRECTIONS
def test_our_req_pyzmq_rep(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.REQ, "rep", peer_binds)
        for i in range(N_INTEROP):
            await s.send_multipart([b"q", b"%d" % i])
            assert await s.recv_multipart() == [b"re", b"q", b"%d" % i]
        await peer.result()
        peer.close()

    run(main())


@DIRECTIONS
def test_pyzmq_req_our_rep(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.REP, "req", peer_binds)
        for _ in range(N_INTEROP):
            msg = await s.recv_multipart()
            await s.send_multipart([b"re", *msg])
        assert await peer.result() == [[b"re", b"q", b"%d" % i] for i in range(N_INTEROP)]
        peer.close()

    run(main())


@DIRECTIONS
def test_pyzmq_pub_our_sub(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.SUB, "pub", peer_binds)
        s.subscribe(b"t")
        got = [await s.recv_multipart() for _ in range(50)]
        assert all(m[0] == b"t" for m in got)
        seq = [int(m[1]) for m in got]
        assert seq == list(range(seq[0], seq[0] + 50))
        peer.stop.set()
        peer.close()

    run(main())


@DIRECTIONS
def test_our_pub_pyzmq_sub(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.PUB, "sub", peer_binds)
        sent = 0
        result = asyncio.ensure_future(peer.result())
        while not result.done():
            await s.send_multipart([b"t", b"%d" % sent])
            await s.send_multipart([b"other", b"%d" % sent])
            sent += 1
            await asyncio.sleep(0.002)
        got = await result
        seq = [int(m[1]) for m in got]
        assert all(m[0] == b"t" for m in got) and len(got) == N_INTEROP
        assert seq == list(range(seq[0], seq[0] + N_INTEROP))
        peer.close()

    run(main())


@DIRECTIONS
def test_our_dealer_pyzmq_router(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.DEALER, "router", peer_binds)
        for i in range(N_INTEROP):
            await s.send_multipart([b"q", b"%d" % i])
        got = [await s.recv_multipart() for _ in range(N_INTEROP)]
        assert got == [[b"re", b"q", b"%d" % i] for i in range(N_INTEROP)]
        await peer.result()
        peer.close()

    run(main())


@DIRECTIONS
def test_pyzmq_dealer_our_router(ctx, peer_binds):
    async def main():
        s, peer = _start(ctx, zmq.ROUTER, "dealer", peer_binds)
        for _ in range(N_INTEROP):
            rid, *body = await s.recv_multipart()
            await s.send_multipart([rid, b"re", *body])
        assert await peer.result() == [[b"re", b"q", b"%d" % i] for i in range(N_INTEROP)]
        peer.close()

    run(main())


def test_cancel_storm_against_pyzmq_pusher(ctx, loop_kind):
    """Messages from a pyzmq process, many receivers cancelled: none lost, none doubled."""

    async def main():
        s, peer = _start(ctx, zmq.PULL, "push", False)
        rnd = random.Random(3)
        got = []
        while len(got) < N_INTEROP:
            async def one():
                return await s.recv_multipart()

            tasks = [asyncio.ensure_future(one()) for _ in range(10)]
            await asyncio.sleep(rnd.choice([0, 0, 0.0001, 0.001]))
            for t in tasks:
                if rnd.random() < 0.7:
                    t.cancel()
            await asyncio.sleep(0.002)
            for t in tasks:
                t.cancel()
            for r in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(r, list):
                    got.append(r)
        assert sorted(got, key=lambda m: int(m[1])) == [
            [b"m", b"%d" % i] for i in range(N_INTEROP)
        ]
        assert len(got) == N_INTEROP
        await peer.result()
        peer.close()

    run(main(), loop_kind)



# -- io_on_loop: connections driven by the event loop, no I/O thread ---------------------------
def test_io_on_loop_runs_without_io_thread(loop_kind):
    c = zaio.Context(io_on_loop=True)
    other = zaio.Context(io_on_loop=False)
    assert c.io_on_loop and not other.io_on_loop
    default = zaio.Context()
    assert default.io_on_loop  # the default: connections on the loop
    default.term()
    other.term()
    before = set(threading.enumerate())

    async def main():
        rep, req = tcp_pair(c, zmq.REP, zmq.REQ)

        async def server():
            for _ in range(50):
                await rep.send(await rep.recv())

        task = asyncio.ensure_future(server())
        for i in range(50):
            await req.send(b"%d" % i)
            assert await req.recv() == b"%d" % i
        await task
        assert set(threading.enumerate()) <= before  # no I/O thread was started
        assert isinstance(c._reactor, LoopReactor)
        rep.close()
        req.close()

    run(main(), loop_kind)
    c.term()


def _sync_receiver(n):
    """A thread-mode purezmq PULL in its own context, receiving ``n`` messages in a thread."""
    rctx = zmq.Context()
    pull = rctx.socket(zmq.PULL)
    pull.rcvtimeo = 10000
    port = pull.bind_to_random_port(LOCAL)
    got = []

    def loop():
        try:
            for _ in range(n):
                got.append(pull.recv())
        except zmq.Again:
            pass
        finally:
            pull.close(0)
            rctx.term()

    th = threading.Thread(target=loop)
    th.start()
    return port, got, th


@pytest.mark.parametrize("where", ["in-loop", "after-loop"])
def test_io_on_loop_term_flushes_lingering_messages(where):
    """term() pumps the connections itself when no loop can: in the loop's own thread, or
    after the loop is gone; LINGER is honoured (here: -1, deliver everything)."""
    n = 2000
    port, got, th = _sync_receiver(n)
    c = zaio.Context(io_on_loop=True)

    async def main():
        push = c.socket(zmq.PUSH)
        push.sndhwm = 0
        push.connect(f"{LOCAL}:{port}")
        for i in range(n):
            await push.send(b"%d" % i)
        push.close()  # linger -1: everything must still go out
        if where == "in-loop":
            c.term()

    run(main())
    if where == "after-loop":
        c.term()
    assert c.closed
    th.join(20)
    assert got == [b"%d" % i for i in range(n)]


def test_io_on_loop_linger_expires():
    c = zaio.Context(io_on_loop=True)

    async def main():
        push = c.socket(zmq.PUSH)
        push.connect(f"{LOCAL}:1")  # nobody there: the message can never go
        await push.send(b"stuck")
        push.close(linger=100)

    run(main())
    t0 = time.monotonic()
    c.term()
    assert time.monotonic() - t0 < 5


def test_io_on_loop_bind_before_the_loop_runs():
    c = zaio.Context(io_on_loop=True)
    pull = c.socket(zmq.PULL)
    port = pull.bind_to_random_port(LOCAL)
    push = c.socket(zmq.PUSH)
    push.connect(f"{LOCAL}:{port}")

    async def main():
        await push.send(b"queued before the loop")
        return await asyncio.wait_for(pull.recv(), 5)

    assert run(main()) == b"queued before the loop"
    c.destroy(linger=0)


def test_io_on_loop_poller_alone_drives_the_connections():
    """Sockets made before the loop and only polled (as an authenticator does)."""
    c = zaio.Context(io_on_loop=True)
    pull = c.socket(zmq.PULL, socket_class=zmq.Socket)
    port = pull.bind_to_random_port(LOCAL)
    push = c.socket(zmq.PUSH, socket_class=zmq.Socket)
    push.connect(f"{LOCAL}:{port}")
    push.send(b"polled")  # queued: no loop runs yet

    async def main():
        poller = zaio.Poller()
        poller.register(pull, zmq.POLLIN)
        assert await asyncio.wait_for(poller.poll(), 5) == [(pull, zmq.POLLIN)]
        return pull.recv(zmq.DONTWAIT)

    assert run(main()) == b"polled"
    c.destroy(linger=0)


# -- one context, several threads each running its own loop (as pyzmq allows) --------------
@pytest.mark.parametrize("io_on_loop", [True, False])
def test_one_context_serves_loops_in_several_threads(io_on_loop):
    """``Context.instance()``-style sharing: a REP served on one thread's loop, REQs on two
    other threads' loops, sockets made and connected in each thread; the server's loop
    ends first and the clients go on (no loop depends on another thread's loop)."""
    before = set(threading.enumerate())
    c = zaio.Context(io_on_loop=io_on_loop)
    rep = c.socket(zmq.REP)
    rep.linger = 0
    rep.bind(f"{LOCAL}:*")
    addr = rep.last_endpoint.decode()
    served = threading.Event()
    results: dict = {}
    errors: list = []

    async def server():
        for _ in range(2):
            await rep.send(await rep.recv())
        served.set()

    async def client(tag: bytes):
        req = c.socket(zmq.REQ)
        req.linger = 0
        req.connect(addr)
        await req.send(tag)
        got = [await asyncio.wait_for(req.recv(), 10)]
        # Block this loop until the server's loop is gone (nothing of the others may
        # run on it); then this thread's sockets still talk, on this loop.
        assert served.wait(10)
        a, b = c.socket(zmq.PAIR), c.socket(zmq.PAIR)
        a.linger = b.linger = 0
        a.bind(f"{LOCAL}:*")
        b.connect(a.last_endpoint.decode())
        for i in range(20):
            await b.send(b"%d" % i)
            got.append(await asyncio.wait_for(a.recv(), 10))
        for s in (req, a, b):
            s.close()
        results[tag] = got

    def thread(coro_fn, *args):
        try:
            run(coro_fn(*args))
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=thread, args=(server,))]
    threads += [threading.Thread(target=thread, args=(client, t)) for t in (b"a", b"b")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
        expected = [b"%d" % i for i in range(20)]
        assert results == {b"a": [b"a", *expected], b"b": [b"b", *expected]}
    finally:
        rep.close()
        done = threading.Event()
        threading.Thread(target=lambda: (c.term(), done.set()), daemon=True).start()
        assert done.wait(10), "term() hung"
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name.startswith("purezmq-io")
                and t not in before], "an I/O thread outlived term()"


def test_context_instance_is_shared_by_loop_threads():
    inst = zaio.Context.instance()
    seen = []

    def thread():
        async def main():
            seen.append(zaio.Context.instance())

        run(main())

    ts = [threading.Thread(target=thread) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert seen == [inst, inst]


def test_connections_move_to_a_waiting_loop_when_their_loop_thread_ends():
    """Sockets connected before any loop ran are driven by the first loop that uses the
    context; a socket waiting on another thread's loop must not stall when that first
    loop's thread ends (its connections move to the loop that waits)."""
    c = zaio.Context(io_on_loop=True)
    x, y = c.socket(zmq.PAIR), c.socket(zmq.PAIR)  # driven by thread A's loop
    p, q = c.socket(zmq.PAIR), c.socket(zmq.PAIR)  # used from thread B's loop
    for s in (x, y, p, q):
        s.linger = 0
    for a, b in ((x, y), (p, q)):
        a.bind(f"{LOCAL}:*")
        b.connect(a.last_endpoint.decode())
    a_running, a_done = threading.Event(), threading.Event()
    got: list = []
    errors: list = []

    async def loop_a():
        await y.send(b"a")
        got.append(await asyncio.wait_for(x.recv(), 10))
        a_running.set()
        await asyncio.sleep(0.2)  # B's first exchange goes through this loop

    async def loop_b():
        assert a_running.wait(10)
        await q.send(b"b1")
        got.append(await asyncio.wait_for(p.recv(), 10))
        assert a_done.wait(10)  # A's loop is gone now
        await q.send(b"b2")
        got.append(await asyncio.wait_for(p.recv(), 10))

    def thread(fn, done=None):
        try:
            run(fn())
        except BaseException as e:
            errors.append(e)
        finally:
            if done is not None:
                done.set()

    ta = threading.Thread(target=thread, args=(loop_a, a_done))
    tb = threading.Thread(target=thread, args=(loop_b,))
    try:
        ta.start()
        tb.start()
        ta.join(30)
        tb.join(30)
        assert not errors, errors
        assert got == [b"a", b"b1", b"b2"]
    finally:
        for s in (x, y, p, q):
            s.close()
        c.term()


# -- shutdown: nothing of the library keeps a finished process alive ---------------------------
_EXIT_SCRIPT = """
import asyncio, sys
import {lib} as zmq, {lib}.asyncio as zaio
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)             # LINGER -1, a message queued for nobody
push.connect("tcp://127.0.0.1:9")
push.send(b"stuck")
inst = zmq.Context.instance()
pull = inst.socket(zmq.PULL)
pull.bind("tcp://127.0.0.1:*")

kept = []  # referenced until exit (a context collected mid-program is another story)

async def main():
    for io_on_loop in ({flags}):
        actx = zaio.Context(**({{"io_on_loop": io_on_loop}} if io_on_loop is not None else {{}}))
        s = actx.socket(zmq.DEALER)
        s.connect("tcp://127.0.0.1:9")
        await s.send(b"stuck too")
        kept.append((actx, s))
asyncio.run(main())
print("done", flush=True)
"""


@pytest.mark.parametrize("lib", ["purezmq", "zmq"])
def test_unterminated_contexts_do_not_keep_the_process_alive(lib):
    """Contexts never terminated, sockets never closed, messages that can never go out:
    the interpreter still exits when the program is done (as with pyzmq)."""
    import subprocess
    import sys

    if lib == "zmq":
        pytest.importorskip("zmq")
    flags = "True, False" if lib == "purezmq" else "None,"
    proc = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT.format(lib=lib, flags=flags)],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"


def test_zap_serves_plain_servers_on_loops_in_two_threads(monkeypatch):
    """ZAP with connections on two threads' loops: each server's handshakes are
    authenticated (its engine on its own loop, the ZAP client on the first one's), and
    every verdict reaches its engine on the engine's own thread."""
    from purezmq.auth.thread import ThreadAuthenticator
    from purezmq.io.engine import StreamEngine

    wrong_thread: list = []
    real_reply = StreamEngine.zap_reply

    def zap_reply(self, *args):
        if not self.reactor.in_thread():
            wrong_thread.append(threading.current_thread().name)
        return real_reply(self, *args)

    monkeypatch.setattr(StreamEngine, "zap_reply", zap_reply)

    c = zaio.Context(io_on_loop=True)
    auth = ThreadAuthenticator(c)
    auth.start()
    auth.configure_plain("*", {"admin": "secret"})
    errors: list = []
    results: dict = {}
    first_done = threading.Event()

    async def serve(tag: str):
        server = c.socket(zmq.PULL)
        server.plain_server = True
        server.linger = 0
        server.bind(f"{LOCAL}:*")
        addr = server.last_endpoint.decode()
        good, bad = c.socket(zmq.PUSH), c.socket(zmq.PUSH)
        good.plain_username, good.plain_password = b"admin", b"secret"
        bad.plain_username, bad.plain_password = b"admin", b"wrong"
        for s in (good, bad):
            s.linger = 0
            s.connect(addr)
        await bad.send(b"rejected")
        await good.send(tag.encode())
        results[tag] = await asyncio.wait_for(server.recv(), 10)
        results[tag + "-more"] = await server.poll(300)  # the bad client's never came
        if tag == "a":
            first_done.set()
            await asyncio.sleep(0.5)  # keep the first loop (the ZAP client's) running
        for s in (server, good, bad):
            s.close()

    def thread(tag: str):
        try:
            if tag == "b":
                assert first_done.wait(10)
            run(serve(tag))
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=thread, args=(t,)) for t in "ab"]
    try:
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert not errors, errors
        assert results == {"a": b"a", "a-more": 0, "b": b"b", "b-more": 0}
        assert wrong_thread == []
    finally:
        auth.stop()
        c.destroy(linger=0)
