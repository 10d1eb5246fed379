"""Remove the POSIX-only pieces of the standard library, to run purezmq as on Windows.

No Windows or macOS machine runs these tests; this is the next best check that purezmq is
portable *by construction*: with ``select.poll`` (and epoll, kqueue...), ``socket.AF_UNIX``,
``os.fork``, ``os.sched_yield`` and ``fcntl`` gone and ``socket.socketpair`` over
loopback TCP (as Windows' Python makes it), ``import purezmq`` must work, polling
must go through ``select.select``, ``ipc://`` must fail with ``EPROTONOSUPPORT``, and tcp,
inproc, the Poller, hosted receives and asyncio must behave as on Linux.  What it cannot
show: Windows' own socket semantics (``SO_EXCLUSIVEADDRUSE``, WSA error codes, select's
512-descriptor default limit), which are unit-tested with stand-ins in
``tests/test_portable.py`` but have not run on a real Windows or Mac.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import sys

REMOVED_SELECT = (
    "poll", "epoll", "devpoll", "kqueue", "kevent",
    "POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDNORM",
    "POLLRDBAND", "POLLWRNORM", "POLLWRBAND", "POLLMSG", "POLLRDHUP",
)  # fmt: skip
REMOVED_OS = ("fork", "forkpty", "register_at_fork", "sched_yield")


def loopback_socketpair(family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
    """``socket.socketpair`` as Windows' Python provides it: two TCP sockets connected
    over the loopback interface (there is no AF_UNIX pair)."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    lsock = socket.socket(family, type, proto)
    try:
        lsock.bind((host, 0))
        lsock.listen()
        a = socket.socket(family, type, proto)
        try:
            a.connect(lsock.getsockname()[:2])
            b, _ = lsock.accept()
        except BaseException:
            a.close()
            raise
    finally:
        lsock.close()
    return a, b


def strip_posix() -> None:
    """Remove the pieces; call before purezmq is imported (asyncio may be imported first,
    as it is on Windows with its own event loop)."""
    import asyncio  # noqa: F401  (its Linux event loop looks these names up at import)
    import multiprocessing

    if "purezmq" in sys.modules:
        raise RuntimeError("strip_posix() must run before purezmq is imported")
    for name in REMOVED_SELECT:
        if hasattr(select, name):
            delattr(select, name)
    selectors.DefaultSelector = selectors.SelectSelector
    if hasattr(socket, "AF_UNIX"):
        del socket.AF_UNIX
    socket.socketpair = loopback_socketpair
    for name in REMOVED_OS:
        if hasattr(os, name):
            delattr(os, name)
    sys.modules["fcntl"] = None  # type: ignore[assignment]  # import fcntl: ImportError
    multiprocessing.set_start_method("spawn", force=True)  # as on Windows and macOS
    os.environ["PUREZMQ_NONPOSIX_STRIPPED"] = "1"
