"""Hosted reads: a caller blocked in ``recv`` reads its connections itself.

Theory of operation.  Handing each received message from the I/O thread to the caller's
thread costs a thread wake-up (tens of microseconds in CPython), which dominates
request-reply latency.  So when a socket's caller blocks in ``recv`` and all of the
socket's peers (a few at most) are ZMTP connections past their handshake, the caller waits
in ``poll`` on those connections' file descriptors plus a wake-up pipe, and reads and
decodes what arrives on its own thread (:meth:`StreamEngine.hosted_read`).  The I/O thread
stands aside for those connections while they are hosted (it drops its read interest the
first time it sees one, and gets it back when hosting ends), and everything else —
connecting, accepting, heartbeats, writing queued traffic — stays on the I/O thread.

The wake-up pipe is signalled through the socket's ordinary waiter list, so commands,
inproc peers, context termination and pipes draining still wake the caller as before.
"""

from __future__ import annotations

import select

from purezmq.plumbing.signaler import Signaler

MAX_HOSTED = 4  # more peers than this: leave reading to the I/O thread


def hostable_engines(sock) -> list | None:
    """The stream engines of all of ``sock``'s peers, or None if that is not all of them."""
    from purezmq.io.engine import StreamEngine
    from purezmq.transports.stream import Session

    peers = sock.peers
    if not peers or len(peers) > MAX_HOSTED:
        return None
    engines = []
    for peer in peers:
        owner = peer.session
        if owner.__class__ is Session:
            owner = owner.engine
        if owner.__class__ is not StreamEngine or owner.closed or not owner.conn.ready:
            return None
        engines.append(owner)
    return engines


def host_signaler(sock) -> Signaler:
    """The socket's hosting wake-up pipe, created on first use."""
    sig = sock._host_sig
    if sig is None:
        sig = Signaler()
        sock._host_sig = sig
    return sig


def host_wait(engines: list, sig: Signaler, timeout: float | None) -> None:
    """Wait until ``sig`` is signalled or an engine has data (then read it), or timeout."""
    poller = select.poll()
    sfd = sig.fileno()
    poller.register(sfd, select.POLLIN)
    by_fd = {}
    for engine in engines:
        engine.hosted = True
        by_fd[engine.fd] = engine
        poller.register(engine.fd, select.POLLIN)
    try:
        ms = -1 if timeout is None else max(0, int(timeout * 1000.0 + 0.999))
        if timeout is None or ms > 500:
            ms = 500  # short slices keep Ctrl-C prompt and let hosting be re-evaluated
        for fd, _ev in poller.poll(ms):
            if fd == sfd:
                sig.drain()
            else:
                by_fd[fd].hosted_read()
    finally:
        for engine in engines:
            engine.unhost()
