"""circus, the process manager, run unchanged with ``zmq`` = purezmq in every process.

circusd (started with ``purezmq run --``), its circusd-stats streamer, the watched workers
and circusctl (started with ``PUREZMQ_AS_ZMQ=1``) all import ``zmq`` and get purezmq: circus
checks ``zmq.__version__``, imports ``zmq.ssh``, serves its controller with a ZMQStream on
tornado's IOLoop, publishes events on PUB and streams stats. The test drives circusd with
circusctl (status, stop/start, incr, list, quit), listens to its events and stats with
SUB sockets, and checks that circusd exits cleanly with its workers gone. The same test runs
against pyzmq as the reference (the switch off).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("circus")
import purezmq as zmq  # noqa: E402  (the test's own sockets)

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
from sshhelp import pids_with_argument, running_sshd  # noqa: E402

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


def _env(lib: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PUREZMQ_AS_ZMQ", None)
    if lib == "purezmq":
        env["PUREZMQ_AS_ZMQ"] = "1"
    else:
        pytest.importorskip("zmq")  # pyzmq, the reference
    env["PYTHONUNBUFFERED"] = "1"
    return env


WORKER = """\
import os, sys, time
import zmq
# what this watched process got for "import zmq", for the test to read
with open(os.path.join(sys.argv[1], f"worker-{os.getpid()}"), "w") as f:
    f.write(zmq.__file__)
