"""CURVE certificate files, in the format of czmq's ``zcert`` and pyzmq's ``zmq.auth``.

A certificate is a ZPL text file (RFC 4)::

    #   ZeroMQ CURVE Public Certificate
    metadata
        name = "value"
    curve
        public-key = "<40 Z85 characters>"
        secret-key = "<40 Z85 characters>"      (only in the secret file)

``create_certificates(dir, name)`` writes ``name.key`` (public) and ``name.key_secret``
(public and secret, readable by its owner only); ``load_certificate`` reads either back
as Z85 bytes; ``load_certificates(dir)`` collects the public keys of every ``*.key`` file of
a directory, the way ``Authenticator.configure_curve`` wants them.
"""

from __future__ import annotations

import datetime
import os

__all__ = ["create_certificates", "load_certificate", "load_certificates"]

_SECRET_BANNER = """#   ****  Generated on {0} by purezmq  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

"""

_PUBLIC_BANNER = """#   ****  Generated on {0} by purezmq  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.

"""


def _text(value: str | bytes, encoding: str = "utf-8") -> str:
    return value.decode(encoding) if isinstance(value, bytes) else value


def _quoted(value: str) -> str:
    """A ZPL value in double quotes (a quote inside turns the quotes single, as zconfig)."""
    return f"'{value}'" if '"' in value else f'"{value}"'


def _write_key_file(
    path: str | os.PathLike,
    banner: str,
    public_key: str | bytes,
    secret_key: str | bytes | None = None,
    metadata: dict | None = None,
    encoding: str = "utf-8",
) -> None:
    lines = [banner.format(datetime.datetime.now()), "metadata\n"]
    for name, value in (metadata or {}).items():
        lines.append(f"    {_text(name, encoding)} = {_quoted(_text(value, encoding))}\n")
    lines.append("curve\n")
    lines.append(f'    public-key = "{_text(public_key, encoding)}"\n')
    if secret_key:
        lines.append(f'    secret-key = "{_text(secret_key, encoding)}"\n')
    # The secret file is made private before the key is written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret_key else 0o644)
    with open(fd, "w", encoding="utf-8") as f:
        f.write("".join(lines))


def create_certificates(
    key_dir: str | os.PathLike, name: str, metadata: dict | None = None
) -> tuple[str, str]:
    """Make a key pair and write ``name.key`` and ``name.key_secret`` into ``key_dir``.

    Returns the paths of the public and the secret certificate.  Needs ``purezmq[curve]``.
    """
    from purezmq.zmtp.mechanisms.curve import curve_keypair

    public_key, secret_key = curve_keypair()
    base = os.path.join(key_dir, name)
    public_file, secret_file = f"{base}.key", f"{base}.key_secret"
    _write_key_file(public_file, _PUBLIC_BANNER, public_key)
    _write_key_file(
        secret_file, _SECRET_BANNER, public_key, secret_key=secret_key, metadata=metadata
    )
    return public_file, secret_file


def _value(line: bytes) -> bytes:
    return line.split(b"=", 1)[1].strip(b" \t'\"")


def load_certificate(filename: str | os.PathLike) -> tuple[bytes, bytes | None]:
    """``(public_key, secret_key)`` of a certificate file, as Z85 bytes.

    ``secret_key`` is None for a public certificate; a file without a public key raises
    ``ValueError``, a missing file ``OSError``.
    """
    if not os.path.exists(filename):
        raise OSError(f"Invalid certificate file: {filename}")
    public_key = secret_key = None
    with open(filename, "rb") as f:
        for raw in f:
            line = raw.strip()
            if line.startswith(b"#"):
                continue
            if line.startswith(b"public-key") and b"=" in line:
                public_key = _value(line)
            elif line.startswith(b"secret-key") and b"=" in line:
                secret_key = _value(line)
            if public_key and secret_key:
                break
    if public_key is None:
        raise ValueError(f"No public key found in {filename}")
    return public_key, secret_key


def load_certificates(directory: str | os.PathLike = ".") -> dict[bytes, bool]:
    """The public keys (Z85 bytes) of every ``*.key`` certificate in ``directory``."""
    if not os.path.isdir(directory):
        raise OSError(f"Invalid certificate directory: {directory}")
    certs: dict[bytes, bool] = {}
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        # As czmq's and pyzmq's glob("*.key"): hidden files are not certificates.
        if entry.endswith(".key") and not entry.startswith(".") and os.path.isfile(path):
            public_key, _ = load_certificate(path)
            if public_key:
                certs[public_key] = True
    return certs
