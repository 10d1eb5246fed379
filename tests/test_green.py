"""``purezmq.green`` (pyzmq's ``zmq.green``): blocking calls yield to gevent's hub.

In this process gevent is imported but never monkey-patches anything; the monkey-patched
runs (patch before or after importing purezmq, a partial patch) are subprocesses, so they
cannot leak into the other tests.  Where it helps, the same body runs on pyzmq's
``zmq.green`` too (timeouts excepted: pyzmq's green sockets ignore ``RCVTIMEO`` /
``SNDTIMEO``, with a warning).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

gevent = pytest.importorskip("gevent")

import purezmq  # noqa: E402
import purezmq.green as gzmq  # noqa: E402
from purezmq.green.waiter import GreenWaiter  # noqa: E402

try:
    import zmq.green as pyzmq_green
except ImportError:  # pyzmq absent: the parity runs skip
    pyzmq_green = None

LIBS = [pytest.param(gzmq, id="purezmq")]
if pyzmq_green is not None:
    LIBS.append(pytest.param(pyzmq_green, id="pyzmq"))


@pytest.fixture
def ctx():
    c = gzmq.Context()
    yield c
    with gevent.Timeout(10):
        c.destroy(linger=0)


def run_all(*fns, timeout: float = 20.0) -> list:
    """Run each function in its own greenlet; their results; any error fails the test."""
    greenlets = [gevent.spawn(fn) for fn in fns]
    done = gevent.joinall(greenlets, timeout=timeout, raise_error=True)
    assert len(done) == len(greenlets), "greenlets still blocked: something blocked the hub"
    return [g.value for g in greenlets]


class Ticker:
    """A greenlet counting while it is let run: proof that a wait yields to the hub."""

    def __init__(self) -> None:
        self.ticks = 0
        self.g = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            self.ticks += 1
            gevent.sleep(0.002)

    def stop(self) -> int:
        self.g.kill()
        return self.ticks


# -- names ---------------------------------------------------------------------------------
def test_module_names():
    assert gzmq.Context is gzmq.core._Context and issubclass(gzmq.Context, purezmq.Context)
    assert issubclass(gzmq.Socket, purezmq.Socket) and gzmq.Socket is not purezmq.Socket
    assert issubclass(gzmq.Poller, purezmq.Poller) and gzmq.Poller is not purezmq.Poller
    assert gzmq.poll.__name__ == "purezmq.green.poll"  # a submodule, as pyzmq's
    for name in ("device", "proxy", "select", "zmq_poll"):
        assert getattr(gzmq, name) is not getattr(purezmq, name), name
    # Everything else is purezmq's own object.
    for name in purezmq.__all__:
        if name not in ("Context", "Socket", "Poller", "device", "proxy", "select", "zmq_poll"):
            assert getattr(gzmq, name) is getattr(purezmq, name), name
    assert set(gzmq.__all__) == set(purezmq.__all__)
    # As pyzmq's, importing the green eventloop warns that zmq.eventloop.ioloop is deprecated;
    # the warning comes once per process, so it is looked for in a fresh one.
    code = ("import warnings; warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    import purezmq.green.eventloop\n"
            "print(any('deprecated in pyzmq 17' in str(x.message)\n"
            "          and x.category is DeprecationWarning for x in w))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "True"
    from purezmq.green.eventloop import IOLoop
    from purezmq.green.eventloop.zmqstream import ZMQStream

    assert IOLoop is pytest.importorskip("tornado.ioloop").IOLoop
    assert issubclass(ZMQStream, pytest.importorskip("purezmq.eventloop.zmqstream").ZMQStream)


@pytest.mark.skipif(pyzmq_green is None, reason="pyzmq not installed")
def test_names_match_pyzmq():
    """The public names pyzmq's zmq.green adds to zmq, purezmq.green has too."""
    import zmq

    def extra(green, base):
        return {n for n in dir(green) if not n.startswith("_")} - {
            n for n in dir(base) if not n.startswith("_")}

    assert extra(pyzmq_green, zmq) <= extra(gzmq, purezmq) | {"core", "device", "poll"}
    assert {"core", "device", "poll"} <= set(dir(gzmq))


