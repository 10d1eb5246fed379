"""What differs between the interpreters and operating systems purezmq runs on.

CPython 3.9+ and PyPy 3.9+; Linux, the BSDs and macOS (POSIX), and Windows.  Everything
that is not on every one of them is looked up here, once, so the rest of the package never
touches a platform-only name at import time:

* ``select.poll`` (not on Windows; unreliable on macOS for some descriptor kinds):
  :func:`poll` returns ``select.poll()`` where it exists, else :class:`SelectPoll`, the
  same interface over ``select.select``;
* ``socket.AF_UNIX`` (not in Windows' Python): :data:`AF_UNIX` is ``None`` where it is
  missing, and ``ipc://`` endpoints fail with ``EPROTONOSUPPORT`` as in a libzmq built
  without ipc;
* listening sockets: ``SO_REUSEADDR`` on POSIX (a restarted server rebinds its port while
  old connections are in TIME_WAIT), ``SO_EXCLUSIVEADDRUSE`` on Windows, where
  ``SO_REUSEADDR`` would let a second socket steal a port in use (:func:`reuse_listen_addr`);
* error numbers: Windows reports socket errors as ``WSAE*`` codes (10048...); :func:`zmq_errno`
  turns them into the numbers purezmq's (libzmq's) constants use.

Wake-ups never use ``fork``, signals or pipes: threads wake each other through locks and
socket pairs (``socket.socketpair`` exists everywhere), which every platform can select on.

Only the standard library; every layer may import this module.
"""

from __future__ import annotations

import errno as _errno
import select as _select
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket as _socket_t

#: Keyword arguments for ``@dataclass(...)`` that give the class ``__slots__`` where the
#: interpreter supports it (``slots=`` is new in Python 3.10); on 3.9 the class keeps a
#: ``__dict__``, which changes its memory use, not its behaviour.
DATACLASS_SLOTS: dict[str, Any] = {"slots": True} if sys.version_info >= (3, 10) else {}

WINDOWS = sys.platform.startswith("win")

LINUX = sys.platform.startswith("linux")


def _socket_module() -> Any:
    # The socket module (and the selectors module it imports) loads with the first
    # transport that needs it, not with ``import purezmq`` (tests/test_import_cost.py).
    import socket

    return socket


def __getattr__(name: str) -> Any:
    """The socket constants, computed when first asked for:

    ``AF_UNIX``: ``socket.AF_UNIX``, or None where the platform's Python has no Unix-domain
    sockets.  ``SO_BINDTODEVICE``: Linux's, also where the interpreter's socket module
    leaves it out (PyPy 3.9 has no constant, but its sockets take the option); None
    elsewhere."""
    if name == "AF_UNIX":
        value = getattr(_socket_module(), "AF_UNIX", None)
    elif name == "SO_BINDTODEVICE":
        value = getattr(_socket_module(), "SO_BINDTODEVICE", 25 if LINUX else None)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def if_nametoindex(name: str) -> int:
    """``socket.if_nametoindex``; on Linux without it (PyPy 3.9) the ``SIOCGIFINDEX``
    ioctl, which answers for the calling thread's network namespace.  OSError for an
    unknown interface, as the original."""
    _socket = _socket_module()
    fn = getattr(_socket, "if_nametoindex", None)
    if fn is not None:
        return fn(name)
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else b""
    if not LINUX or not raw or len(raw) >= 16 or b"\0" in raw:
        raise OSError(_errno.ENODEV, "no such interface", name)
    try:
        import fcntl
    except ImportError:  # no ioctl to ask with: as if there were no such interface
        raise OSError(_errno.ENODEV, "no such interface", name) from None
    import struct

    probe = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        res = fcntl.ioctl(probe.fileno(), 0x8933, raw.ljust(40, b"\0"))  # SIOCGIFINDEX
    except OSError:
        raise OSError(_errno.ENODEV, "no such interface", name) from None
    finally:
        probe.close()
    return struct.unpack_from("@i", res, 16)[0]


def if_nameindex() -> list[tuple[int, str]]:
    """``socket.if_nameindex``; on Linux without it (PyPy 3.9) the names in
    ``/proc/self/net/dev`` (the calling thread's network namespace)."""
    fn = getattr(_socket_module(), "if_nameindex", None)
    if fn is not None:
        return fn()
    out = []
    if LINUX:
        with open("/proc/self/net/dev") as f:
            names = [line.split(":", 1)[0].strip() for line in f.readlines()[2:]]
        for name in names:
            try:
                out.append((if_nametoindex(name), name))
            except OSError:
                continue
    return sorted(out)


# poll(2)'s event bits: the platform's where it has poll, else Linux's values (only
# SelectPoll produces and reads them there).
POLLIN: int = getattr(_select, "POLLIN", 0x001)
POLLPRI: int = getattr(_select, "POLLPRI", 0x002)
POLLOUT: int = getattr(_select, "POLLOUT", 0x004)
POLLERR: int = getattr(_select, "POLLERR", 0x008)
POLLHUP: int = getattr(_select, "POLLHUP", 0x010)
POLLNVAL: int = getattr(_select, "POLLNVAL", 0x020)