time.sleep(300)
"""


@pytest.fixture
def circus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("circus")
    assert len(str(d)) < 80  # ipc paths
    return d


def _config(d: Path) -> Path:
    (d / "worker.py").write_text(WORKER)
    cfg = d / "circus.ini"
    cfg.write_text(textwrap.dedent(f"""\
        [circus]
        endpoint = ipc://{d}/ctl
        pubsub_endpoint = ipc://{d}/pub
        stats_endpoint = ipc://{d}/stats
        statsd = True
        check_delay = 1
        loglevel = INFO

        [watcher:sleeper]
        cmd = sleep 300
        numprocesses = 2

        [watcher:worker]
        cmd = {sys.executable} {d / 'worker.py'} {d}
        numprocesses = 1
        copy_env = True
        """))
    return cfg


class Circusctl:
    def __init__(self, endpoint: str, env: dict[str, str]) -> None:
        self.argv = [_tool("circusctl"), "--endpoint", endpoint, "--timeout", "10"]
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> str:
        r = subprocess.run([*self.argv, *args], capture_output=True, text=True, env=self.env,
                           timeout=30)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout.strip()


def _status(ctl: Circusctl) -> dict[str, str]:
    out = ctl("status")
    return dict(line.split(": ", 1) for line in out.splitlines())


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie is gone
    except (FileNotFoundError, ProcessLookupError):
        return False


def _recv_until(sock, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.poll(200):
            msg = sock.recv_multipart()
            if predicate(msg):
                return msg
    raise AssertionError("expected message not received")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("lib", ["purezmq", "pyzmq"])
def test_circusd_driven_by_circusctl(lib, circus_dir):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    env = _env(lib)
    cfg = _config(circus_dir)
    log = open(circus_dir / "circusd.log", "w")
    circusd = [_tool("circusd"), str(cfg)]
    if lib == "purezmq":
        circusd = [_tool("purezmq"), "run", "--", *circusd]
    proc = subprocess.Popen(circusd, stdout=log, stderr=subprocess.STDOUT, env=env)
    ctl = Circusctl(f"ipc://{circus_dir}/ctl", env)
    ctx = zmq.Context()
    try:
        # -- up, with every watcher active
        status = _wait(lambda: proc.poll() is None and ctl("status", check=False) and
                       _status(ctl), 30, "circusd to answer")
        status = _wait(lambda: (s := _status(ctl)) and all(v == "active" for v in s.values())
                       and s, 30, "all watchers active")
        assert set(status) == {"sleeper", "worker", "circusd-stats"}

        # -- which zmq each process got (purezmq's run execs: proc.pid is circusd)
        with open(f"/proc/{proc.pid}/maps") as f:
            maps = f.read()
        uses_libzmq = "libzmq" in maps or "_zmq." in maps
        assert uses_libzmq == (lib == "pyzmq")
        worker_files = _wait(lambda: list(circus_dir.glob("worker-*")), 20, "the worker")
        worker_zmq = worker_files[0].read_text()
        assert Path(worker_zmq).parent.name == ("purezmq" if lib == "purezmq" else "zmq"), (
            worker_zmq)

        # -- events on the pubsub endpoint, stats on the stats endpoint
        events = ctx.socket(zmq.SUB)
        events.subscribe(b"watcher.sleeper.")
        events.connect(f"ipc://{circus_dir}/pub")
        stats = ctx.socket(zmq.SUB)
        stats.subscribe(b"stat.")
        stats.connect(f"ipc://{circus_dir}/stats")
        topic, body = _recv_until(stats, lambda m: len(m) == 2, 30)
        data = json.loads(body)
        assert topic.startswith(b"stat.") and ("cpu" in data or "pid" in data), (topic, data)
        time.sleep(0.5)  # the event subscription reaches circusd's PUB

        # -- list, stop, start, incr
        pids = [int(p) for p in ctl("list", "sleeper").split(",")]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        assert ctl("stop", "sleeper") == "ok"
        assert _status(ctl)["sleeper"] == "stopped"
        topic, body = _recv_until(events, lambda m: m[0].endswith(b".stop"), 15)
        assert topic == b"watcher.sleeper.stop"
        _wait(lambda: not any(_alive(p) for p in pids), 15, "the stopped processes to exit")
        assert ctl("start", "sleeper") == "ok"
        _recv_until(events, lambda m: m[0] == b"watcher.sleeper.start", 15)
        assert _status(ctl)["sleeper"] == "active"
        assert ctl("incr", "sleeper") == "ok"
        assert ctl("numprocesses", "sleeper") == "3"
        pids = [int(p) for p in ctl("list", "sleeper").split(",")]
        assert len(pids) == 3
        worker_pids = [int(p) for p in ctl("list", "worker").split(",")]
        events.close(linger=0)
        stats.close(linger=0)

        # -- quit: circusd stops its watchers and exits by itself, cleanly
        assert ctl("quit") == "ok"
        assert proc.wait(30) == 0
        for pid in pids + worker_pids:
            _wait(lambda pid=pid: not _alive(pid), 10, f"watched process {pid} to exit")
    finally:
        _stop_circusd(proc)
        log.close()
        ctx.destroy(linger=0)
    text = (circus_dir / "circusd.log").read_text()
    assert "Arbiter exiting" in text, text[-2000:]
    assert not _unexpected_errors(text), text[-3000:]


TUNNELLED_CLIENT = """\
import json, sys
import zmq
from circus.client import CircusClient
client = CircusClient(endpoint=sys.argv[1], ssh_server=sys.argv[2], timeout=10)
status = client.send_message("status")
numprocesses = client.send_message("numprocesses", name="sleeper")
print(json.dumps([status, numprocesses, zmq.__file__]))
"""


@pytest.mark.timeout(90)
def test_circus_client_through_an_ssh_tunnel(circus_dir, tmp_path):
    """circus's client (``ssh_server=``, as ``circusctl --ssh``) reaches circusd through
    ``zmq.ssh.tunnel_connection`` over the system's OpenSSH client and a real sshd on
    127.0.0.1.  (pyzmq needs pexpect or paramiko for this; purezmq drives ``ssh`` itself.)"""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    env = _env("purezmq")
    port = _free_port()
    cfg = circus_dir / "circus.ini"
    cfg.write_text(textwrap.dedent(f"""\
        [circus]
        endpoint = tcp://127.0.0.1:{port}
        pubsub_endpoint = ipc://{circus_dir}/pub
        statsd = False

        [watcher:sleeper]
        cmd = sleep 300
        numprocesses = 1
        """))
    with running_sshd(tmp_path / "ssh") as sshd, open(circus_dir / "circusd.log", "w") as log:
        env["PATH"] = sshd.path_with_ssh(env["PATH"])
        proc = subprocess.Popen([_tool("purezmq"), "run", "--", _tool("circusd"), str(cfg)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            direct = Circusctl(f"tcp://127.0.0.1:{port}", env)
            _wait(lambda: proc.poll() is None and direct("status", check=False), 30,
                  "circusd to answer")
            # circus's client connects through zmq.ssh.tunnel_connection (circusctl --ssh
            # does too, but then disconnects the untunnelled endpoint at exit, which fails
            # with ENOENT on pyzmq/libzmq as on purezmq: a circus bug; its client is used
            # here without that step)
            r = subprocess.run([sys.executable, "-c", TUNNELLED_CLIENT,
                                f"tcp://127.0.0.1:{port}", sshd.server],
                               capture_output=True, text=True, env=env, timeout=60)
            assert r.returncode == 0, r.stderr
            status, numprocesses, zmq_file = json.loads(r.stdout)
            assert status["status"] == "ok" and status["statuses"] == {"sleeper": "active"}
            assert numprocesses["numprocesses"] == 1
            assert Path(zmq_file).parent.name == "purezmq", zmq_file
            # the answers came through ssh: a tunnel client runs with the test's config
            assert pids_with_argument(str(sshd.dir / "config"))
            assert direct("quit") == "ok"
            assert proc.wait(30) == 0
        finally:
            _stop_circusd(proc)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(") ", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids


def _stop_circusd(proc: subprocess.Popen) -> None:
    """After a failed test: circusd stops its watchers on SIGTERM; if it does not, kill it
    and the watchers it started (they would outlive it)."""
    if proc.poll() is not None:
        return
    kids = _children(proc.pid)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    for pid in kids:
        if _alive(pid):
            os.kill(pid, 9)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unexpected_errors(log: str) -> list[str]:
    """The exceptions of the tracebacks in circusd's log, but circus's own ConflictError from
    its periodic manage_watchers while a start command runs (a race in circus that happens
    with pyzmq too)."""
    errors, lines = [], log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            exc = next((x for x in lines[i + 1:] if x and not x.startswith(" ")), "")
            if "ConflictError: arbiter is already running" not in exc:
                errors.append(exc)
    return errors