def test_context_instance_and_sockets():
    inst = gzmq.Context.instance()
    assert isinstance(inst, gzmq.Context)
    assert inst is gzmq.Context.instance()
    assert inst is not purezmq.Context.instance()
    s = inst.socket(gzmq.PAIR)
    try:
        assert isinstance(s, gzmq.Socket)
        assert "green" in repr(s) and "green" in repr(inst)
    finally:
        s.close(0)
    plain = gzmq.Context()
    try:
        t = plain.socket(gzmq.PAIR, socket_class=purezmq.Socket)  # an explicit class wins
        assert type(t) is purezmq.Socket
        t.close(0)
    finally:
        plain.term()


# -- the waiter ------------------------------------------------------------------------------
def test_green_waiter_contract():
    w = GreenWaiter()
    assert w.wait(0) is False and w.wait(0.01) is False
    w.wake()
    assert w.wait(None) is True and w.wait(0) is True  # stays woken until cleared
    w.clear()
    t = time.monotonic()
    assert w.wait(0.05) is False
    assert time.monotonic() - t >= 0.04
    gevent.spawn_later(0.02, w.wake)
    assert w.wait(5) is True


def test_green_waiter_woken_from_another_thread():
    import threading

    w = GreenWaiter()
    ticker = Ticker()
    threading.Timer(0.1, w.wake).start()
    assert w.wait(10) is True
    assert ticker.stop() > 5  # the hub ran meanwhile


# -- patterns, many greenlets ------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_req_rep_many_clients(lib, transport):
    ctx = lib.Context()
    try:
        rep = ctx.socket(lib.ROUTER)
        rep.linger = 0
        if transport == "tcp":
            port = rep.bind_to_random_port("tcp://127.0.0.1")
            addr = f"tcp://127.0.0.1:{port}"
        else:
            addr = f"inproc://green-reqrep-{id(ctx)}"
            rep.bind(addr)
        clients, rounds = 20, 10

        def server():
            for _ in range(clients * rounds):
                ident, empty, body = rep.recv_multipart()
                rep.send_multipart([ident, empty, body + b"!"])

        def client(n):
            s = ctx.socket(lib.REQ)
            s.linger = 0
            s.connect(addr)
            got = []
            for i in range(rounds):
                s.send(b"%d-%d" % (n, i))
                got.append(s.recv())
            s.close()
            return got

        ticker = Ticker()
        results = run_all(server, *[lambda n=n: client(n) for n in range(clients)])
        for n, got in enumerate(results[1:]):
            assert got == [b"%d-%d!" % (n, i) for i in range(rounds)]
        assert ticker.stop() > 0
        rep.close()
    finally:
        with gevent.Timeout(10):
            ctx.term()


@pytest.mark.parametrize("lib", LIBS)
def test_blocked_recv_lets_others_run(lib):
    """A recv with nothing to read parks its greenlet only: the sender runs meanwhile."""
    ctx = lib.Context()
    try:
        a = ctx.socket(lib.PAIR)
        b = ctx.socket(lib.PAIR)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        b.connect(f"tcp://127.0.0.1:{port}")
        order = []

        def receiver():
            order.append("waiting")
            msg = a.recv()
            order.append("got")
            return msg

        def sender():
            gevent.sleep(0.1)
            order.append("sending")
            b.send(b"hello")

        assert run_all(receiver, sender)[0] == b"hello"
        assert order == ["waiting", "sending", "got"]
        a.close(0)
        b.close(0)
    finally:
        with gevent.Timeout(10):
            ctx.term()


def test_push_pull_backpressure(ctx):
    """Sends past the high-water mark park the pushers' greenlets until the puller reads."""
    pull = ctx.socket(gzmq.PULL)
    pull.rcvhwm = 2
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    pushers, count = 5, 200

    def pusher(n):
        s = ctx.socket(gzmq.PUSH)
        s.sndhwm = 2
        s.linger = 5000
        s.connect(f"tcp://127.0.0.1:{port}")
        for i in range(count):
            s.send_multipart([b"%d" % n, b"%d" % i])
        s.close()

    def puller():
        seen = {n: [] for n in range(pushers)}
        for k in range(pushers * count):
            n, i = pull.recv_multipart()
            seen[int(n)].append(int(i))
            if k % 50 == 0:
                gevent.sleep(0.01)  # a slow reader: the pushers must wait
        return seen

    seen = run_all(puller, *[lambda n=n: pusher(n) for n in range(pushers)])[0]
    for n in range(pushers):
        assert seen[n] == list(range(count))  # each pusher's messages, all, in order


