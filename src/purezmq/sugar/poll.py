"""``Poller`` and ``select`` over purezmq sockets, Python sockets and file descriptors.

A purezmq socket has no kernel file descriptor to poll, so the poller registers a wake
callback on each socket (the same mechanism blocking calls use) and, when raw file
descriptors are registered too, waits in ``select.poll`` (``select.select`` where there
is no poll) on them plus a wake-up socket pair that those callbacks write to.  Nothing
spins: an idle poll sleeps in the kernel or on a lock.
"""

from __future__ import annotations

import time
from typing import Any

from purezmq import _compat
from purezmq import constants as C
from purezmq.core.socket import SocketBase
from purezmq.plumbing.waiter import Waiter

_PLAIN = {C.POLLIN: _compat.POLLIN, C.POLLOUT: _compat.POLLOUT, C.POLLERR: _compat.POLLERR}


def _fd_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    fileno = getattr(obj, "fileno", None)
    if fileno is None:  # pyzmq's error, raised by poll() (register() takes anything)
        raise TypeError(
            f"Socket must be a 0MQ socket, an integer fd or have a fileno() method: {obj!r}"
        )
    return fileno()


class Poller:
    """pyzmq's ``zmq.Poller``."""

    # How a poll sleeps: on a Waiter woken by the sockets, and in a poll object when raw
    # file descriptors are registered too (``select.poll`` or its ``select.select`` stand-in;
    # purezmq.green's Poller yields to gevent's hub).
    _waiter_class: Any = Waiter

    @staticmethod
    def _fd_poller() -> Any:
        return _compat.poll()  # looked up per poll: what the platform (or a test) provides

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, int]] = []
        self._map: dict[Any, int] = {}

    def __contains__(self, socket: Any) -> bool:
        return socket in self._map

    def register(self, socket: Any, flags: int = C.POLLIN | C.POLLOUT) -> None:
        flags = int(flags)  # results are plain ints, as pyzmq's
        if flags:
            if socket in self._map:
                idx = self._map[socket]
                self.sockets[idx] = (socket, flags)
            else:
                self.sockets.append((socket, flags))
                self._map[socket] = len(self.sockets) - 1
        elif socket in self._map:
            self.unregister(socket)

    def modify(self, socket: Any, flags: int = C.POLLIN | C.POLLOUT) -> None:
        self.register(socket, flags)

    def unregister(self, socket: Any) -> None:
        idx = self._map.pop(socket)
        self.sockets.pop(idx)
        for sock, i in list(self._map.items()):
            if i > idx:
                self._map[sock] = i - 1

    def _ready_zmq(self) -> list[tuple[Any, int]]:
        found = []
        for sock, flags in self.sockets:
            if isinstance(sock, SocketBase):
                ev = sock._events() & flags if not sock.closed else 0
                if ev:
                    found.append((sock, ev))
        return found

    def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait up to ``timeout`` ms (None or negative: forever); return (socket, events)."""
        if timeout is None or timeout < 0:
            deadline = None
        else:
            deadline = time.monotonic() + timeout / 1000.0
        zsocks = [s for s, _ in self.sockets if isinstance(s, SocketBase)]
        raw = [(s, f) for s, f in self.sockets if not isinstance(s, SocketBase)]
        if not raw:
            return self._poll_zmq(zsocks, deadline)
        return self._poll_mixed(zsocks, raw, deadline)

    def _poll_zmq(self, zsocks: list, deadline: float | None) -> list:
        found = self._ready_zmq()
        if found or (deadline is not None and time.monotonic() >= deadline):
            return found
        w = self._waiter_class()
        for s in zsocks:
            s.add_waiter(w.wake)
        try:
            while True:
                w.clear()
                found = self._ready_zmq()
                if found:
                    return found
                if any(s.ctx._terminated for s in zsocks):
                    from purezmq.error import ContextTerminated

                    raise ContextTerminated()
                if deadline is None:
                    w.wait(None)
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    w.wait(remaining)
        finally:
            for s in zsocks:
                s.remove_waiter(w.wake)

    def _poll_mixed(self, zsocks: list, raw: list, deadline: float | None) -> list:
        from purezmq.plumbing.signaler import Signaler  # loads socket: not at import

        waker = Signaler()  # a socket pair: selectable on every platform, unlike a pipe
        wfd = waker.fileno()
        p = self._fd_poller()  # select.poll, its select.select stand-in, or gevent's
        p.register(wfd, _compat.POLLIN)
        fdmap: dict[int, tuple[Any, int]] = {}
        for obj, flags in raw:
            fd = _fd_of(obj)
            mask = 0
            for zf, pf in _PLAIN.items():
                if flags & zf:
                    mask |= pf
            p.register(fd, mask)
            fdmap[fd] = (obj, flags)
        for s in zsocks:
            s.add_waiter(waker.wake)
        try:
            while True:
                found = self._ready_zmq()
                if found:
                    wait_ms = 0
                elif any(s.ctx._terminated for s in zsocks):  # as _poll_zmq: ETERM
                    from purezmq.error import ContextTerminated

                    raise ContextTerminated()
                elif deadline is None:
                    wait_ms = None
                else:
                    wait_ms = max(0, int((deadline - time.monotonic()) * 1000 + 0.999))
                events = p.poll(wait_ms)
                for fd, ev in events:
                    if fd == wfd:
                        waker.drain()
                        continue
                    obj, flags = fdmap[fd]
                    zev = 0
                    if ev & (_compat.POLLIN | _compat.POLLHUP):
                        zev |= C.POLLIN
                    if ev & _compat.POLLOUT:
                        zev |= C.POLLOUT
                    if ev & (_compat.POLLERR | _compat.POLLNVAL):  # NVAL: a closed descriptor
                        zev |= C.POLLERR
                    zev &= flags | C.POLLERR
                    if zev:
                        found.append((obj, zev))
                if not found:
                    found = self._ready_zmq()
                if found or wait_ms == 0:
                    return found
                if deadline is not None and time.monotonic() >= deadline:
                    return []
        finally:
            for s in zsocks:
                s.remove_waiter(waker.wake)
            waker.close()


def select(rlist: list, wlist: list, xlist: list, timeout: float | None = None) -> tuple:
    """pyzmq's ``zmq.select``: like ``select.select`` for purezmq sockets too (seconds)."""
    return select_with(Poller(), rlist, wlist, xlist, timeout)


