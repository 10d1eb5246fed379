"""Where the time goes on purezmq's tcp PUSH/PULL path: per-layer cost per message.

    python bench/profile_tcp.py micro    # each layer alone, in one thread: ns per message
    python bench/profile_tcp.py real     # a real 2-process run: CPU and context switches
                                         # per message, per thread (no instrumentation)
    python bench/profile_tcp.py counts   # the same run with counters: syscalls, wake-ups,
                                         # batch sizes per message (instrumented, so slower)
    python bench/profile_tcp.py pyspy    # the same run sampled by py-spy in both processes,
                                         # self time per layer in ns per message
    python bench/profile_tcp.py proposals  # prototypes of the suggested changes, timed
                                           # against the current code
    python bench/profile_tcp.py fanout --subs 16  # PUB -> 16 SUB: what the PUB does per
                                                  # message (syscalls, wake-ups, CPU)
    python bench/profile_tcp.py all

``--src PATH`` profiles another purezmq tree (e.g. an exported commit); ``--size`` and
``--count`` change the workload (default 64 B, 3,000,000 messages).  ``bench/PROFILE.md``
is written from this script's output.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as _run  # noqa: E402  (the orchestrator's process helpers)
import workloads  # noqa: E402

# -- per-thread CPU and context switches, from /proc ----------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def thread_stats() -> dict[int, dict]:
    """tid -> user/sys CPU seconds and context switches, for every thread of this process."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
            status = Path(f"/proc/self/task/{tid}/status").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        sw = dict(re.findall(r"^(\w+_ctxt_switches):\s+(\d+)", status, re.M))
        out[int(tid)] = {
            "user": int(fields[11]) / _TICK,
            "sys": int(fields[12]) / _TICK,
            "vol": int(sw.get("voluntary_ctxt_switches", 0)),
            "invol": int(sw.get("nonvoluntary_ctxt_switches", 0)),
        }
    return out


def thread_names() -> dict[int, str]:
    names = {}
    for t in threading.enumerate():
        if t.native_id is not None:
            names[t.native_id] = "app" if t is threading.main_thread() else t.name
    return names


def stats_delta(before: dict, after: dict, count: int) -> dict[str, dict]:
    names = thread_names()
    res = {}
    for tid, b in after.items():
        a = before.get(tid, {"user": 0, "sys": 0, "vol": 0, "invol": 0})
        name = names.get(tid, f"tid{tid}")
        res[name] = {k: (b[k] - a[k]) / count for k in b}
    return res


# -- instrumentation (counts mode) ----------------------------------------------------------
class Counters(collections.Counter):
    pass


def instrument(c: Counters) -> None:
    """Wrap the hot spots of purezmq with counters.  Must run before any Context exists."""
    import selectors

    from purezmq.core.socket import SocketBase
    from purezmq.io import engine as eng
    from purezmq.io.reactor import Reactor
    from purezmq.plumbing.waiter import Waiter
    from purezmq.zmtp.connection import ZmtpConnection

    def wrap(cls, name, before=None, after=None):
        orig = getattr(cls, name)

        def wrapper(self, *a, **k):
            if before is not None:
                before(self, *a)
            r = orig(self, *a, **k)
            if after is not None:
                after(self, r, *a)
            return r

        wrapper.__wrapped__ = orig
        setattr(cls, name, wrapper)

    def on_write(self, view):
        direct = not self.reactor.in_thread()
        c["send() syscalls" + (" (caller thread)" if direct else " (I/O thread)")] += 1
        c["bytes sent"] += len(view)

    def on_recv_data(self, r, data, now=0.0):
        c["recv() syscalls with data"] += 1
        c["bytes received"] += len(data)
        c["messages decoded"] += sum(1 for e in r if e.__class__ in (bytes, list))

    def on_cst(self, cb):
        c["call_soon_threadsafe"] += 1
        if self._sleeping:
            c["waker writes (wake the I/O thread)"] += 1

    def on_select(self, r, timeout=None):
        c["epoll_wait (select) calls"] += 1
        if timeout is None or timeout > 0:
            c["epoll_wait that may sleep"] += 1

    wrap(eng.StreamEngine, "_write", before=on_write)
    wrap(ZmtpConnection, "receive_data", after=on_recv_data)
    wrap(Reactor, "call_soon_threadsafe", before=on_cst)
    wrap(Reactor, "add_reader", before=lambda s, *a: c.update(["add_reader (epoll_ctl)"]))
    wrap(Reactor, "remove_reader", before=lambda s, *a: c.update(["remove_reader (epoll_ctl)"]))
    wrap(Reactor, "add_writer", before=lambda s, *a: c.update(["add_writer (epoll_ctl)"]))
    wrap(eng.StreamEngine, "_on_outbound_readable",
         before=lambda s, *a: c.update(["outbound pipe empty->non-empty edges"]))
    wrap(SocketBase, "_activate",
         before=lambda s, *a: c.update(["inbound pipe empty->non-empty edges"]))
    wrap(SocketBase, "_block", before=lambda s, *a: c.update(["blocking waits (_block)"]))
    wrap(Waiter, "wait", before=lambda s, *a: c.update(["Waiter.wait (thread sleeps)"]))
    wrap(Waiter, "wake", before=lambda s, *a: c.update(["Waiter.wake"]))
    sel_cls = type(selectors.DefaultSelector())
    wrap(sel_cls, "select", after=on_select)
    # Hosted reads (a caller blocked in recv reads its connections itself), if present.
    if hasattr(eng.StreamEngine, "hosted_read"):
        def on_hosted(self, *a):
            c["hosted reads (caller thread polls + reads)"] += 1
            if self._lock.locked():
                c["  ... found the engine lock taken (no read)"] += 1
            elif not self._reading:
                c["  ... found reading paused at HWM (no read)"] += 1

        wrap(eng.StreamEngine, "hosted_read", before=on_hosted)
        wrap(eng.StreamEngine, "_sync_reader",
             before=lambda s, *a: c.update(["I/O thread re-syncs its read interest"]))
        from purezmq.io.host import Host

        wrap(Host, "wait", before=lambda s, *a: c.update(["Host.wait (poll() in the caller)"]))


