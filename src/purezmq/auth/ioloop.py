"""``IOLoopAuthenticator``: pyzmq's deprecated tornado name for the asyncio authenticator.

Tornado runs on asyncio, so :class:`purezmq.auth.asyncio.AsyncioAuthenticator` serves it.
"""

from __future__ import annotations

import warnings
from typing import Any

from .asyncio import AsyncioAuthenticator

__all__ = ["IOLoopAuthenticator"]

warnings.warn(
    "zmq.auth.ioloop.IOLoopAuthenticator is deprecated. Use zmq.auth.asyncio.AsyncioAuthenticator",
    DeprecationWarning,
    stacklevel=2,
)


class IOLoopAuthenticator(AsyncioAuthenticator):
    """ZAP authentication for use in the tornado IOLoop (deprecated)."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: Any = None,
        io_loop: Any = None,
    ) -> None:
        if io_loop is not None:
            warnings.warn(
                f"{self.__class__.__name__}(io_loop) is deprecated and ignored",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(context=context, encoding=encoding, log=log)