def select_with(
    poller: Poller, rlist: list, wlist: list, xlist: list, timeout: float | None = None
) -> tuple:
    """``select`` on a given (new, empty) poller: how it waits is the poller's."""
    if timeout is None:
        timeout = -1
    timeout_ms = int(timeout * 1000.0) if timeout >= 0 else -1
    for s in set(rlist) | set(wlist) | set(xlist):
        flags = 0
        if s in rlist:
            flags |= C.POLLIN
        if s in wlist:
            flags |= C.POLLOUT
        if s in xlist:
            flags |= C.POLLERR
        poller.register(s, flags)
    ready = dict(poller.poll(timeout_ms))
    return (
        [s for s in rlist if ready.get(s, 0) & C.POLLIN],
        [s for s in wlist if ready.get(s, 0) & C.POLLOUT],
        [s for s in xlist if ready.get(s, 0) & C.POLLERR],
    )


def zmq_poll(sockets: list, timeout: int = -1) -> list:
    """pyzmq's low-level ``zmq_poll``: ``[(socket, flags)]`` in, ready pairs out."""
    return poll_with(Poller(), sockets, timeout)


def poll_with(poller: Poller, sockets: list, timeout: int = -1) -> list:
    """``zmq_poll`` on a given (new, empty) poller."""
    for sock, flags in sockets:
        poller.register(sock, flags)
    return poller.poll(timeout)


__all__ = ["Poller", "select"]
