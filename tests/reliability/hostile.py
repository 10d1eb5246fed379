"""Raw-TCP attackers for the hostile-input tests and ``scripts/reliability/hostile.py``.

Each attack is a function ``(host, port, socket_type, rng) -> None`` that opens its own
plain TCP connection(s), misbehaves, and returns once the server closed it (or the attack
gave up waiting).  Nothing here imports a ZeroMQ library: the bytes are written by hand.
"""

from __future__ import annotations

import random
import socket
import struct
import time

GREETING = (
    b"\xff" + b"\x00" * 7 + b"\x01\x7f" + bytes((3, 1)) + b"NULL".ljust(20, b"\x00")
    + b"\x00" + b"\x00" * 31
)
PEER_OF = {"ROUTER": "DEALER", "REP": "REQ", "PULL": "PUSH", "DEALER": "DEALER", "SUB": "PUB"}


def command(name: bytes, data: bytes = b"") -> bytes:
    body = bytes((len(name),)) + name + data
    if len(body) < 256:
        return bytes((0x04, len(body))) + body
    return struct.pack(">BQ", 0x06, len(body)) + body


def ready(socket_type: str, extra: bytes = b"") -> bytes:
    value = socket_type.encode()
    props = b"\x0bSocket-Type" + struct.pack(">I", len(value)) + value + extra
    return command(b"READY", props)


def long_header(size: int, flags: int = 0x02) -> bytes:
    """An 8-byte frame length; sizes >= 2**64 are cut to 64 bits, as on the wire."""
    return bytes((flags,)) + (size & (2**64 - 1)).to_bytes(8, "big")


