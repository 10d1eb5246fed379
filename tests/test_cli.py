"""The ``purezmq`` command line: demo, version, cat, keygen, and the subcommand registry."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import purezmq
from purezmq import __main__ as cli

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    *args: str, input: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "purezmq", *args],
        input=input, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT,
    )


class Background:
    """A ``python -m purezmq`` subprocess whose stdout/stderr lines are read as they come."""

    def __init__(self, *args: str, stdin=subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "purezmq", *args], stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT,
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._queues: dict[str, queue.Queue] = {"stdout": queue.Queue(), "stderr": queue.Queue()}
        self._threads = [
            threading.Thread(target=self._pump, args=(name, getattr(self.proc, name)), daemon=True)
            for name in ("stdout", "stderr")
        ]
        for t in self._threads:
            t.start()

    def _pump(self, name: str, stream) -> None:
        for line in stream:
            self.lines[name].append(line.rstrip("\n"))
            self._queues[name].put(line.rstrip("\n"))
        self._queues[name].put(None)

    def wait_for(self, pattern: str, stream: str = "stdout", timeout: float = 15) -> re.Match:
        q = self._queues[stream]
        while True:
            try:
                line = q.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} on {stream}: {self.lines}")
            if line is None:
                raise AssertionError(f"{stream} closed before {pattern!r}: {self.lines}")
            m = re.search(pattern, line)
            if m:
                return m

    def finish(self, timeout: float = 20) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for t in self._threads:
                t.join(timeout=5)
        return rc


# -- version / keygen / demo ------------------------------------------------------------------


def test_version():
    r = run_cli("version")
    assert r.returncode == 0, r.stderr
    assert f"purezmq {purezmq.__purezmq_version__}" in r.stdout
    assert f"libzmq {purezmq.zmq_version()}" in r.stdout
    assert f"pyzmq API {purezmq.__version__}" in r.stdout
    assert "ZMTP 3.1" in r.stdout


def test_dash_dash_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"purezmq {purezmq.__purezmq_version__}"


def test_keygen_prints_a_matching_z85_pair():
    pytest.importorskip("nacl")
    r = run_cli("keygen")
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"public: (\S{40})\nsecret: (\S{40})\n", r.stdout)
    assert m, r.stdout
    public, secret = m.group(1).encode(), m.group(2).encode()
    assert purezmq.curve_public(secret) == public
    assert run_cli("keygen").stdout != r.stdout  # fresh keys each time


def test_keygen_without_pynacl_says_how_to_install_it():
    code = (
        "import sys; sys.modules['nacl'] = None; sys.modules['nacl.bindings'] = None\n"
        "from purezmq.__main__ import main\n"
        "sys.exit(main(['keygen']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=30, env=_env(), cwd=ROOT)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "pip install purezmq[curve]" in r.stderr
    assert r.stdout == ""


def test_demo_runs_all_three_patterns():
    r = run_cli("demo", timeout=50)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "[1/3] Hello world" in out
    assert "sent 10 x 'Hello', got 10 x 'World'" in out
    assert "[2/3] Divide and conquer" in out
    assert "sink collected 30 results" in out
    assert "[3/3] PUB/SUB" in out
    assert "subscriber A ('weather') got 5" in out
    assert "subscriber B ('sports' + 'news') got 10" in out
    assert out.count("ok in") == 3
    assert "All 3 demos passed" in out


def test_demo_spawn_start_method_and_options():
    r = run_cli("demo", "--start-method", "spawn", "--requests", "3", "--tasks", "6",
                "--workers", "2", timeout=50)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sent 3 x 'Hello', got 3 x 'World'" in r.stdout
    assert "sink collected 6 results" in r.stdout


def test_demo_usage_error():
    r = run_cli("demo", "--workers", "0")
    assert r.returncode == 2
    assert "--workers" in r.stderr


# -- cat ----------------------------------------------------------------------------------------


def _bound(proc: Background) -> str:
    return proc.wait_for(r"bound to (\S+)", "stderr").group(1)


def test_cat_push_pull_through_two_processes():
    receiver = Background("cat", "--type", "PULL", "--bind", "tcp://127.0.0.1:*",
                          "--recv", "--count", "3", "--timeout", "15000")
    endpoint = _bound(receiver)
    sender = run_cli("cat", "--type", "push", "--connect", endpoint, "--send",
                     "--timeout", "10000", input="hello\nworld\ntwo words\n")
    assert sender.returncode == 0, sender.stderr
    assert receiver.finish() == 0, receiver.lines
    assert receiver.lines["stdout"] == ["hello", "world", "two words"]


def test_cat_req_rep_echo_and_messages():
    server = Background("cat", "--type", "REP", "--bind", "tcp://127.0.0.1:*",
                        "--count", "2", "--timeout", "15000")  # stdin is empty: echo
    endpoint = _bound(server)
    client = run_cli("cat", "-t", "REQ", "-c", endpoint, "-m", "ping", "-m", "pong",
                     "--timeout", "10000")
    assert client.returncode == 0, client.stderr
    assert client.stdout.splitlines() == ["ping", "pong"]
    assert server.finish() == 0, server.lines
    assert server.lines["stdout"] == ["ping", "pong"]


def test_cat_multipart_binary_and_subscribe():
    sub = Background("cat", "--type", "SUB", "--bind", "tcp://127.0.0.1:*", "--subscribe",
                     "news", "--count", "2", "--timeout", "15000")
    endpoint = _bound(sub)
    pub = run_cli("cat", "--type", "PUB", "--connect", endpoint, "--delay", "1000",
                  "--delimiter", "|", "--timeout", "5000",
                  input="sports|ignored\nnews|one|two\nnews|\xe9\n")
    assert pub.returncode == 0, pub.stderr
    assert sub.finish() == 0, sub.lines
    assert sub.lines["stdout"] == ["news one two", "news \xe9"]


def test_cat_count_repeats_messages():
    receiver = Background("cat", "--type", "PULL", "--bind", "tcp://127.0.0.1:*",
                          "--count", "4", "--timeout", "15000")
    endpoint = _bound(receiver)
    sender = run_cli("cat", "--type", "PUSH", "--connect", endpoint, "-m", "a", "-m", "b",
                     "--count", "4", "--timeout", "10000")
    assert sender.returncode == 0, sender.stderr
    assert receiver.finish() == 0
    assert receiver.lines["stdout"] == ["a", "b", "a", "b"]


def test_cat_timeout_is_a_runtime_error():
    r = run_cli("cat", "--type", "PULL", "--bind", "tcp://127.0.0.1:*", "--timeout", "200")
    assert r.returncode == 1
    assert "timed out after 200 ms" in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--type", "NOPE", "--bind", "tcp://127.0.0.1:*"], "--type"),
        (["--bind", "tcp://127.0.0.1:*"], "--type"),
        (["--type", "PULL"], "--bind"),
        (["--type", "PULL", "--send", "--connect", "tcp://127.0.0.1:1"], "--send"),
        (["--type", "PUB", "--recv", "--bind", "tcp://127.0.0.1:*"], "--recv"),
        (["--type", "PUSH", "--subscribe", "x", "--bind", "tcp://127.0.0.1:*"], "--subscribe"),
        (["--type", "PULL", "--count", "many", "--bind", "tcp://127.0.0.1:*"], "--count"),
        (["--type", "PULL", "--timeout", "-5", "--bind", "tcp://127.0.0.1:*"], "--timeout"),
        (["--type", "PULL", "--bind", "nonsense://x"], "--bind"),
        (["--type", "PULL", "--connect", "tcp://"], "--connect"),
    ],
)
def test_cat_usage_errors_exit_2_and_name_the_argument(args, needle):
    r = run_cli("cat", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr


# -- in-process: main() and the registry --------------------------------------------------------


def test_main_returns_codes(capsys):
    assert cli.main(["version"]) == 0
    assert "purezmq" in capsys.readouterr().out
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0
    assert cli.main(["no-such-command"]) == 2
    assert "cat" in capsys.readouterr().out


def test_add_subcommand_registry(capsys):
    seen = {}

    def setup(parser):
        parser.add_argument("--what", required=True)

    def run(args):
        seen["what"] = args.what
        if args.what == "usage":
            raise cli.UsageError("--what: bad")
        if args.what == "fail":
            raise cli.CliError("it broke")
        return 0

    cli.add_subcommand("selftest-extra", setup, run, help="a test subcommand")
    try:
        with pytest.raises(ValueError):
            cli.add_subcommand("selftest-extra", setup, run)
        assert cli.main(["selftest-extra", "--what", "ok"]) == 0
        assert seen["what"] == "ok"
        assert cli.main(["selftest-extra", "--what", "usage"]) == 2
        assert "purezmq selftest-extra: error: --what: bad" in capsys.readouterr().err
        assert cli.main(["selftest-extra", "--what", "fail"]) == 1
        assert "it broke" in capsys.readouterr().err
        assert cli.main(["selftest-extra"]) == 2  # argparse: missing --what
        cli.main(["--help"])
        assert "a test subcommand" in capsys.readouterr().out
    finally:
        cli.SUBCOMMANDS.pop("selftest-extra", None)


def test_extension_modules_are_imported(monkeypatch, tmp_path):
    mod = tmp_path / "purezmq_cli_ext_for_test.py"
    mod.write_text(
        "from purezmq.__main__ import add_subcommand\n"
        "add_subcommand('ext-for-test', lambda p: None, lambda a: 7, help='from an extension')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "EXTENSION_MODULES",
                        ["purezmq_cli_ext_for_test", "purezmq_no_such_module_xyz"])
    try:
        assert cli.main(["ext-for-test"]) == 7
    finally:
        cli.SUBCOMMANDS.pop("ext-for-test", None)
        sys.modules.pop("purezmq_cli_ext_for_test", None)


def _child_that_fails(conn, message):
    raise RuntimeError(message)


def _child_that_exits(conn):
    import os

    os._exit(5)


def test_demo_reports_a_failing_child_process():
    with cli._Children("fork" if sys.platform.startswith("linux") else "spawn") as kids:
        i = kids.start("failing child", _child_that_fails, "boom")
        with pytest.raises(cli.CliError, match="failing child: RuntimeError: boom"):
            kids.report(i, 10)
        j = kids.start("exiting child", _child_that_exits)
        with pytest.raises(cli.CliError, match=r"exiting child: the process exited \(code"):
            kids.report(j, 10)