def test_pub_sub_many_subscribers(ctx):
    pub = ctx.socket(gzmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    subs = []
    for topic in (b"a", b"b", b""):
        s = ctx.socket(gzmq.SUB)
        s.subscribe(topic)
        s.connect(f"tcp://127.0.0.1:{port}")
        subs.append(s)
    ready = set()

    def subscriber(k):
        s = subs[k]
        got = []
        while True:
            msg = s.recv()
            if msg.endswith(b"sync"):
                ready.add(k)
                continue
            if msg.endswith(b"end"):
                return got
            got.append(msg)

    def publisher():
        while len(ready) < len(subs):  # subscriptions travel asynchronously
            for t in (b"a", b"b"):
                pub.send(t + b"sync")
            gevent.sleep(0.01)
        for i in range(100):
            pub.send(b"a%d" % i)
            pub.send(b"b%d" % i)
        pub.send(b"aend")
        pub.send(b"bend")

    results = run_all(publisher, *[lambda k=k: subscriber(k) for k in range(len(subs))])
    assert results[1] == [b"a%d" % i for i in range(100)]
    assert results[2] == [b"b%d" % i for i in range(100)]
    # The catch-all subscriber stops at the first end marker (a's, published first).
    assert results[3] == [m for i in range(100) for m in (b"a%d" % i, b"b%d" % i)]


# -- timeouts, flags, interruption -------------------------------------------------------------
def test_rcvtimeo_yields_then_raises(ctx):
    s = ctx.socket(gzmq.PULL)
    s.bind("inproc://green-rcvtimeo")
    s.rcvtimeo = 150
    ticker = Ticker()
    t = time.monotonic()
    with pytest.raises(gzmq.Again):
        s.recv()
    elapsed = time.monotonic() - t
    assert 0.1 <= elapsed < 5
    assert ticker.stop() > 5  # the hub ran during the timeout


def test_sndtimeo_and_noblock(ctx):
    s = ctx.socket(gzmq.PUSH)  # no peer: a PUSH cannot send
    s.sndtimeo = 100
    ticker = Ticker()
    with pytest.raises(gzmq.Again):
        s.send(b"x")
    assert ticker.stop() > 3
    s.sndtimeo = -1
    with pytest.raises(gzmq.Again):
        s.send(b"x", gzmq.NOBLOCK)
    r = ctx.socket(gzmq.PULL)
    with pytest.raises(gzmq.Again):
        r.recv(gzmq.NOBLOCK)
    with pytest.raises(gzmq.Again):
        r.recv_multipart(flags=gzmq.DONTWAIT)


def test_gevent_timeout_and_kill_interrupt_a_recv(ctx):
    a = ctx.socket(gzmq.PAIR)
    b = ctx.socket(gzmq.PAIR)
    a.bind("inproc://green-interrupt")
    b.connect("inproc://green-interrupt")
    with pytest.raises(gevent.Timeout):
        with gevent.Timeout(0.05):
            a.recv()
    g = gevent.spawn(a.recv)
    gevent.sleep(0.05)
    g.kill(block=True, timeout=5)
    assert g.dead
    # The socket is still usable after both interruptions.
    b.send(b"after")
    with gevent.Timeout(5):
        assert a.recv() == b"after"


def test_close_and_term_wake_blocked_greenlets():
    """term() waits green: blocked greenlets get ContextTerminated and close their sockets
    (pyzmq's green term waits in the hub's thread, where they could not)."""
    ctx = gzmq.Context()
    errors = []

    def blocked(k):
        s = ctx.socket(gzmq.PULL)
        s.bind(f"inproc://green-term-{k}")
        try:
            s.recv()
        except gzmq.ContextTerminated as e:
            errors.append(e)
        finally:
            s.close(0)

    greenlets = [gevent.spawn(blocked, k) for k in range(5)]
    gevent.sleep(0.05)
    with gevent.Timeout(10):
        ctx.term()
    gevent.joinall(greenlets, timeout=5)
    assert len(errors) == 5 and ctx.closed


def test_recv_on_a_socket_closed_meanwhile(ctx):
    s = ctx.socket(gzmq.PULL)
    s.bind("inproc://green-close")
    g = gevent.spawn(s.recv)
    gevent.sleep(0.05)
    s.close(0)
    with pytest.raises(gzmq.ZMQError) as exc:
        g.get(timeout=5)
    assert exc.value.errno == gzmq.ENOTSOCK


# -- polling ------------------------------------------------------------------------------
def test_poller_yields_and_sees_messages(ctx):
    a = ctx.socket(gzmq.PULL)
    port = a.bind_to_random_port("tcp://127.0.0.1")
    b = ctx.socket(gzmq.PUSH)
    b.connect(f"tcp://127.0.0.1:{port}")
    poller = gzmq.Poller()
    poller.register(a, gzmq.POLLIN)
    ticker = Ticker()
    assert poller.poll(100) == []
    assert ticker.ticks > 5
    gevent.spawn_later(0.05, b.send, b"ping")
    assert poller.poll(5000) == [(a, gzmq.POLLIN)]
    assert a.recv() == b"ping"
    gevent.spawn_later(0.05, b.send, b"again")
    assert a.poll(5000) == gzmq.POLLIN
    r, w, x = gzmq.select([a], [b], [], 5)
    assert r == [a] and w == [b] and x == []
    assert gzmq.zmq_poll([(a, gzmq.POLLIN)], 1000) == [(a, gzmq.POLLIN)]
    assert a.recv() == b"again"
    ticker.stop()


def test_poller_with_raw_fds(ctx):
    """zmq sockets and raw file descriptors in one green poll."""
    a = ctx.socket(gzmq.PULL)
    a.bind("inproc://green-raw")
    b = ctx.socket(gzmq.PUSH)
    b.connect("inproc://green-raw")
    r, w = os.pipe()
    try:
        poller = gzmq.Poller()
        poller.register(a, gzmq.POLLIN)
        poller.register(r, gzmq.POLLIN)
        ticker = Ticker()
        assert poller.poll(100) == []
        assert ticker.ticks > 5
        gevent.spawn_later(0.05, os.write, w, b"x")
        assert poller.poll(5000) == [(r, gzmq.POLLIN)]
        os.read(r, 1)
        gevent.spawn_later(0.05, b.send, b"zmq")
        assert poller.poll(5000) == [(a, gzmq.POLLIN)]
        assert ticker.stop() > 10
    finally:
        os.close(r)
        os.close(w)


# -- devices ------------------------------------------------------------------------------
def test_device_queue_between_greenlets(ctx):
    front = ctx.socket(gzmq.ROUTER)
    back = ctx.socket(gzmq.DEALER)
    fport = front.bind_to_random_port("tcp://127.0.0.1")
    back.bind("inproc://green-workers")
    dev = gevent.spawn(gzmq.device, gzmq.QUEUE, front, back)

    def worker(k):
        s = ctx.socket(gzmq.REP)
        s.connect("inproc://green-workers")
        while True:
            msg = s.recv()
            s.send(msg + b"@%d" % k)

    workers = [gevent.spawn(worker, k) for k in range(3)]

    def client(n):
        s = ctx.socket(gzmq.REQ)
        s.connect(f"tcp://127.0.0.1:{fport}")
        out = []
        for i in range(10):
            s.send(b"%d.%d" % (n, i))
            out.append(s.recv())
        s.close()
        return out

    try:
        results = run_all(*[lambda n=n: client(n) for n in range(8)])
        served_by = set()
        for n, out in enumerate(results):
            assert [m.split(b"@")[0] for m in out] == [b"%d.%d" % (n, i) for i in range(10)]
            served_by.update(m.split(b"@")[1] for m in out)
        assert len(served_by) >= 2  # the DEALER spread the requests
    finally:
        gevent.killall([dev, *workers], timeout=5)


def test_proxy_with_capture(ctx):
    front = ctx.socket(gzmq.PULL)
    back = ctx.socket(gzmq.PUSH)
    cap = ctx.socket(gzmq.PUSH)
    front.bind("inproc://green-px-in")
    back.bind("inproc://green-px-out")
    cap.bind("inproc://green-px-cap")
    src = ctx.socket(gzmq.PUSH)
    src.connect("inproc://green-px-in")
    dst = ctx.socket(gzmq.PULL)
    dst.connect("inproc://green-px-out")
    tap = ctx.socket(gzmq.PULL)
    tap.connect("inproc://green-px-cap")
    px = gevent.spawn(gzmq.proxy, front, back, cap)
    try:
        for i in range(300):
            src.send_multipart([b"m", b"%d" % i])
        with gevent.Timeout(10):
            assert [dst.recv_multipart() for _ in range(300)] == [
                [b"m", b"%d" % i] for i in range(300)]
            assert [tap.recv_multipart()[1] for _ in range(300)] == [
                b"%d" % i for i in range(300)]
    finally:
        px.kill(timeout=5)


# -- interop and threads ----------------------------------------------------------------
@pytest.mark.skipif(pyzmq_green is None, reason="pyzmq not installed")
def test_green_interop_with_pyzmq_in_one_hub():
    """A pyzmq green REQ and a purezmq green REP in one hub: neither blocks the other."""
    pctx = pyzmq_green.Context()
    gctx = gzmq.Context()
    try:
        rep = gctx.socket(gzmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req = pctx.socket(pyzmq_green.REQ)
        req.connect(f"tcp://127.0.0.1:{port}")

        def server():
            for _ in range(50):
                rep.send(rep.recv()[::-1])

        def client():
            return [req.send(b"ab%d" % i) or req.recv() for i in range(50)]

        assert run_all(server, client)[1] == [(b"ab%d" % i)[::-1] for i in range(50)]
        req.close(0)
        rep.close(0)
    finally:
        with gevent.Timeout(10):
            gctx.term()
        pctx.term()


def test_green_sockets_in_another_thread():
    """Each thread has its own hub: green sockets work in a thread of their own too."""
    import threading

    out = {}

    def body():
        c = gzmq.Context()
        a = c.socket(gzmq.PAIR)
        b = c.socket(gzmq.PAIR)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        b.connect(f"tcp://127.0.0.1:{port}")
        g = gevent.spawn(a.recv)
        gevent.spawn_later(0.05, b.send, b"from a thread")
        out["msg"] = g.get(timeout=5)
        a.close(0)
        b.close(0)
        c.term()

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(20)
    assert out.get("msg") == b"from a thread"


# -- monkey-patched processes -----------------------------------------------------------
_PATCHED = r"""
import json, os, sys, time
mode = sys.argv[1]
if mode == "import-first":
    import purezmq.green  # purezmq loaded (and a context made) before gevent patches
    early = purezmq.green.Context()
    early_sock = early.socket(purezmq.green.PAIR)
    early_sock.bind("tcp://127.0.0.1:*")
from gevent import monkey
if mode == "thread=False":
    monkey.patch_all(thread=False)
elif mode == "select=False":
    monkey.patch_all(select=False)
else:
    monkey.patch_all()
import threading
import gevent
import purezmq
import zmq_green_target as zmq

def reactor_on_os_threads():
    # How many OS threads run the I/O loop now (a suspended greenlet's frames are not
    # in sys._current_frames()).
    n = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            code = frame.f_code
            if code.co_name == "_run" and code.co_filename.endswith("reactor.py"):
                n += 1
                break
            frame = frame.f_back
    return n

ctx = zmq.Context()
rep = ctx.socket(zmq.ROUTER)
port = rep.bind_to_random_port("tcp://127.0.0.1")
time.sleep(0.05)  # (patched: lets a greenlet I/O loop run, to be caught suspended)
io_os_threads = reactor_on_os_threads()
ticks = [0]
def ticker():
    while True:
        ticks[0] += 1
        gevent.sleep(0.002)
tk = gevent.spawn(ticker)

def server():
    for _ in range(10 * 10):
        ident, empty, body = rep.recv_multipart()
        rep.send_multipart([ident, empty, body.upper()])

def client(n):
    s = ctx.socket(zmq.REQ)
    s.connect("tcp://localhost:%d" % port)  # a name: resolved by the I/O thread
    out = [s.send(b"c%d-%d" % (n, i)) or s.recv() for i in range(10)]
    s.close()
    return out

def pubsub():
    pub = ctx.socket(zmq.PUB)
    pport = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect("tcp://127.0.0.1:%d" % pport)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while not poller.poll(20):
        pub.send(b"sync")
    while sub.poll(50):
        sub.recv()
    for i in range(50):
        pub.send(b"%d" % i)
    got = [int(sub.recv()) for _ in range(50)]
    pub.close(0)
    sub.close(0)
    return got

def timeout():
    s = ctx.socket(zmq.PULL)
    s.rcvtimeo = 100
    try:
        s.recv()
        return "no timeout"
    except zmq.Again:
        return "Again"
    finally:
        s.close(0)

gs = [gevent.spawn(server)] + [gevent.spawn(client, n) for n in range(10)]
gs += [gevent.spawn(pubsub), gevent.spawn(timeout)]
gevent.joinall(gs, timeout=20, raise_error=True)
ok_clients = all(g.value == [b"C%d-%d" % (n, i) for i in range(10)]
                 for n, g in enumerate(gs[1:11]))
tk.kill()
rep.close(0)
ctx.term()
if mode == "import-first":
    early_sock.close(0)
    early.term()
print(json.dumps({
    "finished": all(g.ready() for g in gs),
    "clients": ok_clients,
    "pubsub": gs[11].value == list(range(50)),
    "timeout": gs[12].value,
    "ticks": ticks[0],
    "io_os_threads": io_os_threads,
    "threading_patched": monkey.is_module_patched("threading"),
}))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", ["purezmq.green", "purezmq"])
@pytest.mark.parametrize("mode", ["patch-first", "import-first", "thread=False", "select=False"])
def test_monkey_patched_process(tmp_path, mode, target):
    """Under gevent's monkey-patching (whole, partial, before or after purezmq is imported),
    green sockets - and, fully patched, plain ones - serve many greenlets, and the I/O
    thread is a real OS thread."""
    if target == "purezmq" and mode in ("thread=False", "select=False"):
        # As pyzmq's: a blocking socket blocks the hub; purezmq's yield only when gevent
        # patched both the locks they wait on and the select.poll they read in.
        pytest.skip("plain sockets are cooperative only under a full patch")
    (tmp_path / "zmq_green_target.py").write_text(f"from {target} import *\n"
                                                  f"from {target} import Context, Poller\n")
    script = tmp_path / "patched.py"
    script.write_text(textwrap.dedent(_PATCHED))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run([sys.executable, str(script), mode], capture_output=True,
                          text=True, timeout=90, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["finished"] and result["clients"] and result["pubsub"], result
    assert result["timeout"] == "Again"
    assert result["ticks"] > 0  # the ticker greenlet ran: nobody blocked the hub for good
    assert result["threading_patched"] == (mode != "thread=False")
    # Each context's I/O loop runs on an OS thread of its own, never as a greenlet.
    assert result["io_os_threads"] == (2 if mode == "import-first" else 1), result


def test_zmq_green_through_the_switch():
    """With the switch on, ``import zmq.green as zmq`` is purezmq.green, in full."""
    code = textwrap.dedent("""
        import purezmq, purezmq.green
        import zmq.green as zmq
        import zmq.green.eventloop.zmqstream as zs
        from zmq.green import Context, Poller, device
        assert zmq is purezmq.green and Context is purezmq.green.Context
        assert Poller is purezmq.green.Poller and device is purezmq.green.device
        import zmq.green.poll as gpoll
        assert gpoll is zmq.poll and gpoll.__name__ == "purezmq.green.poll"
        assert zs.ZMQStream.__module__ == "purezmq.green.eventloop.zmqstream"
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.PAIR)
        assert type(s) is purezmq.green.Socket
        s.close()
        ctx.term()
        print("ok")
    """)
    env = dict(os.environ, PUREZMQ_AS_ZMQ="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_greenlets_sharing_a_socket(ctx):
    """A recv in one greenlet and a send in another wait on one socket at once (as
    pyzmq's green sockets allow); two receivers on one socket each get a message."""
    dealer = ctx.socket(gzmq.DEALER)
    dealer.sndhwm = 1

    def receive():
        return dealer.recv()

    def send():
        dealer.send(b"request")  # no peer yet: it waits
        return "sent"

    recv_g, send_g = gevent.spawn(receive), gevent.spawn(send)
    gevent.sleep(0.05)
    assert not recv_g.ready() and not send_g.ready()
    router = ctx.socket(gzmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    with gevent.Timeout(10):
        ident, body = router.recv_multipart()
        assert body == b"request" and send_g.get() == "sent"
        router.send_multipart([ident, b"reply"])
        assert recv_g.get() == b"reply"

    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://green-shared")
    push = ctx.socket(gzmq.PUSH)
    push.connect("inproc://green-shared")
    receivers = [gevent.spawn(pull.recv) for _ in range(3)]
    gevent.sleep(0.05)
    for i in range(3):
        push.send(b"%d" % i)
    gevent.joinall(receivers, timeout=10, raise_error=True)
    assert sorted(g.value for g in receivers) == [b"0", b"1", b"2"]


PLAIN_LIBS = [pytest.param(purezmq, id="purezmq")]
if pyzmq_green is not None:
    import zmq as _pyzmq

    PLAIN_LIBS.append(pytest.param(_pyzmq, id="pyzmq"))


@pytest.mark.parametrize("lib", PLAIN_LIBS)
def test_fd_and_events_in_gevents_hub(lib):
    """The do-it-yourself way pyzmq's green module works: wait for the FD in the hub, then
    read EVENTS (which resets the FD's edge) until it shows POLLIN."""
    from gevent.socket import wait_read

    ctx = lib.Context()
    try:
        a = ctx.socket(lib.PULL)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        b = ctx.socket(lib.PUSH)
        b.connect(f"tcp://127.0.0.1:{port}")
        gevent.spawn_later(0.05, b.send, b"edge")
        ticker = Ticker()
        fd = a.getsockopt(lib.FD)
        with gevent.Timeout(10):
            while not a.getsockopt(lib.EVENTS) & lib.POLLIN:
                wait_read(fd)
        assert a.recv(lib.NOBLOCK) == b"edge"
        assert ticker.stop() > 3
        a.close(0)
        b.close(0)
    finally:
        ctx.term()


@pytest.mark.filterwarnings("ignore:zmq.eventloop.ioloop is deprecated:DeprecationWarning")
def test_green_zmqstream(ctx):
    """zmq.green.eventloop.zmqstream over a green socket, on a tornado loop."""
    pytest.importorskip("tornado")
    import asyncio

    from purezmq.green.eventloop.zmqstream import ZMQStream

    a = ctx.socket(gzmq.PAIR)
    port = a.bind_to_random_port("tcp://127.0.0.1")
    b = ctx.socket(gzmq.PAIR)
    b.connect(f"tcp://127.0.0.1:{port}")
    got = []

    async def main():
        done = asyncio.get_running_loop().create_future()
        stream = ZMQStream(a)  # the loop: IOLoop.instance(), the running one

        def on_recv(msg):
            got.append(msg)
            if len(got) == 3:
                done.set_result(None)

        stream.on_recv(on_recv)
        for i in range(3):
            b.send(b"m%d" % i)
        await asyncio.wait_for(done, 10)
        stream.close()

    asyncio.run(main())
    assert got == [[b"m0"], [b"m1"], [b"m2"]]
    b.close(0)


def test_without_gevent_the_import_names_the_extra():
    code = ("import sys; sys.modules['gevent'] = None\n"
            "try:\n    import purezmq.green\nexcept ImportError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert "pip install 'purezmq[green]'" in proc.stdout, proc.stdout + proc.stderr
