"""Hello World server: the seed's ``hwserver.py`` with ``import purezmq as zmq``.

Binds a REP socket and answers each request with b"World".  Unlike the endless original it
stops after ``--requests`` requests, and gives up when no request arrives for ``--timeout``
seconds, so it always terminates.

    python examples/hwserver.py                                # tcp://*:5555, 10 requests
    python examples/hwserver.py --bind 'tcp://127.0.0.1:*'     # any free port (printed)
"""

from __future__ import annotations

import argparse
import sys
import time

import purezmq as zmq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=None, metavar="EP",
                        help="endpoint to bind (default tcp://*:5555; a port of * picks one)")
    parser.add_argument("--port", type=int, default=5555, help="port, if --bind is not given")
    parser.add_argument("--requests", type=int, default=10, help="requests to serve (default 10)")
    parser.add_argument("--work", type=float, default=0.0, metavar="SECONDS",
                        help="pretend to work this long per request (the seed sleeps 1)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up when no request comes for this long (default 30)")
    args = parser.parse_args(argv)
    endpoint = args.bind or f"tcp://*:{args.port}"

    context = zmq.Context()
    socket = context.socket(zmq.REP)
    socket.rcvtimeo = int(args.timeout * 1000)
    try:
        socket.bind(endpoint)
        print(f"Hello world server listening on {socket.last_endpoint.decode()}", flush=True)
        for _ in range(args.requests):
            message = socket.recv()
            print(f"Received request: {message}", flush=True)

            time.sleep(args.work)  # do some 'work'

            socket.send(b"World")
    except zmq.Again:
        print(f"No request for {args.timeout:g} s, giving up", file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:
        print(f"hwserver: {endpoint}: {exc}", file=sys.stderr)
        return 1
    finally:
        socket.close(linger=1000)  # let the last reply go out
        context.term()
    print(f"Served {args.requests} requests, bye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
