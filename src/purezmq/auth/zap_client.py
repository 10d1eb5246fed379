"""The ZAP client (RFC 27): asks the application's handler about each handshake.

One client per context, living on the I/O thread.  It talks to the handler bound at
``inproc://zeromq.zap.01`` through an internal DEALER connected over inproc, so requests
and replies are plain messages in a pipe pair.  Requests carry a request id; a reply
resumes the engine that asked, if it is still there.
"""

from __future__ import annotations

import itertools
import logging

from purezmq import constants as C
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.metadata import decode_metadata

log = logging.getLogger("purezmq")

ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class ZapClient:
    """Sends ZAP requests and routes replies back to engines (I/O thread only)."""

    def __init__(self, ctx) -> None:
        from purezmq.core.socket import SocketBase

        self.ctx = ctx
        self.reactor = ctx._get_reactor()
        self.sock = SocketBase(ctx, C.DEALER)
        self.sock.setsockopt(C.LINGER, 0)
        self.sock.setsockopt(C.SNDHWM, 0)
        self.sock.connect(ZAP_ENDPOINT)
        self.pending: dict[bytes, object] = {}
        self._ids = itertools.count(1)
        self.sock.add_waiter(self._wake)

    def _wake(self) -> None:
        self.reactor.call_soon_threadsafe(self.drain)

    def request(self, owner, engine, mechanism: bytes, credentials: list[bytes]) -> None:
        rid = str(next(self._ids)).encode()
        self.pending[rid] = engine
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
        self.sock.try_send(frames)

    def drain(self) -> None:
        while True:
            msg = self.sock.try_recv()
            if msg is None:
                return
            if len(msg) < 7 or msg[0] != b"" or msg[1] != b"1.0":
                log.warning("purezmq: malformed ZAP reply ignored")
                continue
            _, _, rid, code, text, user_id, meta = msg[:7]
            engine = self.pending.pop(bytes(rid), None)
            if engine is None:
                continue
            try:
                metadata = decode_metadata(bytes(meta)) if meta else {}
            except ZmtpError:
                metadata = {}
            engine.zap_reply(bytes(code), bytes(text), bytes(user_id), metadata)


def submit(owner, engine, request) -> None:
    """Called on the I/O thread by an engine whose mechanism asked for ZAP."""
    ctx = owner.ctx
    client = getattr(ctx, "_zap_client_obj", None)
    if client is None:
        client = ZapClient(ctx)
        object.__setattr__(ctx, "_zap_client_obj", client)
    client.request(owner, engine, request.mechanism, request.credentials)
