"""``purezmq.ssh`` (pyzmq's ``zmq.ssh``): names and signatures as pyzmq's, the ssh command lines
it runs (against a stand-in ``ssh`` that records them), its errors, and, when OpenSSH's
``sshd`` is installed, a real tunnel through an sshd this test starts on 127.0.0.1."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from sshhelp import pids_with_argument, running_sshd

import purezmq as zmq
from purezmq.ssh import tunnel

pytestmark = pytest.mark.timeout(60)

PUBLIC = ["tunnel_connection", "open_tunnel", "openssh_tunnel", "paramiko_tunnel",
          "try_passwordless_ssh", "select_random_ports", "ssh_tunnel"]


# -- names and signatures -------------------------------------------------------------------


def test_names_and_signatures_match_pyzmq():
    pytest.importorskip("zmq")
    import zmq.ssh.tunnel as theirs

    import purezmq.ssh

    assert tunnel.__all__ == theirs.__all__
    assert set(theirs.__all__) <= set(dir(purezmq.ssh))
    for name in PUBLIC:
        ours, ref = inspect.signature(getattr(tunnel, name)), inspect.signature(
            getattr(theirs, name))
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == [
            (p.name, p.default, p.kind) for p in ref.parameters.values()], name
    assert issubclass(tunnel.MaxRetryExceeded, Exception)
    assert issubclass(tunnel.SSHException, Exception)
    from zmq.ssh.forward import forward_tunnel as their_forward

    from purezmq.ssh.forward import forward_tunnel

    assert list(inspect.signature(forward_tunnel).parameters) == list(
        inspect.signature(their_forward).parameters)


def test_importing_does_not_import_paramiko():
    code = "import purezmq.ssh, sys; print('paramiko' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == "False", out.stderr


def test_select_random_ports():
    ports = tunnel.select_random_ports(5)
    assert len(set(ports)) == 5
    for p in ports:  # free: each can be bound
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_open_tunnel_wants_a_tcp_address():
    with pytest.raises(ValueError):
        tunnel.open_tunnel("ipc:///tmp/x", "host")


# -- the command lines, against a stand-in ssh ----------------------------------------------

FAKE_SSH = textwrap.dedent('''\
    import json, os, subprocess, sys
    argv = sys.argv[1:]
    with open(os.environ["FAKE_SSH_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\\n")
    mode = os.environ.get("FAKE_SSH_MODE", "ok")
    def ask(prompt):
        r = subprocess.run([os.environ["SSH_ASKPASS"], prompt], capture_output=True, text=True)
        return r.returncode, r.stdout.rstrip("\\n")
    if "-O" in argv:
        op = argv[argv.index("-O") + 1]
        if mode == "master":
            if op == "check":
                sys.stderr.write("Master running (pid=4242)\\n")
            sys.exit(0)
        sys.stderr.write('No ControlPath specified for "-O" command\\n')
        sys.exit(255)
    if mode == "hostkey":
        rc, answer = ask("Are you sure you want to continue connecting (yes/no/[fingerprint])? ")
        if rc or answer != "yes":
            sys.stderr.write("Host key verification failed.\\n")
            sys.exit(255)
    if mode == "password":
        rc, answer = ask("user@host's password: ")
        if rc or answer != os.environ["FAKE_SSH_EXPECT"]:
            sys.stderr.write("user@host: Permission denied (publickey,password).\\n")
            sys.exit(255)
    if mode == "broken":
        sys.stderr.write("ssh: connect to host nowhere port 22: Connection refused\\n")
        sys.exit(255)
    sys.exit(0)
''')


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """A stand-in ``ssh`` first on the PATH; returns a function reading its command lines."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text(f"#!{sys.executable}\n{FAKE_SSH}")
    ssh.chmod(0o755)
    log = tmp_path / "ssh.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))

    def calls() -> list[list[str]]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


def test_openssh_tunnel_command_line(fake_ssh):
    pid = tunnel.openssh_tunnel(40001, 5555, "me@gateway:2222", remoteip="10.1.2.3",
                                keyfile="/keys/id", timeout=7)
    assert isinstance(pid, int) and pid > 0
    check, run = fake_ssh()
    assert check == ["-i", "/keys/id", "-p", "2222", "-O", "check", "me@gateway"]
    assert run[:4] == ["-i", "/keys/id", "-p", "2222"]
    assert "-f" in run and run[run.index("-S") + 1] == "none"
    assert "ExitOnForwardFailure=yes" in run
    assert run[run.index("-L") + 1] == "127.0.0.1:40001:10.1.2.3:5555"
    assert run[-3:] == ["me@gateway", "sleep", "7"]


def test_ipv6_remote_address_is_bracketed(fake_ssh):
    url, _ = tunnel.open_tunnel("tcp://[::1]:6000", "gateway", paramiko=False)
    lport = int(url.rsplit(":", 1)[1])
    assert url == f"tcp://127.0.0.1:{lport}"
    run = fake_ssh()[-1]
    assert run[run.index("-L") + 1] == f"127.0.0.1:{lport}:[::1]:6000"


def test_password_reaches_ssh_through_askpass(fake_ssh, monkeypatch):
    monkeypatch.setenv("FAKE_SSH_MODE", "password")
    monkeypatch.setenv("FAKE_SSH_EXPECT", "s3cret pass")
    tunnel.openssh_tunnel(40002, 5555, "gateway", password="s3cret pass")
    assert "PUREZMQ_SSH_PASSWORD" not in os.environ  # only in ssh's environment


def test_rejected_password_without_a_terminal_raises(fake_ssh, monkeypatch):
    monkeypatch.setenv("FAKE_SSH_MODE", "password")
    monkeypatch.setenv("FAKE_SSH_EXPECT", "right")
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # no terminal: never prompts
    with pytest.raises(RuntimeError, match="Permission denied"):
        tunnel.openssh_tunnel(40003, 5555, "gateway", password="wrong")
    with pytest.raises(RuntimeError, match="pass password="):
        tunnel.openssh_tunnel(40003, 5555, "gateway")


