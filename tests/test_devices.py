"""Proxies and devices: real traffic through each device, steering, background devices, CLI.

The device runs here (purezmq); its peers run in separate processes, half of them pyzmq
(libzmq) and half purezmq, on both sides of the device.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import purezmq as zmq
import purezmq.devices as devices
from purezmq.devices.proxy import monitored_queue
from purezmq.utils.monitor import recv_monitor_message

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
HOST = "tcp://127.0.0.1"

try:
    import zmq as pyzmq  # the reference implementation, for peers and comparisons
except ImportError:  # pragma: no cover
    pyzmq = None

needs_pyzmq = pytest.mark.skipif(pyzmq is None, reason="pyzmq is not installed")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


# -- running a proxy in a thread --------------------------------------------------------------


class ProxyThread:
    """Run ``fn(*sockets)`` in a thread that owns (and finally closes) the sockets."""

    def __init__(self, fn, *socks) -> None:
        self.fn = fn
        self.socks = socks
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self.fn(*self.socks)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            for s in self.socks:
                if hasattr(s, "close") and not s.closed:
                    s.close(linger=0)

    def join(self, timeout: float = 10) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the proxy did not stop"


def wait_handshakes(mon, n: int, timeout: float = 15) -> None:
    """Wait until ``n`` connections completed their handshake on a monitored socket."""
    deadline = time.monotonic() + timeout
    done = 0
    while done < n:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and mon.poll(int(remaining * 1000)), f"{done}/{n} handshakes"
        if recv_monitor_message(mon)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            done += 1


# -- peers in other processes -------------------------------------------------------------------

PEER = textwrap.dedent(
    r"""
    import importlib, json, sys, time
    lib, role, *args = sys.argv[1:]
    zmq = importlib.import_module(lib)
    ctx = zmq.Context()

    def out(obj):
        print(json.dumps(obj), flush=True)

    if role == "req":                      # N requests, each answered by some worker
        ep, n, tag = args[0], int(args[1]), args[2]
        s = ctx.socket(zmq.REQ)
        s.rcvtimeo = 20000
        s.connect(ep)
        workers = {}
        for i in range(n):
            body = f"{tag}-{i}".encode()
            s.send(body)
            request, worker = s.recv().split(b"|")
            assert request == body, (request, body)
            workers[worker.decode()] = workers.get(worker.decode(), 0) + 1
        out({"workers": workers})
    elif role == "rep":                    # a worker: answers until killed
        ep, tag = args
        s = ctx.socket(zmq.REP)
        s.connect(ep)
        while True:
            s.send(s.recv() + b"|" + tag.encode())
    elif role == "pub":                    # publishes topics A, B, C until killed
        ep, tag = args
        s = ctx.socket(zmq.PUB)
        s.connect(ep)
        n = 0
        while True:
            for topic in (b"A", b"B", b"C"):
                s.send_multipart([topic, f"{tag}-{n}".encode()])
            n += 1
            time.sleep(0.005)
    elif role == "sub":                    # receives until it heard every publisher
        ep, topic, want = args[0], args[1].encode(), set(args[2].split(","))
        s = ctx.socket(zmq.SUB)
        s.rcvtimeo = 20000
        s.connect(ep)
        s.subscribe(topic)
        topics, tags = set(), {}
        while set(tags) != want or min(tags.values()) < 20:
            t, body = s.recv_multipart()
            topics.add(t.decode())
            tag = body.decode().split("-")[0]
            tags[tag] = tags.get(tag, 0) + 1
        out({"topics": sorted(topics), "tags": tags})
    elif role == "vent":                   # pushes N tasks, waits until they are sent
        ep, n, tag = args[0], int(args[1]), args[2]
        s = ctx.socket(zmq.PUSH)
        s.connect(ep)
        for i in range(n):
            s.send(f"{tag}-{i}".encode())
        s.close(linger=20000)
        ctx.term()  # waits until the queued tasks are delivered
        out({"sent": n})
    elif role == "worker":                 # pulls tasks, reports each to the sink
        ep, sink, tag = args
        s = ctx.socket(zmq.PULL)
        s.connect(ep)
        r = ctx.socket(zmq.PUSH)
        r.connect(sink)
        while True:
            r.send_multipart([s.recv(), tag.encode()])
    """
)

LIBS = ["zmq", "purezmq"]  # pyzmq (libzmq) and purezmq


class Peers:
    """Peer processes; killed at exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, lib: str, role: str, *args) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", PEER, lib, role, *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def result(proc: subprocess.Popen, timeout: float = 30) -> dict:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"peer failed ({proc.returncode}): {err}"
        return json.loads(out.strip().splitlines()[-1])

    def __enter__(self) -> Peers:
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def _endpoint(sock) -> str:
    return sock.last_endpoint.decode()


