"""The context: owner of the I/O thread, the inproc names and the shutdown of its sockets.

Shutdown, as in libzmq: ``term()`` marks the context terminated, which makes every blocked
or later operation on its sockets raise ``ContextTerminated``; it then waits until every
socket is closed and every closed socket has finished lingering (its engines flushed their
queued messages or hit the ``LINGER`` deadline), and stops the I/O thread.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from warnings import warn

from purezmq import constants as C
from purezmq.core import addresses
from purezmq.error import ZMQError

if TYPE_CHECKING:
    from purezmq.io.reactor import Reactor

_exiting = False  # no "Unclosed context" warnings at interpreter exit (as pyzmq)


@atexit.register
def _notice_atexit() -> None:
    global _exiting
    _exiting = True


# The socket class a context makes, so that ``zmq.Context[Any]`` and ``Context[Socket]``
# work at run time as in pyzmq (``zmq.asyncio.Context`` is a plain subclass).
_SocketType = TypeVar("_SocketType", covariant=True)


class Context(Generic[_SocketType]):
    """pyzmq's ``zmq.Context``: thread-safe, several per process.

    Generic in the socket class it makes (``Context[Socket[bytes]]``), as pyzmq's."""

    _instance: Any = None
    _instance_lock = threading.Lock()
    _instance_pid: int | None = None
    _socket_class: Any = None  # set by purezmq.sugar.socket

    def __new__(cls, *args: Any, **kwargs: Any):
        shadow = kwargs.get("shadow")
        if shadow and cls.__init__ is Context.__init__:  # (asyncio's makes a new object)
            return cls.shadow(shadow)
        return super().__new__(cls)

    def __init__(self, io_threads: int = 1, **kwargs: Any) -> None:
        if kwargs.get("shadow"):
            return  # __new__ found the context shadowed: it is ready
        if not isinstance(io_threads, int) or io_threads < 0:
            raise ZMQError(C.EINVAL)  # as zmq_ctx_set(ZMQ_IO_THREADS)
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_reactor", None)
        object.__setattr__(self, "_sockets", weakref.WeakSet())
        # Socket cores not yet reaped.  Weak, as pyzmq's: a socket dropped without close() is
        # collected and closed by its __del__; its core, lingering, is held by its I/O
        # objects until they are done (see core/socket.py).
        object.__setattr__(self, "_open", weakref.WeakSet())
        object.__setattr__(self, "_reaped_cv", threading.Condition(self._lock))
        object.__setattr__(self, "_inproc", {})
        object.__setattr__(self, "_inproc_pending", {})
        object.__setattr__(self, "_terminated", False)
        object.__setattr__(self, "_closed", False)
        object.__setattr__(self, "sockopts", {})
        object.__setattr__(self, "_ctxopts", {C.IO_THREADS: io_threads, C.MAX_SOCKETS: 1023})
        object.__setattr__(self, "_pid", os.getpid())
        object.__setattr__(self, "_origin_id", id(self))
        addresses.register(self)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def instance(cls, io_threads: int = 1):
        """The global context of this class (made anew after fork or term)."""
        inst = cls._instance
        if inst is None or cls._instance_pid != os.getpid() or inst.closed:
            with cls._instance_lock:
                inst = cls._instance
                if inst is None or cls._instance_pid != os.getpid() or inst.closed:
                    cls._instance = cls(io_threads=io_threads)
                    cls._instance_pid = os.getpid()
        return cls._instance

    def socket(self, socket_type: int, socket_class=None, **kwargs: Any):
        if not isinstance(socket_type, int):
            raise TypeError("an integer is required")  # as pyzmq (``ctx.socket('PUSH')``)
        if self._closed:
            raise ZMQError(C.ENOTSUP)  # as pyzmq: a closed context makes no sockets
        if self._terminated:
            raise ZMQError(C.ETERM)
        cls = socket_class or self._socket_class
        sock = cls(self, socket_type, **kwargs)
        for opt, value in self.sockopts.items():
            try:
                sock.setsockopt(opt, value)
            except ZMQError:
                pass  # an option that does not apply to this socket type
        return sock

    def _register(self, sock) -> None:
        """Note a new socket: its facade weakly (``destroy`` closes it), its core until it is
        reaped (``term`` waits for it; held by its I/O objects while it lingers)."""
        with self._lock:
            self._sockets.add(sock)
            self._open.add(sock._core)

    def _snapshot(self, which: Any) -> list:
        """A list of ``_sockets`` or ``_open``, taken under the lock: the I/O thread reaps
        cores from ``_open`` (and the collector drops sockets) while we look."""
        with self._lock:
            return list(which)

    def _get_reactor(self) -> Reactor:
        reactor = self._reactor
        if reactor is None:
            with self._lock:
                reactor = self._reactor
                if reactor is None:
                    # loaded with the first reactor, not at ``import purezmq`` (import time)
                    from purezmq.io.reactor import Reactor

                    reactor = Reactor()
                    object.__setattr__(self, "_reactor", reactor)
        return reactor

    def _inproc_bound(self, name: str) -> bool:
        return name in self._inproc

    def _reaped(self, sock) -> None:
        with self._lock:
            self._open.discard(sock)
            self._reaped_cv.notify_all()

    # -- shutdown ----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def term(self) -> None:
        """Wait for every socket to be closed and to finish lingering, then stop."""
        if self._closed:
            return
        object.__setattr__(self, "_terminated", True)
        for sock in self._snapshot(self._sockets):
            sock._notify()
        with self._lock:
            while self._open:
                if not self._reaped_cv.wait(timeout=0.5):
                    for sock in self._snapshot(self._sockets):
                        sock._notify()
        reactor = self._reactor
        if reactor is not None:
            reactor.stop()
            object.__setattr__(self, "_reactor", None)
        object.__setattr__(self, "_closed", True)

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (with ``linger`` if given), then ``term()``."""
        if self._closed:
            return
        for sock in self._snapshot(self._sockets):
            if not sock.closed:
                sock.close(linger=linger)
        if linger is not None:  # sockets closed by their collection may still be lingering
            for core in self._snapshot(self._open):
                if core.closed:
                    core._end_io(linger)
        self.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

    def __del__(self) -> None:
        # As pyzmq, warn about a context collected without term()/destroy(); but never block
        # here: its sockets are garbage too (each references it) and close in their __del__.
        if self.__dict__.get("_origin_id", id(self)) != id(self):
            return  # a copy (shadow) over another context's state
        if not getattr(self, "_closed", True) and not _exiting and warn is not None:
            warn(f"Unclosed context {self}", ResourceWarning, stacklevel=2, source=self)
        reactor = getattr(self, "_reactor", None)
        if reactor is not None and not getattr(self, "_closed", True):
            try:
                reactor.stop(wait=False)
            except Exception:
                pass

    # -- options ------------------------------------------------------------------------
    def set(self, option: int, value: int) -> None:
        option = int(option)
        if option not in set(C.ContextOption):
            raise ZMQError(C.EINVAL)
        if option in (C.IO_THREADS, C.MAX_SOCKETS, C.MAX_MSGSZ) and value < 0:
            raise ZMQError(C.EINVAL)  # as zmq_ctx_set
        self._ctxopts[option] = value

    def get(self, option: int) -> int:
        option = int(option)
        if option == C.SOCKET_LIMIT:
            return 65535
        if option not in set(C.ContextOption):
            raise ZMQError(C.EINVAL)
        return self._ctxopts.get(option, 0)

    setsockopt_ctx = set
    getsockopt_ctx = get

    def setsockopt(self, opt: int, value: Any) -> None:
        """Set a default option for sockets this context creates from now on."""
        self.sockopts[int(opt)] = value

    def getsockopt(self, opt: int) -> Any:
        return self.sockopts[int(opt)]

    def __setattr__(self, key: str, value: Any) -> None:
        upper = key.upper()
        if upper in C.ContextOption.__members__:
            self.set(C.ContextOption[upper], value)
        elif upper in C.SocketOption.__members__:
            self.sockopts[int(C.SocketOption[upper])] = value
        else:
            object.__setattr__(self, key, value)

    def __getattr__(self, key: str) -> Any:
        upper = key.upper()
        if upper in C.ContextOption.__members__:
            return self.get(C.ContextOption[upper])
        if upper in C.SocketOption.__members__:
            try:
                return self.sockopts[int(C.SocketOption[upper])]
            except KeyError:
                raise AttributeError(key) from None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    @classmethod
    def shadow(cls, address: Any):
        """pyzmq shadows a libzmq context by address (``underlying``) or object; here the
        shadow is the context itself (one object, as a pyzmq shadow is one libzmq context)."""
        if isinstance(address, Context):
            return address
        if isinstance(address, int):
            return addresses.find(address, Context, "context")
        raise ZMQError(C.EINVAL, "purezmq can only shadow purezmq contexts")

    @classmethod
    def shadow_pyczmq(cls, ctx: Any):
        raise ZMQError(C.ENOTSUP)

    @property
    def underlying(self) -> int:
        return self.__dict__.get("_origin_id", id(self))  # a copy's is its original's

    _repr_cls = "purezmq.Context"

    def __repr__(self) -> str:
        # pyzmq's form: <zmq.Context() at 0x... closed>
        cls = type(self)
        name = cls.__dict__.get("_repr_cls") or f"{cls.__module__}.{cls.__name__}"
        closed = " closed" if self._closed else ""
        n = sum(1 for sock in self._snapshot(self._sockets) if not sock.closed)
        count = "" if not n else f"{n} socket" if n == 1 else f"{n} sockets"
        return f"<{name}({count}) at {hex(id(self))}{closed}>"

    def __copy__(self):
        """A shadow, as pyzmq's: another object over the same context (its collection
        neither warns nor stops anything)."""
        view = object.__new__(type(self))
        object.__setattr__(view, "__dict__", self.__dict__)
        if hasattr(type(self), "_shadow_of"):  # purezmq.asyncio's (a slot): its original
            object.__setattr__(view, "_shadow_of", getattr(self, "_shadow_of", None) or self)
        return view

    def __deepcopy__(self, memo: Any):
        return self.__copy__()
