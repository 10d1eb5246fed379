"""The raw engine behind STREAM sockets: bytes in and out of a TCP connection, no ZMTP.

Each chunk read becomes a one-frame message; each message written is sent as is; an empty
message asks for the connection to be closed, as libzmq's STREAM socket does.
"""

from __future__ import annotations

import socket as _socket

from purezmq import constants as C
from purezmq.plumbing.pipe import Pipe, _nothing

RECV_SIZE = 1 << 16


class RawEngine:
    """One raw connection on the I/O thread; same life cycle as the stream engine."""

    def __init__(
        self, reactor, sock: _socket.socket, owner, endpoint: str, *, session=None,
        listener=None, peer_address: str = "",
    ) -> None:
        self.reactor = reactor
        self.sock = sock
        self.fd = sock.fileno()
        self.owner = owner
        self.endpoint = endpoint
        self.session = session
        self.listener = listener
        self.peer_address = peer_address
        self.closed = False
        self._wbuf: memoryview | None = None
        self._writing = False
        self._reading = True
        self._closing = False
        owner._io_add(self)
        if session is not None and session.peer is not None:
            peer = session.peer
        else:
            peer = owner._new_peer(endpoint)
        if session is not None:
            session.engine_ready(self, peer)
        if session is not None and session.connect_rid:
            peer.routing_id = session.connect_rid
        peer.properties = {"Peer-Address": peer_address.encode()}
        peer.session = session if session is not None else self
        self.peer = peer
        peer.out.on_readable = self._on_outbound_readable
        peer.inp.on_writable = self._on_inbound_writable
        owner._post(owner._attach, peer)
        reactor.add_reader(self.fd, self._on_readable)
        self._flush()

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close("read error", C.EVENT_DISCONNECTED)
            return
        if not data:
            self.close("peer closed", C.EVENT_DISCONNECTED)
            return
        inp = self.peer.inp
        inp.write([data])
        if inp.full():
            self._reading = False
            self.reactor.remove_reader(self.fd)

    def _on_inbound_writable(self, pipe: Pipe) -> None:
        self.reactor.call_soon_threadsafe(self._resume)

    def _resume(self) -> None:
        if not self.closed and not self._reading:
            self._reading = True
            self.reactor.add_reader(self.fd, self._on_readable)

    def _on_outbound_readable(self, pipe: Pipe) -> None:
        self.reactor.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        if self.closed or self._wbuf is not None:
            return
        pipe = self.peer.out
        q = pipe.q
        while True:
            chunks = []
            while q:
                msg = q.popleft()
                cls = msg.__class__
                data = msg if cls is bytes else b"".join(msg) if cls is list else b""
                if not data:
                    self._closing = True
                    break
                chunks.append(data)
            if pipe.writer_blocked:
                pipe.released()
            if chunks and not self._write(memoryview(b"".join(chunks))):
                return
            if self._closing:
                self.close("closed by the application", C.EVENT_CLOSED)
                return
            if q or pipe.rearm():
                continue
            return

    def _write(self, view: memoryview) -> bool:
        try:
            sent = self.sock.send(view)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close("write error", C.EVENT_DISCONNECTED)
            return False
        if sent == len(view):
            self._wbuf = None
            if self._writing:
                self._writing = False
                self.reactor.remove_writer(self.fd)
            return True
        self._wbuf = view[sent:]
        if not self._writing:
            self._writing = True
            self.reactor.add_writer(self.fd, self._on_writable)
        return False

    def _on_writable(self) -> None:
        if self._wbuf is not None and not self._write(self._wbuf):
            return
        self._flush()

    def zap_reply(self, *args) -> None:
        pass

    def terminate(self, deadline: float | None) -> None:
        self.close("socket closed", 0)

    def close(self, reason: str, event: int) -> None:
        if self.closed:
            return
        self.closed = True
        self.reactor.remove_reader(self.fd)
        self.reactor.remove_writer(self.fd)
        try:
            self.sock.close()
        except OSError:
            pass
        if event:
            self.owner._event(event, self.fd, self.endpoint)
        peer = self.peer
        peer.out.on_readable = _nothing
        peer.inp.on_writable = _nothing
        if self.session is not None:
            self.session.engine_closed(self)
        else:
            self.owner._post(self.owner._detach, peer)
        if self.listener is not None:
            self.listener.engines.discard(self)
        self.owner._io_done(self)
