"""pyzmq's ``zmq.sugar.version``: the API levels purezmq implements.

Applications gate features on these (``zmq.__version__``, ``pyzmq_version_info() >=
(13,)``, ``zmq_version_info() >= (4, 2)``), so they report, consistently, the pyzmq API
level purezmq mirrors and the libzmq version whose behaviour and wire protocol it follows.
purezmq's own version is :data:`purezmq.__purezmq_version__` / ``purezmq_version()``.
"""

from __future__ import annotations

#: The pyzmq release whose API purezmq implements (and is checked against).
__version__: str = "27.3.0"
#: pyzmq's git revision of a development build; purezmq has none.
__revision__: str = ""

VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = (int(p) for p in __version__.split(".")[:3])
VERSION_EXTRA: str = ""  # a released level: no ".devN" suffix
version_info: tuple[int, int, int] | tuple[int, int, int, float] = (
    VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH,
)

#: The libzmq release whose behaviour and wire protocol purezmq follows.
_LIBZMQ_VERSION_INFO: tuple[int, int, int] = (4, 3, 5)


def pyzmq_version() -> str:
    """The pyzmq API level purezmq implements, as a string (``"27.3.0"``)."""
    return __version__ + (f"+{__revision__[:6]}" if __revision__ else "")


def pyzmq_version_info() -> tuple[int, int, int] | tuple[int, int, int, float]:
    """The pyzmq API level purezmq implements, as a tuple of three numbers."""
    return version_info


def zmq_version_info() -> tuple[int, int, int]:
    """The libzmq version whose behaviour and wire protocol purezmq follows (no libzmq is
    loaded)."""
    return _LIBZMQ_VERSION_INFO


def zmq_version() -> str:
    """:func:`zmq_version_info` as a string (``"4.3.5"``)."""
    return "{}.{}.{}".format(*zmq_version_info())


__all__ = [
    "zmq_version",
    "zmq_version_info",
    "pyzmq_version",
    "pyzmq_version_info",
    "__version__",
    "__revision__",
]
