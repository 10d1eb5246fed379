"""The operating system's threads and selectors for the I/O thread, even under monkey-patching.

gevent's ``monkey.patch_all()`` (locust and many gevent programs call it first thing)
replaces, in place, ``threading``'s thread start and ``get_ident`` with greenlet versions
and ``selectors.DefaultSelector`` / ``select`` with ones that switch to gevent's hub.  The
context's I/O thread (:class:`purezmq.io.reactor.Reactor`) must stay a real OS thread that
sleeps in the kernel, as libzmq's I/O threads do under pyzmq: as a greenlet it would run
only while the application yields to the hub; as a real thread with a patched selector
(``patch_all(thread=False)``) it dies at its first wait ("would block forever"); and with
a native selector in a greenlet (``patch_all(select=False)``) it blocks every greenlet.

So the reactor takes its thread, thread identity, selector and wake-up socket pair from
here: the originals gevent saved (``gevent.monkey.get_original``) if gevent patched
before purezmq was imported, else the standard library's own, captured at import (a later
patch replaces the modules' attributes, not the objects captured).  So a context created
before a patch and one created after it both get real threads.

Everything else stays as the application made it: the locks the sockets share with the
I/O thread (gevent's are usable across threads), the connections' sockets (used
non-blocking, they never wait in a hub), and the waits of blocking calls, which under a
full patch yield to other greenlets.
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any


def _original(module: str, name: str) -> Any:
    """``module.name`` as it was before gevent patched it (as it is, if it never did)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original(module, name)
    return getattr(__import__(module), name)


# Captured once: before a patch these are the standard library's objects, after one the
# originals gevent saved; a later patch replaces module attributes, not these objects.
get_ident: Callable[[], int] = _original("_thread", "get_ident")
_start_new_thread = _original("_thread", "start_new_thread")
_allocate_lock = _original("_thread", "allocate_lock")
_Selector = _original("selectors", "DefaultSelector")
_Socket = _original("socket", "socket")
_socketpair = _original("_socket", "socketpair")


def patched(module: str = "threading") -> bool:
    """True if gevent has monkey-patched ``module`` in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched(module))


def default_selector() -> selectors.BaseSelector:
    """A selector that waits in the kernel."""
    return _Selector()


def socketpair() -> tuple[socket.socket, socket.socket]:
    """A connected pair of plain (not cooperative) sockets."""
    a, b = _socketpair()
    return (_Socket(a.family, a.type, a.proto, a.detach()),
            _Socket(b.family, b.type, b.proto, b.detach()))


class _OsThread:
    """A daemon OS thread started with the original ``_thread.start_new_thread`` (a patched
    ``threading.Thread`` would be a greenlet): ``start``, ``ident``, ``join``, ``is_alive``
    and ``name``, the part of ``threading.Thread`` the reactor uses."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self.name = name
        self.daemon = True
        self.ident: int | None = None
        self._target = target
        self._started = _allocate_lock()
        self._started.acquire()
        self._done = _allocate_lock()
        self._done.acquire()

    def start(self) -> None:
        _start_new_thread(self._bootstrap, ())
        self._started.acquire()  # so ``ident`` is set when start() returns

    def _bootstrap(self) -> None:
        self.ident = get_ident()
        self._started.release()
        try:
            self._target()
        except BaseException:  # noqa: BLE001 (as threading: report, end the thread)
            sys.excepthook(*sys.exc_info())
        finally:
            self._done.release()

    def join(self, timeout: float | None = None) -> None:
        if self._done.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            self._done.release()

    def is_alive(self) -> bool:
        return self.ident is not None and self._done.locked()


def thread(target: Callable[[], None], name: str) -> Any:
    """An unstarted daemon thread running ``target``: a ``threading.Thread`` (so it shows in
    ``threading.enumerate()``) unless gevent has patched ``threading``, then an OS thread
    all the same."""
    if patched("threading"):
        return _OsThread(target, name)
    return threading.Thread(target=target, name=name, daemon=True)


__all__ = ["default_selector", "get_ident", "patched", "socketpair", "thread"]
