"""Task ventilator for divide and conquer (zguide ``taskvent.py`` with purezmq).

Binds a PUSH socket that workers (``taskwork.py``) connect to, tells the sink
(``tasksink.py``) that a batch of ``--tasks`` tasks starts, then pushes the tasks; each task
is a workload in milliseconds.  PUSH spreads them over the connected workers.

Instead of the original's "Press Enter when the workers are ready" it waits ``--delay``
seconds (``--wait-enter`` restores the prompt), so it runs unattended.

    python examples/tasksink.py --bind 'tcp://127.0.0.1:*'            # prints its endpoint
    python examples/taskvent.py --bind 'tcp://127.0.0.1:*' --sink SINK_EP
    python examples/taskwork.py --connect VENT_EP --sink SINK_EP       # x3
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import purezmq as zmq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://*:5557", metavar="EP",
                        help="endpoint the workers connect to (default tcp://*:5557)")
    parser.add_argument("--sink", default="tcp://localhost:5558", metavar="EP",
                        help="the sink's endpoint (default tcp://localhost:5558)")
    parser.add_argument("--tasks", type=int, default=100, help="tasks in the batch (default 100)")
    parser.add_argument("--max-ms", type=int, default=100,
                        help="largest workload per task, in ms (default 100)")
    parser.add_argument("--delay", type=float, default=1.0, metavar="SECONDS",
                        help="wait this long for workers to connect (default 1)")
    parser.add_argument("--wait-enter", action="store_true",
                        help="wait for Enter instead, as the original does")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up when no worker takes a task for this long (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for workloads")
    args = parser.parse_args(argv)

    context = zmq.Context()

    # Socket to send messages on
    sender = context.socket(zmq.PUSH)
    sender.sndtimeo = int(args.timeout * 1000)
    # Socket with direct access to the sink: used to synchronize the start of the batch
    sink = context.socket(zmq.PUSH)
    sink.sndtimeo = int(args.timeout * 1000)
    try:
        sender.bind(args.bind)
        print(f"Ventilator bound to {sender.last_endpoint.decode()}", flush=True)
        sink.connect(args.sink)

        if args.wait_enter:
            print("Press Enter when the workers are ready: ", end="", flush=True)
            sys.stdin.readline()
        else:
            print(f"Waiting {args.delay:g} s for workers to connect...", flush=True)
            time.sleep(args.delay)
        print("Sending tasks to workers...", flush=True)

        # The first message tells the sink how many results to expect
        sink.send(str(args.tasks).encode())

        rng = random.Random(args.seed)
        total_msec = 0
        for _ in range(args.tasks):
            workload = rng.randint(1, max(1, args.max_ms))
            total_msec += workload
            sender.send_string(f"{workload}")
        print(f"Total expected cost: {total_msec} msec", flush=True)
    except zmq.Again:
        print(f"No worker or sink took a message for {args.timeout:g} s, giving up",
              file=sys.stderr)
        return 1
    finally:
        linger = int(args.timeout * 1000)
        sender.close(linger=linger)  # the tasks still queued go out before we exit
        sink.close(linger=linger)
        context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