@needs_pyzmq
def test_queue_req_clients_to_rep_workers(ctx):
    """REQ clients -> QUEUE (ROUTER/DEALER) -> REP workers, each side pyzmq and purezmq."""
    frontend = ctx.socket(zmq.ROUTER)
    frontend.bind(f"{HOST}:*")
    backend = ctx.socket(zmq.DEALER)
    backend.bind(f"{HOST}:*")
    mon = backend.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    fe, be = _endpoint(frontend), _endpoint(backend)
    with Peers() as peers:
        for lib in LIBS:
            peers.start(lib, "rep", be, f"worker_{lib}")
        wait_handshakes(mon, 2)  # both workers attached, so the load is shared
        proxy = ProxyThread(zmq.device, zmq.QUEUE, frontend, backend)
        clients = [peers.start(lib, "req", fe, 40, f"client_{lib}") for lib in LIBS]
        results = [peers.result(c) for c in clients]
    for r in results:
        assert sum(r["workers"].values()) == 40
    served: dict[str, int] = {}
    for r in results:
        for w, n in r["workers"].items():
            served[w] = served.get(w, 0) + n
    assert set(served) == {"worker_zmq", "worker_purezmq"}
    mon.close()
    ctx.term()
    proxy.join()
    assert isinstance(proxy.error, zmq.ContextTerminated)
    assert proxy.error.errno == zmq.ETERM


@needs_pyzmq
def test_forwarder_pub_to_sub_with_topic_filtering(ctx):
    """PUB -> FORWARDER (XSUB/XPUB) -> SUB; subscriptions travel upstream to the publishers."""
    frontend = ctx.socket(zmq.XSUB)
    frontend.bind(f"{HOST}:*")
    backend = ctx.socket(zmq.XPUB)
    backend.bind(f"{HOST}:*")
    capture = ctx.socket(zmq.PUSH)  # sees every message crossing the proxy, both ways
    capture.bind("inproc://forwarder-capture")
    seen = ctx.socket(zmq.PULL)
    seen.connect("inproc://forwarder-capture")
    fe, be = _endpoint(frontend), _endpoint(backend)
    proxy = ProxyThread(zmq.proxy, frontend, backend, capture)
    with Peers() as peers:
        for lib in LIBS:
            peers.start(lib, "pub", fe, f"pub{lib}")
        subs = {
            ("zmq", "A"): peers.start("zmq", "sub", be, "A", "pubzmq,pubpurezmq"),
            ("purezmq", "B"): peers.start("purezmq", "sub", be, "B", "pubzmq,pubpurezmq"),
        }
        results = {key: peers.result(p) for key, p in subs.items()}
    assert results[("zmq", "A")]["topics"] == ["A"]
    assert results[("purezmq", "B")]["topics"] == ["B"]
    # The publishers filtered: topic C, which nobody wanted, never crossed the proxy; the
    # subscriptions did, upstream (XPUB -> XSUB).
    crossed = []
    while seen.poll(0):
        crossed.append(seen.recv_multipart())
    data_topics = {m[0] for m in crossed if len(m) == 2}
    subscriptions = {m[0] for m in crossed if len(m) == 1}
    assert data_topics <= {b"A", b"B"} and data_topics
    assert {b"\x01A", b"\x01B"} <= subscriptions
    seen.close()
    ctx.term()
    proxy.join()
    assert isinstance(proxy.error, zmq.ContextTerminated)


@needs_pyzmq
def test_streamer_ventilator_to_workers(ctx):
    """Ventilators -> STREAMER (PULL/PUSH) -> workers -> a sink, each side both libraries."""
    frontend = ctx.socket(zmq.PULL)
    frontend.bind(f"{HOST}:*")
    backend = ctx.socket(zmq.PUSH)
    backend.bind(f"{HOST}:*")
    mon = backend.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    sink = ctx.socket(zmq.PULL)
    sink.bind(f"{HOST}:*")
    sink.rcvtimeo = 20000
    fe, be, sink_ep = _endpoint(frontend), _endpoint(backend), _endpoint(sink)
    with Peers() as peers:
        for lib in LIBS:
            peers.start(lib, "worker", be, sink_ep, f"worker_{lib}")
        wait_handshakes(mon, 2)
        proxy = ProxyThread(zmq.device, zmq.STREAMER, frontend, backend)
        vents = [peers.start(lib, "vent", fe, 100, f"vent_{lib}") for lib in LIBS]
        tasks: set[bytes] = set()
        by_worker: dict[bytes, int] = {}
        while len(tasks) < 200:
            task, worker = sink.recv_multipart()
            tasks.add(task)
            by_worker[worker] = by_worker.get(worker, 0) + 1
        for v in vents:
            assert peers.result(v) == {"sent": 100}
    assert tasks == {f"vent_{lib}-{i}".encode() for lib in LIBS for i in range(100)}
    assert set(by_worker) == {b"worker_zmq", b"worker_purezmq"}
    mon.close()
    sink.close()
    ctx.term()
    proxy.join()


# -- the proxy itself -----------------------------------------------------------------------------


def _pipeline(ctx, name: str, hwm: int | None = None):
    """producer PUSH -> [frontend PULL | proxy | backend PUSH] -> consumer PULL, inproc."""
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    producer = ctx.socket(zmq.PUSH)
    consumer = ctx.socket(zmq.PULL)
    if hwm is not None:
        for s in (frontend, backend, producer, consumer):
            s.sndhwm = hwm
            s.rcvhwm = hwm
    frontend.bind(f"inproc://{name}-fe")
    backend.bind(f"inproc://{name}-be")
    producer.connect(f"inproc://{name}-fe")
    consumer.connect(f"inproc://{name}-be")
    return frontend, backend, producer, consumer


