"""Hello World client: the seed's ``hwclient.py`` with ``import purezmq as zmq``.

Connects a REQ socket, sends b"Hello" ``--requests`` times and prints each reply.  A reply
that does not come within ``--timeout`` seconds is an error (exit 1) instead of a hang.

    python examples/hwclient.py                                # tcp://localhost:5555
    python examples/hwclient.py --connect tcp://127.0.0.1:41234 --requests 3
"""

from __future__ import annotations

import argparse
import sys

import purezmq as zmq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default=None, metavar="EP",
                        help="server endpoint (default tcp://localhost:5555)")
    parser.add_argument("--port", type=int, default=5555, help="port, if --connect is not given")
    parser.add_argument("--requests", type=int, default=10, help="requests to send (default 10)")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="how long to wait for each reply (default 5)")
    args = parser.parse_args(argv)
    endpoint = args.connect or f"tcp://localhost:{args.port}"

    context = zmq.Context()

    print("Connecting to hello world server...", flush=True)
    socket = context.socket(zmq.REQ)
    socket.rcvtimeo = int(args.timeout * 1000)
    try:
        socket.connect(endpoint)

        for request in range(args.requests):
            print(f"Sending request {request} ...", flush=True)
            socket.send(b"Hello")

            message = socket.recv()
            print(f"Received reply {request} [ {message} ]", flush=True)
    except zmq.Again:
        print(f"No reply within {args.timeout:g} s: is the server at {endpoint} running?",
              file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:
        print(f"hwclient: {endpoint}: {exc}", file=sys.stderr)
        return 1
    finally:
        socket.close(linger=0)
        context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
