"""Security per socket and per connection: the options as libzmq keeps them, the mechanism
each new connection gets, and the ZAP round trip.

Options.  libzmq keeps one *mechanism* and one *as-server* flag per socket, and each
security option moves them, the last one set winning: ``PLAIN_SERVER`` 1 makes a PLAIN
server (0 goes back to NULL), ``PLAIN_USERNAME`` / ``PLAIN_PASSWORD`` a PLAIN client,
``CURVE_SERVER`` 1 a CURVE server (0: NULL), any CURVE key CURVE, and ``CURVE_SERVERKEY`` a
CURVE client.  ``MECHANISM``, ``PLAIN_SERVER`` and ``CURVE_SERVER`` read that state back.
CURVE keys are 32 bytes, or Z85 (40 characters, or 41 ending in NUL); they are kept binary
and read back as Z85 text.  Values pyzmq refuses with EINVAL are refused the same way.

When ZAP is asked (libzmq 4.3, RFC 27; the handler is whatever socket is bound at
``inproc://zeromq.zap.01`` in the socket's context):

* NULL: only when ``ZAP_DOMAIN`` is set.  No handler: accepted, unless ``ZAP_ENFORCE_DOMAIN``.
* PLAIN server: always.  No handler: the handshake fails (libzmq: "PLAIN needs ZAP").
* CURVE server: when a domain is set or ``ZAP_ENFORCE_DOMAIN`` is off.  No handler: any
  client with the server's key is accepted (the "Stonehouse" pattern), unless enforcing.

A handshake failing for want of a handler is reported as ``EVENT_HANDSHAKE_FAILED_NO_DETAIL``
with value ``EFAULT``, as libzmq reports it; the peer is dropped without an ERROR.
"""

from __future__ import annotations

import errno

from purezmq import constants as C
from purezmq.error import ZMQError
from purezmq.utils import z85
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.mechanisms.base import Mechanism
from purezmq.zmtp.mechanisms.null import NullMechanism

ZAP_ENDPOINT = "zeromq.zap.01"

_AS_SERVER = "as_server"  # a private key of Options: libzmq's options.as_server
_CURVE_OPTIONS = frozenset(
    {C.CURVE_SERVER, C.CURVE_PUBLICKEY, C.CURVE_SECRETKEY, C.CURVE_SERVERKEY}
)
_CURVE_KEYS = frozenset({C.CURVE_PUBLICKEY, C.CURVE_SECRETKEY, C.CURVE_SERVERKEY})
# libzmq as pyzmq ships it has no GSSAPI: every GSSAPI option is EINVAL.
_GSSAPI_OPTIONS = frozenset(
    {
        C.GSSAPI_SERVER,
        C.GSSAPI_PRINCIPAL,
        C.GSSAPI_SERVICE_PRINCIPAL,
        C.GSSAPI_PLAINTEXT,
        C.GSSAPI_PRINCIPAL_NAMETYPE,
        C.GSSAPI_SERVICE_PRINCIPAL_NAMETYPE,
    }
)
SECURITY_OPTIONS = frozenset(
    {
        C.PLAIN_SERVER,
        C.PLAIN_USERNAME,
        C.PLAIN_PASSWORD,
        C.ZAP_DOMAIN,
        C.ZAP_ENFORCE_DOMAIN,
        *_CURVE_OPTIONS,
        *_GSSAPI_OPTIONS,
    }
)
_ZERO_KEY = bytes(32)
_NULL, _PLAIN, _CURVE = int(C.NULL), int(C.PLAIN), int(C.CURVE)  # plain ints, as pyzmq reads


def _curve_key(value: bytes) -> bytes:
    """A CURVE key option value as 32 binary bytes (libzmq's ``set_curve_key``)."""
    n = len(value)
    if n == 32:
        return value
    if n == 41 and value[40] == 0:
        value = value[:40]
    elif n != 40:
        raise ZMQError(C.EINVAL)
    try:
        return z85.decode(value)
    except ValueError:
        raise ZMQError(C.EINVAL) from None


def _require_curve() -> None:
    from purezmq.zmtp.mechanisms.curve import _NEED_NACL, has_curve

    if not has_curve():
        raise ZMQError(C.EINVAL, _NEED_NACL)


def set_security_option(opts, option: int, value) -> None:
    """``setsockopt`` of a security option (``value`` already type-checked)."""
    if option in _GSSAPI_OPTIONS:
        raise ZMQError(C.EINVAL)
    if option in _CURVE_OPTIONS:
        _require_curve()
    if option == C.PLAIN_SERVER or option == C.CURVE_SERVER:
        if value not in (0, 1):
            raise ZMQError(C.EINVAL)
        opts[_AS_SERVER] = value
        kind = _PLAIN if option == C.PLAIN_SERVER else _CURVE
        opts[C.MECHANISM] = kind if value else _NULL
    elif option == C.PLAIN_USERNAME or option == C.PLAIN_PASSWORD:
        if not 0 < len(value) <= 255:
            raise ZMQError(C.EINVAL)
        opts[option] = value
        opts[_AS_SERVER] = 0
        opts[C.MECHANISM] = _PLAIN
    elif option == C.ZAP_DOMAIN:
        if not 0 < len(value) <= 255:  # pyzmq cannot pass libzmq the NULL that clears it
            raise ZMQError(C.EINVAL)
        opts[option] = value
    elif option == C.ZAP_ENFORCE_DOMAIN:
        opts[option] = 1 if value else 0
    else:  # a CURVE key
        opts[option] = _curve_key(value)
        opts[C.MECHANISM] = _CURVE
        if option == C.CURVE_SERVERKEY:
            opts[_AS_SERVER] = 0