def test_proxy_moves_multipart_messages_in_order(ctx):
    frontend, backend, producer, consumer = _pipeline(ctx, "order")
    proxy = ProxyThread(zmq.proxy, frontend, backend)
    n = 20000

    def produce() -> None:
        for i in range(n):
            producer.send_multipart([b"%d" % i, b"x" * (i % 50)])

    t = threading.Thread(target=produce)
    t0 = time.monotonic()
    t.start()
    for i in range(n):
        assert consumer.recv_multipart() == [b"%d" % i, b"x" * (i % 50)]
    t.join()
    assert time.monotonic() - t0 < 20
    producer.close()
    consumer.close()
    ctx.term()
    proxy.join()
    assert isinstance(proxy.error, zmq.ContextTerminated)


def test_proxy_honours_the_high_water_mark(ctx):
    frontend, backend, producer, consumer = _pipeline(ctx, "hwm", hwm=10)
    proxy = ProxyThread(zmq.proxy, frontend, backend)
    sent = 0
    deadline = time.monotonic() + 1.0
    # the consumer does not read: the proxy must stop reading, and the producer block
    while time.monotonic() < deadline:
        try:
            producer.send(b"%d" % sent, zmq.DONTWAIT)
            sent += 1
        except zmq.Again:
            time.sleep(0.01)
        assert sent < 1000, "the proxy buffers without bound"
    # 2 inproc links of (10 + 10) plus the one message the proxy holds
    assert 20 <= sent <= 41 + 5
    got = [consumer.recv() for _ in range(sent)]
    assert got == [b"%d" % i for i in range(sent)]
    producer.send(b"more")  # and it flows again
    assert consumer.recv() == b"more"
    producer.close()
    consumer.close()
    ctx.term()
    proxy.join()


def test_proxy_idle_costs_no_cpu(ctx):
    frontend, backend, producer, consumer = _pipeline(ctx, "idle")
    proxy = ProxyThread(zmq.proxy, frontend, backend)
    producer.send(b"warm")
    assert consumer.recv() == b"warm"
    cpu0 = time.process_time()
    time.sleep(0.5)
    cpu = time.process_time() - cpu0
    assert cpu < 0.05, f"an idle proxy used {cpu:.3f} s of CPU in 0.5 s"
    t0 = time.monotonic()
    producer.send(b"wake")
    assert consumer.recv() == b"wake"
    assert time.monotonic() - t0 < 0.05
    producer.close()
    consumer.close()
    ctx.term()
    proxy.join()


def test_proxy_capture_sees_both_directions(ctx):
    frontend = ctx.socket(zmq.ROUTER)
    frontend.bind("inproc://cap-fe")
    backend = ctx.socket(zmq.DEALER)
    backend.bind("inproc://cap-be")
    capture = ctx.socket(zmq.PUB)
    capture.bind("inproc://cap-cap")
    listener = ctx.socket(zmq.SUB)
    listener.subscribe(b"")
    listener.connect("inproc://cap-cap")
    proxy = ProxyThread(zmq.proxy, frontend, backend, capture)
    client = ctx.socket(zmq.REQ)
    client.connect("inproc://cap-fe")
    worker = ctx.socket(zmq.REP)
    worker.connect("inproc://cap-be")
    client.send(b"question")
    assert worker.recv() == b"question"
    worker.send(b"answer")
    assert client.recv() == b"answer"
    request = listener.recv_multipart()
    reply = listener.recv_multipart()
    assert request[1:] == [b"", b"question"] and len(request[0]) > 0  # with the envelope
    assert reply == [request[0], b"", b"answer"]
    for s in (client, worker, listener):
        s.close()
    ctx.term()
    proxy.join()


def test_proxy_with_frontend_equal_backend(ctx):
    """One socket on both sides (libzmq allows it): messages go back out of it."""
    sock = ctx.socket(zmq.DEALER)
    sock.bind("inproc://same")
    proxy = ProxyThread(lambda s: zmq.proxy(s, s), sock)
    peer = ctx.socket(zmq.DEALER)
    peer.connect("inproc://same")
    peer.send_multipart([b"echo", b"me"])
    peer.rcvtimeo = 5000
    assert peer.recv_multipart() == [b"echo", b"me"]
    peer.close()
    ctx.term()
    proxy.join()


def test_proxy_on_a_closed_socket_raises(ctx):
    a = ctx.socket(zmq.PULL)
    b = ctx.socket(zmq.PUSH)
    a.close()
    with pytest.raises(zmq.ZMQError) as info:
        zmq.proxy(a, b)
    assert info.value.errno == zmq.ENOTSOCK


@needs_pyzmq
def test_proxy_terminated_context_like_pyzmq():
    for lib in (pyzmq, zmq):
        c = lib.Context()
        a = c.socket(lib.PULL)
        a.bind("inproc://term-a")
        b = c.socket(lib.PUSH)
        b.bind("inproc://term-b")
        proxy = ProxyThread(lib.proxy, a, b)
        time.sleep(0.1)
        c.term()
        proxy.join()
        assert isinstance(proxy.error, lib.ContextTerminated), (lib, proxy.error)
        assert proxy.error.errno == lib.ETERM


# -- steering -------------------------------------------------------------------------------------


