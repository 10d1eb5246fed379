"""ZeroMQ error classes, mirroring pyzmq's ``zmq.error``.

Same names, hierarchy, constructor signatures, ``errno``/``strerror`` attributes,
``str()``/``repr()`` and pickling behaviour as pyzmq.  As in pyzmq, ``ZMQError(EAGAIN)``
is a plain ``ZMQError``: the specific subclasses (``Again``, ``ContextTerminated``,
``InterruptedSystemCall``) are chosen by the code that raises, here :func:`error_for`
(pyzmq's ``_check_rc`` does the same choice).

libzmq keeps a per-thread "last error" read by ``zmq_errno()``; ``ZMQError()`` with no
errno uses it.  We emulate it: :func:`error_for` records the errno of the error it
builds, per thread, and :func:`zmq_errno` returns it (0 before any error).
"""

from __future__ import annotations

import os
import threading
from errno import EINTR
from typing import Literal

from .constants import EAGAIN, EFSM, EHOSTUNREACH, EMTHREAD, ENOCOMPATPROTO, ETERM

# Messages for which libzmq's zmq_strerror() does not defer to the C library's strerror().
_LIBZMQ_MESSAGES: dict[int, str] = {
    EFSM: "Operation cannot be accomplished in current state",
    ENOCOMPATPROTO: "The protocol is not compatible with the socket type",
    ETERM: "Context was terminated",
    EMTHREAD: "No thread available",
    EHOSTUNREACH: "Host unreachable",
}


def strerror(errno: int) -> str:
    """Return libzmq's message for an error number (like ``zmq.strerror``)."""
    message = _LIBZMQ_MESSAGES.get(errno)
    if message is None:
        message = os.strerror(errno)
    return message


_last_error = threading.local()


def zmq_errno() -> int:
    """The errno of the last error built by :func:`error_for` in this thread (0 if none)."""
    return getattr(_last_error, "errno", 0)


class DraftFDWarning(RuntimeWarning):
    """Warning for using the experimental FD on draft (thread-safe) sockets."""

    def __init__(self, msg: str = "") -> None:
        if not msg:
            msg = (
                "socket.FD support on thread-safe sockets is experimental, and may be removed."
                " You can suppress this warning with"
                " `warnings.simplefilter('ignore', zmq.error.DraftFDWarning)`"
            )
        super().__init__(msg)


class ZMQBaseError(Exception):
    """Base exception class for 0MQ errors in Python."""


class ZMQError(ZMQBaseError):
    """Wrap an errno style error.

    Parameters
    ----------
    errno : int
        The ZMQ errno or None.  If None, the thread's last error (``zmq_errno()``) is used.
    msg : str
        Description of the error or None (then ``strerror(errno)`` is used).
    """

    errno: int | None = None
    strerror: str

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        if errno is None:
            errno = zmq_errno()
        if isinstance(errno, int):
            self.errno = errno
            self.strerror = strerror(errno) if msg is None else msg
        else:
            # pyzmq accepts a non-int "errno" (e.g. a message) and leaves .errno as None
            self.strerror = str(errno) if msg is None else msg

    def __str__(self) -> str:
        return self.strerror

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('{self}')"


class ZMQBindError(ZMQBaseError):
    """An error for ``Socket.bind_to_random_port()``."""


class NotDone(ZMQBaseError):
    """Raised when timeout is reached while waiting for 0MQ to finish with a Message."""


class ContextTerminated(ZMQError):
    """Wrapper for zmq.ETERM (arguments are ignored)."""

    def __init__(
        self,
        errno: int | Literal["ignored"] = "ignored",
        msg: str = "ignored",
    ) -> None:
        super().__init__(ETERM)


class Again(ZMQError):
    """Wrapper for zmq.EAGAIN (arguments are ignored)."""

    def __init__(
        self,
        errno: int | Literal["ignored"] = "ignored",
        msg: str = "ignored",
    ) -> None:
        super().__init__(EAGAIN)


class InterruptedSystemCall(ZMQError, InterruptedError):
    """Wrapper for EINTR (arguments are ignored).

    Should be caught internally to retry the call, never reach the user.
    """

    errno = EINTR
    strerror: str

    def __init__(
        self,
        errno: int | Literal["ignored"] = "ignored",
        msg: str = "ignored",
    ) -> None:
        super().__init__(EINTR)

    def __str__(self) -> str:
        s = super().__str__()
        return s + ": This call should have been retried. Please report this to pyzmq."


def error_for(errno: int, msg: str | None = None) -> ZMQError:
    """Build the exception pyzmq would raise for ``errno``, and record it as the last error.

    EINTR -> InterruptedSystemCall, EAGAIN -> Again, ETERM -> ContextTerminated
    (these ignore ``msg``, as in pyzmq), anything else -> ZMQError(errno, msg).
    """
    _last_error.errno = errno
    if errno == EAGAIN:
        return Again(errno)
    if errno == ETERM:
        return ContextTerminated(errno)
    if errno == EINTR:
        return InterruptedSystemCall(errno)
    return ZMQError(errno, msg)


def _check_rc(rc: int, errno: int | None = None, error_without_errno: bool = True) -> None:
    """Raise the appropriate ZMQError if ``rc == -1`` (pyzmq's internal helper)."""
    if rc == -1:
        if errno is None:
            errno = zmq_errno()
        if errno == 0 and not error_without_errno:
            return
        raise error_for(errno)


# Cached libzmq version strings, filled on first use (tests may set them).
_zmq_version_info: tuple[int, ...] | None = None
_zmq_version: str | None = None


class ZMQVersionError(NotImplementedError):
    """Raised when a feature is not provided by the emulated version of libzmq."""

    msg: str
    min_version: str
    version: str

    def __init__(self, min_version: str, msg: str = "Feature") -> None:
        global _zmq_version
        if _zmq_version is None:
            from . import zmq_version

            _zmq_version = zmq_version()
        self.msg = msg
        self.min_version = min_version
        self.version = _zmq_version

    def __repr__(self) -> str:
        return f"ZMQVersionError('{self}')"

    def __str__(self) -> str:
        return f"{self.msg} requires libzmq >= {self.min_version}, have {self.version}"


def _check_version(
    min_version_info: tuple[int] | tuple[int, int] | tuple[int, int, int],
    msg: str = "Feature",
) -> None:
    """Raise ZMQVersionError if the emulated libzmq is older than ``min_version_info``."""
    global _zmq_version_info
    if _zmq_version_info is None:
        from . import zmq_version_info

        _zmq_version_info = zmq_version_info()
    if _zmq_version_info < min_version_info:
        min_version = ".".join(str(v) for v in min_version_info)
        raise ZMQVersionError(min_version, msg)


__all__ = [
    "Again",
    "ContextTerminated",
    "DraftFDWarning",
    "InterruptedSystemCall",
    "NotDone",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
]
