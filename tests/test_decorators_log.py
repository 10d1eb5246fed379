"""``zmq.decorators`` and ``zmq.log.handlers``: every check runs on purezmq and on pyzmq.

Both modules are pure-Python layers over the socket API, so the two libraries run side by
side in this process; pyzmq passing a check is what makes it an expectation. The few checks
of behaviour where purezmq deliberately differs (pyzmq bugs) run on purezmq only and say so.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

SRC = Path(__file__).resolve().parent.parent / "src"
TIMEO = 5000  # RCVTIMEO of test sockets: a lost message fails, never hangs


@pytest.fixture(params=["purezmq", "pyzmq"])
def lib(request):
    """The library under test, with its decorators and log.handlers modules imported."""
    if request.param == "pyzmq":
        pytest.importorskip("zmq")
    mod = importlib.import_module("purezmq" if request.param == "purezmq" else "zmq")
    importlib.import_module(f"{mod.__name__}.decorators")
    importlib.import_module(f"{mod.__name__}.log.handlers")
    return mod


def _wait(fn, seconds: float = 10.0):
    """Run fn in a thread; fail (instead of hanging the suite) if it takes too long."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn} hung"
    return out[0] if out else None


def _dead_endpoint(lib) -> str:
    """A tcp endpoint nobody listens on (a just-freed ephemeral port): sends stay queued."""
    ctx = lib.Context()
    s = ctx.socket(lib.PULL)
    s.bind("tcp://127.0.0.1:*")
    endpoint = s.last_endpoint.decode()
    s.close(linger=0)
    ctx.term()
    return endpoint


# -- how the modules are reached ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["purezmq", "zmq"])
def test_submodules_are_imported_on_demand(name):
    if name == "zmq":
        pytest.importorskip("zmq")
    code = (
        f"import sys, {name}\n"
        f"print({name!r} + '.decorators' in sys.modules, {name!r} + '.log' in sys.modules)\n"
        f"import {name}.decorators, {name}.log.handlers\n"
        f"from {name}.log.handlers import PUBHandler, TopicLogger, TOPIC_DELIM\n"
        f"from {name}.decorators import context, socket\n"
        f"print({name}.decorators.__all__, TOPIC_DELIM)\n"
    )
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["False False", "('context', 'socket') ::"]


# -- @context() -------------------------------------------------------------------------------


def test_context_is_appended_and_terminated(lib):
    seen = []

    @lib.decorators.context()
    def f(*args, **kwargs):
        """The docstring."""
        seen.append((args, kwargs, args[-1].closed))
        return "result"

    assert f(1, 2, x=3) == "result"
    (args, kwargs, closed_inside), = seen
    assert args[:2] == (1, 2) and kwargs == {"x": 3}
    assert isinstance(args[2], lib.Context) and args[2] is not lib.Context.instance()
    assert not closed_inside and args[2].closed
    assert f.__name__ == "f" and f.__doc__ == "The docstring." and f.__wrapped__ is not None


@pytest.mark.parametrize("how", ["positional", "keyword"])
def test_context_named(lib, how):
    deco = lib.decorators.context("ctx") if how == "positional" else \
        lib.decorators.context(name="ctx")

    @deco
    def f(*args, **kwargs):
        return args, kwargs

    args, kwargs = f(1)
    assert args == (1,) and list(kwargs) == ["ctx"]
    assert isinstance(kwargs["ctx"], lib.Context) and kwargs["ctx"].closed
    with pytest.raises(TypeError, match=r"^f\(\) got multiple values for argument 'ctx'$"):
        f(ctx=1)


def test_context_empty_name_is_positional(lib):
    @lib.decorators.context("")
    def f(*args, **kwargs):
        return args, kwargs

    args, kwargs = f()
    assert kwargs == {} and isinstance(args[0], lib.Context)


@pytest.mark.parametrize("deco_args", [((2,), {}), (("c", 2), {}), ((), {"io_threads": 2})])
def test_context_arguments_go_to_the_constructor(lib, deco_args):
    args, kwargs = deco_args

    @lib.decorators.context(*args, **kwargs)
    def f(*a, **kw):
        ctx = kw.get("c") or a[-1]
        return ctx.get(lib.IO_THREADS)

    assert f() == 2


def test_context_terminated_when_the_function_raises(lib):
    seen = []

    @lib.decorators.context()
    def f(ctx):
        seen.append(ctx)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        f()
    assert seen[0].closed


