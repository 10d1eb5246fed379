"""Peers nobody here wrote, for the ws:// tests: jszmq 0.1.2 in Node.js and, bundled with
esbuild, in Debian's headless chromium (driven by playwright-core).

The npm packages (tests/ws_helpers/package.json) are installed once per machine into
``$PUREZMQ_WS_NODE_DIR`` (default: a directory under the system's temp dir), never into
the source tree.  Without node, npm or chromium (or when the install fails, e.g. offline)
the tests that need them skip, unless ``PUREZMQ_WS_REQUIRED=1`` (set by
.ci/legs/50-ws.sh), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str):
    if os.environ.get("PUREZMQ_WS_REQUIRED") == "1":
        pytest.fail(f"PUREZMQ_WS_REQUIRED=1 but {reason}")
    pytest.skip(reason)


@functools.cache
def _install() -> tuple[str | None, str]:
    """(node_modules directory, "") or (None, why not)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "node and npm are not installed"
    base = os.environ.get("PUREZMQ_WS_NODE_DIR") or os.path.join(
        tempfile.gettempdir(), "purezmq-ws-node"
    )
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(HERE, "package.json"), "rb") as f:
        manifest = f.read()
    modules = os.path.join(base, "node_modules")
    stamp = os.path.join(base, "installed.json")
    with open(os.path.join(base, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes install once
        with contextlib.suppress(OSError), open(stamp, "rb") as f:
            if f.read() == manifest and os.path.isdir(os.path.join(modules, "jszmq")):
                return modules, ""
        with open(os.path.join(base, "package.json"), "wb") as f:
            f.write(manifest)
        try:
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=base,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            return None, "npm install timed out"
        if proc.returncode != 0:
            return None, f"npm install failed: {proc.stderr.strip()[-500:]}"
        with open(stamp, "wb") as f:
            f.write(manifest)
    return modules, ""


def node_modules() -> str:
    """The installed node_modules directory, or skip the test."""
    modules, why = _install()
    if modules is None:
        _unavailable(why)
    return modules


def node_env() -> dict:
    return dict(os.environ, NODE_PATH=node_modules())


class NodePeer:
    """A running tests/ws_helpers/jszmq_peer.js; its JSON lines are read on demand."""

    def __init__(self, spec: dict, env: dict | None = None) -> None:
        env = dict(node_env(), **(env or {}))
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "jszmq_peer.js"), json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def line(self) -> dict:
        text = self.proc.stdout.readline()
        if not text:
            err = self.proc.stderr.read()
            raise AssertionError(f"the jszmq peer ended: {err[-2000:]}")
        return json.loads(text)

    def port(self) -> int:
        ev = self.line()
        assert ev.get("event") == "bound", ev
        return ev["port"]

    def messages(self) -> list[list[bytes]]:
        """Every message it printed, until it is done (it exits then)."""
        got = []
        while True:
            ev = self.line()
            if ev.get("event") == "done":
                return got
            assert "msg" in ev, ev
            got.append([f.encode("latin1") for f in ev["msg"]])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@contextlib.contextmanager
def node_peer(spec: dict, env: dict | None = None):
    peer = NodePeer(spec, env)
    try:
        yield peer
    finally:
        peer.close()


@functools.cache
def _bundle() -> str:
    modules = node_modules()
    out = os.path.join(os.path.dirname(modules), "jszmq.bundle.js")
    proc = subprocess.run(
        ["node", os.path.join(HERE, "bundle.js"), out],
        cwd=os.path.dirname(modules),
        capture_output=True,
        text=True,
        env=node_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def jszmq_bundle() -> bytes:
    """jszmq for the browser (``window.jszmq``), made by esbuild at test time."""
    with open(_bundle(), "rb") as f:
        return f.read()


def require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        _unavailable(f"no chromium at {CHROMIUM}")
    node_modules()


class _Handler(http.server.BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        page = self.server.pages.get(self.path.partition("?")[0])
        if page is None:
            self.send_error(404)
            return
        kind, body = page
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def page_server(pages: dict[str, tuple[str, bytes]]):
    """Serve ``{path: (content type, body)}`` over HTTP on 127.0.0.1; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.pages = pages  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_browser(url: str, timeout_ms: int = 20000, ignore_cert_errors: bool = False) -> dict:
    """Open ``url`` in headless chromium; the page's ``window.__log`` once ``__done``."""
    require_chromium()
    extra = ["ignore-cert-errors"] if ignore_cert_errors else []
    proc = subprocess.run(
        ["node", os.path.join(HERE, "browser_run.js"), url, str(timeout_ms), *extra],
        capture_output=True,
        text=True,
        env=dict(node_env(), CHROMIUM=CHROMIUM),
        timeout=timeout_ms / 1000 + 60,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"browser driver printed nothing: {proc.stderr[-2000:]}"
    return json.loads(lines[-1])


def make_certificates(directory) -> dict[str, bytes]:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1 (openssl CLI):
    ``{"ca.pem", "server.pem", "server.key": PEM bytes}``; skips without openssl."""
    if shutil.which("openssl") is None:
        _unavailable("no openssl command")
    d = str(directory)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=purezmq test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")  # fmt: skip
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    out = {}
    for name in ("ca.pem", "server.pem", "server.key"):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def browser_page(script: str) -> bytes:
    """An HTML page that loads the jszmq bundle, then runs ``script`` (which sets
    ``window.__log`` and ``window.__done``)."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>purezmq ws test</title>"
        "<script src='/jszmq.js'></script></head><body><script>\n"
        "window.__log = [];\n"
        f"{script}\n"
        "</script></body></html>"
    ).encode()
