"""The ZAP client (RFC 27): asks the application's handler about each handshake.

One client per context, living on the I/O thread.  It talks to the handler bound at
``inproc://zeromq.zap.01`` through an internal DEALER connected over inproc, so requests
and replies are plain messages in a pipe pair and no handshake ever waits for another:
each request carries its own request id, and a reply resumes the engine that asked (if it
is still there) through :meth:`StreamEngine.zap_reply`.

* No handler bound when a request is made: :func:`purezmq.security.no_handler_verdict`
  decides, as libzmq does, between accepting the peer without ZAP and failing the handshake
  (``HANDSHAKE_FAILED_NO_DETAIL``, ``EFAULT``).
* A new handler (an authenticator stopped and started again): the DEALER is made anew and
  connected to it, and requests still unanswered are asked again.
* A malformed reply fails the handshake it names with ``HANDSHAKE_FAILED_PROTOCOL`` and
  libzmq's ``PROTOCOL_ERROR_ZAP_*`` value; one naming no pending request (a wrong request
  id) fails the oldest waiting handshake at once (``PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID``).
* The reply's User-Id and metadata become properties of every message from that peer
  (``frame.get("User-Id")``), User-Id first, as libzmq's ``set_user_id`` does.
"""

from __future__ import annotations

import itertools
import logging

from purezmq import constants as C
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.metadata import decode_metadata

log = logging.getLogger("purezmq")

ZAP_NAME = "zeromq.zap.01"
ZAP_ENDPOINT = "inproc://" + ZAP_NAME
_STATUS_CODES = (b"200", b"300", b"400", b"500")
_SWEEP_EVERY = 1024  # forget requests of closed engines this often (a silent handler)


def _protocol(reason: str, value: int) -> ZmtpError:
    return ZmtpError(f"ZAP: {reason}", kind="protocol", value=value)


class ZapClient:
    """Sends ZAP requests and routes replies back to engines (I/O thread only)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.reactor = ctx._get_reactor()
        self.sock = None
        self.handler = None  # the socket bound at ZAP_ENDPOINT that self.sock talks to
        self.pending: dict[bytes, tuple[object, list[bytes]]] = {}
        self._ids = itertools.count(1)
        self._drain_scheduled = False

    # -- the link to the handler ---------------------------------------------------------
    def _connect(self, handler) -> None:
        from purezmq.core.socket import SocketBase

        old = self.sock
        if old is not None:
            old.remove_waiter(self._wake)
            old.close(0)
        sock = SocketBase(self.ctx, C.DEALER)
        sock.setsockopt(C.LINGER, 0)
        sock.setsockopt(C.SNDHWM, 0)
        sock.setsockopt(C.RCVHWM, 0)
        sock.add_waiter(self._wake)
        sock.connect(ZAP_ENDPOINT)
        self.sock, self.handler = sock, handler
        for rid, (engine, frames) in list(self.pending.items()):
            if engine.closed:
                del self.pending[rid]
            else:  # the previous handler went away with it: ask the new one
                sock.try_send(list(frames))

    def _wake(self) -> None:
        # Any thread (the handler's, mostly): drain once on the I/O thread.
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.reactor.call_soon_threadsafe(self.drain)

    # -- requests ------------------------------------------------------------------------
    def request(self, owner, engine, mechanism: bytes, credentials: list[bytes]) -> None:
        handler = self.ctx._inproc.get(ZAP_NAME)
        if handler is None or handler.closed:
            from purezmq.security import no_handler_verdict

            error = no_handler_verdict(owner, mechanism)
            if error is None:  # libzmq goes on without ZAP
                self.reactor.call_soon(lambda: engine.zap_reply(b"200", b"", b"", {}))
            else:
                self.reactor.call_soon(lambda: engine.zap_failed(error))
            return
        if handler is not self.handler or self.sock is None:
            self._connect(handler)
        rid = str(next(self._ids)).encode()
        frames = [
            b"",
            b"1.0",
            rid,
            owner.options.get(C.ZAP_DOMAIN),
            engine.peer_address.encode(),
            owner.options.get(C.ROUTING_ID),
            mechanism,
            *credentials,
        ]
        self.pending[rid] = (engine, frames)
        if len(self.pending) % _SWEEP_EVERY == 0:
            self.pending = {k: v for k, v in self.pending.items() if not v[0].closed}
        self.sock.try_send(list(frames))

    # -- replies -------------------------------------------------------------------------
    def drain(self) -> None:
        self._drain_scheduled = False
        sock = self.sock
        if sock is None:
            return
        while True:
            msg = sock.try_recv()
            if msg is None:
                return
            self._reply([bytes(f) for f in msg])

    def _oldest_pending(self):
        """Take the oldest request still waiting (of an engine still open), or None."""
        for rid in list(self.pending):
            engine, _frames = self.pending.pop(rid)
            if not engine.closed:
                return engine
        return None

    def _reply(self, msg: list[bytes]) -> None:
        entry = self.pending.pop(msg[2], None) if len(msg) >= 3 else None
        if entry is None:
            # libzmq gives each handshake its own ZAP pipe, so a reply with a wrong request
            # id fails that handshake at once.  Ours share one: the reply is taken as the
            # answer to the oldest request still waiting (a handler answers in order), which
            # fails now rather than at HANDSHAKE_IVL.
            engine = self._oldest_pending()
            if engine is None:
                log.warning("purezmq: ZAP reply for no pending request ignored")
                return
            if len(msg) == 7:
                error = _protocol("bad request id", C.PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID)
            else:
                error = _protocol("malformed reply", C.PROTOCOL_ERROR_ZAP_MALFORMED_REPLY)
            engine.zap_failed(error)
            return
        engine = entry[0]
        if len(msg) != 7 or msg[0] != b"":
            error = _protocol("malformed reply", C.PROTOCOL_ERROR_ZAP_MALFORMED_REPLY)
        elif msg[1] != b"1.0":
            error = _protocol("bad version", C.PROTOCOL_ERROR_ZAP_BAD_VERSION)
        elif msg[3] not in _STATUS_CODES:
            error = _protocol("invalid status code", C.PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE)
        else:
            code, text, user_id, meta = msg[3:7]
            try:
                metadata = decode_metadata(meta) if meta else {}
            except ZmtpError:
                error = _protocol("invalid metadata", C.PROTOCOL_ERROR_ZAP_INVALID_METADATA)
            else:
                # The user id frame wins over a "User-Id" in the metadata, as in libzmq.
                metadata = {k: v for k, v in metadata.items() if k.lower() != "user-id"}
                metadata["User-Id"] = user_id
                engine.zap_reply(code, text, user_id, metadata)
                return
        engine.zap_failed(error)


def submit(owner, engine, request) -> None:
    """Called by an engine whose mechanism asked for ZAP (on the I/O thread, or on a
    caller's thread reading the connection itself: the request then hops to the I/O thread,
    where the client and its DEALER live)."""
    reactor = owner.ctx._get_reactor()
    if not reactor.in_thread():
        reactor.call_soon_threadsafe(lambda: submit(owner, engine, request))
        return
    ctx = owner.ctx
    client = getattr(ctx, "_zap_client_obj", None)
    if client is None:
        client = ZapClient(ctx)
        object.__setattr__(ctx, "_zap_client_obj", client)
    client.request(owner, engine, request.mechanism, request.credentials)