def test_context_closes_sockets_left_open_with_their_linger(lib):
    """Exit is ``destroy()``: open sockets are closed with their own LINGER, then term()."""
    endpoint = _dead_endpoint(lib)
    socks = []

    @lib.decorators.context()
    def f(ctx):
        idle = ctx.socket(lib.PUSH)  # nothing queued: closed at once
        busy = ctx.socket(lib.PUSH)
        busy.linger = 300
        busy.connect(endpoint)
        busy.send(b"stays queued")
        socks.extend([idle, busy])

    start = time.monotonic()
    _wait(f)
    assert time.monotonic() - start >= 0.25  # the queued message lingered, not linger=0
    assert all(s.closed for s in socks)


# -- @socket() --------------------------------------------------------------------------------


def test_socket_is_appended_from_the_global_context(lib):
    @lib.decorators.socket(lib.PUSH)
    def f(*args, **kwargs):
        sock = args[-1]
        return args, kwargs, sock.type, sock.closed

    args, kwargs, stype, closed_inside = f(1, x=2)
    assert args[0] == 1 and kwargs == {"x": 2} and stype == lib.PUSH and not closed_inside
    assert args[1].context is lib.Context.instance() and args[1].closed
    assert not lib.Context.instance().closed  # only the socket is closed


@pytest.mark.parametrize("how", ["positional", "keyword"])
def test_socket_named(lib, how):
    deco = lib.decorators.socket("s", lib.PULL) if how == "positional" else \
        lib.decorators.socket(lib.PULL, name="s")

    @deco
    def f(*args, **kwargs):
        return args, kwargs, kwargs["s"].type

    args, kwargs, stype = f()
    assert args == () and stype == lib.PULL and kwargs["s"].closed
    with pytest.raises(TypeError, match=r"^f\(\) got multiple values for argument 's'$"):
        f(s=None)


def test_socket_context_from_the_call(lib):
    c1, c2 = lib.Context(), lib.Context()
    try:
        @lib.decorators.socket(lib.PUSH)
        def f(*args, **kwargs):
            return args[-1].context

        assert f(c1) is c1
        assert f(1, c2, c1) is c2  # the first Context among the positional arguments
        assert f(c1, context=c2) is c2  # the "context" keyword comes first
        assert f(c1, context=5) is c1  # ... if it is a Context
        assert f(c1, ctx=c2) is c1  # other keywords are not looked at
        assert f(foo=c1) is lib.Context.instance()

        @lib.decorators.socket(lib.PUSH, context_name="cc")
        def g(*args, **kwargs):
            return args[-1].context, sorted(kwargs)

        assert g(cc=c1) == (c1, ["cc"])  # the keyword stays for the function
        assert g(c2, cc=c1)[0] is c1
        assert g(context=c1)[0] is lib.Context.instance()
        assert g(cc="not a context")[0] is lib.Context.instance()
    finally:
        c1.term()
        c2.term()


def test_socket_extra_arguments_go_to_ctx_socket(lib):
    @lib.decorators.socket(lib.PUSH, socket_class=lib.Socket)
    def f(sock):
        return type(sock)

    assert f() is lib.Socket

    # Keywords are ctx.socket()'s, not socket options: pyzmq raises at call time.
    @lib.decorators.socket(lib.PUSH, linger=0)
    def g(sock):
        pass

    with pytest.raises(TypeError):
        g()

    @lib.decorators.socket(lib.PUSH, name=5)  # a non-str name is not a name
    def h(sock):
        pass

    with pytest.raises(TypeError):
        h()


def test_socket_closed_when_the_function_raises_with_its_linger(lib):
    endpoint = _dead_endpoint(lib)
    ctx = lib.Context()
    seen = []

    @lib.decorators.socket(lib.PUSH)
    def f(ctx, push):
        seen.append(push)
        push.linger = 300
        push.connect(endpoint)
        push.send(b"stays queued")
        raise KeyError("boom")

    with pytest.raises(KeyError):
        f(ctx)
    assert seen[0].closed and not ctx.closed
    start = time.monotonic()
    _wait(ctx.term)
    assert time.monotonic() - start >= 0.25  # closed with its LINGER, not 0


