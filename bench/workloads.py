"""Benchmark workers, written once against pyzmq's API and run with ``zmq`` or ``purezmq``.

Every worker runs in its own process (started by ``bench/run.py``) and talks to the
orchestrator over a duplex :func:`multiprocessing.Pipe`: it sends ``("ready", info)`` once
its sockets are set up and ``("result", dict)`` when it is done; any exception becomes
``("error", text)``.  The library is imported by name inside the worker, so the
orchestrator itself never loads either one.

Every ``recv`` has a timeout (``RCVTIMEO``), every ``send`` that can block has ``SNDTIMEO``,
and every loop has a deadline, so a stuck library shows up as an error, never as a hang.
"""

from __future__ import annotations

import importlib
import os
import resource
import threading
import time
import traceback

CHUNK = 512  # messages between two looks at the clock (fewer for big messages)


def chunk_for(size: int) -> int:
    return max(4, min(CHUNK, (4 << 20) // max(1, size)))
FIRST_TIMEOUT_MS = 15000  # the first message waits for connection set-up
STALL_TIMEOUT_MS = 5000  # later messages: this long without one is a stall


class Stalled(Exception):
    """A recv or send timed out in the middle of a run."""


def load(lib: str):
    return importlib.import_module(lib)


def rss_kb() -> int:
    """Resident set size of this process, from /proc/self/status (kB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def raise_nofile(want: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``want`` (up to the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def child_main(target, conn, args) -> None:
    """Process entry point: run ``target(conn, *args)``, report any failure."""
    try:
        target(conn, *args)
    except BaseException as e:  # noqa: BLE001 - everything is reported to the parent
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
        try:
            conn.send(("error", f"{type(e).__name__}: {e}{where}"))
        except Exception:
            pass
    finally:
        try:
            conn.close()
        except Exception:
            pass
        # Never let a library's shutdown keep the process alive: the result is sent.
        os._exit(0)


def _close(ctx, socks, linger: int = 0) -> None:
    for s in socks:
        try:
            s.close(linger=linger)
        except Exception:
            pass
    done = threading.Event()

    def term() -> None:
        try:
            ctx.term()
        finally:
            done.set()

    threading.Thread(target=term, daemon=True).start()
    done.wait(10.0)


# -- throughput (libzmq's local_thr / remote_thr) ------------------------------------------
def _recv_count(zmq, sock, size: int, count: int, cap: float) -> dict:
    """Receive up to ``count`` messages; time from the first to the last one."""
    recv = sock.recv
    chunk = chunk_for(size)
    sock.rcvtimeo = FIRST_TIMEOUT_MS
    first = recv()
    t0 = time.perf_counter()
    c0 = cpu_s()
    if len(first) != size:
        raise ValueError(f"first message has {len(first)} bytes, expected {size}")
    sock.rcvtimeo = STALL_TIMEOUT_MS
    deadline = t0 + cap
    got = 1
    try:
        while got < count:
            n = min(chunk, count - got)
            for _ in range(n):
                recv()
            got += n
            if time.perf_counter() > deadline:
                break
    except zmq.Again:
        raise Stalled(f"no message for {STALL_TIMEOUT_MS} ms after {got} messages") from None
    t1 = time.perf_counter()
    return {"count": got - 1, "elapsed": t1 - t0, "size": size, "capped": got < count,
            "cpu": cpu_s() - c0}


def _send_count(zmq, sock, size: int, count: int, cap: float) -> int:
    msg = b"\x00" * size
    send = sock.send
    chunk = chunk_for(size)
    deadline = time.perf_counter() + cap
    sent = 0
    try:
        while sent < count:
            n = min(chunk, count - sent)
            for _ in range(n):
                send(msg)
            sent += n
            if time.perf_counter() > deadline:
                break
    except zmq.Again:
        pass  # the receiver stopped at its deadline
    return sent


# -- PUB fan-out to N SUB processes ---------------------------------------------------------
WARM = b"W"
END = b"END"


def fan_publisher(conn, lib: str, endpoint: str, size: int, duration: float,
                  nodrop: bool) -> None:
    """Send ``WARM`` until told "go", data for ``duration`` s, then ``END`` until "stop"."""
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.linger = 0
    sock.sndtimeo = STALL_TIMEOUT_MS
    if nodrop:
        sock.setsockopt(zmq.XPUB_NODROP, 1)
    sock.bind(endpoint)
    conn.send(("ready", sock.getsockopt(zmq.LAST_ENDPOINT).decode()))
    send = sock.send
    limit = time.monotonic() + 60.0
    while not conn.poll(0.005):  # subscriptions travel asynchronously: keep saying hello
        send(WARM)
        if time.monotonic() > limit:
            raise Stalled("subscribers never all received the warm-up message")
    cmd = conn.recv()
    if cmd != "go":
        raise ValueError(f"unexpected command {cmd!r}")
    msg = b"\x00" * size
    sent = 0
    c0 = cpu_s()
    t0 = time.monotonic()
    deadline = t0 + duration
    while True:
        for _ in range(CHUNK):
            send(msg)
        sent += CHUNK
        if time.monotonic() > deadline:
            break
    t1 = time.monotonic()
    cpu = cpu_s() - c0
    limit = time.monotonic() + 60.0
    while not conn.poll(0.01):  # END may be dropped at the high-water mark: repeat it
        send(END)
        if time.monotonic() > limit:
            break
    conn.send(("result", {"sent": sent, "t0": t0, "t1": t1, "cpu": cpu}))
    _close(ctx, [sock])


def fan_subscriber(conn, lib: str, endpoint: str, size: int) -> None:
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.linger = 0
    sock.rcvtimeo = FIRST_TIMEOUT_MS * 2
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    recv = sock.recv
    while recv() != WARM:
        pass
    conn.send(("ready", None))
    sock.rcvtimeo = FIRST_TIMEOUT_MS * 2  # the other subscribers may take a while to join
    count = 0
    t_first = 0.0
    c0 = 0.0
    try:
        while True:
            m = recv()
            if len(m) == size:
                count += 1
                if count == 1:
                    t_first = time.monotonic()
                    c0 = cpu_s()
                    sock.rcvtimeo = STALL_TIMEOUT_MS
            elif m == END:
                break
    except zmq.Again:
        raise Stalled(f"SUB: no message for {sock.rcvtimeo} ms after {count}") from None
    t_end = time.monotonic()
    cpu = cpu_s() - c0 if count else 0.0
    conn.send(("result", {"count": count, "t_first": t_first, "t_end": t_end, "cpu": cpu}))
    _close(ctx, [sock])


# -- ROUTER memory with many idle DEALER peers ---------------------------------------------
def router_memory(conn, lib: str, peers: int, settle: float) -> None:
    limit = raise_nofile(peers + 1024)
    if limit < peers + 64:
        raise OSError(f"RLIMIT_NOFILE is {limit}, need about {peers + 64}")
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.setsockopt(zmq.BACKLOG, 4096)
    sock.bind("tcp://127.0.0.1:*")
    time.sleep(0.2)  # let a lazily started I/O thread settle before the baseline
    base = rss_kb()
    conn.send(("ready", (sock.getsockopt(zmq.LAST_ENDPOINT).decode(), base)))
    sock.rcvtimeo = 60000
    t0 = time.monotonic()
    seen = set()
    try:
        while len(seen) < peers:
            rid, _hello = sock.recv_multipart()
            seen.add(rid)
    except zmq.Again:
        raise Stalled(f"ROUTER: only {len(seen)} of {peers} peers said hello") from None
    connect_time = time.monotonic() - t0
    time.sleep(settle)
    rss = rss_kb()
    conn.send(("result", {"rss_kb": rss, "base_kb": base, "peers": peers,
                          "connect_s": connect_time}))
    if conn.poll(120):
        conn.recv()
    _close(ctx, [sock])


def dealer_swarm(conn, lib: str, endpoint: str, n: int) -> None:
    """``n`` DEALER sockets in one context, each connects and says hello once, then idles."""
    limit = raise_nofile(3 * n + 1024)
    if limit < 2 * n + 64:
        raise OSError(f"RLIMIT_NOFILE is {limit}, need about {2 * n + 64}")
    zmq = load(lib)
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, n + 64)
    socks = []
    for _ in range(n):
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.sndtimeo = STALL_TIMEOUT_MS
        s.connect(endpoint)
        s.send(b"hi")
        socks.append(s)
    conn.send(("ready", n))
    if conn.poll(180):  # idle until the parent says stop
        conn.recv()
    _close(ctx, socks)
    conn.send(("result", {"closed": n}))


def lib_info(conn, lib: str) -> None:
    """Versions of a library, for the report."""
    zmq = load(lib)
    # purezmq's zmq.__version__ is the pyzmq API level; report its own version
    version = getattr(zmq, "__purezmq_version__", None) or getattr(zmq, "__version__", "?")
    info = {"version": version, "file": getattr(zmq, "__file__", "")}
    try:
        info["zmq_version"] = zmq.zmq_version()
    except Exception:
        info["zmq_version"] = "?"
    conn.send(("result", info))


# -- a STREAMER proxy between a sender and a receiver ----------------------------------------
def proxy_streamer(conn, lib: str, hwm: int) -> None:
    """PULL (frontend) -> zmq.proxy -> PUSH (backend), both bound on ephemeral tcp ports."""
    zmq = load(lib)
    ctx = zmq.Context()
    front = ctx.socket(zmq.PULL)
    back = ctx.socket(zmq.PUSH)
    for s in (front, back):
        s.linger = 0
        s.sndhwm = s.rcvhwm = hwm
    front.bind("tcp://127.0.0.1:*")
    back.bind("tcp://127.0.0.1:*")
    eps = [s.getsockopt(zmq.LAST_ENDPOINT).decode() for s in (front, back)]
    conn.send(("ready", eps))
    threading.Thread(target=lambda: _proxy_until_term(zmq, front, back), daemon=True).start()
    conn.poll(None)  # until told to stop (or the parent goes away)
    os._exit(0)


def _proxy_until_term(zmq, front, back) -> None:
    try:
        zmq.proxy(front, back)
    except zmq.ZMQError:
        pass


def thr_receiver_connect(conn, lib: str, endpoint: str, size: int, count: int, cap: float,
                         hwm: int) -> None:
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.linger = 0
    sock.rcvhwm = hwm
    sock.connect(endpoint)
    conn.send(("ready", endpoint))
    result = _recv_count(zmq, sock, size, count, cap)
    conn.send(("result", result))
    _close(ctx, [sock])


# -- matching against many subscriptions -----------------------------------------------------
def subs_publisher(conn, lib: str, nsubs: int, duration: float) -> None:
    """A PUB whose one subscriber holds ``nsubs`` topics; publish on them for ``duration``."""
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.linger = 0
    sock.sndtimeo = STALL_TIMEOUT_MS
    sock.setsockopt(zmq.XPUB_NODROP, 1)
    sock.rcvhwm = 0  # libzmq drops subscriptions past the pipe's mark: let all 100k through
    sock.bind("tcp://127.0.0.1:*")
    conn.send(("ready", sock.getsockopt(zmq.LAST_ENDPOINT).decode()))
    sock.rcvtimeo = 60_000
    t0 = time.monotonic()
    for _ in range(nsubs + 1):  # every subscription (and END's), as the XPUB sees it arrive
        sock.recv()
    sub_s = time.monotonic() - t0
    topics = [b"topic-%06d-" % i for i in range(0, nsubs, max(1, nsubs // 1000))]
    msgs = [t + b"x" * 32 for t in topics]
    send = sock.send
    sent = 0
    t0 = time.monotonic()
    deadline = t0 + duration
    while time.monotonic() < deadline:
        for m in msgs:
            send(m)
        sent += len(msgs)
    t1 = time.monotonic()
    send(END)
    conn.send(("result", {"sent": sent, "t0": t0, "t1": t1, "subscribe_s": sub_s}))
    conn.poll(30)
    _close(ctx, [sock])


def subs_subscriber(conn, lib: str, endpoint: str, nsubs: int) -> None:
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.linger = 0
    sock.rcvhwm = 0
    sock.sndhwm = 0  # libzmq drops subscriptions past the pipe's mark: let all 100k through
    for i in range(nsubs):
        sock.setsockopt(zmq.SUBSCRIBE, b"topic-%06d-" % i)
    sock.setsockopt(zmq.SUBSCRIBE, END)
    sock.connect(endpoint)
    sock.rcvtimeo = 60_000
    conn.send(("ready", None))
    count = 0
    recv = sock.recv
    while recv() != END:
        count += 1
    conn.send(("result", {"count": count}))
    _close(ctx, [sock])


# -- CPU time, CPU placement, CURVE keys ------------------------------------------------------
def cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process, all its threads."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def pin(cpu) -> None:
    """Pin this process to one CPU (``None``: leave it), before any Context exists, so the
    library's I/O threads inherit the placement."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def curve_server(zmq, sock) -> bytes:
    """Make ``sock`` a CURVE server with a fresh key pair; return its public key."""
    public, secret = zmq.curve_keypair()
    sock.curve_server = True
    sock.curve_secretkey = secret
    return public


def curve_client(zmq, sock, server_public: bytes) -> None:
    public, secret = zmq.curve_keypair()
    sock.curve_serverkey = server_public
    sock.curve_publickey = public
    sock.curve_secretkey = secret


# -- throughput (libzmq's local_thr / remote_thr), optionally CURVE, pinned ------------------
def thr_receiver(conn, lib: str, endpoint: str, size: int, count: int, cap: float,
                 hwm: int, curve: bool = False, cpu=None) -> None:
    """A PULL that binds (optionally a CURVE server, optionally pinned to ``cpu``) and
    times ``count`` messages."""
    pin(cpu)
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.linger = 0
    sock.rcvhwm = hwm
    key = curve_server(zmq, sock) if curve else None
    sock.bind(endpoint)
    conn.send(("ready", (sock.getsockopt(zmq.LAST_ENDPOINT).decode(), key)))
    result = _recv_count(zmq, sock, size, count, cap)
    conn.send(("result", result))
    _close(ctx, [sock])


def thr_sender(conn, lib: str, endpoint: str, size: int, count: int, cap: float,
               hwm: int, server_key=None, cpu=None) -> None:
    """A PUSH that connects (a CURVE client if ``server_key``) and sends ``count``
    messages; its CPU time covers the send loop and the flush at close."""
    pin(cpu)
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.sndhwm = hwm
    sock.sndtimeo = STALL_TIMEOUT_MS
    if server_key is not None:
        curve_client(zmq, sock, server_key)
    sock.connect(endpoint)
    c0 = cpu_s()
    sent = _send_count(zmq, sock, size, count, cap + 10.0)
    _close(ctx, [sock], linger=2000)
    conn.send(("result", {"sent": sent, "cpu": cpu_s() - c0}))


def thr_inproc(conn, lib: str, endpoint: str, size: int, count: int, cap: float,
               hwm: int) -> None:
    """Both ends in one process: the sender in a thread, the receiver in the main thread."""
    zmq = load(lib)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.linger = 0
    pull.rcvhwm = hwm
    pull.bind(endpoint)
    push = ctx.socket(zmq.PUSH)
    push.linger = 0
    push.sndhwm = hwm
    push.sndtimeo = STALL_TIMEOUT_MS
    push.connect(endpoint)
    sender = threading.Thread(target=_send_count, args=(zmq, push, size, count, cap + 10.0),
                              daemon=True)
    conn.send(("ready", endpoint))
    sender.start()
    result = _recv_count(zmq, pull, size, count, cap)  # its CPU: both threads
    conn.send(("result", result))
    _close(ctx, [pull, push])


# -- latency (libzmq's local_lat / remote_lat), optionally pinned -----------------------------
def lat_server(conn, lib: str, endpoint: str, cap: float, cpu) -> None:
    pin(cpu)
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    sock.sndtimeo = STALL_TIMEOUT_MS
    sock.bind(endpoint)
    conn.send(("ready", sock.getsockopt(zmq.LAST_ENDPOINT).decode()))
    sock.rcvtimeo = FIRST_TIMEOUT_MS
    recv, send = sock.recv, sock.send
    send(recv())  # connection set-up
    sock.rcvtimeo = STALL_TIMEOUT_MS
    n = 0
    c0 = cpu_s()
    deadline = time.perf_counter() + cap + 30.0
    try:
        while True:
            msg = recv()
            send(msg)
            if not msg:
                break
            n += 1
            if not n % CHUNK and time.perf_counter() > deadline:
                break
    except zmq.Again:
        raise Stalled(f"REP: no request for {STALL_TIMEOUT_MS} ms after {n}") from None
    conn.send(("result", {"served": n, "cpu": cpu_s() - c0}))
    _close(ctx, [sock])


def lat_client(conn, lib: str, endpoint: str, size: int, count: int, cap: float,
                cpu) -> None:
    pin(cpu)
    zmq = load(lib)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    sock.sndtimeo = STALL_TIMEOUT_MS
    sock.rcvtimeo = FIRST_TIMEOUT_MS
    sock.connect(endpoint)
    msg = b"\x01" * size
    send, recv = sock.send, sock.recv
    send(msg)
    recv()  # connection set-up
    sock.rcvtimeo = STALL_TIMEOUT_MS
    for _ in range(min(1000, count // 10)):  # warm-up
        send(msg)
        recv()
    n = 0
    c0 = cpu_s()
    t0 = time.perf_counter()
    deadline = t0 + cap
    try:
        while n < count:
            k = min(64, count - n)
            for _ in range(k):
                send(msg)
                recv()
            n += k
            if time.perf_counter() > deadline:
                break
    except zmq.Again:
        raise Stalled(f"REQ: no reply for {STALL_TIMEOUT_MS} ms after {n}") from None
    t1 = time.perf_counter()
    cpu = cpu_s() - c0
    send(b"")
    recv()
    conn.send(("result", {"count": n, "elapsed": t1 - t0, "capped": n < count, "cpu": cpu}))
    _close(ctx, [sock])


# -- handshakes: connect, one round trip, close ---------------------------------------------
HS_WINDOW = 16  # connections in flight


def hs_server(conn, lib: str, mech: str, zap: bool) -> None:
    """A ROUTER that echoes; CURVE server if ``mech == "CURVE"``; with ``zap``, the
    library's own ThreadAuthenticator (CURVE_ALLOW_ANY) answers ZAP for each handshake."""
    zmq = load(lib)
    importlib.import_module(lib + ".auth.thread")
    ctx = zmq.Context()
    auth = None
    if zap:
        auth = zmq.auth.thread.ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve("*", "*")
    s = ctx.socket(zmq.ROUTER)
    s.linger = 0
    key = curve_server(zmq, s) if mech == "CURVE" else None
    s.bind("tcp://127.0.0.1:*")
    conn.send(("ready", (s.getsockopt(zmq.LAST_ENDPOINT).decode(), key)))
    s.rcvtimeo = 15000
    served = 0
    try:
        while True:
            rid, body = s.recv_multipart()
            if body == b"stop":
                break
            s.send_multipart([rid, body])
            served += 1
    except zmq.Again:
        pass
    s.close(0)
    if auth is not None:
        auth.stop()
    conn.send(("result", {"served": served}))
    _close(ctx, [])


def hs_client(conn, lib: str, endpoint: str, key, n: int, cap: float) -> None:
    """Open ``n`` connections, ``HS_WINDOW`` at a time: a DEALER each connects, sends one
    message, waits for the echo and closes."""
    zmq = load(lib)
    ctx = zmq.Context()
    poller = zmq.Poller()

    def opened():
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        if key is not None:
            curve_client(zmq, s, key)
        s.connect(endpoint)
        s.send(b"hello")
        poller.register(s, zmq.POLLIN)
        return s

    c0 = cpu_s()
    t0 = time.perf_counter()
    deadline = t0 + cap
    live = {opened() for _ in range(min(HS_WINDOW, n))}
    started, done = len(live), 0
    while live and time.perf_counter() < deadline:
        events = poller.poll(5000)
        if not events:
            raise Stalled(f"no echo for 5 s after {done} handshakes")
        for s, _ in events:
            s.recv()
            poller.unregister(s)
            live.discard(s)
            s.close(0)
            done += 1
            if started < n:
                live.add(opened())
                started += 1
    dt = time.perf_counter() - t0
    cpu = cpu_s() - c0
    for s in live:
        s.close(0)
    stop = ctx.socket(zmq.DEALER)
    stop.linger = 1000
    if key is not None:
        curve_client(zmq, stop, key)
    stop.connect(endpoint)
    stop.send(b"stop")
    conn.send(("result", {"count": done, "elapsed": dt, "capped": done < n, "cpu": cpu}))
    _close(ctx, [stop], linger=1000)


# -- a ROUTER serving many DEALER clients -------------------------------------------------------
def serve_router(conn, lib: str, total: int) -> None:
    """An echoing ROUTER; times from the first request to the ``total``-th reply sent."""
    zmq = load(lib)
    ctx = zmq.Context()
    s = ctx.socket(zmq.ROUTER)
    s.linger = 0
    s.sndtimeo = STALL_TIMEOUT_MS
    s.bind("tcp://127.0.0.1:*")
    conn.send(("ready", s.getsockopt(zmq.LAST_ENDPOINT).decode()))
    s.rcvtimeo = 60_000
    recv, send = s.recv_multipart, s.send_multipart
    send(recv())
    t0 = time.perf_counter()
    c0 = cpu_s()
    s.rcvtimeo = STALL_TIMEOUT_MS
    served = 1
    try:
        while served < total:
            send(recv())
            served += 1
    except zmq.Again:
        raise Stalled(f"ROUTER: no request for {STALL_TIMEOUT_MS} ms after {served}") from None
    conn.send(("result", {"count": served, "elapsed": time.perf_counter() - t0,
                          "cpu": cpu_s() - c0}))
    conn.poll(30)
    _close(ctx, [s])


def serve_clients(conn, lib: str, endpoint: str, clients: int, requests: int) -> None:
    """``clients`` DEALERs in one context, each sending ``requests`` requests one after
    the other (the next when the reply to the last is in); all start on "go"."""
    zmq = load(lib)
    ctx = zmq.Context()
    poller = zmq.Poller()
    socks = []
    for _ in range(clients):
        d = ctx.socket(zmq.DEALER)
        d.linger = 0
        d.sndtimeo = STALL_TIMEOUT_MS
        d.connect(endpoint)
        poller.register(d, zmq.POLLIN)
        socks.append(d)
    conn.send(("ready", clients))
    if conn.recv() != "go":
        raise ValueError("expected go")
    body = b"r" * 64
    left = {d: requests for d in socks}
    for d in socks:
        d.send(body)
    c0 = cpu_s()
    pending = clients
    while pending:
        events = poller.poll(STALL_TIMEOUT_MS)
        if not events:
            raise Stalled("DEALER: no reply for 5 s")
        for d, _ in events:
            d.recv()
            left[d] -= 1
            if left[d]:
                d.send(body)
            else:
                poller.unregister(d)
                pending -= 1
    conn.send(("result", {"cpu": cpu_s() - c0}))
    _close(ctx, socks)


# -- asyncio REQ/REP (purezmq with io_on_loop=False: the connections on its I/O thread) -----
def _aio(lib: str):
    """(the library, a factory of its asyncio Context)."""
    zmq = load(lib)
    zaio = importlib.import_module(lib + ".asyncio")
    if lib == "purezmq":
        return zmq, lambda: zaio.Context(io_on_loop=False)
    return zmq, zaio.Context


def alat_server(conn, lib: str, size: int) -> None:
    import asyncio

    zmq, new_context = _aio(lib)

    async def main():
        ctx = new_context()
        s = ctx.socket(zmq.REP)
        s.linger = 0
        s.bind("tcp://127.0.0.1:*")
        conn.send(("ready", s.getsockopt(zmq.LAST_ENDPOINT).decode()))
        s.rcvtimeo = FIRST_TIMEOUT_MS
        await s.send(await s.recv())
        s.rcvtimeo = STALL_TIMEOUT_MS
        c0 = cpu_s()
        n = 0
        while True:
            msg = await s.recv()
            await s.send(msg)
            if not msg:
                break
            n += 1
        conn.send(("result", {"served": n, "cpu": cpu_s() - c0}))
        s.close(0)
        ctx.term()

    asyncio.run(main())


def alat_client(conn, lib: str, endpoint: str, size: int, count: int, cap: float) -> None:
    import asyncio

    zmq, new_context = _aio(lib)

    async def main():
        ctx = new_context()
        s = ctx.socket(zmq.REQ)
        s.linger = 0
        s.rcvtimeo = FIRST_TIMEOUT_MS
        s.sndtimeo = STALL_TIMEOUT_MS
        s.connect(endpoint)
        msg = b"\x01" * size
        await s.send(msg)
        await s.recv()
        s.rcvtimeo = STALL_TIMEOUT_MS
        for _ in range(min(200, count // 10)):
            await s.send(msg)
            await s.recv()
        n = 0
        c0 = cpu_s()
        t0 = time.perf_counter()
        deadline = t0 + cap
        while n < count:
            await s.send(msg)
            await s.recv()
            n += 1
            if not n & 63 and time.perf_counter() > deadline:
                break
        t1 = time.perf_counter()
        cpu = cpu_s() - c0
        await s.send(b"")
        await s.recv()
        s.close(0)
        ctx.term()
        return {"count": n, "elapsed": t1 - t0, "capped": n < count, "cpu": cpu}

    conn.send(("result", asyncio.run(main())))
