"""ZAP authentication (RFC 27) with pyzmq's ``zmq.auth`` API.

* :class:`Authenticator` (:mod:`purezmq.auth.base`): the policy - allowed or denied
  addresses, PLAIN passwords, CURVE certificate directories or callbacks;
* :class:`purezmq.auth.thread.ThreadAuthenticator`: that policy answering on a thread;
* :class:`purezmq.auth.asyncio.AsyncioAuthenticator`: the same on the asyncio loop;
* certificate files: :func:`create_certificates`, :func:`load_certificate`,
  :func:`load_certificates` (czmq's format, as pyzmq writes and reads it).

The sockets' side of ZAP (the requests a server makes during each handshake) is in
:mod:`purezmq.auth.zap_client`.
"""

from .base import CURVE_ALLOW_ANY, Authenticator
from .certs import create_certificates, load_certificate, load_certificates

__all__ = [
    "Authenticator",
    "CURVE_ALLOW_ANY",
    "create_certificates",
    "load_certificate",
    "load_certificates",
]