def test_stacked_decorators_share_the_context(lib):
    @lib.decorators.context()
    @lib.decorators.socket(lib.PUSH)
    @lib.decorators.socket(lib.PULL)
    def f(ctx, push, pull):
        assert push.context is ctx and pull.context is ctx
        pull.rcvtimeo = TIMEO
        pull.bind("inproc://decorated")
        push.connect("inproc://decorated")
        push.send(b"hello")
        return pull.recv(), push, pull

    msg, push, pull = _wait(f)
    assert msg == b"hello" and push.closed and pull.closed

    @lib.decorators.context("c")
    @lib.decorators.socket("s", lib.PAIR, context_name="c")
    def g(c, s):
        return s.context is c

    assert g()


# -- PUBHandler: construction and settings ----------------------------------------------------


@pytest.fixture
def ctx(lib):
    c = lib.Context()
    yield c
    _wait(lambda: c.destroy(linger=0))


def test_handler_binds_an_endpoint(lib, ctx):
    h = lib.log.handlers.PUBHandler("inproc://log-bind", ctx, "rt")
    assert isinstance(h, logging.Handler)
    assert h.ctx is ctx and h.socket.context is ctx and h.socket.type == lib.PUB
    assert h.root_topic == "rt" and h.level == logging.NOTSET and h.formatter is None
    assert h.socket.last_endpoint == b"inproc://log-bind"
    h.close()
    assert not h.socket.closed  # close() leaves the socket to its owner


def test_handler_keywords_and_default_context(lib):
    h = lib.log.handlers.PUBHandler(interface_or_socket="tcp://127.0.0.1:*", root_topic="x")
    try:
        assert isinstance(h.ctx, lib.Context) and h.ctx is not lib.Context.instance()
        assert h.socket.last_endpoint.startswith(b"tcp://127.0.0.1:")
    finally:
        h.socket.close(linger=0)
        h.ctx.term()


def test_handler_takes_a_socket(lib, ctx):
    sock = ctx.socket(lib.PUB)
    other = lib.Context()
    try:
        h = lib.log.handlers.PUBHandler(sock, other)
        assert h.socket is sock and h.ctx is ctx  # the socket's context wins
    finally:
        other.term()


def test_handler_bad_endpoint_raises(lib, ctx):
    with pytest.raises(lib.ZMQError):
        lib.log.handlers.PUBHandler("nonsense", ctx)


def test_root_topic(lib, ctx):
    h = lib.log.handlers.PUBHandler("inproc://log-root", ctx)
    assert h.root_topic == ""
    h.setRootTopic("a")
    assert h.root_topic == "a"
    h.root_topic = b"b"
    assert h.root_topic == "b"
    assert isinstance(type(h).root_topic, property)


def test_default_formatters(lib, ctx):
    h = lib.log.handlers.PUBHandler("inproc://log-fmt", ctx)
    where = "%(levelname)s %(filename)s:%(lineno)d - %(message)s"
    assert {lv: f._fmt for lv, f in h.formatters.items()} == {
        logging.DEBUG: where + "\n",
        logging.INFO: "%(message)s\n",
        logging.WARNING: where + "\n",
        logging.ERROR: where + " - %(exc_info)s\n",
        logging.CRITICAL: where + "\n",
    }
    assert len({id(f) for f in h.formatters.values()}) == 5
    other = lib.log.handlers.PUBHandler("inproc://log-fmt2", ctx)
    assert other.formatters is not h.formatters
    assert other.formatters[logging.INFO] is not h.formatters[logging.INFO]


def test_set_formatter(lib, ctx):
    h = lib.log.handlers.PUBHandler("inproc://log-setfmt", ctx)
    one, every = logging.Formatter("1 %(message)s"), logging.Formatter("* %(message)s")
    h.setFormatter(one, logging.INFO)
    assert h.formatters[logging.INFO] is one and h.formatters[logging.DEBUG] is not one
    h.setFormatter(one, 25)
    assert sorted(h.formatters) == [10, 20, 25, 30, 40, 50]
    h.setFormatter(every)  # no level: every level, the added one too
    assert all(f is every for f in h.formatters.values()) and len(h.formatters) == 6
    assert h.formatter is None


# -- PUBHandler: what goes on the wire --------------------------------------------------------