def _steerable(ctx, lib, name: str, control_type):
    frontend = ctx.socket(lib.PULL)
    frontend.bind(f"inproc://{name}-fe")
    backend = ctx.socket(lib.PUSH)
    backend.bind(f"inproc://{name}-be")
    control = ctx.socket(control_type)
    control.bind(f"inproc://{name}-ctl")
    producer = ctx.socket(lib.PUSH)
    producer.connect(f"inproc://{name}-fe")
    consumer = ctx.socket(lib.PULL)
    consumer.connect(f"inproc://{name}-be")
    steer = ctx.socket(lib.REQ if control_type == lib.REP else lib.PAIR)
    steer.connect(f"inproc://{name}-ctl")
    proxy = ProxyThread(lib.proxy_steerable, frontend, backend, None, control)
    return proxy, producer, consumer, steer


def _stats(frames: list) -> list[int]:
    assert len(frames) == 8
    return [struct.unpack("=Q", f)[0] for f in frames]


def _steering_scenario(lib, control_type_name: str, pause: bool = True) -> dict:
    """The same steering session, run with ``lib`` (purezmq or pyzmq)."""
    c = lib.Context()
    control_type = getattr(lib, control_type_name)
    proxy, producer, consumer, steer = _steerable(c, lib, f"steer-{control_type_name}",
                                                  control_type)
    rep = control_type == lib.REP
    replies: list = []

    def command(cmd: bytes) -> list | None:
        steer.send(cmd)
        if rep or cmd == b"STATISTICS":
            reply = steer.recv_multipart()
            replies.append(reply)
            return reply
        return None

    consumer.rcvtimeo = 5000
    producer.send_multipart([b"abc", b"defgh"])
    producer.send(b"x")
    got = [consumer.recv_multipart(), consumer.recv_multipart()]
    stats1 = _stats(command(b"STATISTICS"))
    held = released = None
    if pause:
        command(b"PAUSE")
        time.sleep(0.05)  # let the proxy take the command before the next message
        producer.send(b"held")
        consumer.rcvtimeo = 300
        try:
            held = consumer.recv()
        except lib.Again:
            held = None
        command(b"RESUME")
        consumer.rcvtimeo = 5000
        released = consumer.recv()
    else:
        producer.send(b"more")
        released = consumer.recv()
    stats2 = _stats(command(b"STATISTICS"))
    command(b"TERMINATE")
    proxy.join()
    for s in (producer, consumer, steer):
        s.close(linger=0)
    c.term()
    return {
        "got": got, "stats1": stats1, "held": held, "released": released, "stats2": stats2,
        "replies": replies, "result": proxy.result, "error": proxy.error,
    }


@pytest.mark.parametrize("control_type", ["PAIR", "REP"])
def test_proxy_steerable_commands(control_type):
    r = _steering_scenario(zmq, control_type)
    assert r["error"] is None and r["result"] == 0  # TERMINATE: returns 0
    assert r["got"] == [[b"abc", b"defgh"], [b"x"]]
    # libzmq (4.3.5 on) counts frames: frontend in, bytes in, out, bytes out; then backend
    assert r["stats1"] == [3, 9, 0, 0, 0, 0, 3, 9]
    assert r["held"] is None  # PAUSE: nothing forwarded
    assert r["released"] == b"held"  # RESUME: forwarded again
    assert r["stats2"] == [4, 13, 0, 0, 0, 0, 4, 13]
    if control_type == "REP":  # a REP control socket gets an empty reply to each command
        assert [len(x) for x in r["replies"]] == [8, 1, 1, 8, 1]
        assert r["replies"][1] == [b""]


@needs_pyzmq
@pytest.mark.parametrize("control_type", ["PAIR", "REP"])
def test_proxy_steerable_matches_libzmq(control_type):
    """Same statistics and replies as the libzmq under pyzmq.

    PAUSE/RESUME are left out: libzmq 4.3.5 (bundled with pyzmq 27) has them swapped and
    answers a PAIR control socket too (fixed upstream in libzmq PR #4600, after 4.3.5);
    purezmq follows the documented, fixed behaviour checked in the test above.
    """
    ours = _steering_scenario(zmq, control_type, pause=False)
    theirs = _steering_scenario(pyzmq, control_type, pause=False)
    for key in ("got", "stats1", "released", "stats2", "replies", "result"):
        assert ours[key] == theirs[key], key
    assert ours["stats2"] == [4, 13, 0, 0, 0, 0, 4, 13]


def test_proxy_steerable_statistics_count_both_directions(ctx):
    frontend = ctx.socket(zmq.ROUTER)
    frontend.bind("inproc://st2-fe")
    backend = ctx.socket(zmq.DEALER)
    backend.bind("inproc://st2-be")
    control = ctx.socket(zmq.PAIR)
    control.bind("inproc://st2-ctl")
    proxy = ProxyThread(zmq.proxy_steerable, frontend, backend, None, control)
    client = ctx.socket(zmq.DEALER)
    client.routing_id = b"C"
    client.connect("inproc://st2-fe")
    worker = ctx.socket(zmq.DEALER)
    worker.connect("inproc://st2-be")
    steer = ctx.socket(zmq.PAIR)
    steer.connect("inproc://st2-ctl")
    client.send(b"1234")
    assert worker.recv_multipart() == [b"C", b"1234"]
    worker.send_multipart([b"C", b"123456"])
    assert client.recv() == b"123456"
    steer.send(b"STATISTICS")
    # frames and bytes as the sockets see them: the ROUTER sends [C, 123456] (2 frames, 7 B)
    assert _stats(steer.recv_multipart()) == [2, 5, 2, 7, 2, 7, 2, 5]
    steer.send(b"TERMINATE")
    proxy.join()
    assert proxy.result == 0


