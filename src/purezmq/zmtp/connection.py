"""One ZMTP 3.x connection as a pure state machine.

Theory of operation.  A connection goes through three phases:

``GREETING``   both sides send a 64-byte greeting at once (signature, version 3.1, the
               mechanism name, the as-server flag).  We answer a pre-3.0 peer with a clean
               protocol error rather than waiting for bytes that will never come.
``HANDSHAKE``  only command frames are allowed; each goes to the security mechanism, whose
               answers are queued for sending.  When the mechanism is ready, the peer's
               Socket-Type is checked against ours and ``HandshakeSucceeded`` is emitted.
``TRAFFIC``    data frames build messages (``bytes`` for one frame, else a ``list``); commands
               handle heartbeats (PING/PONG) and subscriptions (SUBSCRIBE/CANCEL, which become
               ``Subscription`` events, as do ZMTP 3.0 style ``\\x01topic`` messages when we
               are a PUB or XPUB), and RADIO-DISH groups (JOIN/LEAVE, which become
               ``GroupMembership`` events when we are a RADIO).

Time is an argument: the driver passes ``now`` (seconds, monotonic) to :meth:`receive_data`
and :meth:`handle_timer`, and asks :meth:`next_timer` when to call back.  Every failure is a
:class:`ZmtpError`; after one the driver sends :meth:`data_to_send` (it may hold an ERROR
command) and closes.
"""

from __future__ import annotations

import struct

from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.events import (
    GroupMembership,
    HandshakeSucceeded,
    PeerErrorReceived,
    PipeMarker,
    Subscription,
    ZapRequested,
)
from purezmq.zmtp.frames import (
    COMMAND,
    LONG,
    MORE,
    encode_command,
    encode_messages,
    encode_queue,
    frame_header,
)
from purezmq.zmtp.mechanisms.base import Mechanism
from purezmq.zmtp.metadata import get_all
from purezmq.zmtp.sockettypes import compatible

__all__ = ["ZmtpConnection", "ZmtpError"]

GREETING_SIZE = 64
_Q = struct.Struct(">Q")
_H = struct.Struct(">H")
_MAX_FRAME = (1 << 63) - 1
# Frames at least this large are gathered as a list of chunks, never by re-concatenating.
_BIG = 1 << 10
# Frames from this size on (up to _SINK_MAX) are gathered in one buffer the driver reads
# straight into (``sink``): a fresh 128 KiB read buffer per chunk plus the final join made
# glibc map, fault in and trim about 2 MiB of pages per 1 MiB message (4x slower runs).
_SINK_MIN = 1 << 18
# Larger ones are gathered in chunks as they arrive.
_SINK_MAX = 1 << 26
# A sink never holds much more than what arrived: a header only announces a size, so the
# sink starts at _SINK_FIRST (or a spare one, already in memory) and doubles as it fills,
# up to the announced size.  Six peers announcing 64 MiB each and sending nothing hold
# 6 x _SINK_FIRST, not 384 MiB.  The doubling copies only while spares are too small: a
# stream of big messages reuses one spare, filled once and copied out once per message.
_SINK_FIRST = 1 << 16
_sinks: list[bytearray] = []  # spare sinks, shared by every connection (list ops are atomic)
_SPARE_SINKS = 4
_SPARE_SINK_MAX = 1 << 23  # keep no spare larger than this (memory held for nothing)
# A command frame (handshake or traffic) larger than this is garbage, not a command.
_MAX_COMMAND = 1 << 20
# A run of one-frame messages of one size is sliced _RUN frames at a time by a struct
# (``2x<size>s`` repeated: skip each checked header, take each body), made once per size.
_RUN = 64
_run_structs: dict[int, struct.Struct] = {}


def _run_unpacker(size: int):
    """``unpack_from`` of the struct for _RUN frames of ``size`` (< 256) bytes."""
    st = _run_structs.get(size)
    if st is None:
        st = _run_structs[size] = struct.Struct(f"2x{size}s" * _RUN)
    return st.unpack_from

_GREETING, _HANDSHAKE, _TRAFFIC, _CLOSED = range(4)

# ZMTP 2.0 socket-type bytes (RFC 15; XPUB and XSUB as libzmq numbers them).
_V2_CODES = {
    "PAIR": 0, "PUB": 1, "SUB": 2, "REQ": 3, "REP": 4, "DEALER": 5, "ROUTER": 6, "PULL": 7,
    "PUSH": 8, "XPUB": 9, "XSUB": 10,
}  # fmt: skip
_V2_TYPES = {code: name for name, code in _V2_CODES.items()}


