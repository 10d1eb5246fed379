"""The ``ws://`` and ``wss://`` transports (ZWS 2.0, ZeroMQ RFC 45): listening, connecting.

A ws connection is a tcp connection whose engine drives a :class:`ZwsConnection`
(transports/ws_protocol.py: the WebSocket upgrade, framing and, for ``wss://``, TLS, all
sans-I/O) instead of a bare ZMTP one; everything else — accepting, connecting,
reconnecting, high-water marks, monitor events — is the tcp transport's
(transports/stream.py), reused through its ``engine_class`` hook.

Endpoints are ``ws://host:port/path`` (the path defaults to ``/``); a listener answers
only upgrades for its own path.  ``wss://`` takes libzmq's options: ``WSS_CERT_PEM`` and
``WSS_KEY_PEM`` (the server's certificate chain and key, PEM), ``WSS_TRUST_PEM`` (the
certificates a client trusts), ``WSS_TRUST_SYSTEM`` (trust the system's store as well)
and ``WSS_HOSTNAME`` (the name a client checks the server's certificate against, and
sends as SNI; the endpoint's host by default).

The WebSocket layer is the optional ``wsproto`` package (``pip install 'purezmq[ws]'``),
imported only when a ws endpoint is used.
"""

from __future__ import annotations

import os
import ssl
import tempfile

from purezmq import constants as C
from purezmq.core.endpoint import Endpoint
from purezmq.error import ZMQError
from purezmq.io.engine import StreamEngine
from purezmq.transports.stream import Listener, Session


def require_wsproto() -> None:
    """Raise a clear error if the optional WebSocket library is missing."""
    try:
        import wsproto  # noqa: F401
    except ImportError:
        raise ZMQError(
            C.EPROTONOSUPPORT,
            "ws:// and wss:// need the wsproto package: pip install 'purezmq[ws]'",
        ) from None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def server_context(options) -> ssl.SSLContext:
    """A TLS server context from ``WSS_CERT_PEM`` / ``WSS_KEY_PEM`` (EINVAL if unusable)."""
    cert, key = _text(options.get(C.WSS_CERT_PEM)), _text(options.get(C.WSS_KEY_PEM))
    if not cert or not key:
        raise ZMQError(C.EINVAL, "a wss:// bind needs the WSS_CERT_PEM and WSS_KEY_PEM options")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # The ssl module loads a certificate chain from files only: a private directory, gone
    # as soon as it is read.
    with tempfile.TemporaryDirectory(prefix="purezmq-wss-") as tmp:
        paths = []
        for name, pem in (("cert.pem", cert), ("key.pem", key)):
            path = os.path.join(tmp, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(pem)
            paths.append(path)
        try:
            ctx.load_cert_chain(paths[0], paths[1])
        except (ssl.SSLError, ValueError) as e:
            raise ZMQError(C.EINVAL, f"unusable WSS_CERT_PEM / WSS_KEY_PEM: {e}") from None
    return ctx


def client_context(options) -> ssl.SSLContext:
    """A TLS client context: certificates and host names checked, as libzmq does, against
    ``WSS_TRUST_PEM`` and, with ``WSS_TRUST_SYSTEM``, the system's store."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trust = _text(options.get(C.WSS_TRUST_PEM))
    if trust:
        try:
            ctx.load_verify_locations(cadata=trust)
        except (ssl.SSLError, ValueError) as e:
            raise ZMQError(C.EINVAL, f"unusable WSS_TRUST_PEM: {e}") from None
    if options.get(C.WSS_TRUST_SYSTEM):
        ctx.load_default_certs()
    return ctx


def _hostport(ep: Endpoint) -> str:
    host = f"[{ep.host}]" if ":" in ep.host else ep.host
    return f"{host}:{ep.port}"


class WsEngine(StreamEngine):
    """A stream engine whose protocol is ZWS 2.0 (see the module docstring)."""

    def _make_connection(self, now: float):
        from purezmq.transports.ws_protocol import ZwsConnection

        inner = super()._make_connection(now)
        spec = self.session if self.session is not None else self.listener
        opts = self.owner.options
        timeout = opts.get(C.HEARTBEAT_TIMEOUT)
        return ZwsConnection(
            inner,
            client=self.session is not None,
            host=_hostport(spec.ep),
            path=spec.ep.path,
            maxmsgsize=opts.get(C.MAXMSGSIZE),
            tls=spec.tls_context,
            server_hostname=spec.server_hostname,
            heartbeat_ivl=opts.get(C.HEARTBEAT_IVL) / 1000.0,
            heartbeat_timeout=timeout / 1000.0 if timeout >= 0 else None,
        )

    @property
    def shares_fanout(self) -> bool:
        """Never: a publisher's shared log is in ZMTP wire form, not WebSocket frames."""
        return False


def _check_type(owner) -> None:
    if owner.type_name == "STREAM":  # raw tcp has no WebSocket form
        raise ZMQError(C.ENOCOMPATPROTO)


class WsListener(Listener):
    """A tcp listener whose connections speak ZWS 2.0; its endpoint keeps the path."""

    def __init__(self, owner, ep: Endpoint) -> None:
        require_wsproto()
        _check_type(owner)
        self.tls_context = server_context(owner.options) if ep.transport == "wss" else None
        self.server_hostname = None
        super().__init__(owner, ep)
        self.endpoint = f"{ep.transport}://{self.endpoint.partition('://')[2]}{ep.path}"

    def engine_class(self):
        return WsEngine


class WsSession(Session):
    """A tcp session (connects, reconnects) whose connections speak ZWS 2.0."""

    def __init__(self, owner, ep: Endpoint, endpoint: str, peer=None, connect_rid=b"") -> None:
        require_wsproto()
        _check_type(owner)
        if ep.transport == "wss":
            self.tls_context = client_context(owner.options)
            self.server_hostname = _text(owner.options.get(C.WSS_HOSTNAME)) or ep.host
        else:
            self.tls_context = None
            self.server_hostname = None
        super().__init__(owner, ep, endpoint, peer, connect_rid)

    def engine_class(self):
        return WsEngine
