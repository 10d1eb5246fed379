"""Generate a ZeroMQ CURVE key pair: pyzmq's ``python -m zmq.curve_keygen``.

Prints a 'public' and a 'secret' key, Z85-encoded (ASCII safe), in libzmq's curve_keygen
layout; ``--json`` prints a JSON object instead; ``--secret SECRET`` derives the public key
of an existing secret key.  Needs ``purezmq[curve]`` (PyNaCl).
"""

from __future__ import annotations

import argparse
import json
import sys

import purezmq as zmq


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m zmq.curve_keygen", description=__doc__)
    parser.add_argument("--json", action="store_true", help="output keys as JSON dict")
    parser.add_argument("--secret", type=str, help="specify secret key to derive a public key")
    opts = parser.parse_args(argv)
    if opts.secret:
        secret = opts.secret
        public = zmq.curve_public(secret.encode()).decode()
    else:
        public_b, secret_b = zmq.curve_keypair()
        public, secret = public_b.decode(), secret_b.decode()
    if opts.json:
        json.dump({"public": public, "secret": secret}, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(f"== CURVE PUBLIC KEY ==\n{public}\n\n== CURVE SECRET KEY ==\n{secret}")


if __name__ == "__main__":
    _main()
