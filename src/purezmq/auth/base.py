"""``Authenticator``: a ZAP handler (RFC 27) with pyzmq's ``zmq.auth`` API.

The authenticator binds a REP socket at ``inproc://zeromq.zap.01`` of its context; every
socket of that context then asks it about each PLAIN and CURVE handshake (and each NULL
one when the socket has a ``ZAP_DOMAIN``).  Its policy, the same as pyzmq's:

* addresses: ``allow(...)`` lets only those IP addresses in, ``deny(...)`` keeps those out
  (one or the other).  An allowed NULL client is in; PLAIN and CURVE clients still have to
  show credentials.
* PLAIN: ``configure_plain(domain, {"user": "password"})``.
* CURVE: ``configure_curve(domain, directory)`` accepts the client keys of the certificates
  in a directory (``purezmq.auth.certs``), ``configure_curve(domain, CURVE_ALLOW_ANY)``
  any key, ``configure_curve_callback(domain, provider)`` whatever ``provider.callback(domain,
  z85_key)`` says (it may be a coroutine function).
* Until configured, NULL clients are in and PLAIN and CURVE clients are refused.

An accepted client's User-Id (``frame.get("User-Id")`` on each of its messages) is the
PLAIN username, or :meth:`Authenticator.curve_user_id` of its CURVE key (its Z85 text).

This class answers requests only when asked to (``await handle_zap_message(msg)``); the
``ThreadAuthenticator`` (:mod:`purezmq.auth.thread`) and ``AsyncioAuthenticator``
(:mod:`purezmq.auth.asyncio`) run it for you.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any

import purezmq
from purezmq import constants as C
from purezmq.error import ZMQError
from purezmq.utils import z85

from .certs import load_certificates

__all__ = ["Authenticator", "CURVE_ALLOW_ANY"]

CURVE_ALLOW_ANY = "*"
VERSION = b"1.0"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class Authenticator:
    """A ZAP handler; see the module docstring."""

    def __init__(
        self, context: purezmq.Context | None = None, encoding: str = "utf-8", log: Any = None
    ) -> None:
        self.context = context or purezmq.Context.instance()
        self.encoding = encoding
        self.allow_any = False
        self.credentials_providers: dict[str, Any] = {}
        self.zap_socket: Any = None
        self._allowed: set[str] = set()
        self._denied: set[str] = set()
        self.passwords: dict[str, dict[str, str]] = {}  # domain -> {username: password}
        self.certs: dict[str, dict[bytes, Any]] = {}  # domain -> {z85 public key: True}
        self.log = log or logging.getLogger("purezmq.auth")

    # -- life ------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the ZAP socket: from now on this context's handshakes ask us."""
        self.zap_socket = self.context.socket(C.REP, socket_class=purezmq.Socket)
        self.zap_socket.linger = 1
        self.zap_socket.bind(ZAP_ENDPOINT)
        self.log.debug("Starting")

    def stop(self) -> None:
        """Close the ZAP socket."""
        if self.zap_socket:
            self.zap_socket.close()
        self.zap_socket = None

    # -- policy ----------------------------------------------------------------------------
    def allow(self, *addresses: str) -> None:
        """Let in only these IP addresses (the others are refused); not with :meth:`deny`."""
        if self._denied:
            raise ValueError("Only use allow or deny, not both")
        self.log.debug("Allowing %s", ",".join(addresses))
        self._allowed.update(addresses)

    def deny(self, *addresses: str) -> None:
        """Refuse these IP addresses (the others go on); not with :meth:`allow`."""
        if self._allowed:
            raise ValueError("Only use a allow or deny, not both")
        self.log.debug("Denying %s", ",".join(addresses))
        self._denied.update(addresses)

    def configure_plain(self, domain: str = "*", passwords: dict[str, str] | None = None) -> None:
        """PLAIN: the ``{username: password}`` accepted in ``domain`` ("*": any domain)."""
        if passwords:
            self.passwords[domain] = passwords
        self.log.debug("Configure plain: %s", domain)

    def configure_curve(self, domain: str = "*", location: str | os.PathLike = ".") -> None:
        """CURVE: accept the public keys of the ``*.key`` certificates in ``location``, or
        any key with ``CURVE_ALLOW_ANY``.  Call again after the directory changed."""
        self.log.debug("Configure curve: %s[%s]", domain, location)
        if location == CURVE_ALLOW_ANY:
            self.allow_any = True
            return
        self.allow_any = False
        try:
            self.certs[domain] = load_certificates(location)
        except Exception as e:
            self.log.error("Failed to load CURVE certs from %s: %s", location, e)

    def configure_curve_callback(
        self, domain: str = "*", credentials_provider: Any = None
    ) -> None:
        """CURVE: ``credentials_provider.callback(domain, z85_key)`` decides (a true result
        lets the client in; it may return an awaitable)."""
        self.allow_any = False
        if credentials_provider is not None:
            self.credentials_providers[domain] = credentials_provider
        else:
            self.log.error("None credentials_provider provided for domain:%s", domain)

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of an accepted CURVE client: its key in Z85.  Override to map keys
        to names."""
        return z85.encode(client_public_key).decode("ascii")

    def configure_gssapi(self, domain: str = "*", location: str | None = None) -> None:
        """GSSAPI is not supported by purezmq (nor by the libzmq pyzmq ships)."""
        raise ZMQError(C.ENOTSUP, "purezmq does not support the GSSAPI mechanism")

    # -- requests --------------------------------------------------------------------------
    async def handle_zap_message(self, msg: list[bytes]) -> None:
        """Answer one ZAP request (the frames a REP socket received)."""
        if len(msg) < 6:
            self.log.error("Invalid ZAP message, not enough frames: %r", msg)
            if len(msg) < 2:
                self.log.error("Not enough information to reply")
            else:
                self._send_zap_reply(msg[1], b"400", b"Not enough frames")
            return
        version, request_id, domain_b, address_b, identity, mechanism = msg[:6]
        credentials = msg[6:]
        domain = domain_b.decode(self.encoding, "replace")
        address = address_b.decode(self.encoding, "replace")
        if version != VERSION:
            self.log.error("Invalid ZAP version: %r", msg)
            self._send_zap_reply(request_id, b"400", b"Invalid version")
            return
        self.log.debug(
            "version: %r, request_id: %r, domain: %r, address: %r, identity: %r, mechanism: %r",
            version, request_id, domain, address, identity, mechanism,
        )
        allowed, denied, reason = self._check_address(address)
        username = "anonymous"
        if not denied:
            if mechanism == b"NULL":
                allowed = True  # an address not denied is enough for NULL
                self.log.debug("ALLOWED (NULL)")
            elif mechanism == b"PLAIN":
                if len(credentials) != 2:
                    self.log.error("Invalid PLAIN credentials: %r", credentials)
                    self._send_zap_reply(request_id, b"400", b"Invalid credentials")
                    return
                username, password = (c.decode(self.encoding, "replace") for c in credentials)
                allowed, reason = self._authenticate_plain(domain, username, password)
            elif mechanism == b"CURVE":
                if len(credentials) != 1:
                    self.log.error("Invalid CURVE credentials: %r", credentials)
                    self._send_zap_reply(request_id, b"400", b"Invalid credentials")
                    return
                key = credentials[0]
                allowed, reason = await self._authenticate_curve(domain, key)
                if allowed:
                    username = self.curve_user_id(key)
            elif mechanism == b"GSSAPI":
                if len(credentials) != 1:
                    self.log.error("Invalid GSSAPI credentials: %r", credentials)
                    self._send_zap_reply(request_id, b"400", b"Invalid credentials")
                    return
                username = credentials[0].decode("utf8", "replace")
                allowed, reason = self._authenticate_gssapi(domain, credentials[0])
            else:
                allowed, reason = False, b"Unknown mechanism"
        if allowed:
            self._send_zap_reply(request_id, b"200", b"OK", username)
        else:
            self._send_zap_reply(request_id, b"400", reason)

    def _check_address(self, address: str) -> tuple[bool, bool, bytes]:
        """(allowed, denied, reason) from the allow / deny lists."""
        if self._allowed:
            if address in self._allowed:
                self.log.debug("PASSED (allowed) address=%s", address)
                return True, False, b"NO ACCESS"
            self.log.debug("DENIED (not allowed) address=%s", address)
            return False, True, b"Address not allowed"
        if self._denied:
            if address in self._denied:
                self.log.debug("DENIED (denied) address=%s", address)
                return False, True, b"Address denied"
            self.log.debug("PASSED (not denied) address=%s", address)
            return True, False, b"NO ACCESS"
        return False, False, b"NO ACCESS"

    def _authenticate_plain(self, domain: str, username: str, password: str) -> tuple[bool, bytes]:
        if not self.passwords:
            self.log.debug("DENIED (PLAIN) No passwords defined")
            return False, b"No passwords defined"
        domain = domain or "*"
        table = self.passwords.get(domain)
        if table is None:
            reason = b"Invalid domain"
        elif username not in table:
            reason = b"Invalid username"
        elif password != table[username]:
            reason = b"Invalid password"
        else:
            self.log.debug("ALLOWED (PLAIN) domain=%s username=%s", domain, username)
            return True, b""
        self.log.debug("DENIED %s", reason)
        return False, reason

    async def _authenticate_curve(self, domain: str, client_key: bytes) -> tuple[bool, bytes]:
        if self.allow_any:
            self.log.debug("ALLOWED (CURVE allow any client)")
            return True, b"OK"
        domain = domain or "*"
        z85_key = z85.encode(client_key)
        if self.credentials_providers:
            provider = self.credentials_providers.get(domain)
            if provider is None:
                return False, b"Unknown domain"
            verdict = provider.callback(domain, z85_key)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            how = "CURVE auth_callback"
        else:
            keys = self.certs.get(domain)
            if keys is None:
                return False, b"Unknown domain"
            verdict = keys.get(z85_key)
            how = "CURVE"
        status = "ALLOWED" if verdict else "DENIED"
        self.log.debug("%s (%s) domain=%s client_key=%s", status, how, domain, z85_key)
        return (True, b"OK") if verdict else (False, b"Unknown key")

    def _authenticate_gssapi(self, domain: str, principal: bytes) -> tuple[bool, bytes]:
        self.log.debug("ALLOWED (GSSAPI) domain=%s principal=%s", domain, principal)
        return True, b"OK"

    def _send_zap_reply(
        self,
        request_id: bytes,
        status_code: bytes,
        status_text: bytes,
        user_id: str | bytes = "anonymous",
    ) -> None:
        """Send a ZAP reply: version, request id, status, text, user id, metadata."""
        user_id = user_id if status_code == b"200" else b""
        if isinstance(user_id, str):
            user_id = user_id.encode(self.encoding, "replace")
        self.log.debug("ZAP reply code=%s text=%s", status_code, status_text)
        reply = [VERSION, request_id, status_code, status_text, user_id, b""]
        self.zap_socket.send_multipart(reply)