def test_proxy_steerable_terminate_while_paused(ctx):
    proxy, producer, consumer, steer = _steerable(ctx, zmq, "tp", zmq.PAIR)
    steer.send(b"PAUSE")
    steer.send(b"TERMINATE")
    proxy.join()
    assert proxy.result == 0 and proxy.error is None


def test_proxy_steerable_without_control_is_proxy(ctx):
    frontend, backend, producer, consumer = _pipeline(ctx, "noctl")
    proxy = ProxyThread(zmq.proxy_steerable, frontend, backend, None, None)
    producer.send(b"x")
    assert consumer.recv() == b"x"
    producer.close()
    consumer.close()
    ctx.term()
    proxy.join()
    assert isinstance(proxy.error, zmq.ContextTerminated)


# -- monitored_queue ---------------------------------------------------------------------------


def test_monitored_queue_router_router_swaps_ids(ctx):
    ins = ctx.socket(zmq.ROUTER)
    ins.bind("inproc://mq-in")
    outs = ctx.socket(zmq.ROUTER)
    outs.bind("inproc://mq-out")
    mons = ctx.socket(zmq.PUB)
    mons.bind("inproc://mq-mon")
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect("inproc://mq-mon")
    client = ctx.socket(zmq.DEALER)
    client.routing_id = b"client"
    client.connect("inproc://mq-in")
    worker = ctx.socket(zmq.DEALER)
    worker.routing_id = b"worker"
    worker.connect("inproc://mq-out")
    time.sleep(0.05)
    proxy = ProxyThread(monitored_queue, ins, outs, mons, b"in", b"out")
    client.send_multipart([b"worker", b"hello"])
    assert worker.recv_multipart() == [b"client", b"hello"]
    worker.send_multipart([b"client", b"reply"])
    assert client.recv_multipart() == [b"worker", b"reply"]
    assert sub.recv_multipart() == [b"in", b"worker", b"client", b"hello"]
    assert sub.recv_multipart() == [b"out", b"client", b"worker", b"reply"]
    for s in (sub, client, worker):
        s.close()
    ctx.term()
    proxy.join()
    assert isinstance(proxy.error, zmq.ContextTerminated)


def test_monitored_queue_prefixes(ctx):
    ins = ctx.socket(zmq.ROUTER)
    ins.bind("inproc://mq2-in")
    outs = ctx.socket(zmq.DEALER)
    outs.bind("inproc://mq2-out")
    mons = ctx.socket(zmq.PUSH)
    mons.bind("inproc://mq2-mon")
    tap = ctx.socket(zmq.PULL)
    tap.connect("inproc://mq2-mon")
    proxy = ProxyThread(monitored_queue, ins, outs, mons, "IN", "OUT")
    client = ctx.socket(zmq.REQ)
    client.connect("inproc://mq2-in")
    worker = ctx.socket(zmq.REP)
    worker.connect("inproc://mq2-out")
    client.send(b"q")
    assert worker.recv() == b"q"
    worker.send(b"a")
    assert client.recv() == b"a"
    first, second = tap.recv_multipart(), tap.recv_multipart()
    assert first[0] == b"IN" and first[-2:] == [b"", b"q"]
    assert second[0] == b"OUT" and second[-2:] == [b"", b"a"]
    for s in (tap, client, worker):
        s.close()
    ctx.term()
    proxy.join()


# -- background devices --------------------------------------------------------------------------


def test_devices_api_matches_pyzmq():
    pyzmq_devices = pytest.importorskip("zmq.devices")
    assert set(pyzmq_devices.__all__) <= set(devices.__all__)
    for name in pyzmq_devices.__all__:
        assert hasattr(devices, name)
    for meth in ("bind_in", "bind_out", "connect_in", "connect_out", "setsockopt_in",
                 "setsockopt_out", "bind_in_to_random_port", "bind_out_to_random_port",
                 "start", "join", "run", "run_device"):
        assert callable(getattr(devices.Device, meth))
    for meth in ("bind_mon", "connect_mon", "setsockopt_mon", "bind_mon_to_random_port"):
        assert callable(getattr(devices.Proxy, meth))
    for meth in ("bind_ctrl", "connect_ctrl", "setsockopt_ctrl", "bind_ctrl_to_random_port"):
        assert callable(getattr(devices.ProxySteerable, meth))
    with pytest.raises(TypeError):
        devices.Device(zmq.QUEUE, zmq.ROUTER)


def _req_rep_roundtrip(ctx, fe: str, be: str, n: int = 5) -> None:
    client = ctx.socket(zmq.REQ)
    client.rcvtimeo = 10000
    client.connect(fe)
    worker = ctx.socket(zmq.REP)
    worker.rcvtimeo = 10000
    worker.connect(be)
    for i in range(n):
        client.send(b"req %d" % i)
        assert worker.recv() == b"req %d" % i
        worker.send(b"rep %d" % i)
        assert client.recv() == b"rep %d" % i
    client.close(0)
    worker.close(0)