class SelectPoll:
    """``select.poll``'s interface over ``select.select``, for platforms without poll.

    Two differences from poll are absorbed here: ``select`` with no descriptors at all is
    an error on Windows (this sleeps instead), and ``select`` fails as a whole when one
    descriptor is closed (``EBADF``, ``WSAENOTSOCK``, or ``ValueError`` for -1) where poll
    reports ``POLLNVAL`` for that descriptor: this then looks at each descriptor alone and
    reports the closed ones with ``POLLNVAL``, the others as they are.
    """

    __slots__ = ("_fds",)

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def register(self, fd: Any, eventmask: int = POLLIN | POLLPRI | POLLOUT) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        self._fds[fd] = eventmask

    def modify(self, fd: Any, eventmask: int) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        if fd not in self._fds:
            raise FileNotFoundError(_errno.ENOENT, "descriptor not registered")
        self._fds[fd] = eventmask

    def unregister(self, fd: Any) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        del self._fds[fd]

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """Like ``select.poll().poll``: ``timeout`` in milliseconds, None or < 0 forever."""
        secs = None if timeout is None or timeout < 0 else timeout / 1000.0
        fds = self._fds
        if not fds:
            if secs is None:  # nothing can ever happen; poll would block for good
                while True:
                    time.sleep(3600)
            time.sleep(secs)
            return []
        try:
            return self._select(list(fds.items()), secs)
        except (OSError, ValueError):
            pass
        # One descriptor (at least) is closed: find which, report it as poll would.
        events: list[tuple[int, int]] = []
        alive = []
        for fd, mask in fds.items():
            try:
                self._select([(fd, mask)], 0)
            except (OSError, ValueError):
                events.append((fd, POLLNVAL))
            else:
                alive.append((fd, mask))
        if events:
            return events + (self._select(alive, 0) if alive else [])
        return self._select(list(fds.items()), secs)  # transient: try once more

    @staticmethod
    def _select(items: list[tuple[int, int]], secs: float | None) -> list[tuple[int, int]]:
        r = [fd for fd, m in items if m & (POLLIN | POLLPRI)]
        w = [fd for fd, m in items if m & POLLOUT]
        x = [fd for fd, m in items if m & (POLLPRI | POLLERR)]
        if not (r or w or x):  # registered with an empty mask: poll sleeps
            if secs:
                time.sleep(secs)
            return []
        rr, ww, xx = _select.select(r, w, x, secs)
        out: dict[int, int] = {}
        for fd in rr:
            out[fd] = POLLIN
        for fd in ww:
            out[fd] = out.get(fd, 0) | POLLOUT
        for fd in xx:
            out[fd] = out.get(fd, 0) | POLLERR
        return list(out.items())


def poll() -> Any:
    """A new poll object: ``select.poll()`` where the platform has it, else SelectPoll."""
    p = getattr(_select, "poll", None)
    return p() if p is not None else SelectPoll()


def reuse_listen_addr(sock: _socket_t.socket) -> None:
    """Give a TCP listening socket, before ``bind``, the address-reuse rule libzmq uses:
    ``SO_EXCLUSIVEADDRUSE`` on Windows (no other socket may bind the port while we hold
    it), ``SO_REUSEADDR`` elsewhere (rebind while old connections sit in TIME_WAIT)."""
    _socket = _socket_module()
    exclusive = getattr(_socket, "SO_EXCLUSIVEADDRUSE", None)
    if exclusive is not None:
        sock.setsockopt(_socket.SOL_SOCKET, exclusive, 1)
    else:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)


# Names whose Windows socket error (WSAE<name>, as Python's errno module lists them there)
# maps to purezmq's constant of that name, or to the C library's errno of that name.
_TRANSLATED = (
    "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "ECONNABORTED", "ECONNREFUSED",
    "ECONNRESET", "EHOSTUNREACH", "EINPROGRESS", "EMSGSIZE", "ENETDOWN", "ENETRESET",
    "ENETUNREACH", "ENOBUFS", "ENOTCONN", "ENOTSOCK", "EPROTONOSUPPORT", "ETIMEDOUT",
    "EACCES", "EBADF", "EFAULT", "EINTR", "EINVAL", "EMFILE", "ENAMETOOLONG", "EHOSTDOWN",
)  # fmt: skip


def errno_table(errno_module: Any) -> dict[int, int]:
    """``{WSAE* code: purezmq errno}`` for the given ``errno`` module (empty off Windows).

    ``WSAEWOULDBLOCK`` becomes ``EAGAIN`` (libzmq's translation); ``WSAEOPNOTSUPP``
    becomes ``ENOTSUP``."""
    from purezmq.constants import Errno

    table: dict[int, int] = {}
    pairs = [(n, n) for n in _TRANSLATED] + [("EWOULDBLOCK", "EAGAIN"), ("EOPNOTSUPP", "ENOTSUP")]
    for wsa_name, name in pairs:
        wsa = getattr(errno_module, "WSA" + wsa_name, None)
        if wsa is None:
            continue
        if name in Errno.__members__:
            table[wsa] = int(Errno[name])
        elif hasattr(errno_module, name):
            table[wsa] = getattr(errno_module, name)
    return table


_WSA: dict[int, int] | None = None


def zmq_errno(code: int | None) -> int | None:
    """An ``OSError.errno`` as purezmq's error constants spell it (``zmq.EADDRINUSE``...).

    The identity off Windows, where socket errors already carry the C library's numbers."""
    global _WSA
    if code is None or code < 10000:  # WSA codes start at 10000
        return code
    if _WSA is None:
        _WSA = errno_table(_errno)
    return _WSA.get(code, code)
