"""Socket options: libzmq's defaults, type checks as pyzmq makes them, and get/set."""

from __future__ import annotations

from purezmq import constants as C
from purezmq.constants import OPTION_TYPES
from purezmq.error import ZMQError

DEFAULTS: dict[int, object] = {
    C.SNDHWM: 1000,
    C.RCVHWM: 1000,
    C.LINGER: -1,
    C.RCVTIMEO: -1,
    C.SNDTIMEO: -1,
    C.RECONNECT_IVL: 100,
    C.RECONNECT_IVL_MAX: 0,
    C.BACKLOG: 100,
    C.MAXMSGSIZE: -1,
    C.ROUTING_ID: b"",
    C.HEARTBEAT_IVL: 0,
    C.HEARTBEAT_TIMEOUT: -1,
    C.HEARTBEAT_TTL: 0,
    C.HANDSHAKE_IVL: 30000,
    C.TCP_KEEPALIVE: -1,
    C.TCP_KEEPALIVE_IDLE: -1,
    C.TCP_KEEPALIVE_CNT: -1,
    C.TCP_KEEPALIVE_INTVL: -1,
    C.SNDBUF: -1,
    C.RCVBUF: -1,
    C.RATE: 100,
    C.RECOVERY_IVL: 10000,
    C.MULTICAST_HOPS: 1,
    C.MULTICAST_MAXTPDU: 1500,
    C.MULTICAST_LOOP: 1,
    C.ZAP_DOMAIN: b"",
    C.PLAIN_USERNAME: b"",
    C.PLAIN_PASSWORD: b"",
    C.CURVE_PUBLICKEY: b"",
    C.CURVE_SECRETKEY: b"",
    C.CURVE_SERVERKEY: b"",
    C.CONNECT_ROUTING_ID: b"",
    C.XPUB_WELCOME_MSG: b"",
    C.SOCKS_PROXY: b"",
    C.BINDTODEVICE: b"",
    C.CONNECT_TIMEOUT: 0,
    C.TCP_MAXRT: 0,
    C.AFFINITY: 0,
    C.ZAP_ENFORCE_DOMAIN: 0,
    C.INVERT_MATCHING: 0,
}

# Options that can only be set (reading them is EINVAL in libzmq).
WRITE_ONLY = frozenset(
    {
        C.SUBSCRIBE,
        C.UNSUBSCRIBE,
        C.ROUTER_MANDATORY,
        C.XPUB_VERBOSE,
        C.XPUB_VERBOSER,
        C.XPUB_MANUAL,
        C.XPUB_NODROP,
        C.REQ_CORRELATE,
        C.REQ_RELAXED,
        C.PROBE_ROUTER,
        C.ROUTER_HANDOVER,
        C.CONNECT_ROUTING_ID,
        C.XPUB_WELCOME_MSG,
    }
)
READ_ONLY = frozenset(
    {C.TYPE, C.RCVMORE, C.EVENTS, C.FD, C.LAST_ENDPOINT, C.MECHANISM, C.THREAD_SAFE}
)
CURVE_KEYS = frozenset({C.CURVE_PUBLICKEY, C.CURVE_SECRETKEY, C.CURVE_SERVERKEY})


_UNSET = object()


class Options(dict):
    """Option values by number; ``get`` answers libzmq's default for unset options."""

    def get(self, key, default=None):  # type: ignore[override]
        # No try/except: most options are read unset, and a caught KeyError costs ~10x.
        value = dict.get(self, key, _UNSET)
        if value is not _UNSET:
            return value
        value = DEFAULTS.get(key)
        if value is None:
            return b"" if OPTION_TYPES.get(key) == "bytes" else 0
        return value


def check_value(option: int, value):
    """Validate a value the way pyzmq's setsockopt does; return it normalised."""
    kind = OPTION_TYPES.get(option)
    if kind is None:
        raise ZMQError(C.EINVAL)
    if kind == "bytes":
        if isinstance(value, str):
            raise TypeError("unicode not allowed, use setsockopt_string")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got: {value!r}")
        value = bytes(value)
        if option in (C.ROUTING_ID, C.CONNECT_ROUTING_ID) and (
            len(value) > 255 or (option == C.ROUTING_ID and value[:1] == b"\x00")
        ):
            raise ZMQError(C.EINVAL)
        if option in CURVE_KEYS and len(value) not in (32, 40, 41):
            raise ZMQError(C.EINVAL)
        return value
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise TypeError(f"expected int, got: {value!r}")
    if kind == "int" and not -(2**31) <= value < 2**31:
        raise ZMQError(C.EINVAL)
    bounds = RANGES.get(option)
    if bounds is not None and not (
        bounds[0] <= value and (bounds[1] is None or value <= bounds[1])
    ):
        raise ZMQError(C.EINVAL)
    return value


# libzmq's accepted ranges (EINVAL outside) for the tcp options.
RANGES: dict[int, tuple[int, int | None]] = {
    C.TCP_KEEPALIVE: (-1, 1),
    C.TCP_KEEPALIVE_IDLE: (-1, None),
    C.TCP_KEEPALIVE_CNT: (-1, None),
    C.TCP_KEEPALIVE_INTVL: (-1, None),
    C.TCP_MAXRT: (0, None),
    C.TOS: (0, None),
    C.IPV6: (0, 1),
    C.IPV4ONLY: (0, 1),
    # and for the others, as pyzmq over libzmq 4.3 answers (tests/test_object_model.py)
    **dict.fromkeys(
        (C.SNDHWM, C.RCVHWM, C.RECONNECT_IVL_MAX, C.BACKLOG, C.HANDSHAKE_IVL,
         C.HEARTBEAT_IVL, C.HEARTBEAT_TIMEOUT, C.RECOVERY_IVL, C.CONNECT_TIMEOUT,
         C.PROBE_ROUTER),
        (0, None),
    ),
    **dict.fromkeys(
        (C.LINGER, C.RCVTIMEO, C.SNDTIMEO, C.RECONNECT_IVL, C.SNDBUF, C.RCVBUF, C.USE_FD),
        (-1, None),
    ),
    **dict.fromkeys((C.RATE, C.MULTICAST_HOPS, C.MULTICAST_MAXTPDU), (1, None)),
    **dict.fromkeys((C.IMMEDIATE, C.CONFLATE), (0, 1)),
}
