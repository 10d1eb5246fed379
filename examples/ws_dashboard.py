"""A live dashboard in the browser, fed by ZeroMQ sockets over WebSocket (ws://).

Run it, then open the address it prints:

    pip install 'purezmq[ws]'
    python examples/ws_dashboard.py            # then open http://127.0.0.1:8080/

What it does:

* a PUB socket bound on ``ws://127.0.0.1:*/feed`` publishes a ``tick`` message (a JSON
  object: sequence number, time, load average) every ``--interval`` seconds;
* a REP socket bound on ``ws://127.0.0.1:*/rpc`` answers requests (it upper-cases them);
* a small HTTP server on loopback serves one page that subscribes to the feed and shows
  the messages live, and has a form whose questions go to the REP socket.

The page needs no library: a WebSocket offering the bare ``ZWS2.0`` subprotocol (ZeroMQ
RFC 45) speaks to a ZeroMQ socket in a few lines of JavaScript (see ``ZwsSocket`` in the
page).  One WebSocket message is one ZeroMQ frame: a flags byte (1: more frames follow)
and the body; each side's first message is its routing id.  jszmq (npm) works the same.
"""

from __future__ import annotations

import argparse
import html
import http.server
import json
import os
import threading
import time

import purezmq as zmq

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>purezmq ws dashboard</title>
<style>
 body { font-family: sans-serif; margin: 2em; max-width: 50em; }
 #status { font-weight: bold; }
 #ticks { font-family: monospace; height: 14em; overflow: auto; background: #f4f4f4; }
</style></head>
<body>
<h1>purezmq over WebSocket</h1>
<p>Feed <code>__FEED__</code>: <span id="status">connecting</span>,
   <span id="count">0</span> messages.</p>
<ul id="ticks"></ul>
<form id="form">
 <label>Ask the REP socket <code>__RPC__</code>:
  <input id="question" value="hello from the browser"></label>
 <button id="ask" type="submit">Send</button>
</form>
<p>Answer: <span id="answer">(none yet)</span></p>
<script>
// A minimal ZeroMQ-over-WebSocket socket (RFC 45, bare "ZWS2.0" subprotocol).
class ZwsSocket {
  constructor(url, onMessage) {
    this.frames = [];
    this.first = true;                 // the peer's first message is its routing id
    this.ws = new WebSocket(url, ['ZWS2.0']);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => this.sendFrames([new Uint8Array(0)]);  // our routing id: none
    this.opened = new Promise((ok) => this.ws.addEventListener('open', ok));
    this.ws.onmessage = (ev) => {
      const data = new Uint8Array(ev.data);
      if (this.first) { this.first = false; return; }
      this.frames.push(data.subarray(1));
      if (!(data[0] & 1)) { const msg = this.frames; this.frames = []; onMessage(msg); }
    };
  }
  sendFrames(frames) {
    frames.forEach((f, i) => {
      const out = new Uint8Array(f.length + 1);
      out[0] = i < frames.length - 1 ? 1 : 0;
      out.set(f, 1);
      this.ws.send(out);
    });
  }
}
const enc = new TextEncoder(), dec = new TextDecoder();
const $ = (id) => document.getElementById(id);

// SUB: a subscription is a message "\x01" + topic.
let count = 0;
const sub = new ZwsSocket('__FEED__', ([topic, body]) => {
  count += 1;
  $('count').textContent = count;
  const li = document.createElement('li');
  li.textContent = dec.decode(topic) + ' ' + dec.decode(body);
  $('ticks').prepend(li);
  while ($('ticks').children.length > 20) $('ticks').lastChild.remove();
});
sub.opened.then(() => {
  $('status').textContent = 'connected';
  sub.sendFrames([new Uint8Array([1, ...enc.encode('tick')])]);
});
sub.ws.addEventListener('close', () => { $('status').textContent = 'disconnected'; });

// REQ: an empty delimiter frame, then the request; the reply comes back the same way.
const req = new ZwsSocket('__RPC__', (frames) => {
  $('answer').textContent = dec.decode(frames[frames.length - 1]);
});
$('form').onsubmit = (ev) => {
  ev.preventDefault();
  req.opened.then(() => req.sendFrames([new Uint8Array(0), enc.encode($('question').value)]));
};
</script>
</body></html>
"""


def load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def serve_zmq(ctx, pub, rep, interval: float, stop: threading.Event) -> None:
    """Publish ticks and answer requests until ``stop`` is set."""
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    seq = 0
    next_tick = time.monotonic()
    while not stop.is_set():
        wait = max(0.0, next_tick - time.monotonic())
        if poller.poll(int(wait * 1000)):
            question = rep.recv().decode("utf-8", "replace")
            rep.send(f"{question.upper()} (answered by purezmq at {time.strftime('%X')})".encode())
        if time.monotonic() >= next_tick:
            body = {"seq": seq, "time": time.strftime("%X"), "load": round(load(), 2)}
            pub.send_multipart([b"tick", json.dumps(body).encode()])
            seq += 1
            next_tick += interval


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http-port", type=int, default=8080, help="0: any free port")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between ticks")
    args = parser.parse_args(argv)

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind("ws://127.0.0.1:*/feed")
    rep = ctx.socket(zmq.REP)
    rep.bind("ws://127.0.0.1:*/rpc")
    feed = pub.getsockopt(zmq.LAST_ENDPOINT).decode()
    rpc = rep.getsockopt(zmq.LAST_ENDPOINT).decode()
    page = PAGE.replace("__FEED__", html.escape(feed)).replace("__RPC__", html.escape(rpc))
    body = page.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path not in ("/", "/index.html"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", args.http_port), Handler)
    stop = threading.Event()
    worker = threading.Thread(target=serve_zmq, args=(ctx, pub, rep, args.interval, stop))
    worker.start()
    print(f"feed {feed}, requests {rpc}", flush=True)
    print(f"Open http://127.0.0.1:{httpd.server_address[1]}/ in a browser", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        worker.join()
        httpd.server_close()
        pub.close(linger=0)
        rep.close(linger=0)
        ctx.term()


if __name__ == "__main__":
    main()
