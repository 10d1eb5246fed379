"""Task sink for divide and conquer (zguide ``tasksink2.py`` with purezmq).

Binds a PULL socket, waits for the ventilator's start-of-batch message (which carries the
number of tasks), collects that many results, prints the elapsed time and who did what,
then publishes KILL on its control socket so the workers exit.

    python examples/tasksink.py --bind 'tcp://127.0.0.1:*' --control 'tcp://127.0.0.1:*'
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import purezmq as zmq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://*:5558", metavar="EP",
                        help="endpoint for results (default tcp://*:5558)")
    parser.add_argument("--control", default="tcp://*:5559", metavar="EP",
                        help="PUB endpoint for the KILL signal (default tcp://*:5559)")
    parser.add_argument("--tasks", type=int, default=None,
                        help="results to expect (default: as announced by the ventilator)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up when nothing arrives for this long (default 30)")
    args = parser.parse_args(argv)

    context = zmq.Context()

    # Socket to receive messages on
    receiver = context.socket(zmq.PULL)
    receiver.rcvtimeo = int(args.timeout * 1000)
    # Socket for worker control
    controller = context.socket(zmq.PUB)
    received = 0
    try:
        receiver.bind(args.bind)
        controller.bind(args.control)
        print(f"Sink bound to {receiver.last_endpoint.decode()}", flush=True)
        print(f"Control bound to {controller.last_endpoint.decode()}", flush=True)

        # Wait for start of batch
        announced = int(receiver.recv())
        tasks = args.tasks if args.tasks is not None else announced
        print(f"Batch of {tasks} tasks started", flush=True)

        # Start our clock now
        tstart = time.time()

        # Process the confirmations
        by_worker: Counter[str] = Counter()
        for task_nbr in range(tasks):
            by_worker[receiver.recv_string()] += 1
            received += 1
            if task_nbr % 10 == 9:
                sys.stdout.write(":")
            else:
                sys.stdout.write(".")
            sys.stdout.flush()

        # Calculate and report duration of batch
        tend = time.time()
        print(f"\nTotal elapsed time: {(tend - tstart) * 1000:.0f} msec", flush=True)
        for worker, count in sorted(by_worker.items()):
            print(f"  {worker}: {count} tasks", flush=True)
        print(f"All {tasks} results collected from {len(by_worker)} workers", flush=True)

        # Send kill signal to workers
        controller.send(b"KILL")
    except zmq.Again:
        print(f"\nNothing received for {args.timeout:g} s after {received} results, giving up",
              file=sys.stderr)
        return 1
    finally:
        receiver.close(linger=0)
        controller.close(linger=1000)
        context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