# -- the real run ----------------------------------------------------------------------------
class GcTimer:
    """Time spent in the cyclic garbage collector, by generation (all threads)."""

    def __init__(self) -> None:
        import gc

        self.t0 = 0.0
        self.seconds = 0.0
        self.collections = collections.Counter()
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.t0 = time.thread_time()  # CPU time: immune to other load on the machine
        else:
            self.seconds += time.thread_time() - self.t0
            self.collections[info["generation"]] += 1


def _side(conn, src: str, role: str, endpoint: str, size: int, count: int, cap: float,
          counts: bool, no_gc: bool = False) -> None:
    sys.path.insert(0, src)
    if no_gc:
        import gc

        gc.disable()
    gct = GcTimer()
    c = Counters()
    if counts:
        instrument(c)
    zmq = workloads.load("purezmq")
    ctx = zmq.Context()
    before = thread_stats()
    if role == "recv":
        sock = ctx.socket(zmq.PULL)
        sock.linger = 0
        sock.bind(endpoint)
        conn.send(("ready", sock.getsockopt(zmq.LAST_ENDPOINT).decode()))
        before = thread_stats()
        res = workloads._recv_count(zmq, sock, size, count, cap)
        n = res["count"] + 1
    else:
        sock = ctx.socket(zmq.PUSH)
        sock.sndtimeo = workloads.STALL_TIMEOUT_MS
        sock.connect(endpoint)
        conn.send(("ready", endpoint))
        t0 = time.perf_counter()
        n = workloads._send_count(zmq, sock, size, count, cap + 10)
        res = {"count": n, "elapsed": time.perf_counter() - t0}
        limit = time.monotonic() + 2.0
        while any(p.out.q for p in sock.peers) and time.monotonic() < limit:
            time.sleep(0.001)  # let the I/O thread finish, so its CPU is counted
    after = thread_stats()
    res["gc"] = {"ns_per_msg": gct.seconds / n * 1e9,
                 "collections_per_msg": {g: k / n for g, k in gct.collections.items()}}
    res["threads"] = stats_delta(before, after, n)
    res["counters"] = {k: v / n for k, v in c.items()}
    res["n"] = n
    conn.send(("result", res))
    workloads._close(ctx, [sock], linger=5000 if role == "send" else 0)


def _pyspy_cmd() -> str | None:
    return shutil.which("py-spy")


