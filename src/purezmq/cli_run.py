"""``purezmq run -- COMMAND [ARGS...]``: run an unmodified pyzmq application on purezmq.

The command runs with ``PUREZMQ_AS_ZMQ=1`` in its environment, so that in it and in every
Python process it starts (subprocesses, multiprocessing's fork/spawn/forkserver children,
``python -m``, whatever a process manager or a Jupyter kernelspec launches) ``import zmq``
gives purezmq.  The switch itself is the ``purezmq-as-zmq.pth`` file that purezmq installs in
site-packages (see ``_purezmq_alias``): a Python that does not have purezmq installed is not
affected; ``purezmq run`` puts its own Python's directory first on ``PATH`` so that
``python`` and the application's scripts are the ones installed beside purezmq.  On POSIX
the command replaces this process (``exec``), so signals sent to it (Ctrl-C, a kernel
interrupt, a process manager's SIGTERM) reach the application directly.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from _purezmq_alias import ENV_VAR

HELP = "run a command with `import zmq` giving purezmq in every Python process it starts"


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]",
                        help="the command to run, after --")


def command_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a command gets from ``purezmq run``.

    The given one (default: this process's) plus the switch, with the directory of this
    Python first on ``PATH``, so that ``purezmq run -- python app.py`` (or ``jupyter``,
    ``locust``...) runs this environment's interpreter and scripts, the ones purezmq is
    installed in, as ``uv run`` or an activated virtual environment would.
    """
    env = dict(os.environ if environ is None else environ)
    env[ENV_VAR] = "1"
    bindir = os.path.dirname(sys.executable)
    path = env.get("PATH", "")
    if bindir and path.split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + (os.pathsep + path if path else "")
    return env


def run(args: argparse.Namespace) -> int:
    from purezmq.__main__ import CliError, UsageError

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("no command given: purezmq run -- COMMAND [ARGS...]")
    env = command_env()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if os.name == "posix":
            os.execvpe(argv[0], argv, env)  # does not return
        return subprocess.call(argv, env=env)
    except FileNotFoundError:
        raise CliError(f"command not found: {argv[0]}") from None
    except PermissionError as exc:
        raise CliError(f"cannot run {argv[0]}: {exc.strerror}") from None


def _register() -> None:
    from purezmq.__main__ import SUBCOMMANDS, add_subcommand

    if "run" not in SUBCOMMANDS:
        add_subcommand("run", setup, run, help=HELP)


_register()