def get_security_option(opts, option: int):
    """``getsockopt`` of a security option."""
    if option in _GSSAPI_OPTIONS:
        raise ZMQError(C.EINVAL)
    if option == C.PLAIN_SERVER:
        return int(bool(opts.get(_AS_SERVER)) and opts.get(C.MECHANISM) == C.PLAIN)
    if option == C.CURVE_SERVER:
        return int(bool(opts.get(_AS_SERVER)) and opts.get(C.MECHANISM) == C.CURVE)
    if option in _CURVE_KEYS:
        # libzmq gives Z85 for a 41-byte buffer; without the NUL, as pyzmq strips it.
        return z85.encode(opts.get(option) or _ZERO_KEY)
    return opts.get(option)


def peer_properties(
    peer_props: dict[str, bytes], zap_props: dict[str, bytes], peer_address: str
) -> dict[str, bytes]:
    """The properties a received frame shows (``frame.get("User-Id")``), as libzmq builds
    them: Peer-Address, then what ZAP said (User-Id and its metadata), then the peer's own
    metadata where it names nothing of the former.  A peer's own "User-Id" is dropped, so
    only ZAP can set it (ZMTP names compare without case)."""
    props = {k: v for k, v in peer_props.items() if k.lower() != "user-id"}
    if zap_props:
        taken = {k.lower() for k in zap_props}
        props = {k: v for k, v in props.items() if k.lower() not in taken}
        props.update(zap_props)
    if peer_address:
        props = {k: v for k, v in props.items() if k.lower() != "peer-address"}
        props["Peer-Address"] = peer_address.encode()
    else:
        props.setdefault("Peer-Address", b"")
    return props


def _zap_available(sock) -> bool:
    return sock.ctx._inproc_bound(ZAP_ENDPOINT)


def _curve_wants_zap(opts) -> bool:
    return bool(opts.get(C.ZAP_DOMAIN)) or not opts.get(C.ZAP_ENFORCE_DOMAIN)


def make_mechanism(sock) -> Mechanism:
    """The mechanism the socket's options ask for, configured for one connection."""
    opts = sock.options
    mechanism = opts.get(C.MECHANISM)
    server = bool(opts.get(_AS_SERVER))
    enforce = bool(opts.get(C.ZAP_ENFORCE_DOMAIN))
    if mechanism == C.CURVE:
        from purezmq.zmtp.mechanisms.curve import CurveMechanism

        secret = opts.get(C.CURVE_SECRETKEY) or _ZERO_KEY
        if server:
            # Without a handler: Stonehouse, or (enforcing) ask anyway and fail in submit().
            zap = _curve_wants_zap(opts) and (enforce or _zap_available(sock))
            return CurveMechanism(as_server=True, zap_enabled=zap, secret_key=secret)
        return CurveMechanism(
            as_server=False,
            public_key=opts.get(C.CURVE_PUBLICKEY) or None,  # None: derived from the secret
            secret_key=secret,
            server_key=opts.get(C.CURVE_SERVERKEY) or _ZERO_KEY,
        )
    if mechanism == C.PLAIN:
        from purezmq.zmtp.mechanisms.plain import PlainMechanism

        if server:
            return PlainMechanism(as_server=True, zap_enabled=True)
        return PlainMechanism(
            username=opts.get(C.PLAIN_USERNAME), password=opts.get(C.PLAIN_PASSWORD)
        )
    zap = bool(opts.get(C.ZAP_DOMAIN)) and (enforce or _zap_available(sock))
    return NullMechanism(as_server=zap, zap_enabled=zap)


def no_handler_verdict(sock, mechanism: bytes) -> ZmtpError | None:
    """What to do with a ZAP request when no handler is bound: None to accept it, or the
    error failing the handshake (libzmq: ``zap_connect`` failed)."""
    if mechanism == b"PLAIN" or sock.options.get(C.ZAP_ENFORCE_DOMAIN):
        return ZmtpError("no ZAP handler at inproc://zeromq.zap.01", "no-detail", errno.EFAULT)
    return None


def zap_request(sock, engine, request) -> None:
    """Send a ZAP request for ``engine`` (I/O thread); the reply resumes the handshake."""
    from purezmq.auth.zap_client import submit

    submit(sock, engine, request)
