"""A throwaway OpenSSH server on 127.0.0.1 for tests of ssh tunnels (tests/test_ssh.py and
the circus app test): its own keys, an ephemeral port, and an ``ssh`` wrapper (``bindir``,
to put first on the PATH) whose ``-F`` config trusts that server and logs in with the
throwaway client key."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


@dataclass
class SshServer:
    server: str  # user@127.0.0.1:port, for the tunnel functions
    port: int
    dir: Path  # keys, configs, logs
    bindir: Path  # holds the configured ``ssh``

    def path_with_ssh(self, path: str | None = None) -> str:
        """``PATH`` with the configured ``ssh`` first."""
        return f"{self.bindir}{os.pathsep}{path if path is not None else os.environ['PATH']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pids_with_argument(arg: str) -> list[int]:
    """Processes (Linux /proc) with ``arg`` as one of their arguments."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if arg.encode() in argv:
                pids.append(int(entry))
    return pids


@contextlib.contextmanager
def running_sshd(directory: Path) -> Iterator[SshServer]:
    """Start an sshd (skips the test when OpenSSH is missing); on exit, end the ssh clients
    started with this server's config (tunnels go to the background) and the sshd."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("needs OpenSSH's ssh, sshd and ssh-keygen")
    if not os.path.isdir("/run/sshd"):
        try:
            os.makedirs("/run/sshd", mode=0o755)  # sshd's privilege separation directory
        except OSError:
            pytest.skip("sshd needs /run/sshd")
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True, timeout=30)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = _free_port()
    (d / "sshd_config").write_text(textwrap.dedent(f"""\
        ListenAddress 127.0.0.1:{port}
        HostKey {d / 'host'}
        AuthorizedKeysFile {d / 'authorized_keys'}
        PidFile {d / 'sshd.pid'}
        StrictModes no
        UsePAM no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin prohibit-password
        AllowTcpForwarding yes
        """))
    hostpub = (d / "host.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {hostpub[0]} {hostpub[1]}\n")
    (d / "config").write_text(textwrap.dedent(f"""\
        Host *
            IdentityFile {d / 'client'}
            IdentitiesOnly yes
            UserKnownHostsFile {d / 'known_hosts'}
            GlobalKnownHostsFile /dev/null
            StrictHostKeyChecking yes
            ConnectTimeout 10
        """))
    bindir = d / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "ssh").write_text(
        f"#!/bin/sh\nexec {shutil.which('ssh')} -F {d / 'config'} \"$@\"\n")
    (bindir / "ssh").chmod(0o755)
    log = open(d / "sshd.log", "w")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"sshd did not start: {(d / 'sshd.log').read_text()[-500:]}")
                time.sleep(0.1)
        user = os.environ.get("USER") or getpass.getuser()
        yield SshServer(f"{user}@127.0.0.1:{port}", port, d, bindir)
    finally:
        for pid in pids_with_argument(str(d / "config")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
        proc.terminate()
        proc.wait(10)
        log.close()
