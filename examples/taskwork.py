"""Task worker for divide and conquer (zguide ``taskwork2.py`` with purezmq).

Pulls workloads from the ventilator, "works" (sleeps that many ms) and pushes a result to
the sink.  It stops when the sink publishes KILL on its control socket (``--control``), or
after ``--idle-timeout`` seconds without any task, so it always terminates.

    python examples/taskwork.py --connect VENT_EP --sink SINK_EP --control CONTROL_EP
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import purezmq as zmq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default="tcp://localhost:5557", metavar="EP",
                        help="the ventilator's endpoint (default tcp://localhost:5557)")
    parser.add_argument("--sink", default="tcp://localhost:5558", metavar="EP",
                        help="the sink's endpoint (default tcp://localhost:5558)")
    parser.add_argument("--control", default=None, metavar="EP",
                        help="the sink's control PUB endpoint (KILL ends the worker)")
    parser.add_argument("--name", default=f"worker-{os.getpid()}",
                        help="name reported with each result (default worker-PID)")
    parser.add_argument("--idle-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="exit after this long without work (default 10)")
    args = parser.parse_args(argv)

    context = zmq.Context()

    # Socket to receive messages on
    receiver = context.socket(zmq.PULL)
    receiver.connect(args.connect)

    # Socket to send messages to
    sender = context.socket(zmq.PUSH)
    sender.connect(args.sink)

    poller = zmq.Poller()
    poller.register(receiver, zmq.POLLIN)

    # Socket for control input
    controller = None
    if args.control:
        controller = context.socket(zmq.SUB)
        controller.connect(args.control)
        controller.subscribe(b"")
        poller.register(controller, zmq.POLLIN)

    print(f"{args.name} ready", flush=True)
    done = 0
    reason = "idle"
    try:
        while True:
            socks = dict(poller.poll(int(args.idle_timeout * 1000)))
            if not socks:
                break
            if socks.get(receiver) == zmq.POLLIN:
                workload = int(receiver.recv_string())

                time.sleep(workload / 1000.0)  # do the work

                sender.send_string(args.name)  # the result: who did it
                done += 1
            if controller is not None and socks.get(controller) == zmq.POLLIN:
                if controller.recv() == b"KILL":
                    reason = "KILL"
                    break
    finally:
        receiver.close(linger=0)
        if controller is not None:
            controller.close(linger=0)
        sender.close(linger=5000)  # results still queued go out first
        context.term()
    if reason == "idle":
        print(f"{args.name}: no work for {args.idle_timeout:g} s, exiting", flush=True)
    print(f"{args.name}: {done} tasks done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