def test_unknown_host_key_is_refused(fake_ssh, monkeypatch):
    monkeypatch.setenv("FAKE_SSH_MODE", "hostkey")
    with pytest.raises(tunnel.SSHException, match="authenticity"):
        tunnel.openssh_tunnel(40004, 5555, "gateway", password="x")
    with pytest.raises(tunnel.SSHException):
        tunnel.try_passwordless_ssh("gateway", None, paramiko=False)


def test_other_failures_raise_with_ssh_message(fake_ssh, monkeypatch):
    monkeypatch.setenv("FAKE_SSH_MODE", "broken")
    with pytest.raises(RuntimeError, match="Connection refused"):
        tunnel.openssh_tunnel(40005, 5555, "nowhere")
    assert tunnel.try_passwordless_ssh("nowhere", "/k", paramiko=False) is False
    assert fake_ssh()[-1] == ["-i", "/k", "-o", "BatchMode=yes", "-x", "nowhere", "exit"]


def test_passwordless(fake_ssh):
    assert tunnel.try_passwordless_ssh("gateway:2200", None, paramiko=False) is True
    assert fake_ssh()[-1] == ["-p", "2200", "-o", "BatchMode=yes", "-x", "gateway", "exit"]


def test_running_control_master_is_reused(fake_ssh, monkeypatch):
    monkeypatch.setenv("FAKE_SSH_MODE", "master")
    assert tunnel.openssh_tunnel(40006, 5555, "gateway") == 4242
    check, forward = fake_ssh()
    assert forward == ["-O", "forward", "-L", "127.0.0.1:40006:127.0.0.1:5555", "gateway"]


def test_no_ssh_client_is_an_import_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ImportError, match="paramiko"):
        tunnel.openssh_tunnel(40007, 5555, "gateway")


def test_no_paramiko_is_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "paramiko", None)  # as if not installed
    with pytest.raises(ImportError, match="paramiko"):
        tunnel.paramiko_tunnel(40008, 5555, "gateway")
    with pytest.raises(ImportError):
        tunnel.try_passwordless_ssh("gateway", None, paramiko=True)
    assert tunnel.SSHException.__module__ == tunnel.__name__


# -- a real tunnel through OpenSSH ----------------------------------------------------------

@pytest.fixture
def sshd(tmp_path, monkeypatch):
    """A throwaway sshd on 127.0.0.1, and an ``ssh`` first on the PATH that trusts it."""
    with running_sshd(tmp_path / "ssh") as server:
        monkeypatch.setenv("PATH", server.path_with_ssh())
        yield {"server": server.server, "dir": server.dir}


def test_real_tunnel_through_sshd(sshd):
    server = sshd["server"]
    assert tunnel.try_passwordless_ssh(server, None, paramiko=False) is True
    ctx = zmq.Context()
    try:
        rep = ctx.socket(zmq.REP)
        rport = rep.bind_to_random_port("tcp://127.0.0.1")
        req = ctx.socket(zmq.REQ)
        for s in (rep, req):
            s.rcvtimeo = s.sndtimeo = 10000
            s.linger = 0
        pid = tunnel.tunnel_connection(req, f"tcp://127.0.0.1:{rport}", server, timeout=20,
                                       paramiko=False)
        assert isinstance(pid, int)
        url = req.last_endpoint.decode()
        assert url.startswith("tcp://127.0.0.1:") and not url.endswith(f":{rport}")
        req.send(b"through ssh")
        assert rep.recv() == b"through ssh"
        rep.send(b"back")
        assert req.recv() == b"back"
        # the tunnel is an ssh client running in the background with the test's config
        assert pids_with_argument(str(sshd["dir"] / "config"))
        req.close()
        rep.close()
    finally:
        ctx.term()


def test_real_unknown_host_key_is_refused(sshd):
    (sshd["dir"] / "known_hosts").write_text("")
    with pytest.raises(tunnel.SSHException):
        tunnel.try_passwordless_ssh(sshd["server"], None, paramiko=False)
    with pytest.raises(tunnel.SSHException):
        tunnel.openssh_tunnel(tunnel.select_random_ports(1)[0], 5555, sshd["server"])


def test_real_paramiko_tunnel_through_sshd(sshd, monkeypatch):
    pytest.importorskip("paramiko")
    key = str(sshd["dir"] / "client")
    # the throwaway server's key is not in ~/.ssh/known_hosts: pyzmq's knob accepts it; a
    # HOME of the test's own, so that nothing reads or writes the real ~/.ssh
    monkeypatch.setenv("PYZMQ_PARAMIKO_HOST_KEY_POLICY", "AutoAdd")
    monkeypatch.setenv("HOME", str(sshd["dir"]))
    assert tunnel.try_passwordless_ssh(sshd["server"], key, paramiko=True) is True
    ctx = zmq.Context()
    proc = None
    try:
        rep = ctx.socket(zmq.REP)
        rport = rep.bind_to_random_port("tcp://127.0.0.1")
        req = ctx.socket(zmq.REQ)
        for s in (rep, req):
            s.rcvtimeo = s.sndtimeo = 15000
            s.linger = 0
        proc = tunnel.tunnel_connection(req, f"tcp://127.0.0.1:{rport}", sshd["server"],
                                        keyfile=key, paramiko=True)
        assert proc.is_alive()
        req.send(b"through paramiko")
        assert rep.recv() == b"through paramiko"
        rep.send(b"back")
        assert req.recv() == b"back"
        req.close()
        rep.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.join(10)
        ctx.term()
