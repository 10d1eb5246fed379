"""Choosing a connection's security mechanism from socket options, and the ZAP round trip."""

from __future__ import annotations

from purezmq import constants as C
from purezmq.zmtp.mechanisms.base import Mechanism
from purezmq.zmtp.mechanisms.null import NullMechanism

ZAP_ENDPOINT = "zeromq.zap.01"


def _zap_available(sock) -> bool:
    return sock.ctx._inproc_bound(ZAP_ENDPOINT)


def make_mechanism(sock) -> Mechanism:
    """The mechanism the socket's options ask for, configured for one connection."""
    opts = sock.options
    if opts.get(C.CURVE_SERVER) or opts.get(C.CURVE_SERVERKEY):
        from purezmq.utils.z85 import decode
        from purezmq.zmtp.mechanisms.curve import CurveMechanism

        def key(option: int) -> bytes | None:
            value = opts.get(option)
            if not value:
                return None
            return decode(value[:40]) if len(value) in (40, 41) else value

        server = bool(opts.get(C.CURVE_SERVER))
        return CurveMechanism(
            as_server=server,
            zap_enabled=server and _zap_available(sock),
            public_key=key(C.CURVE_PUBLICKEY),
            secret_key=key(C.CURVE_SECRETKEY),
            server_key=None if server else key(C.CURVE_SERVERKEY),
        )
    if opts.get(C.PLAIN_SERVER) or opts.get(C.PLAIN_USERNAME) or opts.get(C.PLAIN_PASSWORD):
        from purezmq.zmtp.mechanisms.plain import PlainMechanism

        server = bool(opts.get(C.PLAIN_SERVER))
        return PlainMechanism(
            as_server=server,
            zap_enabled=server and _zap_available(sock),
            username=opts.get(C.PLAIN_USERNAME),
            password=opts.get(C.PLAIN_PASSWORD),
        )
    zap = bool(opts.get(C.ZAP_DOMAIN)) and _zap_available(sock)
    return NullMechanism(as_server=zap, zap_enabled=zap)


def zap_request(sock, engine, request) -> None:
    """Send a ZAP request for ``engine`` (I/O thread); the reply resumes the handshake."""
    from purezmq.auth.zap_client import submit

    submit(sock, engine, request)
