"""pyzmq's ``zmq.utils.win32``: ``allow_interrupt``.

pyzmq needs it on Windows because a poll blocked inside libzmq does not see Ctrl-C.  purezmq
blocks in Python, where the interpreter delivers ``KeyboardInterrupt`` itself, so this is
the no-op pyzmq provides off Windows, on every platform: ``action`` is kept, never needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class allow_interrupt:
    """Context manager calling ``action`` on Ctrl-C in pyzmq on Windows; a no-op here (see
    the module docstring)."""

    def __init__(self, action: Callable[[], Any] | None = None) -> None:
        self.action = action if action is not None else (lambda: None)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None