def real_run(args, counts: bool = False, pyspy: bool = False) -> dict:
    src = args.src
    with _run.Workers() as ws:
        recv = ws.start("PULL", _side, src, "recv", "tcp://127.0.0.1:*", args.size, args.count,
                        args.cap, counts, args.no_gc)
        ep = recv.expect("ready", 30)
        send = ws.start("PUSH", _side, src, "send", ep, args.size, args.count, args.cap,
                        counts, args.no_gc)
        send.expect("ready", 30)
        spies = []
        if pyspy:
            tmp = Path(tempfile.mkdtemp(prefix="purezmq-pyspy-"))
            time.sleep(1.0)  # past connection set-up and the first batches
            for name, w in (("recv", recv), ("send", send)):
                out = tmp / f"{name}.raw"
                p = subprocess.Popen(
                    [_pyspy_cmd(), "record", "--nonblocking", "--gil", "--threads", "-r",
                     str(args.rate), "-d", str(args.duration), "-f", "raw", "-o", str(out),
                     "-p", str(w.proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                spies.append((name, p, out))
        rres = recv.expect("result", args.cap + 60)
        sres = send.expect("result", 60)
        for _name, p, _out in spies:
            try:
                p.wait(timeout=args.duration + 30)
            except subprocess.TimeoutExpired:
                p.kill()
    rate = rres["count"] / rres["elapsed"]
    result = {"rate": rate, "recv": rres, "send": sres}
    if pyspy:
        result["pyspy"] = {name: analyse_pyspy(out, args, rate) for name, _p, out in spies}
    return result


def _fan_pub(conn, src: str, endpoint: str, size: int, duration: float) -> None:
    """A PUB (XPUB_NODROP, as in bench/run.py) with counters and per-thread CPU."""
    sys.path.insert(0, src)
    c = Counters()
    instrument(c)
    zmq = workloads.load("purezmq")
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB)
    s.linger = 0
    s.sndtimeo = workloads.STALL_TIMEOUT_MS
    s.setsockopt(zmq.XPUB_NODROP, 1)
    s.bind(endpoint)
    conn.send(("ready", s.getsockopt(zmq.LAST_ENDPOINT).decode()))
    while not conn.poll(0.005):
        s.send(workloads.WARM)
    conn.recv()
    before = thread_stats()
    c.clear()
    msg = b"\x00" * size
    sent = 0
    t0 = time.monotonic()
    while time.monotonic() < t0 + duration:
        for _ in range(64):
            s.send(msg)
        sent += 64
    res = {"sent": sent, "rate": sent / (time.monotonic() - t0),
           "threads": stats_delta(before, thread_stats(), sent),
           "counters": {k: v / sent for k, v in c.items()}, "n": sent}
    while not conn.poll(0.01):
        s.send(workloads.END)
    conn.send(("result", res))
    workloads._close(ctx, [s])


def fanout(args) -> dict:
    with _run.Workers() as ws:
        pub = ws.start("PUB", _fan_pub, args.src, "tcp://127.0.0.1:*", args.size, 2.0)
        ep = pub.expect("ready", 30)
        subs = [ws.start(f"SUB{i}", _fan_sub, args.src, ep, args.size)
                for i in range(args.subs)]
        for sub in subs:
            sub.expect("ready", 90)
        pub.tell("go")
        delivered = sum(sub.expect("result", 90)["count"] for sub in subs)
        pub.tell("stop")
        res = pub.expect("result", 30)
    res["delivered"] = delivered
    return res


def _fan_sub(conn, src: str, endpoint: str, size: int) -> None:
    sys.path.insert(0, src)
    workloads.fan_subscriber(conn, "purezmq", endpoint, size)


# -- py-spy analysis ---------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^():]+):(?P<line>\d+)\)$")


def _line_index(src: str) -> dict[tuple[str, int], str]:
    """Lines of purezmq that are system calls or wake-ups, found by their text."""
    marks = {
        "io/engine.py": [("self.sock.send(", "syscall send()"),
                         ("self.sock.recv(", "syscall recv()"),
                         ("with self._lock", "engine lock"),
                         ("self._lock.acquire", "engine lock")],
        "io/reactor.py": [("sel.select(", "epoll_wait (I/O thread idle/poll)"),
                          ("self._wsock.send(", "waker write (wake I/O thread)"),
                          ("self._rsock.recv(", "waker drain")],
        "plumbing/waiter.py": [("self._lock.release()", "wake-up (lock release)"),
                               ("self._lock.acquire(", "thread sleep/wake (lock acquire)")],
    }
    idx = {}
    for rel, pats in marks.items():
        path = Path(src) / "purezmq" / rel
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for i, text in enumerate(lines, 1):
            for pat, label in pats:
                if pat in text:
                    idx[(rel, i)] = label
    return idx


_LAYERS = [
    ("sugar/socket.py", "sugar Socket.send/recv"),
    ("core/socket.py", "core SocketBase (send_msg/recv_msg/_block)"),
    ("patterns/", "pattern (load-balance / fair-queue)"),
    ("plumbing/pipe.py", "pipe"),
    ("plumbing/waiter.py", "Waiter (thread wake-ups)"),
    ("zmtp/frames.py", "ZMTP encode"),
    ("GcTimer", "garbage collector (gc)"),
    ("zmtp/connection.py", "ZMTP decode/encode (connection)"),
    ("io/engine.py", "engine (other)"),
    ("io/reactor.py", "reactor loop (other)"),
    ("selectors.py", "selectors (epoll_ctl / epoll_wait)"),
    ("workloads.py", "benchmark loop"),
    ("profile_tcp.py", "benchmark loop"),
]


def classify(stack: list[str], marks: dict) -> str:
    if not stack:
        return "other"
    if any("GcTimer" in f for f in stack):
        return "garbage collector (gc)"
    leaf = stack[-1]
    m = _FRAME.match(leaf)
    if not m:
        return "other"
    file, line, func = m["file"], int(m["line"]), m["func"]
    for rel in ("io/engine.py", "io/reactor.py", "plumbing/waiter.py"):
        if file.endswith(rel) and (rel, line) in marks:
            return marks[(rel, line)]
    if file.endswith("selectors.py"):
        return "epoll_wait (I/O thread idle/poll)" if func.endswith("select") else "epoll_ctl"
    if file.endswith("threading.py"):
        return "threading (Waiter/lock)"
    for key, label in _LAYERS:
        if key in file:
            if label == "ZMTP decode/encode (connection)":
                return "ZMTP encode" if "encode" in func else "ZMTP decode"
            return label
    return f"other ({file.rsplit('/', 1)[-1]}:{func})"


def analyse_pyspy(path: Path, args, rate: float) -> dict:
    marks = _line_index(args.src)
    per_thread: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total = 0
    try:
        text = path.read_text()
    except OSError:
        return {"error": f"py-spy wrote nothing ({path})"}
    for line in text.splitlines():
        stack_text, _, n = line.rpartition(" ")
        if not stack_text:
            continue
        frames = stack_text.split(";")
        thread = "I/O thread" if "purezmq-io" in frames[0] or any(
            "Reactor._run" in f for f in frames) else "app thread"
        per_thread[thread][classify(frames[1:], marks)] += int(n)
        total += int(n)
    msgs = rate * args.duration
    # a sample is 1/rate s of one thread's (non-idle) time
    scale = 1e9 / args.rate / msgs
    return {t: {k: v * scale for k, v in c.most_common()} for t, c in per_thread.items()}


# -- micro-benchmarks -------------------------------------------------------------------------
def _best(fn, n: int, repeat: int = 5, setup=None, teardown=None,
          clock=time.thread_time) -> float:
    """Best time per item of ``fn(n)``; ``setup``/``teardown`` run untimed around it.

    CPU time of this thread by default, so that other load on the machine (which steals
    wall-clock time, not CPU time) does not distort the figures.
    """
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup(n)
        t0 = clock()
        fn(n)
        best = min(best, clock() - t0)
        if teardown is not None:
            teardown(n)
    return best / n * 1e9


def _micro(conn, src: str, size: int) -> None:
    sys.path.insert(0, src)
    import gc
    import socket as pysocket
    from collections import deque

    import purezmq as zmq
    from purezmq.plumbing.pipe import Pipe
    from purezmq.plumbing.waiter import Waiter
    from purezmq.zmtp.connection import ZmtpConnection
    from purezmq.zmtp.mechanisms.null import NullMechanism

    res = {}
    payload = b"\x00" * size
    N = 200_000

    # sending side, caller's thread ---------------------------------------------------------
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 0
    push.connect("inproc://nobody-binds")  # a peer whose pipe nobody drains: no I/O at all
    out_q = push.peers[0].out.q

    def sugar_send(n):
        send = push.send
        for _ in range(n):
            send(payload)

    def pattern_send(n):
        send = push.pattern.send
        for _ in range(n):
            send([payload])

    def list_append(n):
        append = out_q.append
        for _ in range(n):
            append([payload])

    def loop_only(n):
        for _ in range(n):
            pass

    def clear(n):
        out_q.clear()

    # Messages are queued in batches of HWM (1000) in the real path; timing 1000 at a time
    # keeps the garbage collector's view of live lists realistic (see the gc lines).
    K = 1000
    res["loop overhead (for _ in range)"] = _best(loop_only, N)
    for label, fn in (("send: deque.append([frame]) (list + append)", list_append),
                      ("send: pattern.send([frame]) (LoadBalancer + pipe)", pattern_send),
                      ("send: Socket.send(frame) (whole sugar path)", sugar_send)):
        res[label] = _best(lambda n, fn=fn: [fn(K) or clear(K) for _ in range(n // K)], N)
    gc.disable()
    res["send: Socket.send(frame), gc disabled"] = _best(
        lambda n: [sugar_send(K) or clear(K) for _ in range(n // K)], N)
    gc.enable()
    res["send: Socket.send(frame), 200k queued (gc sees many live lists)"] = _best(
        sugar_send, N, teardown=clear)

    # receiving side, caller's thread --------------------------------------------------------
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 0
    pull.bind("inproc://filled")
    feeder = ctx.socket(zmq.PUSH)
    feeder.sndhwm = 0
    feeder.connect("inproc://filled")
    pull._process()  # run the posted attach of the inproc peer
    in_pipe = feeder.peers[0].out

    def fill(n):
        in_pipe.q.extend([payload] for _ in range(n))
        if in_pipe.armed:
            in_pipe.armed = False
            in_pipe.on_readable(in_pipe)

    def sugar_recv(n):
        recv = pull.recv
        for _ in range(n):
            recv()

    def pattern_recv(n):
        recv = pull.pattern.recv
        for _ in range(n):
            recv()

    def popleft(n):
        pop = in_pipe.q.popleft
        for _ in range(n):
            pop()

    for label, fn in (("recv: deque.popleft()", popleft),
                      ("recv: pattern.recv() (fair-queue + pipe)", pattern_recv),
                      ("recv: Socket.recv() (whole sugar path)", sugar_recv)):
        res[label] = _best(fn, K * 20, repeat=20, setup=fill)
    ctx.destroy(linger=0)

    # ZMTP encode / decode, no I/O ----------------------------------------------------------
    a = ZmtpConnection("PUSH", NullMechanism(as_server=False))
    b = ZmtpConnection("PULL", NullMechanism(as_server=True))
    for _ in range(10):
        da, db = a.data_to_send(), b.data_to_send()
        if da:
            b.receive_data(da, 0.0)
        if db:
            a.receive_data(db, 0.0)
    assert a.ready and b.ready, "handshake did not complete"
    batch = 1 << 18
    per_batch = max(1, batch // (size + 2))

    q = deque()

    def encode(n):
        done = 0
        while done < n:
            k = min(per_batch, n - done)
            q.extend([payload] for _ in range(k))  # not timed separately: see below
            out = []
            a.encode_queue(q, out, batch)
            b"".join(out)
            done += k

    def fill_only(n):
        done = 0
        while done < n:
            k = min(per_batch, n - done)
            q.extend([payload] for _ in range(k))
            q.clear()
            done += k

    res["engine: encode_queue + join, 256 KiB batches"] = _best(encode, N) - _best(fill_only, N)

    wire = []
    a.encode_queue(deque([payload] for _ in range(per_batch * 4)), wire, 1 << 30)
    wire = b"".join(wire)
    chunks = [wire[i:i + batch] for i in range(0, len(wire), batch)]
    nmsg = per_batch * 4

    def decode(n):
        for _ in range(max(1, n // nmsg)):
            for ch in chunks:
                b.receive_data(ch, 0.0)

    res["engine: receive_data (decode), 256 KiB reads"] = _best(decode, N) * (
        N / (max(1, N // nmsg) * nmsg))

    inp = Pipe(0)
    events = [[payload] for _ in range(per_batch)]

    def write_many(n):
        done = 0
        while done < n:
            inp.write_many(events)
            inp.q.clear()
            done += len(events)

    res["engine: pipe.write_many (deliver a decoded batch)"] = _best(write_many, N)

    # system calls ----------------------------------------------------------------------------
    srv = pysocket.create_server(("127.0.0.1", 0))
    cli = pysocket.create_connection(srv.getsockname())
    acc, _ = srv.accept()
    for s in (cli, acc):
        s.setsockopt(pysocket.IPPROTO_TCP, pysocket.TCP_NODELAY, 1)
    for msgs in (1, 100, per_batch):
        buf = b"\x00" * ((size + 2) * msgs)
        rounds = max(50, min(20000, 2_000_000 // len(buf)))
        t_send = t_recv = 0.0
        for _ in range(rounds):
            t0 = time.thread_time()
            cli.send(buf)
            t1 = time.thread_time()
            got = 0
            while got < len(buf):
                got += len(acc.recv(1 << 18))
            t_recv += time.thread_time() - t1
            t_send += t1 - t0
        res[f"syscall: send() of {msgs} msgs ({len(buf):,} B), per call"] = t_send / rounds * 1e9
        res[f"syscall: recv() of {msgs} msgs ({len(buf):,} B), per call"] = t_recv / rounds * 1e9
    for s in (cli, acc, srv):
        s.close()

    # wake-ups -------------------------------------------------------------------------------
    w1, w2 = Waiter(), Waiter()
    rounds = 20000

    def pong():
        for _ in range(rounds):
            w1.wait(5)
            w2.wake()

    t = threading.Thread(target=pong)
    t.start()
    t0 = time.perf_counter()
    for _ in range(rounds):
        w1.wake()
        w2.wait(5)
    dt = time.perf_counter() - t0
    t.join()
    res["wake-up: Waiter ping-pong between 2 threads, per wake"] = dt / rounds / 2 * 1e9
    r, w = pysocket.socketpair()
    r.setblocking(False)
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)

    def waker(n):
        for _ in range(n):
            w.send(b"\x00")
            sel.select(0)
            r.recv(4096)

    res["wake-up: waker send + epoll_wait + drain (one round, one thread)"] = _best(waker, 20000)

    def ctl(n):
        for _ in range(n):
            sel.unregister(r)
            sel.register(r, selectors.EVENT_READ)

    res["epoll_ctl: unregister + register (pause/resume reading)"] = _best(ctl, 20000)
    sel.close()
    r.close()
    w.close()
    conn.send(("result", res))


def micro(args) -> dict:
    with _run.Workers() as ws:
        return ws.start("micro", _micro, args.src, args.size).expect("result", 300)


# -- proposals: prototypes of the suggested changes, against the current code ---------------
def _proposals(conn, src: str, size: int) -> None:
    """Each suggested change as a stand-alone prototype, timed (CPU time) against the
    current code on the same data.  They reach into purezmq's internals as of this writing;
    an item whose internals moved prints as n/a instead of failing the others."""
    sys.path.insert(0, src)
    import socket as pysocket
    import struct
    from collections import deque

    import purezmq as zmq
    from purezmq.sugar.socket import Socket
    from purezmq.zmtp import frames
    from purezmq.zmtp.connection import ZmtpConnection
    from purezmq.zmtp.mechanisms.null import NullMechanism

    res: dict[str, object] = {}
    payload = b"\x00" * size
    q_unpack = struct.Struct(">Q").unpack_from
    LONG, MORE = frames.LONG, frames.MORE

    def item(label, fn):
        try:
            res[label] = fn()
        except Exception as e:  # noqa: BLE001 - internals changed: report, go on
            res[label] = f"n/a ({type(e).__name__}: {e})"

    # 1. decoder fast path ------------------------------------------------------------------
    def decode_cmp():
        a = ZmtpConnection("PUSH", NullMechanism(as_server=False))
        b = ZmtpConnection("PULL", NullMechanism(as_server=True))
        for _ in range(10):
            da, db = a.data_to_send(), b.data_to_send()
            if da:
                b.receive_data(da, 0.0)
            if db:
                a.receive_data(db, 0.0)
        per = (1 << 18) // (size + 2) or 1
        nmsg = per * 8
        wire = []
        a.encode_queue(deque([payload] for _ in range(nmsg)), wire, 1 << 40)
        wire = b"".join(wire)
        chunks = [wire[i:i + (1 << 18)] for i in range(0, len(wire), 1 << 18)]

        def fast_loop(buf, as_bytes):
            events = []
            append = events.append
            n = len(buf)
            pos = 0
            cur = []
            while n - pos >= 2:
                flags = buf[pos]
                if not flags and not cur:  # short, final data frame: a whole message
                    end = pos + 2 + buf[pos + 1]
                    if end > n:
                        break
                    append(buf[pos + 2:end] if as_bytes else [buf[pos + 2:end]])
                    pos = end
                    continue
                if flags & LONG:
                    if n - pos < 9:
                        break
                    (fsize,) = q_unpack(buf, pos + 1)
                    start = pos + 9
                else:
                    fsize = buf[pos + 1]
                    start = pos + 2
                end = start + fsize
                if end > n:
                    break
                cur.append(buf[start:end])
                pos = end
                if not flags & MORE:
                    append(cur)
                    cur = []
            return events, buf[pos:]

        def run_fast(as_bytes):
            rem = b""
            for c in chunks:
                _ev, rem = fast_loop(rem + c if rem else c, as_bytes)

        now = _best(lambda n: [b.receive_data(c, 0.0) for c in chunks], nmsg)
        lists = _best(lambda n: run_fast(False), nmsg)
        as_bytes = _best(lambda n: run_fast(True), nmsg)
        return (f"{now:.0f} -> {lists:.0f} (messages still lists) -> {as_bytes:.0f} "
                "(single-frame messages as bytes)")

    item("1. ZmtpConnection.receive_data, ns/msg", decode_cmp)

    # 2/3. send and recv fast paths --------------------------------------------------------
    ctx = zmq.Context()

    def send_cmp():
        push = ctx.socket(zmq.PUSH)
        push.sndhwm = 0
        push.connect("inproc://proposal-send")
        lb_peers = push.pattern.lb.peers
        q = push.peers[0].out.q
        orig = Socket.send
        mode = {"bytes": False}

        def send_fast(self, data, flags=0, copy=True, track=False, routing_id=None,
                      group=None):
            if not flags and not self._tx and data.__class__ is bytes:
                if self._mailbox:
                    self._process()
                if len(lb_peers) == 1:
                    out = lb_peers[0].out
                    oq = out.q
                    if not out.hwm or len(oq) < out.hwm:
                        oq.append(data if mode["bytes"] else [data])
                        if out.armed:
                            out.armed = False
                            out.on_readable(out)
                        return None
            return orig(self, data, flags, copy, track)

        def run(fn):
            def body(n):
                for _ in range(n // 1000):
                    for _ in range(1000):
                        fn(push, payload)
                    q.clear()
            return _best(body, 200_000)

        base = run(lambda s, p: None)
        now = run(orig) - base
        inlined = run(send_fast) - base
        mode["bytes"] = True
        as_bytes = run(send_fast) - base
        push.close(0)
        return (f"{now:.0f} -> {inlined:.0f} (single peer inlined) -> {as_bytes:.0f} "
                "(and the bytes object as the pipe item)")

    item("2. Socket.send + LoadBalancer.send, ns/msg", send_cmp)

    def recv_cmp():
        pull = ctx.socket(zmq.PULL)
        pull.rcvhwm = 0
        pull.bind("inproc://proposal-recv")
        feeder = ctx.socket(zmq.PUSH)
        feeder.sndhwm = 0
        feeder.connect("inproc://proposal-recv")
        pull._process()
        pipe = feeder.peers[0].out
        orig = Socket.recv

        def recv_fast(self, flags=0, copy=True, track=False):
            if not flags and copy and self._rx is None:
                if self._mailbox:
                    self._process()
                ready = self._ready
                if ready:
                    peer = ready[0]
                    p = peer.inp
                    q = p.q
                    if q:
                        msg = q.popleft()
                        if not q:
                            ready.popleft()
                            if p.rearm():
                                ready.append(peer)
                        elif len(ready) > 1:
                            ready.rotate(-1)
                        if p.writer_blocked:
                            p.released()
                        if ready.last is not peer:
                            ready.last = peer
                        if msg.__class__ is bytes:
                            return msg
                        if len(msg) == 1:
                            if self._rcvmore:
                                self._rcvmore = False
                            return msg[0]
            return orig(self, flags, copy, track)

        def fill(n):
            pipe.q.extend([payload] for _ in range(n))
            if pipe.armed:
                pipe.armed = False
                pipe.on_readable(pipe)

        def run(fn):
            def body(n):
                for _ in range(n):
                    fn(pull)
            return _best(body, 20_000, repeat=20, setup=fill)

        base = run(lambda s: None)
        fill(0)
        now = run(orig) - base
        fast = run(recv_fast) - base
        pull.close(0)
        feeder.close(0)
        return f"{now:.0f} -> {fast:.0f} (peek the first ready peer, rotate only if >1)"

    item("3. Socket.recv + fair_recv_item, ns/msg", recv_cmp)
    ctx.destroy(linger=0)

    # 4. encoding bytes items ----------------------------------------------------------------
    def encode_cmp():
        short, pack = frames._SHORT_MSG, frames._LONG_HDR.pack
        per = (1 << 18) // (size + 2) or 1

        def encode_bytes(q, out, limit):
            total = 0
            popleft = q.popleft
            append = out.append
            while q and total < limit:
                msg = popleft()
                n = len(msg)
                append(short[n] if n < 256 else pack(LONG, n))
                append(msg)
                total += n + 2

        def run(mk, fn):
            qs = []

            def setup(n):
                qs[:] = [deque(mk() for _ in range(per))]

            def body(n):
                out = []
                fn(qs[0], out, 1 << 18)
                b"".join(out)
            return _best(body, per, repeat=30, setup=setup)

        now = run(lambda: [payload], frames.encode_queue)
        new = run(lambda: payload, encode_bytes)
        return f"{now:.0f} -> {new:.0f} (bytes items)"

    item("4. encode_queue + join, ns/msg", encode_cmp)

    # 5. recv() vs recv_into() a buffer that lives as long as the engine ----------------------
    def recv_into_cmp():
        out = {}
        for mode in ("recv", "recv_into"):
            srv = pysocket.create_server(("127.0.0.1", 0))
            cli = pysocket.create_connection(srv.getsockname())
            acc, _ = srv.accept()
            data = b"\x00" * (1 << 18)
            buf = bytearray(1 << 18)
            view = memoryview(buf)
            moved = 0
            cpu = 0.0
            for _ in range(400):
                cli.sendall(data)
                got = 0
                t0 = time.thread_time()
                while got < len(data):
                    if mode == "recv":
                        got += len(acc.recv(1 << 18))
                    else:
                        k = acc.recv_into(view)
                        bytes(view[:k])  # the decoder still wants bytes
                        got += k
                cpu += time.thread_time() - t0
                moved += got
            out[mode] = cpu / moved * 1e9 * 1024
            for s_ in (cli, acc, srv):
                s_.close()
        return (f"{out['recv']:.0f} -> {out['recv_into']:.0f} ns of receiver CPU per KiB "
                "(recv(256 KiB) vs recv_into + bytes())")

    item("5. engine read, CPU per KiB", recv_into_cmp)
    conn.send(("result", res))


def proposals(args) -> dict:
    with _run.Workers() as ws:
        return ws.start("proposals", _proposals, args.src, args.size).expect("result", 600)


# -- output --------------------------------------------------------------------------------------
def show_threads(title: str, res: dict) -> None:
    gcs = res.get("gc", {})
    per = ", ".join(f"gen{g} {v:.5f}" for g, v in sorted(gcs.get("collections_per_msg",
                                                                   {}).items()))
    print(f"\n{title}: {res['n']:,} messages; garbage collector "
          f"{gcs.get('ns_per_msg', 0):.0f} ns/msg (collections per msg: {per})")
    print(f"  {'thread':12s} {'user ns/msg':>12s} {'sys ns/msg':>11s} "
          f"{'vol cs/msg':>11s} {'invol cs/msg':>13s}")
    for name, s in sorted(res["threads"].items()):
        if s["user"] + s["sys"] == 0 and s["vol"] + s["invol"] == 0:
            continue
        print(f"  {name:12s} {s['user'] * 1e9:12.0f} {s['sys'] * 1e9:11.0f} "
              f"{s['vol']:11.4f} {s['invol']:13.4f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("micro", "real", "counts", "pyspy", "proposals",
                                     "fanout", "all"))
    ap.add_argument("--subs", type=int, default=16, help="SUB processes for fanout")
    ap.add_argument("--src", default=str(_run.ROOT / "src"))
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--count", type=int, default=3_000_000)
    ap.add_argument("--cap", type=float, default=8.0)
    ap.add_argument("--no-gc", action="store_true",
                    help="gc.disable() in both processes (what the collector costs)")
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--duration", type=int, default=3, help="py-spy seconds")
    args = ap.parse_args(argv)
    args.src = str(Path(args.src).resolve())
    modes = (("micro", "real", "counts", "pyspy", "proposals") if args.mode == "all"
             else (args.mode,))
    print(f"purezmq from {args.src}; tcp PUSH/PULL {args.size} B; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    for mode in modes:
        if mode == "micro":
            print("\n== micro-benchmarks (one thread, best of 5), ns per message ==")
            for k, v in micro(args).items():
                print(f"  {k:70s} {v:10.0f}")
        elif mode == "fanout":
            res = fanout(args)
            print(f"\n== PUB (XPUB_NODROP) -> {args.subs} SUB processes, instrumented: "
                  f"publisher {res['rate']:,.0f} msgs/s, {res['delivered']:,} delivered ==")
            show_threads("PUB process", res)
            print("\n  PUB side, events per message:")
            for k, v in sorted(res["counters"].items()):
                print(f"    {k:45s} {v:12.5f}")
        elif mode == "proposals":
            print("\n== prototypes of the suggested changes (CPU time, best of several) ==")
            for k, v in proposals(args).items():
                print(f"  {k:45s} {v}")
        elif mode in ("real", "counts"):
            res = real_run(args, counts=mode == "counts")
            tag = "instrumented" if mode == "counts" else "uninstrumented"
            print(f"\n== real run ({tag}): {res['rate']:,.0f} msgs/s at the receiver ==")
            show_threads("sender process", res["send"])
            show_threads("receiver process", res["recv"])
            if mode == "counts":
                for side in ("send", "recv"):
                    print(f"\n  {side} side, events per message:")
                    for k, v in sorted(res[side]["counters"].items()):
                        print(f"    {k:45s} {v:12.5f}")
        elif mode == "pyspy":
            if _pyspy_cmd() is None:
                print("\npy-spy not found (pip install py-spy)")
                continue
            res = real_run(args, pyspy=True)
            print(f"\n== py-spy ({args.rate} Hz, {args.duration} s, non-idle samples): "
                  f"{res['rate']:,.0f} msgs/s; self time in ns per message ==")
            for side in ("send", "recv"):
                data = res["pyspy"][side]
                if "error" in data:
                    print(f"  {side}: {data['error']}")
                    continue
                for thread, layers in data.items():
                    tot = sum(layers.values())
                    print(f"\n  {side} process, {thread}: {tot:,.0f} ns/msg")
                    for k, v in layers.items():
                        if v >= 5:
                            print(f"    {k:55s} {v:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
