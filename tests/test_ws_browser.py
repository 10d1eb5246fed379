"""ws:// with a real browser: jszmq 0.1.2, bundled by esbuild, in Debian's headless
chromium, against purezmq sockets (a browser cannot bind: it always connects).

The page reports what it received in ``window.__log``; the assertions are on that.
"""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("wsproto")

from ws_helpers import (  # noqa: E402, I001
    browser_page, jszmq_bundle, make_certificates, page_server, require_chromium, run_browser,
)

import purezmq as zmq  # noqa: E402

pytestmark = pytest.mark.timeout(180)

PAGE = """
const done = {sub: false, req: false, push: false};
function finish(k) { done[k] = true; if (done.sub && done.req && done.push) window.__done = true; }

// SUB: subscribe to "tick", keep three messages.
const sub = new jszmq.Sub();
const ticks = [];
sub.on('message', (topic, body) => {
  ticks.push([topic.toString(), body.toString()]);
  if (ticks.length === 3) { window.__log.push({sub: ticks}); sub.close(); finish('sub'); }
});
sub.subscribe('tick');
sub.connect(PUB);

// REQ: three requests, one after the other.
const req = new jszmq.Req();
const replies = [];
req.on('message', (reply) => {
  replies.push(reply.toString());
  if (replies.length === 3) { window.__log.push({req: replies}); req.close(); finish('req'); }
  else req.send('question ' + replies.length);
});
req.connect(REP);
req.send('question 0');

// PUSH: a multipart message with binary and a 100 kB frame, then tell we are done.
const push = new jszmq.Push();
push.connect(PULL);
const bin = jszmq.Buffer.from([0, 1, 2, 255]);
push.send(['from the browser', bin, jszmq.Buffer.alloc(100000, 120)]);
push.send('bye');
finish('push');
"""


def test_browser_sub_req_push_against_purezmq():
    require_chromium()
    ctx = zmq.Context()
    try:
        xpub = ctx.socket(zmq.XPUB)
        rep = ctx.socket(zmq.REP)
        pull = ctx.socket(zmq.PULL)
        eps = {}
        for name, s in (("PUB", xpub), ("REP", rep), ("PULL", pull)):
            s.linger = 0
            s.bind(f"ws://127.0.0.1:*/{name.lower()}")
            eps[name] = s.getsockopt(zmq.LAST_ENDPOINT).decode()
        consts = "".join(f"const {k} = {v!r};\n" for k, v in eps.items())
        pages = {
            "/jszmq.js": ("application/javascript", jszmq_bundle()),
            "/": ("text/html; charset=utf-8", browser_page(consts + PAGE)),
        }
        seen: dict[str, list] = {"subs": [], "requests": [], "pulled": []}
        stop = threading.Event()

        def serve() -> None:
            poller = zmq.Poller()
            for s in (xpub, rep, pull):
                poller.register(s, zmq.POLLIN)
            n = 0
            while not stop.is_set():
                ready = dict(poller.poll(50))
                if xpub in ready:
                    seen["subs"].append(xpub.recv())
                if rep in ready:
                    q = rep.recv()
                    seen["requests"].append(q)
                    rep.send(b"answer to " + q)
                if pull in ready:
                    seen["pulled"].append(pull.recv_multipart())
                if seen["subs"]:
                    xpub.send_multipart([b"other", b"never"])  # filtered by purezmq's PUB
                    xpub.send_multipart([b"tick", b"%d" % n])
                    n += 1

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with page_server(pages) as url:
                result = run_browser(url + "/", timeout_ms=30000)
        finally:
            stop.set()
            thread.join(5)
        assert result.get("done"), result
        log = {k: v for entry in result["log"] for k, v in entry.items()}
        assert seen["subs"][0] == b"\x01tick"
        assert [t for t, _ in log["sub"]] == ["tick"] * 3
        bodies = [int(b) for _, b in log["sub"]]
        assert bodies == sorted(bodies) and len(set(bodies)) == 3
        assert log["req"] == [f"answer to question {i}" for i in range(3)]
        assert seen["requests"] == [b"question %d" % i for i in range(3)]
        assert seen["pulled"][:2] == [
            [b"from the browser", b"\x00\x01\x02\xff", b"x" * 100000],
            [b"bye"],
        ]
    finally:
        ctx.destroy(linger=0)


WSS_PAGE = """
const req = new jszmq.Req();
const replies = [];
req.on('message', (reply) => {
  replies.push(reply.toString());
  if (replies.length === 2) { window.__log.push(replies); req.close(); window.__done = true; }
  else req.send('secret 1');
});
req.connect(REP);
req.send('secret 0');
"""


def test_browser_req_over_wss(tmp_path):
    """Chromium's own TLS and WebSocket stack against purezmq's wss:// (the page trusts the
    throw-away CA by ignoring certificate errors: what is tested is TLS and ZWS, not PKI)."""
    require_chromium()
    certs = make_certificates(tmp_path)
    ctx = zmq.Context()
    try:
        rep = ctx.socket(zmq.REP)
        rep.linger = 0
        rep.setsockopt(zmq.WSS_CERT_PEM, certs["server.pem"])
        rep.setsockopt(zmq.WSS_KEY_PEM, certs["server.key"])
        rep.bind("wss://127.0.0.1:*/secure")
        ep = rep.getsockopt(zmq.LAST_ENDPOINT).decode()
        pages = {
            "/jszmq.js": ("application/javascript", jszmq_bundle()),
            "/": ("text/html; charset=utf-8", browser_page(f"const REP = {ep!r};" + WSS_PAGE)),
        }
        seen = []

        def serve() -> None:
            rep.rcvtimeo = 30000
            for _ in range(2):
                try:
                    q = rep.recv()
                except zmq.ZMQError:
                    return
                seen.append(q)
                rep.send(b"tls:" + q)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with page_server(pages) as url:
            result = run_browser(url + "/", timeout_ms=30000, ignore_cert_errors=True)
        thread.join(5)
        assert result.get("done"), result
        assert result["log"] == [["tls:secret 0", "tls:secret 1"]]
        assert seen == [b"secret 0", b"secret 1"]
    finally:
        ctx.destroy(linger=0)
