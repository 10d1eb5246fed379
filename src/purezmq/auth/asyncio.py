"""``AsyncioAuthenticator``: the ZAP handler as a task of the running asyncio loop.

``start()`` must be called with a loop running (or about to run) in this thread; the task
waits on the ZAP socket with ``purezmq.asyncio.Poller`` and answers each request in turn.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import purezmq
from purezmq import constants as C
from purezmq.asyncio import Poller

from .base import Authenticator

__all__ = ["AsyncioAuthenticator"]


class AsyncioAuthenticator(Authenticator):
    """ZAP authentication for use in the asyncio loop."""

    def __init__(
        self,
        context: purezmq.Context | None = None,
        loop: Any = None,
        encoding: str = "utf-8",
        log: Any = None,
    ) -> None:
        super().__init__(context, encoding, log)
        if loop is not None:
            warnings.warn(
                f"{self.__class__.__name__}(loop) is deprecated and ignored",
                DeprecationWarning,
                stacklevel=2,
            )
        self.__poller: Poller | None = None
        self.__task: Any = None

    async def __handle_zap(self) -> None:
        while self.__poller is not None:
            events = await self.__poller.poll()
            if self.zap_socket in dict(events):
                while True:
                    try:
                        msg = self.zap_socket.recv_multipart(C.NOBLOCK)
                    except purezmq.Again:
                        break
                    await self.handle_zap_message(msg)

    def start(self) -> None:
        """Bind the ZAP socket and start answering on the current loop."""
        super().start()
        self.__poller = Poller()
        self.__poller.register(self.zap_socket, C.POLLIN)
        self.__task = asyncio.ensure_future(self.__handle_zap())

    def stop(self) -> None:
        """Stop answering and close the ZAP socket."""
        if self.__task:
            self.__task.cancel()
            self.__task = None
        if self.__poller:
            self.__poller.unregister(self.zap_socket)
            self.__poller = None
        super().stop()