@pytest.fixture
def wired(lib, ctx, request):
    """(logger, handler, sub): a PUBHandler on inproc, a SUB to everything, in sync."""
    endpoint = f"inproc://log-{request.node.name}"
    handler = lib.log.handlers.PUBHandler(endpoint, ctx)
    sub = ctx.socket(lib.SUB)
    sub.rcvtimeo = TIMEO
    sub.subscribe(b"")
    sub.connect(endpoint)
    logger = logging.Logger(f"wired.{lib.__name__}")  # not registered: no global state
    logger.setLevel(1)
    logger.addHandler(handler)
    _sync(logger, sub)
    yield logger, handler, sub
    sub.close(linger=0)


def _sync(logger, sub) -> None:
    """Log until the SUB gets something: the subscription has reached the publisher."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        logger.critical("sync::")
        if sub.poll(50):
            return
    raise AssertionError("subscription never took effect")


def _next(sub) -> list[bytes]:
    """The next message that is not a sync message."""
    while True:
        msg = sub.recv_multipart()
        if not msg[0].endswith(b".sync"):
            return msg


def _next_line() -> tuple[str, int]:
    """The caller's file name and next line number: where its next log call is."""
    caller = inspect.currentframe().f_back
    return Path(caller.f_code.co_filename).name, caller.f_lineno + 1


def test_messages_per_level(wired):
    logger, _, sub = wired
    fname, line = _next_line()
    logger.debug("hello")
    assert _next(sub) == [b"DEBUG", f"DEBUG {fname}:{line} - hello\n".encode()]
    logger.info("hello %s", "you")
    assert _next(sub) == [b"INFO", b"hello you\n"]
    fname, line = _next_line()
    logger.warning("w")
    assert _next(sub) == [b"WARNING", f"WARNING {fname}:{line} - w\n".encode()]
    fname, line = _next_line()
    logger.error("e")
    assert _next(sub) == [b"ERROR", f"ERROR {fname}:{line} - e - None\n".encode()]
    fname, line = _next_line()
    logger.critical("c")
    assert _next(sub) == [b"CRITICAL", f"CRITICAL {fname}:{line} - c\n".encode()]
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        logger.exception("oops")
    topic, body = _next(sub)
    assert topic == b"ERROR"
    assert b" - oops - (<class 'ZeroDivisionError'>" in body
    assert body.endswith(b"ZeroDivisionError: boom")


@pytest.mark.parametrize("msg, args, topic, body", [
    ("sub.topic::the msg", (), b"INFO.sub.topic", b"the msg\n"),
    ("a::b::c", (), b"INFO.a", b"b::c\n"),  # split at the first delimiter only
    ("::no subtopic", (), b"INFO", b"no subtopic\n"),  # an empty subtopic is left out
    ("x: y :: z", (), b"INFO.x: y ", b" z\n"),  # nothing is stripped
    ("a::%s", ("b::c",), b"INFO.a", b"b::c\n"),  # split before the arguments go in
    (123, (), b"INFO", b"123\n"),
    ("é::ü", (), "INFO.é".encode(), "ü\n".encode()),
    ("s\udc80::m", (), b"INFO.s?", b"m\n"),  # the topic is encoded with "replace"
])
def test_subtopics(wired, msg, args, topic, body):
    logger, _, sub = wired
    logger.info(msg, *args)
    assert _next(sub) == [topic, body]


def test_root_topic_and_formatters_on_the_wire(wired):
    logger, handler, sub = wired
    handler.root_topic = "app"
    logger.info("db::m")
    assert _next(sub) == [b"app.INFO.db", b"m\n"]
    handler.setRootTopic("a.")  # kept as given
    logger.info("m")
    assert _next(sub) == [b"a..INFO", b"m\n"]
    handler.setRootTopic("")
    handler.setFormatter(logging.Formatter("I:%(message)s"), logging.INFO)
    logger.info("m")
    assert _next(sub) == [b"INFO", b"I:m"]
    handler.setFormatter(logging.Formatter("all:%(levelname)s:%(message)s"))
    logger.debug("sub::m")
    assert _next(sub) == [b"DEBUG.sub", b"all:DEBUG:m"]


def test_other_handlers_see_the_whole_message(wired):
    logger, _, sub = wired
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger.addHandler(Keep())
    logger.info("sub::m %d", 1)
    assert _next(sub) == [b"INFO.sub", b"m 1\n"]
    assert seen == ["sub::m 1"]


