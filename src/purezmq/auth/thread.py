"""``ThreadAuthenticator``: the ZAP handler on a background thread, as pyzmq's.

The thread waits (a ``Poller``) on the ZAP socket and on a PAIR pipe from the owner;
``stop()`` sends ``TERMINATE`` down the pipe and joins it.  ``handle_zap_message`` is a
coroutine (a credentials callback may await), so the thread keeps one event loop of its
own and runs each request to completion on it: requests are answered one at a time, in
order, and one slow callback holds up the ones after it, as in pyzmq.
"""

from __future__ import annotations

import asyncio
import itertools
from threading import Event, Thread
from typing import Any

import purezmq
from purezmq import constants as C
from purezmq.sugar.poll import Poller

from .base import Authenticator

__all__ = ["AuthenticationThread", "ThreadAuthenticator"]

_pipe_ids = itertools.count()


class AuthenticationThread(Thread):
    """Runs an :class:`Authenticator`'s ZAP socket; started by :class:`ThreadAuthenticator`."""

    poller: Poller | None = None

    def __init__(self, authenticator: Authenticator, pipe: purezmq.Socket) -> None:
        super().__init__(daemon=True, name="purezmq-auth")
        self.authenticator = authenticator
        self.log = authenticator.log
        self.pipe = pipe
        self.started = Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        """Serve ZAP requests until TERMINATE comes down the pipe."""
        self.loop = asyncio.new_event_loop()
        try:
            self._run()
        finally:
            if self.pipe is not None:
                self.pipe.close()
                self.pipe = None  # type: ignore[assignment]
            self.loop.close()

    def _run(self) -> None:
        zap = self.authenticator.zap_socket
        self.poller = Poller()
        self.poller.register(self.pipe, C.POLLIN)
        self.poller.register(zap, C.POLLIN)
        self.started.set()
        while True:
            try:
                events = dict(self.poller.poll())
            except purezmq.ZMQError:
                return  # the context was terminated under us
            if self.pipe in events and self._handle_pipe_message(self.pipe.recv_multipart()):
                return
            if zap in events:
                # Everything queued, so a burst of handshakes costs one poll.
                while True:
                    try:
                        msg = zap.recv_multipart(C.NOBLOCK)
                    except purezmq.Again:
                        break
                    try:
                        self.loop.run_until_complete(self.authenticator.handle_zap_message(msg))
                    except Exception:  # a faulty callback must not kill the handler
                        self.log.exception("ZAP request failed: %r", msg)
                        try:  # refuse the client (500) unless a reply already went
                            self.authenticator._send_zap_reply(msg[1], b"500", b"Internal error")
                        except (purezmq.ZMQError, IndexError):
                            pass

    def _handle_pipe_message(self, msg: list[bytes]) -> bool:
        command = msg[0]
        self.log.debug("auth received API command %r", command)
        if command == b"TERMINATE":
            return True
        self.log.error("Invalid auth command from API: %r", command)
        self.pipe.send(b"ERROR")
        return False


class ThreadAuthenticator(Authenticator):
    """Run ZAP authentication in a background thread."""

    pipe_endpoint: str = ""

    def __init__(
        self, context: purezmq.Context | None = None, encoding: str = "utf-8", log: Any = None
    ) -> None:
        super().__init__(context=context, encoding=encoding, log=log)
        self.pipe: Any = None
        self.pipe_endpoint = f"inproc://{id(self)}.{next(_pipe_ids)}.inproc"
        self.thread: Any = None

    def start(self) -> None:
        """Bind the ZAP socket and start the thread answering on it."""
        super().start()
        self.pipe = self.context.socket(C.PAIR, socket_class=purezmq.Socket)
        self.pipe.linger = 1
        self.pipe.bind(self.pipe_endpoint)
        thread_pipe = self.context.socket(C.PAIR, socket_class=purezmq.Socket)
        thread_pipe.linger = 1
        thread_pipe.connect(self.pipe_endpoint)
        self.thread = AuthenticationThread(authenticator=self, pipe=thread_pipe)
        self.thread.start()
        if not self.thread.started.wait(timeout=10):
            raise RuntimeError("Authenticator thread failed to start")

    def stop(self) -> None:
        """Stop the thread, then close the ZAP socket."""
        if self.pipe:
            self.pipe.send(b"TERMINATE")
            if self.is_alive():
                self.thread.join()
            self.thread = None
            self.pipe.close()
            self.pipe = None
        super().stop()

    def is_alive(self) -> bool:
        """Is the ZAP thread running?"""
        return bool(self.thread and self.thread.is_alive())

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