def _message_frame(data: bytes) -> bytes:
    """A CurveZMQ MESSAGE as libzmq frames it: flags 0 (the MORE flag is inside the box)."""
    return frame_header(0, 8 + len(data)) + b"\x07MESSAGE" + data


def make_greeting(mechanism: bytes, as_server: bool, minor: int = 1) -> bytes:
    """The 64-byte ZMTP 3.x greeting."""
    return (
        b"\xff" + b"\x00" * 7 + b"\x01\x7f"
        + bytes((3, minor))
        + mechanism.ljust(20, b"\x00")
        + (b"\x01" if as_server else b"\x00")
        + b"\x00" * 31
    )


class ZmtpConnection:
    """The protocol state of one connection; see the module docstring."""

    def __init__(
        self,
        socket_type: str,
        mechanism: Mechanism,
        *,
        identity: bytes = b"",
        maxmsgsize: int = -1,
        heartbeat_ivl: float = 0.0,
        heartbeat_ttl: float = 0.0,
        heartbeat_timeout: float | None = None,
        handshake_ivl: float = 30.0,
        now: float = 0.0,
        metadata: dict[str, bytes] | None = None,
    ) -> None:
        self.socket_type = socket_type
        self.mechanism = mechanism
        self.maxmsgsize = maxmsgsize
        self.peer_minor = 1
        self.peer_properties: dict[str, bytes] = {}
        self._state = _GREETING
        greeting = make_greeting(mechanism.name, mechanism.as_server and mechanism.name != b"NULL")
        # As libzmq: the signature and major version first, the rest once the peer's version
        # is known: a ZMTP 2.0 peer (RFC 15; libzmq 3.x, JeroMQ 0.3) gets its own greeting.
        self._out: list[bytes] = [greeting[:11]]
        self._greeting_rest: bytes | None = greeting[11:]
        self._buf = b""
        self._big_parts: list[bytes] = []
        self._big_left = 0
        self._big_flags = 0
        # The big frame being read into one buffer: ``sink`` is the rest still to fill.
        self.sink: memoryview | None = None
        self._sink_buf: bytearray | None = None
        self._sink_size = 0
        self._cur: list[bytes] = []
        self._cur_size = 0
        self._sub_in = socket_type in ("PUB", "XPUB")
        self._sub_out = socket_type in ("SUB", "XSUB", "DISH")  # sends commands from pipes
        self._groups_in = socket_type == "RADIO"  # takes JOIN / LEAVE (RFC 48)
        props = {"Socket-Type": socket_type.encode()}
        if socket_type in ("REQ", "DEALER", "ROUTER") or identity:
            props["Identity"] = identity
        if metadata:
            props.update(metadata)
        mechanism.metadata = props
        # timers
        self._hb_ivl = heartbeat_ivl
        self._hb_ttl = heartbeat_ttl
        self._hb_timeout = heartbeat_timeout if heartbeat_timeout is not None else heartbeat_ivl
        self._handshake_deadline = now + handshake_ivl if handshake_ivl > 0 else None
        self._next_ping: float | None = None
        self._ping_deadline: float | None = None
        self._remote_ttl = 0.0
        self._last_recv = now
        self._pong_in: list | None = None  # the ``_out`` list holding our unsent PONG

    # -- output ------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        """Protocol bytes queued for the peer (greeting, handshake, PONG, ERROR)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out = []
        return data

    @property
    def has_output(self) -> bool:
        return bool(self._out)

    def encode(self, msgs, out: list) -> int:
        """Append the wire form of queued pipe items (messages, subscriptions) to ``out``."""
        if self._out:
            out.extend(self._out)
            self._out = []
        if self._sub_out:
            return self._encode_items(msgs, out)
        if self.mechanism.encrypts:
            return self.mechanism.seal_messages(msgs, out)
        return encode_messages(msgs, out)

    def encode_queue(self, q, out: list, limit: int):
        """Pop items from deque ``q`` and append their wire form to ``out`` (about
        ``limit`` bytes at most): the engine's batch, in one pass for plain traffic.
        Stops at a :class:`Follow` marker and returns it (only plain peers get one)."""
        if self._out:
            out.extend(self._out)
            self._out = []
        if self.mechanism.encrypts or self._sub_out:
            items = []
            size = 0
            while q and size < limit:
                item = q.popleft()
                items.append(item)
                if item.__class__ is bytes:
                    size += len(item)
                elif item.__class__ is list:
                    for f in item:
                        size += len(f)
            if self._sub_out:
                self._encode_items(items, out)
            else:
                self.mechanism.seal_messages(items, out)
            return
        while True:
            odd = encode_queue(q, out, limit)
            if odd is None:
                return None
            if isinstance(odd, PipeMarker):
                return odd  # the engine switches to a publisher's shared log here
            self._encode_items([odd], out)

    def take_commands(self, out: list) -> None:
        """Move queued commands (heartbeats) to ``out``, ahead of pre-encoded traffic."""
        if self._out:
            out.extend(self._out)
            self._out = []

    def _encode_items(self, msgs, out: list) -> int:
        total = 0
        mech = self.mechanism
        for m in msgs:
            if m.__class__ is GroupMembership:  # a DISH's JOIN / LEAVE: always a command
                name = b"JOIN" if m.join else b"LEAVE"
                if mech.encrypts:
                    body = bytes((len(name),)) + name + m.group
                    chunk = _message_frame(mech.encrypt(COMMAND, body))
                else:
                    chunk = encode_command(name, m.group)
                out.append(chunk)
                total += len(chunk)
                continue
            if m.__class__ is Subscription:
                if self.peer_minor >= 1:
                    name = b"SUBSCRIBE" if m.subscribe else b"CANCEL"
                    if mech.encrypts:
                        body = bytes((len(name),)) + name + m.topic
                        chunk = _message_frame(mech.encrypt(COMMAND, body))
                        out.append(chunk)
                        total += len(chunk)
                        continue
                    chunk = encode_command(name, m.topic)
                    out.append(chunk)
                    total += len(chunk)
                    continue
                m = [(b"\x01" if m.subscribe else b"\x00") + m.topic]
            elif m.__class__ is not list:
                m = [m]  # a one-frame message
            if mech.encrypts:
                total += mech.seal_messages((m,), out)
            else:
                total += encode_messages((m,), out)
        return total

    def send_command(self, name: bytes, data: bytes = b"") -> None:
        """Queue a command (PING, ERROR, ...) for the peer."""
        if self.mechanism.encrypts and self._state == _TRAFFIC:
            body = bytes((len(name),)) + name + data
            self._out.append(_message_frame(self.mechanism.encrypt(COMMAND, body)))
        else:
            self._out.append(encode_command(name, data))

    def send_error(self, reason: str) -> None:
        """Queue an ERROR command (best effort: the driver closes right after)."""
        raw = reason.encode("utf-8", "replace")[:255]
        self.send_command(b"ERROR", bytes((len(raw),)) + raw)

    # -- input -------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float = 0.0) -> list:
        """Feed bytes from the peer; return events (a one-frame message is its ``bytes``, a
        longer one a plain list of frames).

        On a failure the ``ZmtpError`` carries, as ``events``, what was decoded before it,
        so whole messages that came ahead of the garbage are still delivered.
        """
        events: list = []
        try:
            return self._receive(data, now, events)
        except ZmtpError as e:
            e.events = events
            raise

    def _receive(self, data: bytes, now: float, events: list) -> list:
        if self._state == _CLOSED:
            raise ZmtpError("connection is closed", kind="protocol")
        self._last_recv = now
        self._ping_deadline = None
        # ``data`` is decoded from offset ``pos`` on, never re-sliced: copying the rest of a
        # 64 KiB read per call would cost more than decoding it.
        pos = 0
        if self.sink is not None:  # a driver that does not read into the sink: copy
            pos = self._sink_copy(data, events)
            if self.sink is not None:
                return events
        elif self._big_left:
            n = len(data)
            if n < self._big_left:
                self._big_parts.append(data)
                self._big_left -= n
                return events
            pos = self._big_left
            self._big_parts.append(data[:pos])
            self._big_left = 0
            body = b"".join(self._big_parts)
            self._big_parts = []
            self._frame(self._big_flags, body, events)
        lead = self._buf
        if lead:
            self._buf = b""
            need = self._lead_need(lead, data, pos) if self._state != _GREETING else None
            if need is None:
                data = lead + data[pos:]
                pos = 0
            else:  # complete the frame begun in the last read, then go on in ``data``
                self._decode(lead + data[pos : pos + need], 0, events)
                pos += need
                if self._buf or self._big_left:  # not one whole frame after all: rejoin
                    lead = self._buf
                    self._buf = b""
                    data = lead + data[pos:]
                    pos = 0
        if self._state == _GREETING:
            buf = self._greeting(data[pos:] if pos else data, events)
            if self._state == _GREETING:
                self._buf = buf
                return events
            data = buf
            pos = 0
        self._decode(data, pos, events)
        return events

    def sink_filled(self, n: int, now: float = 0.0) -> list:
        """The driver read ``n`` bytes into :attr:`sink`; return events as
        :meth:`receive_data` does."""
        if self._state == _CLOSED:
            raise ZmtpError("connection is closed", kind="protocol")
        self._last_recv = now
        self._ping_deadline = None
        events: list = []
        try:
            self._sink_advance(n, events)
        except ZmtpError as e:
            e.events = events
            raise
        return events

    def _open_sink(self, size: int, head: memoryview) -> None:
        have = len(head)
        try:
            sink = _sinks.pop()  # already in memory: use what it holds, grow if short
        except IndexError:
            sink = bytearray(min(size, max(_SINK_FIRST, 2 * have)))
        if len(sink) <= have:  # (the view must never be empty: a read of 0 is EOF)
            sink = bytearray(min(size, 2 * have))
        sink[:have] = head
        self._sink_buf = sink
        self._sink_size = size
        self.sink = memoryview(sink)[have : min(size, len(sink))]

    def _sink_copy(self, data: bytes, events: list) -> int:
        """Copy the start of ``data`` into the sink (a driver that does not read into
        it); return how many bytes of ``data`` went to the frame."""
        view = memoryview(data)
        pos = 0
        n = len(data)
        while self.sink is not None and pos < n:
            k = min(n - pos, len(self.sink))
            self.sink[:k] = view[pos : pos + k]
            pos += k
            self._sink_advance(k, events)
        return pos

    def _sink_advance(self, n: int, events: list) -> None:
        """``n`` more bytes of the big frame are in the sink; at its end, decode it."""
        self._big_left -= n
        sink = self._sink_buf
        size = self._sink_size
        if self._big_left:
            if n < len(self.sink):
                self.sink = self.sink[n:]
                return
            # Full but the frame goes on: double it (the bytes came, so may the memory).
            have = size - self._big_left
            grown = bytearray(min(size, 2 * len(sink)))
            grown[:have] = memoryview(sink)[:have]
            self._sink_buf = grown
            self.sink = memoryview(grown)[have:]
            return
        self.sink = None
        self._sink_buf = None
        body = bytes(sink) if len(sink) == size else bytes(memoryview(sink)[:size])
        if len(sink) <= _SPARE_SINK_MAX and len(_sinks) < _SPARE_SINKS:
            _sinks.append(sink)
        self._frame(self._big_flags, body, events)

    def _lead_need(self, lead: bytes, data: bytes, pos: int) -> int | None:
        """How many bytes of ``data[pos:]`` complete the frame that ``lead`` begins, or
        None if ``data`` does not hold them (or the header is not whole yet)."""
        hdr = lead if len(lead) >= 9 else lead + data[pos : pos + 9]
        if len(hdr) < 2:
            return None
        if hdr[0] & LONG:
            if len(hdr) < 9:
                return None
            total = 9 + _Q.unpack_from(hdr, 1)[0]
        else:
            total = 2 + hdr[1]
        need = total - len(lead)
        return need if 0 < need <= len(data) - pos else None

    def _decode(self, buf: bytes, pos: int, events: list) -> None:
        """Decode the frames in ``buf`` from ``pos``; keep an unfinished one for later."""
        n = len(buf)
        cur = self._cur
        sub_in = self._sub_in
        traffic = self._state == _TRAFFIC and not self.mechanism.encrypts
        maxsize = self.maxmsgsize
        # Frames larger than this are checked at header time, before their body arrives.
        check = 255 if maxsize < 0 or maxsize > 255 else maxsize
        # One-frame messages (flags 0, or LONG with no size limit) need no other test: the
        # common case, inlined.  A one-frame message is delivered as bare ``bytes``.
        fast = traffic and not sub_in and check == 255
        fast_long = fast and maxsize < 0
        # Encrypted traffic: the mechanism opens whole runs of data frames in bulk.
        secure = (
            self._state == _TRAFFIC and self.mechanism.encrypts and not sub_in and maxsize < 0
        )
        append = events.append
        retry = 0  # after a short run, look for the next one from here on (bytes)
        while n - pos >= 2:
            if secure:
                self._cur = cur
                pos = self._open_run(buf, pos, events)
                cur = self._cur
                if n - pos < 2:
                    break
            flags = buf[pos]
            if flags == 0 and fast and not cur:
                # A run of short one-frame messages: the hottest loop of the receiver.
                size = buf[pos + 1]
                step = size + 2
                nxt = pos + step
                if pos >= retry and n - nxt >= 2 and not buf[nxt] and buf[nxt + 1] == size:
                    # The next frame is the same (flags 0, same size): take the run of
                    # such frames in bulk.  Strided slices give the headers' flags and
                    # size bytes at C speed; the run is the prefix where all are right,
                    # so each header is where it was looked for.  The window grows
                    # while whole: a short run costs little more than its frames.
                    window = _RUN
                    start = pos
                    size_byte = buf[pos + 1 : pos + 2]
                    unpack = None
                    while True:
                        k = (n - pos) // step
                        if k > window:
                            k = window
                        stop = pos + k * step
                        m = k - max(
                            len(buf[pos:stop:step].lstrip(b"\x00")),
                            len(buf[pos + 1 : stop : step].lstrip(size_byte)),
                        )
                        stop = pos + m * step
                        if m >= _RUN:  # _RUN frames at a time by one struct unpack
                            if unpack is None:
                                unpack = _run_unpacker(size)
                            whole = pos + m // _RUN * _RUN * step
                            for at in range(pos, whole, _RUN * step):
                                events += unpack(buf, at)
                            pos = whole
                        events += [buf[i : i + size] for i in range(pos + 2, stop + 2, step)]
                        pos = stop
                        if m < window:
                            break
                        window <<= 3
                    if pos - start < _RUN // 4 * step:
                        # A short run is not worth the bulk's fixed cost: frame by frame
                        # for a while (varied sizes must not pay for it at every pair).
                        retry = pos + _RUN * step
                    continue
                while True:
                    end = pos + 2 + size
                    if end > n:
                        break
                    append(buf[pos + 2 : end])
                    pos = end
                    if n - pos < 2 or buf[pos]:
                        break  # other flags
                    prev = size
                    size = buf[pos + 1]
                    if size == prev and pos >= retry:
                        nxt = pos + 2 + size
                        if n - nxt >= 2 and not buf[nxt] and buf[nxt + 1] == size:
                            break  # three frames of one size in a row: a run (above)
                if end > n or n - pos < 2:
                    break  # the data ends (maybe inside a frame)
                continue
            if flags <= MORE and fast:
                # A short frame of a multipart message (a last one: ``cur`` has the rest).
                end = pos + 2 + buf[pos + 1]
                if end > n:
                    break
                cur.append(buf[pos + 2 : end])
                pos = end
                if not flags:
                    append(cur)
                    cur = []
                continue
            if flags == LONG and fast_long and not cur and n - pos >= 9:
                (size,) = _Q.unpack_from(buf, pos + 1)
                end = pos + 9 + size
                if end <= n and size <= _MAX_FRAME:
                    append(buf[pos + 9 : end])
                    pos = end
                    continue
            if flags & LONG:
                if n - pos < 9:
                    break
                (size,) = _Q.unpack_from(buf, pos + 1)
                start = pos + 9
            else:
                size = buf[pos + 1]
                start = pos + 2
            if size > check and (
                flags & COMMAND or not traffic or maxsize >= 0 or size > _MAX_FRAME
            ):
                self._check_size(flags, size)
            elif flags & COMMAND:
                self._check_size(flags, size)
            end = start + size
            if end > n:
                if size >= _BIG:
                    self._big_left = end - n
                    self._big_flags = flags
                    pos = n
                    if _SINK_MIN <= size <= _SINK_MAX:
                        self._open_sink(size, memoryview(buf)[start:])
                    else:
                        self._big_parts = [buf[start:]]
                break
            body = buf[start:end]
            pos = end
            if traffic and not flags & COMMAND:
                if flags & MORE:
                    cur.append(body)
                elif cur:
                    cur.append(body)
                    events.append(cur)
                    cur = self._cur = []
                elif sub_in and body[:1] in (b"\x01", b"\x00"):
                    events.append(Subscription(body[1:], body[0] == 1))
                else:
                    events.append(body)
                continue
            self._cur = cur
            self._frame(flags, body, events)
            cur = self._cur
            traffic = self._state == _TRAFFIC and not self.mechanism.encrypts
            secure = (
                self._state == _TRAFFIC and self.mechanism.encrypts and not sub_in
                and maxsize < 0
            )
        self._cur = cur
        self._buf = buf[pos:] if pos < n else b""

    def _check_size(self, flags: int, size: int) -> None:
        if size > _MAX_FRAME:
            raise ZmtpError("frame size out of range", kind="protocol")
        if flags & COMMAND:
            if flags & MORE:
                raise ZmtpError("command frame with MORE flag", kind="protocol")
            if size > _MAX_COMMAND and not (self._state == _TRAFFIC and self.mechanism.encrypts):
                raise ZmtpError("command frame too large", kind="protocol")
        elif self._state != _TRAFFIC:
            raise ZmtpError("message frame before handshake completed", kind="protocol")
        if self.maxmsgsize >= 0 and size > self.maxmsgsize + (64 if self.mechanism.encrypts else 0):
            self._fail_size(size)

    def _fail_size(self, size: int) -> None:
        raise ZmtpError(f"frame of {size} bytes exceeds MAXMSGSIZE", kind="protocol")

    def _greeting(self, buf: bytes, events: list) -> bytes:
        n = len(buf)
        if n >= 1 and buf[0] != 0xFF:
            raise ZmtpError("not a ZMTP peer (bad signature)", kind="protocol")
        if n >= 10 and not buf[9] & 1:
            raise ZmtpError("not a ZMTP peer (bad signature)", kind="protocol")
        if n < 11:
            return buf
        revision = buf[10]
        if revision in (1, 2):
            return self._greeting_v2(buf, events)
        if revision < 3:
            raise ZmtpError(f"unsupported ZMTP version {revision}", kind="protocol")
        if self._greeting_rest is not None:
            self._out.append(self._greeting_rest)
            self._greeting_rest = None
        if n < GREETING_SIZE:
            return buf
        self.peer_minor = 0 if buf[11] == 0 and buf[10] == 3 else 1
        mech = bytes(buf[12:32]).rstrip(b"\x00")
        if mech != self.mechanism.name:
            raise ZmtpError(
                f"mechanism mismatch: ours {self.mechanism.name.decode()}, "
                f"peer {mech.decode('ascii', 'replace')}",
                kind="protocol",
                value=0x11000002,  # ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
            )
        self._state = _HANDSHAKE
        self._emit_commands(self.mechanism.start())
        self._check_mechanism(events)
        return buf[GREETING_SIZE:]

    def _greeting_v2(self, buf: bytes, events: list) -> bytes:
        """A ZMTP 2.0 peer (RFC 15): a socket-type byte and an identity frame follow its
        revision; no security, no commands, no heartbeats, subscriptions as messages."""
        mech = self.mechanism
        if mech.name != b"NULL" or mech.zap_enabled:  # libzmq rejects them too
            raise ZmtpError("a ZMTP 2.0 peer cannot use security or ZAP", kind="protocol")
        if self._greeting_rest is not None:
            self._greeting_rest = None
            code = _V2_CODES.get(self.socket_type)
            if code is None:
                raise ZmtpError(f"{self.socket_type} has no ZMTP 2.0 type", kind="protocol")
            identity = mech.metadata.get("Identity", b"")
            self._out.append(bytes((code, 0, len(identity))) + identity)
        if len(buf) < 14:
            return buf
        peer_type = _V2_TYPES.get(buf[11])
        if peer_type is None or not compatible(self.socket_type, peer_type):
            raise ZmtpError(f"incompatible ZMTP 2.0 socket type {buf[11]}", kind="protocol")
        if buf[12] & ~MORE:  # the identity frame: short, final (MORE is tolerated: libzmq)
            raise ZmtpError("bad ZMTP 2.0 identity frame", kind="protocol")
        end = 14 + buf[13]
        if len(buf) < end:
            return buf
        self.peer_minor = 0  # subscriptions travel as messages, as to a ZMTP 3.0 peer
        props = {"Socket-Type": peer_type.encode(), "Identity": bytes(buf[14:end])}
        self._traffic_begins(props, b"", events)
        return buf[end:]

    def _emit_commands(self, commands) -> None:
        for name, data in commands:
            self._out.append(encode_command(name, data))

    def _frame(self, flags: int, body: bytes, events: list) -> None:
        """Handle one frame outside the plain-traffic fast path."""
        if self._state == _TRAFFIC and self.mechanism.encrypts:
            # libzmq sends each MESSAGE as a frame with flags 0; accept the COMMAND flag too.
            if flags & MORE:
                raise ZmtpError("MORE flag on an encrypted frame", kind="protocol")
            if body[:8] == b"\x07MESSAGE":
                data = memoryview(body)[8:]  # (no copy: a big frame is opened in place)
            else:
                name, data = self._split_command(body)
                raise ZmtpError(f"unencrypted {name!r} command in traffic", kind="protocol")
            self._opened(*self.mechanism.decrypt(data), events)
            return
        if not flags & COMMAND:
            if self._state != _TRAFFIC:
                raise ZmtpError("message frame before handshake completed", kind="protocol")
            self._data_frame(flags, body, events)
            return
        if self._state == _HANDSHAKE and body[:5] == b"^RROR":
            # libzmq's PLAIN writes "\x05ERROR" in C, where the escape eats the E: read it.
            body = b"\x05ERROR" + body[5:]
        name, data = self._split_command(body)
        if self._state == _HANDSHAKE:
            if name == b"ERROR":
                reason = self._error_reason(data)
                events.append(PeerErrorReceived(reason))
                # A ZAP status (300/400/500) is what libzmq's monitor reports.
                status = int(reason) if reason in ("300", "400", "500") else 0
                raise ZmtpError(
                    f"peer refused the handshake: {reason}", kind="auth", value=status
                )
            self._emit_commands(self.mechanism.on_command(name, data))
            self._check_mechanism(events)
            return
        self._traffic_command(name, data, events)

    def _open_run(self, buf: bytes, pos: int, events: list) -> int:
        """Let the mechanism open the run of encrypted data frames at ``buf[pos:]`` in
        bulk; return where it stopped (the frame there goes the slow way)."""
        mech = self.mechanism
        while True:
            pos, self._cur, opened = mech.open_messages(buf, pos, events, self._cur)
            if opened is None:
                return pos
            self._opened(opened[0], opened[1], events)
            if self._state != _TRAFFIC:
                return pos

    def _opened(self, flags: int, body: bytes, events: list) -> None:
        """One frame out of a MESSAGE box: a command or data."""
        if flags & COMMAND:
            name, data = self._split_command(body)
            self._traffic_command(name, data, events)
            return
        if self.maxmsgsize >= 0 and len(body) > self.maxmsgsize:
            self._fail_size(len(body))
        self._data_frame(flags, body, events)

    def _data_frame(self, flags: int, body: bytes, events: list) -> None:
        cur = self._cur
        if flags & MORE:
            cur.append(body)
        elif cur:
            cur.append(body)
            events.append(cur)
            self._cur = []
        elif self._sub_in and body[:1] in (b"\x01", b"\x00"):
            events.append(Subscription(bytes(body[1:]), body[0] == 1))
        else:
            events.append(bytes(body))

    @staticmethod
    def _split_command(body: bytes) -> tuple[bytes, bytes]:
        if not body:
            raise ZmtpError("empty command", kind="protocol")
        n = body[0]
        if n == 0 or 1 + n > len(body):
            raise ZmtpError("malformed command name", kind="protocol")
        return bytes(body[1 : 1 + n]), body[1 + n :]

    @staticmethod
    def _error_reason(data: bytes) -> str:
        if not data:
            return ""
        return bytes(data[1 : 1 + data[0]]).decode("utf-8", "replace")

    def _traffic_command(self, name: bytes, data: bytes, events: list) -> None:
        if name == b"PING":
            if len(data) < 2:
                raise ZmtpError("malformed PING", kind="protocol")
            (ttl,) = _H.unpack_from(data, 0)
            self._remote_ttl = ttl / 10.0
            # RFC 37 allows a context of any length; libzmq echoes at most 16 bytes of it.
            # One unsent PONG is enough (libzmq keeps one too): a peer that floods PINGs
            # and reads nothing must not make us queue PONGs without bound.  ``_out`` is a
            # new list each time the driver takes it, so identity tells if ours is still there.
            if self._pong_in is not self._out:
                self._pong_in = self._out
                self.send_command(b"PONG", bytes(data[2:18]))
        elif name == b"PONG":
            pass
        elif name == b"SUBSCRIBE" or name == b"CANCEL":
            if self._sub_in:
                events.append(Subscription(bytes(data), name == b"SUBSCRIBE"))
        elif name == b"JOIN" or name == b"LEAVE":
            if self._groups_in:
                events.append(GroupMembership(bytes(data), name == b"JOIN"))
        elif name == b"ERROR":
            reason = self._error_reason(data)
            events.append(PeerErrorReceived(reason))
            raise ZmtpError(f"peer sent ERROR: {reason}", kind="closed")
        # Unknown commands in traffic are ignored, as RFC 37 asks.

    def _check_mechanism(self, events: list) -> None:
        mech = self.mechanism
        if mech.zap_credentials is not None and not getattr(mech, "_zap_asked", False):
            mech._zap_asked = True  # type: ignore[attr-defined]
            events.append(ZapRequested(mech.name, list(mech.zap_credentials)))
        if not mech.ready or self._state != _HANDSHAKE:
            return
        props = mech.peer_properties
        # As libzmq: every Socket-Type the peer sent must fit ours, spelled exactly (a
        # repeated one whose last value fits is no excuse).  Stricter: one must be there.
        types = get_all(props, "Socket-Type")
        if not types:
            self.send_error("Missing Socket-Type")
            raise ZmtpError("peer sent no Socket-Type", kind="protocol")
        for peer_type in types:
            if not compatible(self.socket_type, peer_type.decode("ascii", "replace")):
                self.send_error("Invalid socket type")
                raise ZmtpError(
                    f"incompatible socket type {peer_type.decode('ascii', 'replace')} "
                    f"for {self.socket_type}",
                    kind="protocol",
                )
        self._traffic_begins(props, mech.user_id, events)

    def _traffic_begins(self, props: dict[str, bytes], user_id: bytes, events: list) -> None:
        """The handshake is done (ZMTP 3.x, or a 2.0 peer's greeting): traffic may flow."""
        self.peer_properties = props
        self._state = _TRAFFIC
        self._handshake_deadline = None
        if self._hb_ivl > 0 and self.peer_minor >= 1:  # no PING to a 3.0 or 2.0 peer
            self._next_ping = self._last_recv + self._hb_ivl
        events.append(HandshakeSucceeded(props, self.peer_minor, user_id))

    def zap_reply(
        self, status_code: bytes, status_text: bytes, user_id: bytes, metadata: dict[str, bytes]
    ) -> list:
        """Feed the ZAP handler's reply; returns events like :meth:`receive_data`."""
        mech = self.mechanism
        mech._zap_asked = False  # type: ignore[attr-defined]
        events: list = []
        try:
            self._emit_commands(mech.on_zap_reply(status_code, status_text, user_id, metadata))
        except ZmtpError:
            if mech.pending_error is not None:
                self.send_error(mech.pending_error)
            raise
        self._check_mechanism(events)
        return events

    @property
    def ready(self) -> bool:
        return self._state == _TRAFFIC

    @property
    def held_bytes(self) -> int:
        """Memory held for input not decoded yet (a partial frame: its bytes, its sink)."""
        sink = self._sink_buf
        return (
            len(self._buf)
            + sum(len(p) for p in self._big_parts)
            + (len(sink) if sink is not None else 0)
        )

    # -- time --------------------------------------------------------------------------
    def next_timer(self) -> float | None:
        """The earliest time :meth:`handle_timer` must be called, or None."""
        if (
            self._next_ping is None
            and self._ping_deadline is None
            and self._handshake_deadline is None
            and not self._remote_ttl
        ):
            return None  # no heartbeats: the common case, asked after every read
        best = None
        for t in (
            self._handshake_deadline,
            self._next_ping,
            self._ping_deadline,
            self._last_recv + self._remote_ttl if self._remote_ttl else None,
        ):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def handle_timer(self, now: float) -> None:
        """Send heartbeats and enforce deadlines; raises ZmtpError on a timeout."""
        if self._handshake_deadline is not None and now >= self._handshake_deadline:
            raise ZmtpError("handshake timed out", kind="timeout")
        if self._ping_deadline is not None and now >= self._ping_deadline:
            raise ZmtpError("heartbeat timed out", kind="timeout")
        if self._remote_ttl and now >= self._last_recv + self._remote_ttl:
            raise ZmtpError("peer heartbeat TTL expired", kind="timeout")
        if self._next_ping is not None and now >= self._next_ping:
            ttl = min(int(self._hb_ttl * 10), 0xFFFF)
            self.send_command(b"PING", _H.pack(ttl))
            self._next_ping = now + self._hb_ivl
            if self._ping_deadline is None and self._hb_timeout > 0:
                self._ping_deadline = now + self._hb_timeout

    def close(self) -> None:
        """No more input: drop every buffer held for a partial frame or message (a
        driver's read may still hold a view of the sink; it goes when that read ends)."""
        self._state = _CLOSED
        self.sink = None
        self._sink_buf = None
        self._big_parts = []
        self._big_left = 0
        self._buf = b""
        self._cur = []


__all__ += ["frame_header", "make_greeting"]
