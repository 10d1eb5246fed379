"""Local port forwarding over a paramiko transport (``ssh -L`` done in Python).

pyzmq's ``zmq.ssh.forward``: :func:`forward_tunnel` serves ``127.0.0.1:local_port`` and
relays every connection through an ssh ``direct-tcpip`` channel to
``remote_host:remote_port`` as seen from the ssh server.
"""

from __future__ import annotations

import logging
import selectors
import socketserver
from typing import Any

logger = logging.getLogger("ssh")

_CHUNK = 65536


class ForwardServer(socketserver.ThreadingTCPServer):
    """The local listening side: one thread per forwarded connection."""

    daemon_threads = True
    allow_reuse_address = True


class Handler(socketserver.BaseRequestHandler):
    """Relays one local connection through a new channel of ``ssh_transport``."""

    ssh_transport: Any  # paramiko.Transport
    chain_host: str
    chain_port: int

    def handle(self) -> None:
        target = (self.chain_host, self.chain_port)
        try:
            chan = self.ssh_transport.open_channel(
                "direct-tcpip", target, self.request.getpeername()
            )
        except Exception as exc:
            logger.debug("forwarding to %s:%d failed: %r", *target, exc)
            return
        if chan is None:
            logger.debug("the ssh server refused forwarding to %s:%d", *target)
            return
        try:
            _relay(self.request, chan)
        finally:
            chan.close()
            self.request.close()


def _relay(sock: Any, chan: Any) -> None:
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ, chan)
        sel.register(chan, selectors.EVENT_READ, sock)
        while True:
            for key, _ in sel.select():
                src, dst = key.fileobj, key.data
                data = src.recv(_CHUNK)
                if not data:
                    return
                dst.sendall(data)


def forward_tunnel(
    local_port: int, remote_host: str, remote_port: int, transport: Any
) -> None:
    """Serve ``127.0.0.1:local_port`` forever, forwarding to ``remote_host:remote_port``
    through the connected paramiko ``transport``."""
    handler = type(
        "TunnelHandler", (Handler,),
        {"chain_host": remote_host, "chain_port": remote_port, "ssh_transport": transport},
    )
    with ForwardServer(("127.0.0.1", local_port), handler) as server:
        server.serve_forever()


__all__ = ["forward_tunnel"]