def test_thread_device(ctx):
    dev = devices.ThreadDevice(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
    dev.context_factory = lambda: ctx
    fe_port = dev.bind_in_to_random_port("tcp://127.0.0.1")
    be_port = dev.bind_out_to_random_port("tcp://127.0.0.1")
    dev.setsockopt_in(zmq.LINGER, 0)
    dev.setsockopt_out(zmq.LINGER, 0)
    assert dev.daemon is True
    dev.start()
    _req_rep_roundtrip(ctx, f"{HOST}:{fe_port}", f"{HOST}:{be_port}")
    assert not dev.done
    ctx.term()
    dev.join(10)
    assert dev.done and not dev.launcher.is_alive()


def test_thread_device_connecting_sides(ctx):
    """connect_in / connect_out: the device dials out to bound peers."""
    pushes = ctx.socket(zmq.PUSH)
    in_port = pushes.bind_to_random_port("tcp://127.0.0.1")
    pulls = ctx.socket(zmq.PULL)
    pulls.rcvtimeo = 10000
    out_port = pulls.bind_to_random_port("tcp://127.0.0.1")
    dev = devices.ThreadDevice(zmq.STREAMER, zmq.PULL, zmq.PUSH)
    dev.context_factory = lambda: ctx
    dev.connect_in(f"{HOST}:{in_port}")
    dev.connect_out(f"{HOST}:{out_port}")
    dev.start()
    for i in range(10):
        pushes.send(b"%d" % i)
    assert [pulls.recv() for _ in range(10)] == [b"%d" % i for i in range(10)]
    pushes.close(0)
    pulls.close(0)
    ctx.term()
    dev.join(10)
    assert dev.done


def test_thread_proxy_with_monitor(ctx):
    dev = devices.ThreadProxy(zmq.PULL, zmq.PUSH, zmq.PUSH)
    dev.context_factory = lambda: ctx
    dev.bind_in("inproc://tp-in")
    dev.bind_out("inproc://tp-out")
    dev.bind_mon("inproc://tp-mon")
    dev.start()
    time.sleep(0.1)  # the device binds in its own thread
    producer = ctx.socket(zmq.PUSH)
    producer.connect("inproc://tp-in")
    consumer = ctx.socket(zmq.PULL)
    consumer.connect("inproc://tp-out")
    tap = ctx.socket(zmq.PULL)
    tap.connect("inproc://tp-mon")
    producer.send_multipart([b"a", b"b"])
    assert consumer.recv_multipart() == [b"a", b"b"]
    assert tap.recv_multipart() == [b"a", b"b"]
    for s in (producer, consumer, tap):
        s.close()
    ctx.term()
    dev.join(10)
    assert dev.done


def test_thread_proxy_steerable_terminate(ctx):
    dev = devices.ThreadProxySteerable(zmq.PULL, zmq.PUSH, zmq.PUB, zmq.PAIR)
    dev.context_factory = lambda: ctx
    dev.bind_in("inproc://tps-in")
    dev.bind_out("inproc://tps-out")
    dev.bind_mon("inproc://tps-mon")
    dev.bind_ctrl("inproc://tps-ctl")
    dev.start()
    time.sleep(0.1)
    producer = ctx.socket(zmq.PUSH)
    producer.connect("inproc://tps-in")
    consumer = ctx.socket(zmq.PULL)
    consumer.connect("inproc://tps-out")
    ctl = ctx.socket(zmq.PAIR)
    ctl.connect("inproc://tps-ctl")
    producer.send(b"x")
    assert consumer.recv() == b"x"
    ctl.send(b"STATISTICS")
    assert _stats(ctl.recv_multipart())[0] == 1
    ctl.send(b"TERMINATE")
    dev.join(10)  # TERMINATE ends the device without terminating the context
    assert dev.done and not dev.launcher.is_alive()


def test_thread_monitored_queue(ctx):
    dev = devices.ThreadMonitoredQueue(zmq.ROUTER, zmq.DEALER, zmq.PUB, b"IN", b"OUT")
    dev.context_factory = lambda: ctx
    fe_port = dev.bind_in_to_random_port("tcp://127.0.0.1")
    be_port = dev.bind_out_to_random_port("tcp://127.0.0.1")
    mon_port = dev.bind_mon_to_random_port("tcp://127.0.0.1")
    dev.start()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.rcvtimeo = 10000
    sub.connect(f"{HOST}:{mon_port}")
    time.sleep(0.2)  # the subscription reaches the device's PUB
    _req_rep_roundtrip(ctx, f"{HOST}:{fe_port}", f"{HOST}:{be_port}", n=1)
    assert sub.recv_multipart()[0] == b"IN"
    assert sub.recv_multipart()[0] == b"OUT"
    sub.close(0)
    ctx.term()
    dev.join(10)
    assert dev.done


def test_process_device(ctx):
    dev = devices.ProcessDevice(zmq.STREAMER, zmq.PULL, zmq.PUSH)
    fe_port = dev.bind_in_to_random_port("tcp://127.0.0.1")
    be_port = dev.bind_out_to_random_port("tcp://127.0.0.1")
    dev.start()
    try:
        assert dev.launcher.pid != os.getpid()
        producer = ctx.socket(zmq.PUSH)
        producer.connect(f"{HOST}:{fe_port}")
        consumer = ctx.socket(zmq.PULL)
        consumer.rcvtimeo = 20000
        consumer.connect(f"{HOST}:{be_port}")
        for i in range(20):
            producer.send(b"%d" % i)
        assert [consumer.recv() for _ in range(20)] == [b"%d" % i for i in range(20)]
    finally:
        dev.launcher.terminate()
        dev.join(10)
    assert not dev.launcher.is_alive()


def test_process_proxy_steerable_terminate(ctx):
    dev = devices.ProcessProxySteerable(zmq.PULL, zmq.PUSH, zmq.PUB, zmq.REP)
    fe_port = dev.bind_in_to_random_port("tcp://127.0.0.1")
    be_port = dev.bind_out_to_random_port("tcp://127.0.0.1")
    dev.bind_mon_to_random_port("tcp://127.0.0.1")
    ctl_port = dev.bind_ctrl_to_random_port("tcp://127.0.0.1")
    dev.start()
    try:
        producer = ctx.socket(zmq.PUSH)
        producer.connect(f"{HOST}:{fe_port}")
        consumer = ctx.socket(zmq.PULL)
        consumer.rcvtimeo = 20000
        consumer.connect(f"{HOST}:{be_port}")
        producer.send(b"through")
        assert consumer.recv() == b"through"
        ctl = ctx.socket(zmq.REQ)
        ctl.rcvtimeo = 20000
        ctl.connect(f"{HOST}:{ctl_port}")
        ctl.send(b"TERMINATE")
        assert ctl.recv() == b""
        dev.join(20)
        assert not dev.launcher.is_alive()
        assert dev.launcher.exitcode == 0
    finally:
        if dev.launcher.is_alive():
            dev.launcher.terminate()
            dev.join(10)


# -- the command line ---------------------------------------------------------------------------


class ProxyCli:
    """``python -m purezmq proxy ...`` in the background; bound endpoints parsed from stderr."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "purezmq", "proxy", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT,
        )
        self.bound: dict[str, str] = {}
        self.stderr: list[str] = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                out, err = self.proc.communicate()
                raise AssertionError(f"proxy exited early: {''.join(self.stderr)}{err}")
            self.stderr.append(line)
            if " bound to " in line:
                role = line.split("purezmq proxy: ", 1)[1].split()[0]
                self.bound[role] = line.rsplit(" ", 1)[1].strip()
            if "running" in line:
                break

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, "".join(self.stderr) + err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_streamer_and_clean_shutdown(ctx, sig):
    cli = ProxyCli("--type", "streamer", "--frontend", f"{HOST}:*", "--backend", f"{HOST}:*")
    try:
        producer = ctx.socket(zmq.PUSH)
        producer.connect(cli.bound["frontend"])
        consumer = ctx.socket(zmq.PULL)
        consumer.rcvtimeo = 20000
        consumer.connect(cli.bound["backend"])
        for i in range(100):
            producer.send(b"%d" % i)
        assert [consumer.recv() for _ in range(100)] == [b"%d" % i for i in range(100)]
        code, err = cli.stop(sig)
        assert code == 0, err
        assert "stopped: frontend received 100 frames" in err
    finally:
        cli.kill()


def test_cli_queue_with_frontend_connect_and_capture(ctx):
    """--frontend-connect: the proxy dials out to a bound ROUTER-facing client side."""
    client = ctx.socket(zmq.DEALER)
    client.rcvtimeo = 20000
    client_port = client.bind_to_random_port("tcp://127.0.0.1")
    cli = ProxyCli("-t", "queue", "-f", f"{HOST}:{client_port}", "--frontend-connect",
                   "-b", f"{HOST}:*", "-c", f"{HOST}:*")
    try:
        assert set(cli.bound) == {"backend", "capture"}
        tap = ctx.socket(zmq.SUB)
        tap.subscribe(b"")
        tap.rcvtimeo = 20000
        tap.connect(cli.bound["capture"])
        worker = ctx.socket(zmq.REP)
        worker.rcvtimeo = 20000
        worker.connect(cli.bound["backend"])
        time.sleep(0.2)
        client.send_multipart([b"", b"hello"])
        assert worker.recv() == b"hello"
        worker.send(b"world")
        assert client.recv_multipart() == [b"", b"world"]
        assert tap.recv_multipart()[-1] == b"hello"
        code, err = cli.stop()
        assert code == 0, err
    finally:
        cli.kill()


def test_cli_forwarder(ctx):
    cli = ProxyCli("--type", "FORWARDER", "--frontend", f"{HOST}:*", "--backend", f"{HOST}:*")
    try:
        pub = ctx.socket(zmq.PUB)
        pub.connect(cli.bound["frontend"])
        sub = ctx.socket(zmq.SUB)
        sub.subscribe(b"news")
        sub.connect(cli.bound["backend"])
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, "nothing forwarded"
            pub.send_multipart([b"sport", b"ignored"])
            pub.send_multipart([b"news", b"hello"])
            if sub.poll(50):
                assert sub.recv_multipart() == [b"news", b"hello"]
                break
        code, err = cli.stop()
        assert code == 0, err
    finally:
        cli.kill()


def test_cli_usage_errors():
    from purezmq.__main__ import main

    assert main(["proxy", "--type", "nope", "--frontend", "tcp://127.0.0.1:*",
                 "--backend", "tcp://127.0.0.1:*"]) == 2
    assert main(["proxy", "--type", "queue", "--frontend", "bogus://x",
                 "--backend", "tcp://127.0.0.1:*"]) == 2


def test_add_proxy_subcommand():
    import argparse

    from purezmq.devices.cli import add_proxy_subcommand, run_proxy

    parser = argparse.ArgumentParser()
    add_proxy_subcommand(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["proxy", "-t", "streamer", "-f", "tcp://127.0.0.1:*",
                              "-b", "tcp://127.0.0.1:*", "--frontend-connect"])
    assert args.func is run_proxy
    assert args.type == "streamer" and args.frontend_connect and not args.backend_connect


# -- purezmq.utils.jsonapi (a small helper module, tested here) --------------------------------


def test_jsonapi_like_pyzmq():
    from purezmq.utils import jsonapi

    obj = {"a": [1, 2.5, None, True], "é": "ü"}
    data = jsonapi.dumps(obj)
    assert isinstance(data, bytes)
    assert jsonapi.loads(data) == obj
    assert jsonapi.loads(data.decode("utf8")) == obj
    assert jsonapi.dumps([1, 2], separators=(",", ":")) == b"[1,2]"
    assert jsonapi.loads(b"[1.5]", parse_float=str) == ["1.5"]
    if pyzmq is not None:
        from zmq.utils import jsonapi as pyzmq_jsonapi

        assert jsonapi.dumps(obj) == pyzmq_jsonapi.dumps(obj)
        assert pyzmq_jsonapi.loads(jsonapi.dumps(obj)) == obj


# -- the streamer's batch move (strategies.move_run) ---------------------------------------
def test_move_run_moves_a_batch_from_one_pipe_to_the_other():
    from collections import deque

    from purezmq.patterns.strategies import LoadBalancer, ReadyQueue, move_run
    from purezmq.plumbing.pipe import Peer, Pipe

    src = Peer(Pipe(), Pipe())
    dst = Peer(Pipe(), Pipe(hwm=50))
    woken = []
    dst.out.on_readable = woken.append
    lb = LoadBalancer()
    lb.attach(dst)
    ready: deque = ReadyQueue()
    ready.append(src)
    src.inp.armed = False
    src.inp.q.extend(b"m%d" % i for i in range(80))
    assert move_run(ready, lb, 1000) == (50, sum(len(b"m%d" % i) for i in range(50)))
    assert list(dst.out.q) == [b"m%d" % i for i in range(50)]  # up to the mark, in order
    assert woken == [dst.out] and ready.last is src and list(ready) == [src]
    dst.out.q.clear()
    assert move_run(ready, lb, 10)[0] == 10  # the limit
    src.inp.q.append([b"multi", b"part"])
    dst.out.q.clear()
    assert move_run(ready, lb, 1000) == (0, 0)  # a multipart message: one by one
    assert len(src.inp.q) == 21
    src.inp.q.clear()
    src.inp.q.extend([b"a", b"b"])
    assert move_run(ready, lb, 1000) == (2, 2)
    assert not ready and src.inp.armed  # emptied: out of the ready queue, armed again
    ready.append(src)
    other = Peer(Pipe(), Pipe())
    lb.attach(other)
    src.inp.q.extend([b"a", b"b"])
    assert move_run(ready, lb, 1000) == (0, 0)  # two destinations: load-balance one by one


def test_streamer_over_tcp_moves_batches_in_order_and_counts_them(ctx):
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    control = ctx.socket(zmq.PAIR)
    frontend.bind("tcp://127.0.0.1:*")
    backend.bind("tcp://127.0.0.1:*")
    control.bind("inproc://streamer-batch-ctl")
    proxy = ProxyThread(zmq.proxy_steerable, frontend, backend, None, control)
    producer = ctx.socket(zmq.PUSH)
    consumer = ctx.socket(zmq.PULL)
    producer.connect(frontend.last_endpoint.decode())
    consumer.connect(backend.last_endpoint.decode())
    consumer.rcvtimeo = 5000
    n = 20_000
    sent = [b"%d" % i for i in range(n)]
    sent[n // 2] = [b"a", b"multipart"]  # one goes the per-message way
    for m in sent:
        if m.__class__ is list:
            producer.send_multipart(m)
        else:
            producer.send(m)
    got = [consumer.recv_multipart() for _ in range(n)]
    assert got == [m if m.__class__ is list else [m] for m in sent]
    steer = ctx.socket(zmq.PAIR)
    steer.connect("inproc://streamer-batch-ctl")
    steer.send(b"STATISTICS")
    frames = n + 1
    nbytes = sum(len(f) for m in sent for f in (m if m.__class__ is list else [m]))
    # frontend in, backend out: libzmq's order is front rx, front tx, back rx, back tx
    assert _stats(steer.recv_multipart()) == [frames, nbytes, 0, 0, 0, 0, frames, nbytes]
    steer.send(b"TERMINATE")
    proxy.join()
    assert proxy.result == 0
