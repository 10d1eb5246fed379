"""pyzmq's log watcher, ``python -m zmq.log``: print the log records a
:class:`~purezmq.log.handlers.PUBHandler` publishes.

Subscribes to the topic given with ``--topic`` ('' by default, which suits a PUBHandler with
default settings) at ``zmq_pub_url`` and prints ``topic | message`` per record.
"""

from __future__ import annotations

import argparse
from datetime import datetime

import purezmq as zmq


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser("ZMQ Log Watcher")
    p.add_argument("zmq_pub_url", type=str, help="URL to a ZMQ publisher socket.")
    p.add_argument("-t", "--topic", type=str, default="",
                   help="Only receive messages that start with this topic.")
    p.add_argument("--timestamp", action="store_true",
                   help="Append local time to the log messages.")
    p.add_argument("--separator", type=str, default=" | ",
                   help="String to print between topic and message.")
    p.add_argument("--dateformat", type=str, default="%Y-%d-%m %H:%M",
                   help="Set alternative date format for use with --timestamp.")
    p.add_argument("--align", action="store_true", default=False,
                   help="Try to align messages by the width of their topics.")
    p.add_argument("--color", action="store_true", default=False,
                   help="Color the output based on the error level. Requires colorama.")
    return p


def _colors(enabled: bool) -> dict[str, str]:
    if not enabled:
        return {}
    import colorama

    colorama.init()
    fore = colorama.Fore
    return {"DEBUG": fore.LIGHTCYAN_EX, "INFO": fore.LIGHTWHITE_EX, "WARNING": fore.YELLOW,
            "ERROR": fore.LIGHTRED_EX, "CRITICAL": fore.LIGHTRED_EX, "__RESET__": fore.RESET}


def main(argv: list[str] | None = None) -> None:
    """Watch and print until interrupted."""
    args = _parser().parse_args(argv)
    colors = _colors(args.color)
    widths: dict[int, int] = {}
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(args.topic.encode("utf8"))
    sub.connect(args.zmq_pub_url)
    try:
        while True:
            if not sub.poll(10, zmq.POLLIN):
                continue
            topic_b, msg = sub.recv_multipart()
            topic = topic_b.decode("utf8").strip()
            parts = topic.split(".")
            level = parts[0] if len(parts) == 1 else parts[1]
            shown = topic
            if args.align:
                parts.extend(" " for _ in range(len(parts), len(widths)))
                for i, part in enumerate(parts):
                    widths[i] = max(len(part), widths.get(i, 0))
                shown = ".".join(part.ljust(widths[i]) for i, part in enumerate(parts))
            stamp = datetime.now().strftime(args.dateformat) + " " if args.timestamp else ""
            print(f"{stamp}{colors.get(level, '')}{shown}{args.separator}"
                  f"{msg.decode('utf8').strip()}{colors.get('__RESET__', '')}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sub.close(linger=0)
        ctx.term()
        if args.color:
            print(colors["__RESET__"])


if __name__ == "__main__":
    main()