def test_format_errors_go_to_handle_error(wired, monkeypatch):
    logger, handler, sub = wired
    errors = []
    monkeypatch.setattr(handler, "handleError", errors.append)
    logger.info("bad %d", "x")
    logger.info("m\udc80")  # the message is encoded strictly
    logger.info("after")
    assert _next(sub) == [b"INFO", b"after\n"]
    assert len(errors) == 2


def test_topic_logger_log(lib, wired):
    _, handler, sub = wired
    tl = lib.log.handlers.TopicLogger("topics")
    assert isinstance(tl, logging.Logger)
    tl.setLevel(1)
    tl.addHandler(handler)
    tl.propagate = False
    tl.log(logging.INFO, "top.sub", "msg %s", 1)
    assert _next(sub) == [b"INFO.top.sub", b"msg 1\n"]
    tl.log(logging.INFO, "", "no topic")
    assert _next(sub) == [b"INFO", b"no topic\n"]
    tl.log(logging.INFO, 5, 6)
    assert _next(sub) == [b"INFO.5", b"6\n"]
    with pytest.raises(TypeError):
        tl.log("INFO", "t", "m")  # as Logger.log: the level must be an int


def test_round_trip_over_tcp(lib):
    """A PUBHandler on tcp://127.0.0.1:* and a SUB in another context, filtering by topic."""
    handler = lib.log.handlers.PUBHandler("tcp://127.0.0.1:*", root_topic="svc")
    other = lib.Context()
    sub = other.socket(lib.SUB)
    try:
        sub.rcvtimeo = TIMEO
        sub.subscribe(b"svc.WARNING")
        sub.subscribe(b"svc.CRITICAL.sync")
        sub.connect(handler.socket.last_endpoint.decode())
        logger = logging.Logger("roundtrip")
        logger.addHandler(handler)
        _sync(logger, sub)
        logger.info("not subscribed")
        logger.warning("disk::%d%% full", 91)
        topic, body = _next(sub)
        assert topic == b"svc.WARNING.disk"
        assert body.endswith(b" - 91% full\n") and body.startswith(b"WARNING test_decorators_log")
    finally:
        sub.close(linger=0)
        other.term()
        handler.socket.close(linger=0)
        _wait(handler.ctx.term)


# -- where purezmq differs from pyzmq on purpose (pyzmq 27.3 bugs) ----------------------------


@pytest.fixture
def purewired(lib, request):
    if lib.__name__ != "purezmq":
        pytest.skip("purezmq only: pyzmq fails here")
    return request.getfixturevalue("wired")


def test_custom_level_borrows_the_lower_formatter(purewired):
    """pyzmq raises KeyError for a level without formatter (the record is dropped)."""
    logger, handler, sub = purewired
    logger.log(25, "between info and warning")
    assert _next(sub) == [b"Level 25", b"between info and warning\n"]
    fname, line = _next_line()
    logger.log(5, "below debug")
    assert _next(sub) == [b"Level 5", f"Level 5 {fname}:{line} - below debug\n".encode()]


def test_topic_logger_level_methods(lib, purewired):
    """pyzmq's TopicLogger.debug(topic, msg) etc. raise TypeError (they call themselves)."""
    _, handler, sub = purewired
    tl = lib.log.handlers.TopicLogger("topic-methods")
    tl.setLevel(1)
    tl.addHandler(handler)
    for name, level in [("debug", b"DEBUG"), ("info", b"INFO"), ("warning", b"WARNING"),
                        ("warn", b"WARNING"), ("error", b"ERROR"), ("critical", b"CRITICAL"),
                        ("fatal", b"CRITICAL")]:
        getattr(tl, name)("t", "m %s", name)
        topic, body = _next(sub)
        assert topic == level + b".t" and f"m {name}".encode() in body
    # Records point at the caller (pyzmq's point at its own handlers.py).
    fname, line = _next_line()
    tl.warning("t", "here")
    assert _next(sub)[1] == f"WARNING {fname}:{line} - here\n".encode()
    fname, line = _next_line()
    tl.log(logging.DEBUG, "t", "here")
    assert _next(sub)[1] == f"DEBUG {fname}:{line} - here\n".encode()
    try:
        raise ValueError("bad")
    except ValueError:
        tl.exception("t", "caught")
    topic, body = _next(sub)
    assert topic == b"ERROR.t" and body.endswith(b"ValueError: bad")