def _connect(host: str, port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _send(s: socket.socket, data: bytes) -> bool:
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def _until_closed(s: socket.socket, limit: float) -> float | None:
    """Read (and discard) until the server closes; seconds it took, or None if it did not."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if not s.recv(65536):
                return time.monotonic() - start
        except socket.timeout:  # TimeoutError from Python 3.10
            continue
        except OSError:
            return time.monotonic() - start
    return None


def _handshaken(host, port, stype, rng) -> socket.socket:
    s = _connect(host, port)
    _send(s, GREETING + ready(PEER_OF[stype]))
    return s


# -- the attacks -----------------------------------------------------------------------------
def garbage(host, port, stype, rng) -> None:
    with _connect(host, port) as s:
        _send(s, rng.randbytes(rng.randint(1, 20000)))
        _until_closed(s, 3)


def garbage_after_greeting(host, port, stype, rng) -> None:
    with _connect(host, port) as s:
        _send(s, GREETING + rng.randbytes(rng.randint(1, 20000)))
        _until_closed(s, 3)


def garbage_after_handshake(host, port, stype, rng) -> None:
    with _handshaken(host, port, stype, rng) as s:
        _send(s, rng.randbytes(rng.randint(1, 20000)))
        _until_closed(s, 3)


def oversized_header(host, port, stype, rng) -> None:
    """After a valid handshake, a data frame claiming up to 2**64-1 bytes, then a little."""
    size = rng.choice([2**63 - 1, 2**63, 2**64 - 1, 2**62, 2**40, 2**32 + 1, 2**31])
    with _handshaken(host, port, stype, rng) as s:
        _send(s, long_header(size, rng.choice([0x02, 0x03])) + rng.randbytes(1000))
        # A size the server cannot accept closes at once; a merely large one waits for a body
        # that never comes: give up after a moment (the server must not have allocated it).
        _until_closed(s, 0.5)


def oversized_command(host, port, stype, rng) -> None:
    """A command frame claiming an absurd size during the handshake."""
    with _connect(host, port) as s:
        _send(s, GREETING + long_header(rng.choice([2**63 - 1, 2**40, 2**21]), 0x06) + b"\x05READY")
        _until_closed(s, 3)


def greeting_then_nothing(host, port, stype, rng) -> None:
    with _connect(host, port) as s:
        _send(s, GREETING)
        _until_closed(s, 3)


def nothing(host, port, stype, rng) -> None:
    with _connect(host, port) as s:
        _until_closed(s, 3)


def old_greeting(host, port, stype, rng) -> None:
    """ZMTP 1.0 (a 0x01 length-prefixed identity) and 2.0 (revision 1) openings."""
    with _connect(host, port) as s:
        if rng.random() < 0.5:
            _send(s, b"\x01\x00")
        else:
            _send(s, b"\xff" + b"\x00" * 7 + b"\x01\x7f\x01" + bytes((3,)) + b"\x00\x00")
        _until_closed(s, 3)


def slow_greeting(host, port, stype, rng) -> None:
    """A byte every 50 ms: must still be cut off by the handshake timeout."""
    with _connect(host, port) as s:
        for b in GREETING:
            if not _send(s, bytes((b,))):
                return
            time.sleep(0.05)
        _until_closed(s, 3)


def bad_metadata(host, port, stype, rng) -> None:
    """READY with broken properties (lengths that run past the end, a missing type...)."""
    choices = [
        command(b"READY", b"\x0bSocket-Type\xff\xff\xff\xffDEALER"),
        command(b"READY", b"\xffSocket-Type"),
        command(b"READY", b""),
        command(b"READY", rng.randbytes(rng.randint(0, 300))),
        ready("PUB"),  # an incompatible type
        command(b"HELLO", rng.randbytes(200)),
        command(b"ERROR", b"\x05oops!"),
        b"\x04\x00",  # an empty command
        b"\x01\x03abc",  # a data frame during the handshake
    ]
    with _connect(host, port) as s:
        _send(s, GREETING + rng.choice(choices))
        _until_closed(s, 3)


def command_flood(host, port, stype, rng) -> None:
    """After a valid handshake: pings with huge contexts, subscriptions, unknown commands."""
    with _handshaken(host, port, stype, rng) as s:
        chunks = [
            command(b"PING", b"\x00\x0a" + rng.randbytes(rng.randint(0, 60000))),
            command(b"SUBSCRIBE", rng.randbytes(100)),
            command(b"CANCEL", rng.randbytes(100)),
            command(b"BOGUS", rng.randbytes(100)),
            command(b"PING", b""),  # malformed
        ]
        for _ in range(200):
            if not _send(s, rng.choice(chunks)):
                break
        _until_closed(s, 0.3)


def ping_flood(host, port, stype, rng, seconds: float = 1.0) -> None:
    """After a valid handshake: PINGs as fast as the server takes them, reading nothing,
    so every PONG the server makes piles up on its side (it must keep at most one)."""
    with _handshaken(host, port, stype, rng) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        blob = command(b"PING", b"\x00\x00" + b"c" * 16) * 4000
        s.settimeout(0.2)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                s.sendall(blob)
            except socket.timeout:  # TimeoutError from Python 3.10
                continue
            except OSError:
                return


def half_frames(host, port, stype, rng) -> None:
    """After a handshake, the first part of a message and then silence."""
    with _handshaken(host, port, stype, rng) as s:
        _send(s, b"\x01\x05hello" + b"\x00\xff" + b"x" * 100)
        _until_closed(s, 0.3)


def reset(host, port, stype, rng) -> None:
    """Connect and reset at once (SO_LINGER 0), at a random point of the handshake."""
    s = _connect(host, port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    cut = rng.randint(0, len(GREETING) + 10)
    _send(s, (GREETING + ready(PEER_OF[stype]))[:cut])
    s.close()


ATTACKS = [
    garbage, garbage_after_greeting, garbage_after_handshake, oversized_header,
    oversized_command, greeting_then_nothing, nothing, old_greeting, slow_greeting,
    bad_metadata, command_flood, ping_flood, half_frames, reset,
]  # fmt: skip


def run_attack(fn, host: str, port: int, stype: str, seed: int) -> str | None:
    """Run one attack; the error text if the attack itself broke (not the server)."""
    try:
        fn(host, port, stype, random.Random(seed))
    except (ConnectionError, TimeoutError, OSError):
        pass  # the server hung up or the backlog was full: fine
    except Exception as e:  # a bug in the attack code
        return f"{fn.__name__}: {e!r}"
    return None
