"""ssh tunnels for ZeroMQ tcp connections: pyzmq's ``zmq.ssh.tunnel``.

``tunnel_connection(sock, "tcp://10.0.0.5:5555", "user@gateway")`` opens
``ssh -L 127.0.0.1:LPORT:10.0.0.5:5555 user@gateway`` and connects ``sock`` to
``tcp://127.0.0.1:LPORT``.  Two ways to the server, as in pyzmq:

* the system's OpenSSH client (the default except on Windows).  pyzmq drives it through
  pexpect; here it runs without a terminal, and a password (given, or asked for with
  :func:`getpass.getpass` when stdin is a terminal) reaches it through ``SSH_ASKPASS``.  An
  unknown host key is refused (:class:`SSHException`), as pyzmq does; accept it once with
  ``ssh`` first.  A running ``ControlMaster`` for the server is reused, as in pyzmq.
* paramiko (``paramiko=True``), imported only when used: the tunnel runs in a
  :class:`multiprocessing.Process`.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from getpass import getpass, getuser
from multiprocessing import Process
from typing import Any

MAX_RETRY = 10  # password attempts, as pyzmq
_HOST_KEY_MESSAGE = "The authenticity of the host can't be established."


class MaxRetryExceeded(Exception):
    """The ssh server rejected every password offered."""


class _NoParamikoSSHException(Exception):
    """``SSHException`` when paramiko is not installed (paramiko's class when it is)."""


def _import_paramiko() -> Any:
    """paramiko, imported on first use (it is optional and slow to import)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import paramiko
    except ImportError:
        msg = "paramiko is not installed: pip install paramiko, "
        msg += ("it is needed for ssh tunnels on Windows" if sys.platform == "win32"
                else "or use the OpenSSH client (paramiko=False)")
        raise ImportError(msg) from None
    return paramiko


def _ssh_exception_class() -> type[Exception]:
    try:
        return _import_paramiko().ssh_exception.SSHException
    except ImportError:
        return _NoParamikoSSHException


def __getattr__(name: str) -> Any:
    # pyzmq's SSHException is paramiko's when paramiko is installed; look it up lazily so
    # that importing zmq.ssh does not import paramiko.
    if name == "SSHException":
        return _ssh_exception_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def select_random_ports(n: int) -> list[int]:
    """``n`` distinct tcp ports free on this machine right now (all bound at once, then
    released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# -- OpenSSH ---------------------------------------------------------------------------------


def _ssh_program() -> str:
    ssh = shutil.which("ssh")
    if ssh is None:
        raise ImportError(
            "no ssh client on the PATH: install OpenSSH, or paramiko and pass paramiko=True"
        )
    return ssh


def _split_port(server: str) -> tuple[str, list[str]]:
    """``user@host:port`` -> (``user@host``, ``["-p", port]``), as pyzmq splits it."""
    if ":" in server:
        server, port = server.rsplit(":", 1)
        return server, ["-p", port]
    return server, []


def _ssh_command(server: str, keyfile: str | None) -> tuple[list[str], str]:
    """The ssh argv before the options of one use, and the destination."""
    dest, port = _split_port(server)
    argv = [_ssh_program()]
    if keyfile:
        argv += ["-i", keyfile]
    return argv + port, dest


def _forward_spec(lport: int, remoteip: str, rport: int) -> str:
    host = f"[{remoteip}]" if ":" in remoteip else remoteip
    return f"127.0.0.1:{lport}:{host}:{rport}"


_ASKPASS_SOURCE = '''\
import os, sys
prompt = sys.argv[1] if len(sys.argv) > 1 else ""
if "(yes/no" in prompt or "continue connecting" in prompt:
    sys.exit(1)  # an unknown host key: refuse it, as pyzmq does
password = os.environ.get("PUREZMQ_SSH_PASSWORD")
if password is None:
    sys.exit(1)
print(password)
'''
_askpass_path: str | None = None


def _askpass() -> str:
    """A program for ``SSH_ASKPASS`` (made once per process, removed at exit): it answers a
    password prompt with ``$PUREZMQ_SSH_PASSWORD`` and refuses unknown host keys."""
    global _askpass_path
    if _askpass_path is None or not os.path.exists(_askpass_path):
        folder = tempfile.mkdtemp(prefix="purezmq-ssh-")
        path = os.path.join(folder, "askpass")
        with open(path, "w") as f:
            f.write(f"#!{sys.executable}\n{_ASKPASS_SOURCE}")
        os.chmod(path, 0o700)
        atexit.register(shutil.rmtree, folder, True)
        _askpass_path = path
    return _askpass_path


def _ssh_env(password: str | None) -> dict[str, str]:
    env = os.environ.copy()
    env["SSH_ASKPASS"] = _askpass()
    env["SSH_ASKPASS_REQUIRE"] = "force"  # OpenSSH >= 8.4: no terminal needed
    env.setdefault("DISPLAY", "purezmq:0")  # older OpenSSH use askpass only with a DISPLAY
    env.pop("PUREZMQ_SSH_PASSWORD", None)
    if password is not None:
        env["PUREZMQ_SSH_PASSWORD"] = password
    return env


def _run_ssh(
    argv: list[str], password: str | None, timeout: float
) -> tuple[int, str, int]:
    """Run ssh to completion with no terminal: (exit status, stderr, pid).

    stderr goes to a file, not a pipe: with ``-f`` the backgrounded ssh keeps it open."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env=_ssh_env(password), start_new_session=True,
        )
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = 255
        err.seek(0)
        return rc, err.read().decode(errors="replace"), proc.pid


def _host_key_refused(stderr: str) -> bool:
    return "Host key verification failed" in stderr


def _auth_failed(stderr: str) -> bool:
    return "Permission denied" in stderr


def _can_prompt() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _try_passwordless_openssh(server: str, keyfile: str | None) -> bool:
    argv, dest = _ssh_command(server, keyfile)
    rc, err, _ = _run_ssh(argv + ["-o", "BatchMode=yes", "-x", dest, "exit"], None, 60)
    if rc == 0:
        return True
    if _host_key_refused(err):
        raise _ssh_exception_class()(_HOST_KEY_MESSAGE)
    return False


def openssh_tunnel(
    lport: int,
    rport: int,
    server: str,
    remoteip: str = "127.0.0.1",
    keyfile: str | None = None,
    password: str | None = None,
    timeout: int = 60,
) -> int:
    """Forward ``127.0.0.1:lport`` here to ``remoteip:rport`` as seen from ``server``
    (``[user@]host[:port]``) with the ``ssh`` command line client.

    The tunnel runs in the background; it stays up ``timeout`` seconds for a first
    connection, then as long as connections through it are open.  ``keyfile`` and
    ``password`` are optional (ssh's configuration supplies defaults); without a password
    and with no key accepted, the password is asked for when stdin is a terminal.  Returns
    the pid of the ssh that set the tunnel up (or of the ControlMaster reused), as pyzmq.
    """
    base, dest = _ssh_command(server, keyfile)
    spec = _forward_spec(lport, remoteip, rport)
    # A running ControlMaster for this server takes the forward without a new login.
    rc, out, _ = _run_ssh(base + ["-O", "check", dest], None, 30)
    found = re.search(r"\(pid=(\d+)\)", out)
    if rc == 0 and found:
        rc, _, _ = _run_ssh(base + ["-O", "forward", "-L", spec, dest], None, 30)
        if rc == 0:
            cancel = base + ["-O", "cancel", "-L", spec, dest]
            atexit.register(_run_ssh, cancel, None, 30)
            return int(found.group(1))
    argv = base + [
        "-f", "-S", "none", "-x", "-o", "ExitOnForwardFailure=yes",
        "-L", spec, dest, "sleep", str(int(timeout)),
    ]
    for _ in range(MAX_RETRY):
        rc, err, pid = _run_ssh(argv, password, max(timeout, 30))
        if rc == 0:
            return pid
        if _host_key_refused(err):
            raise _ssh_exception_class()(_HOST_KEY_MESSAGE)
        if not _auth_failed(err):
            raise RuntimeError(f"tunnel {' '.join(argv)!r} failed to start: {err.strip()}")
        if not _can_prompt():
            raise RuntimeError(f"ssh login to {server} failed ({err.strip()}), and no "
                               "terminal to ask for a password: pass password=")
        if password is not None:
            sys.stderr.write("Password rejected, try again\n")  # with getpass's prompt
        password = getpass(f"{server}'s password: ")
    raise MaxRetryExceeded(f"Failed after {MAX_RETRY} attempts")


# -- paramiko --------------------------------------------------------------------------------


def _split_server(server: str) -> tuple[str, str, int]:
    """``[user@]host[:port]`` -> (user, host, port), defaults: this user, port 22."""
    username, _, host = server.rpartition("@")
    if ":" in host:
        host, port = host.rsplit(":", 1)
        return username or getuser(), host, int(port)
    return username or getuser(), host, 22


def _try_passwordless_paramiko(server: str, keyfile: str | None) -> bool:
    paramiko = _import_paramiko()
    username, host, port = _split_server(server)
    client = paramiko.SSHClient()
    known_hosts = os.path.expanduser("~/.ssh/known_hosts")
    if os.path.exists(known_hosts):  # (paramiko would later try to save to a missing one)
        client.load_host_keys(known_hosts)
    policy = os.environ.get("PYZMQ_PARAMIKO_HOST_KEY_POLICY")  # pyzmq's knob, e.g. AutoAdd
    if policy:
        client.set_missing_host_key_policy(getattr(paramiko, f"{policy}Policy")())
    try:
        client.connect(host, port, username=username, key_filename=keyfile,
                       look_for_keys=True)
    except paramiko.AuthenticationException:
        return False
    client.close()
    return True


def paramiko_tunnel(
    lport: int,
    rport: int,
    server: str,
    remoteip: str = "127.0.0.1",
    keyfile: str | None = None,
    password: str | None = None,
    timeout: int = 60,
) -> Process:
    """Forward ``127.0.0.1:lport`` here to ``remoteip:rport`` as seen from ``server``, with
    paramiko, in a daemon :class:`multiprocessing.Process` (returned, started).

    For when no ``ssh`` client is available (Windows).  Without a password and with no key
    accepted, the password is asked for with :func:`getpass.getpass`.  ``timeout`` is
    accepted for pyzmq's signature; the process serves until it is terminated.
    """
    _import_paramiko()
    if password is None and not _try_passwordless_paramiko(server, keyfile):
        password = getpass(f"{server}'s password: ")
    proc = Process(
        target=_paramiko_tunnel, args=(lport, rport, server, remoteip),
        kwargs={"keyfile": keyfile, "password": password}, daemon=True,
    )
    proc.start()
    return proc


def _paramiko_tunnel(
    lport: int, rport: int, server: str, remoteip: str,
    keyfile: str | None = None, password: str | None = None,
) -> None:
    """The body of :func:`paramiko_tunnel`'s process."""
    import logging
    import signal

    from purezmq.ssh.forward import forward_tunnel

    _log = logging.getLogger("purezmq")
    paramiko = _import_paramiko()
    username, host, port = _split_server(server)
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.WarningPolicy())
    try:
        client.connect(host, port, username=username, key_filename=keyfile,
                       look_for_keys=True, password=password)
    except Exception as exc:
        _log.error("ssh tunnel: failed to connect to %s:%s: %r", host, port, exc)
        sys.exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the tunnel outlives a Ctrl-C
    try:
        forward_tunnel(lport, remoteip, rport, client.get_transport())
    except Exception as exc:
        _log.error("ssh tunnel: port forwarding stopped uncleanly: %s", exc)
        sys.exit(255)


# -- the entry points ------------------------------------------------------------------------


def _default_paramiko(paramiko: bool | None) -> bool:
    return sys.platform == "win32" if paramiko is None else bool(paramiko)


def try_passwordless_ssh(server: str, keyfile: str | None, paramiko: bool | None = None) -> bool:
    """Whether ``server`` accepts a login without a password (with ``keyfile`` or ssh's
    defaults), to ask for a password once when many tunnels go to the same server.

    Raises ``SSHException`` when the server's host key is not known."""
    if _default_paramiko(paramiko):
        return _try_passwordless_paramiko(server, keyfile)
    return _try_passwordless_openssh(server, keyfile)


def open_tunnel(
    addr: str,
    server: str,
    keyfile: str | None = None,
    password: str | None = None,
    paramiko: bool | None = None,
    timeout: int = 60,
) -> tuple[str, Process | int]:
    """Tunnel the ZeroMQ address ``addr`` (``tcp://ip:port`` as seen from ``server``) through
    ssh to a free local port.

    Returns ``(url, tunnel)``: the ``tcp://127.0.0.1:LPORT`` url to connect to, and the
    tunnel (the ssh pid, or paramiko's Process)."""
    transport, sep, rest = addr.partition("://")
    if not sep or transport != "tcp":
        raise ValueError(f"only tcp:// addresses can be tunnelled through ssh, not {addr!r}")
    ip, _, rport = rest.rpartition(":")
    ip = ip[1:-1] if ip.startswith("[") and ip.endswith("]") else ip
    lport = select_random_ports(1)[0]
    make = paramiko_tunnel if _default_paramiko(paramiko) else openssh_tunnel
    tunnel = make(lport, int(rport), server, remoteip=ip, keyfile=keyfile,
                  password=password, timeout=timeout)
    return f"tcp://127.0.0.1:{lport}", tunnel


def tunnel_connection(
    socket: Any,
    addr: str,
    server: str,
    keyfile: str | None = None,
    password: str | None = None,
    paramiko: bool | None = None,
    timeout: int = 60,
) -> Process | int:
    """``socket.connect(addr)`` through an ssh tunnel via ``server``, for an ``addr`` that
    is reachable from ``server`` but not from here.  Returns the tunnel (see
    :func:`open_tunnel`)."""
    url, tunnel = open_tunnel(addr, server, keyfile=keyfile, password=password,
                              paramiko=paramiko, timeout=timeout)
    socket.connect(url)
    return tunnel


ssh_tunnel = paramiko_tunnel if sys.platform == "win32" else openssh_tunnel

__all__ = [
    "tunnel_connection",
    "ssh_tunnel",
    "openssh_tunnel",
    "paramiko_tunnel",
    "try_passwordless_ssh",
]
