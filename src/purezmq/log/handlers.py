"""Publish log records on a PUB socket (pyzmq's ``zmq.log.handlers``).

Each record goes out as two frames, ``[topic, message]``, UTF-8 encoded. The topic is
``root_topic.LEVELNAME``, then the record's subtopic if its message reads
``"subtopic::the message"`` (empty parts are left out), so a SUB can pick by source, level
and subject::

    handler = PUBHandler("tcp://127.0.0.1:5555")
    handler.root_topic = "myapp"
    logging.getLogger().addHandler(handler)
    logging.getLogger().warning("db.slow::query took %.1fs", 2.5)
    # -> [b"myapp.WARNING.db.slow", b"WARNING app.py:4 - query took 2.5s\\n"]
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from purezmq import constants as C
from purezmq.core.context import Context
from purezmq.sugar.socket import Socket

__all__ = ["PUBHandler", "TopicLogger", "TOPIC_DELIM"]

TOPIC_DELIM = "::"

_WHERE = "%(levelname)s %(filename)s:%(lineno)d - %(message)s"


def _default_formatters() -> dict[int, logging.Formatter]:
    """pyzmq's defaults: INFO is the bare message, the other levels say where it came from."""
    return {
        logging.DEBUG: logging.Formatter(_WHERE + "\n"),
        logging.INFO: logging.Formatter("%(message)s\n"),
        logging.WARNING: logging.Formatter(_WHERE + "\n"),
        logging.ERROR: logging.Formatter(_WHERE + " - %(exc_info)s\n"),
        logging.CRITICAL: logging.Formatter(_WHERE + "\n"),
    }


class PUBHandler(logging.Handler):
    """A logging handler that publishes each record on a PUB socket.

    ``interface_or_socket`` is a socket to publish on (its context is used, ``context`` is
    ignored), or an endpoint to bind a new PUB socket to, in ``context`` (default: a new
    Context). :meth:`close` leaves the socket open: it may be shared.
    """

    ctx: Context
    socket: Socket
    formatters: dict[int, logging.Formatter]

    def __init__(
        self, interface_or_socket: str | Socket, context: Context | None = None,
        root_topic: str = "",
    ) -> None:
        super().__init__()
        self.setRootTopic(root_topic)
        self.formatters = _default_formatters()
        if isinstance(interface_or_socket, Socket):
            self.socket = interface_or_socket
            self.ctx = self.socket.context
            return
        self.ctx = context if context is not None else Context()
        self.socket = self.ctx.socket(C.PUB)
        try:
            self.socket.bind(interface_or_socket)
        except BaseException:
            self.socket.close()  # nothing else would: don't leave it for the collector
            if context is None:
                self.ctx.term()
            raise

    @property
    def root_topic(self) -> str:
        return self._root_topic

    @root_topic.setter
    def root_topic(self, value: str) -> None:
        self.setRootTopic(value)

    def setRootTopic(self, root_topic: str) -> None:
        """Set the topic prefix; subscribers must match it (``""``: topics start at the level).

        ``bytes`` are decoded from UTF-8.
        """
        if isinstance(root_topic, bytes):
            root_topic = root_topic.decode("utf8")
        self._root_topic = root_topic

    def setFormatter(self, fmt: logging.Formatter | None, level: int = logging.NOTSET) -> None:
        """Set the formatter of ``level``, or with no level, of every level (replacing all)."""
        if level:
            self.formatters[level] = fmt  # type: ignore[assignment]
        else:
            for key in self.formatters:
                self.formatters[key] = fmt  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        """Format with the record's level's formatter.

        A level without one (a custom level) borrows the nearest lower level's (pyzmq fails
        with ``KeyError`` there and drops the record).
        """
        if record.levelno in self.formatters:
            return self.formatters[record.levelno].format(record)
        levels = sorted(lv for lv in self.formatters if isinstance(lv, int))
        if not levels:
            return super().format(record)
        below = [lv for lv in levels if lv <= record.levelno]
        return self.formatters[below[-1] if below else levels[0]].format(record)

    def emit(self, record: logging.LogRecord) -> None:
        """Publish ``[topic, message]``; the subtopic is cut off a copy of the record."""
        try:
            subtopic, delim, rest = str(record.msg).partition(TOPIC_DELIM)
            if delim:
                record = copy.copy(record)  # other handlers still see the whole message
                record.msg = rest
            else:
                subtopic = ""
            bmsg = self.format(record).encode("utf8")
        except Exception:
            self.handleError(record)
            return
        # As pyzmq, errors from here on (a non-str root topic, a closed socket) propagate.
        parts = [self.root_topic, record.levelname, subtopic]
        btopic = ".".join(p for p in parts if p).encode("utf8", "replace")
        self.socket.send_multipart([btopic, bmsg])


# Frames of ours between the caller and logging.Logger.log (a level method, _topic_log),
# skipped with ``stacklevel`` so that records point at the caller, not at this file.
_OUR_FRAMES = 2


class TopicLogger(logging.Logger):
    """A Logger whose methods take a topic before the message: ``log.info("db", "msg")``.

    The record's message is ``"topic::msg"``, which :class:`PUBHandler` publishes under
    ``root_topic.LEVEL.topic``.
    """

    def log(self, level: int, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Log ``msg % args`` at ``level`` under ``topic`` (``exc_info=`` etc. as usual)."""
        self._topic_log(level, topic, msg, args, kwargs)

    def _topic_log(
        self, level: int, topic: str, msg: str, args: tuple, kwargs: dict[str, Any]
    ) -> None:
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + _OUR_FRAMES
        super().log(level, f"{topic}{TOPIC_DELIM}{msg}", *args, **kwargs)

    def debug(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._topic_log(logging.DEBUG, topic, msg, args, kwargs)

    def info(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._topic_log(logging.INFO, topic, msg, args, kwargs)

    def warning(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._topic_log(logging.WARNING, topic, msg, args, kwargs)

    warn = warning  # type: ignore[assignment]

    def error(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._topic_log(logging.ERROR, topic, msg, args, kwargs)

    def exception(  # type: ignore[override]
        self, topic: str, msg: str, *args: Any, exc_info: Any = True, **kwargs: Any
    ) -> None:
        kwargs["exc_info"] = exc_info
        self._topic_log(logging.ERROR, topic, msg, args, kwargs)

    def critical(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._topic_log(logging.CRITICAL, topic, msg, args, kwargs)

    fatal = critical  # type: ignore[assignment]
