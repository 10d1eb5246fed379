"""The interface every security mechanism implements.

Theory of operation: after the greetings are exchanged, :class:`ZmtpConnection` calls
:meth:`Mechanism.start` and sends the commands it returns; each command the peer sends
during the handshake goes to :meth:`Mechanism.on_command`, which returns the commands to
answer with.  A server mechanism that needs the application's verdict sets
:attr:`zap_credentials` and waits; the connection turns that into a ``ZapRequested`` event
and feeds the answer back through :meth:`on_zap_reply`.  When :attr:`ready` becomes true the
handshake is over, :attr:`peer_properties` holds the peer's metadata and, for mechanisms
that encrypt, every later frame goes through :meth:`encrypt` / :meth:`decrypt`.

Failures raise :class:`ZmtpError` (kind ``"protocol"`` or ``"auth"``); a mechanism that
must tell the peer why first returns or queues an ERROR command via :attr:`pending_error`.
"""

from __future__ import annotations

from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.frames import MORE, frame_header

Command = tuple[bytes, bytes]  # (name, data)

_ZAP_CODES = (b"200", b"300", b"400", b"500")


def check_zap_status(mech: Mechanism, status_code: bytes, status_text: bytes) -> None:
    """Return on a ZAP 200; otherwise fail the handshake the way libzmq does.

    Shared by PLAIN and CURVE (and a fit for NULL) so every mechanism answers a refusal
    identically; it sets :attr:`Mechanism.pending_error` only when libzmq sends ERROR.
    """
    code = bytes(status_code)
    if code == b"200":
        return
    text = bytes(status_text).decode("utf-8", "replace")
    if code not in _ZAP_CODES:
        raise ZmtpError(
            f"ZAP handler sent invalid status code {code.decode('ascii', 'replace')!r}",
            kind="protocol",
        )
    if code == b"300":
        # Temporary failure: libzmq (after RFC 26) closes without an ERROR command.
        raise ZmtpError(f"ZAP temporary failure: 300 {text}".rstrip(), kind="auth", value=300)
    mech.pending_error = code.decode()
    raise ZmtpError(
        f"ZAP refused: {code.decode()} {text}".rstrip(), kind="auth", value=int(code)
    )


class Mechanism:
    """Base class: the shared state and defaults of a handshake."""

    name: bytes = b""
    encrypts: bool = False

    def __init__(self, *, as_server: bool, zap_enabled: bool = False) -> None:
        self.as_server = as_server
        self.zap_enabled = zap_enabled
        self.metadata: dict[str, bytes] = {}  # our own properties (Socket-Type, Identity)
        self.peer_properties: dict[str, bytes] = {}
        self.user_id: bytes = b""
        self.zap_properties: dict[str, bytes] = {}
        self.ready = False
        self.zap_credentials: list[bytes] | None = None
        self.pending_error: str | None = None  # reason to send in an ERROR command

    # -- handshake ---------------------------------------------------------------------
    def start(self) -> list[Command]:
        """Commands to send once the greetings are exchanged."""
        return []

    def on_command(self, name: bytes, data: bytes) -> list[Command]:
        """Handle one handshake command from the peer; return commands to send."""
        raise ZmtpError(f"unexpected command {name!r}", kind="protocol")

    def on_zap_reply(
        self, status_code: bytes, status_text: bytes, user_id: bytes, metadata: dict[str, bytes]
    ) -> list[Command]:
        """Resume the handshake with the ZAP handler's verdict."""
        raise ZmtpError("unexpected ZAP reply", kind="protocol")

    def zap_refused(self, status_code: bytes, status_text: bytes) -> None:
        """Fail the handshake for a ZAP answer other than 200, as libzmq does."""
        check_zap_status(self, status_code, status_text)
        raise ZmtpError("ZAP refused", kind="auth")

    # -- traffic (only for mechanisms that encrypt) ------------------------------------
    def encrypt(self, flags: int, body: bytes) -> bytes:
        """Return the data of a MESSAGE command carrying one frame."""
        raise NotImplementedError

    def decrypt(self, data: bytes) -> tuple[int, bytes]:
        """Open one MESSAGE command's data; return ``(flags, body)``."""
        raise NotImplementedError

    def seal_messages(self, msgs, out: list) -> int:
        """Append the wire frames of data messages (``bytes`` for one frame, else a list
        of frames) to ``out``; return the bytes appended.  A mechanism with a faster way
        than :meth:`encrypt` per frame overrides it."""
        total = 0
        for m in msgs:
            if m.__class__ is bytes:
                m = (m,)
            last = len(m) - 1
            for i, frame in enumerate(m):
                data = self.encrypt(MORE if i < last else 0, frame)
                chunk = frame_header(0, 8 + len(data)) + b"\x07MESSAGE" + data
                out.append(chunk)
                total += len(chunk)
        return total

    def open_messages(self, buf: bytes, pos: int, events: list, cur: list):
        """Open the data frames at ``buf[pos:]`` in bulk, as far as the mechanism can
        (see :meth:`purezmq.zmtp.mechanisms.sodium.Box.open_messages`); return
        ``(position reached, cur, None or an opened frame's (flags, body) to handle)``.
        The default opens nothing: the decoder goes frame by frame through
        :meth:`decrypt`."""
        return pos, cur, None
