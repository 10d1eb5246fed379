"""Every public module of the installed pyzmq exists in purezmq under the same dotted name,
with (at least) the same public names; the exceptions are listed here with their reason
(and in docs/COMPATIBILITY.md)."""

from __future__ import annotations
import __future__

import importlib
import os
import pkgutil
import subprocess
import sys
import types
import warnings

import pytest

zmq = pytest.importorskip("zmq")
import purezmq  # noqa: E402

pytestmark = pytest.mark.timeout(60)

# pyzmq modules purezmq does not provide, and why.
NOT_PROVIDED = {
    "backend.cffi": "pyzmq's CFFI binding to libzmq; purezmq has no libzmq",
    "backend.cython": "pyzmq's Cython binding to libzmq",
    "backend.cython._zmq": "pyzmq's Cython binding to libzmq",
    "_typing": "private typing helpers of pyzmq",
}
# Modules of the parts of issue 15 done in other branches (zmq.green, the event loops,
# zmq.asyncio's private base): compared once they exist, not required here.
ELSEWHERE = {"green", "green.core", "green.device", "green.poll", "green.eventloop",
             "green.eventloop.ioloop", "green.eventloop.zmqstream", "eventloop._deprecated",
             "eventloop.future", "_future"}
# Modules that only run as scripts (``python -m zmq.log``): compared by running them.
SCRIPTS = {"log.__main__"}


def _modules(pkg) -> set[str]:
    """The dotted names of a package's modules, found on disk (importing none)."""

    def walk(path: str, prefix: str):
        for info in pkgutil.iter_modules([path]):
            if info.name == "tests":
                continue
            yield prefix + info.name
            if info.ispkg:
                yield from walk(os.path.join(path, info.name), f"{prefix}{info.name}.")

    return set(walk(pkg.__path__[0], ""))


PYZMQ_MODULES = sorted(
    m for m in _modules(zmq) - SCRIPTS
    if not any(m == n or m.startswith(n + ".") for n in NOT_PROVIDED)
)


def _import(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(name)


# Public-looking names of pyzmq modules without __all__ that are its internals.
INTERNAL = {
    "green.core": {"TIMEOS"},  # the (RCVTIMEO, SNDTIMEO) pair pyzmq's green socket warns about
}


def _public_api(mod) -> set[str]:
    """A pyzmq module's public names: its ``__all__``, or what it defines itself (not the
    modules, typing helpers and stdlib names it merely imports; a package's re-exports of
    its own submodules count, as ``zmq.auth.create_certificates``)."""
    if hasattr(mod, "__all__"):
        return set(mod.__all__)
    is_package = hasattr(mod, "__path__")
    skip = INTERNAL.get(mod.__name__.split(".", 1)[1], set())
    names = set()
    for name in dir(mod):
        if name.startswith("_"):
            continue
        value = getattr(mod, name)
        if isinstance(value, (types.ModuleType, __future__._Feature)):
            continue
        origin = getattr(value, "__module__", None)
        if name == "TYPE_CHECKING":
            continue
        kinds = (type, types.FunctionType, types.BuiltinFunctionType)
        if isinstance(value, kinds) and not str(origin).startswith("zmq"):
            continue  # imported from the stdlib or typing
        if isinstance(value, kinds) and not is_package and origin != mod.__name__:
            continue  # a module's import of another zmq module's class or function
        if origin == "typing" or name in skip:
            continue
        names.add(name)
    return names


def test_every_pyzmq_module_exists():
    ours = _modules(purezmq)
    missing = [m for m in PYZMQ_MODULES if m not in ours and m not in ELSEWHERE]
    assert not missing, f"pyzmq modules missing from purezmq: {missing}"


@pytest.mark.parametrize("name", PYZMQ_MODULES)
def test_module_has_pyzmq_public_names(name):
    try:
        theirs = _import(f"zmq.{name}")
    except ImportError as exc:  # e.g. zmq.green without gevent (not on PyPy)
        pytest.skip(f"zmq.{name} needs what is not installed: {exc}")
    try:
        ours = _import(f"purezmq.{name}")
    except ModuleNotFoundError as exc:
        if name in ELSEWHERE and str(exc.name).startswith("purezmq"):
            pytest.skip(f"zmq.{name} is another branch's part of issue 15")
        raise
    wanted = _public_api(theirs)
    missing = sorted(n for n in wanted if not hasattr(ours, n))
    assert not missing, f"purezmq.{name} lacks {missing}"
    if hasattr(theirs, "__all__"):
        assert set(getattr(ours, "__all__", ())) >= set(theirs.__all__), name


def test_star_imports_match():
    for name in ("", ".sugar", ".backend", ".error", ".utils.strtypes", ".ssh"):
        ours: dict = {}
        theirs: dict = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            exec(f"from purezmq{name} import *", ours)
            exec(f"from zmq{name} import *", theirs)
        assert set(theirs) - set(ours) == set(), name


def test_backend_is_a_module_with_pyzmq_backend_api():
    from zmq.backend.select import public_api as their_api

    from purezmq.backend.select import public_api, select_backend

    assert purezmq.backend is sys.modules["purezmq.backend"]
    assert public_api == their_api == purezmq.backend.__all__
    ns = select_backend("purezmq.backend")
    assert ns["Context"] is purezmq.Context and ns["Socket"] is purezmq.Socket
    assert callable(ns["monitored_queue"])
    with pytest.raises(ImportError):
        select_backend("purezmq.backend.cython")


def test_sugar_reexports_the_same_objects():
    import purezmq.sugar as sugar

    assert sugar.Socket is purezmq.Socket and sugar.Context is purezmq.Context
    assert sugar.ZMQError is purezmq.ZMQError and sugar.Frame is purezmq.Frame
    assert sugar.MessageTracker is purezmq.MessageTracker
    assert sugar._FINISHED_TRACKER is purezmq._FINISHED_TRACKER
    assert sugar._FINISHED_TRACKER.done
    assert sugar.__version__ == purezmq.__version__
    assert sugar.context.SyncContext == purezmq.SyncContext
    assert set(sugar.__all__) == set(zmq.sugar.__all__)
    with pytest.raises(AttributeError):
        sugar.no_such_name  # noqa: B018


# -- the small modules' behaviour -----------------------------------------------------------


@pytest.mark.parametrize("lib", ["purezmq", "zmq"])
def test_strtypes(lib):
    st = _import(f"{lib}.utils.strtypes")
    with pytest.warns(DeprecationWarning):
        assert st.cast_bytes("é") == "é".encode()
    with pytest.warns(DeprecationWarning):
        assert st.cast_unicode(b"\xc3\xa9") == "é"
    with pytest.warns(DeprecationWarning):
        assert st.cast_bytes(b"x") == b"x" and st.b("x", "ascii") == b"x"
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        st.cast_unicode(5)
    assert st.unicode is str and st.bytes is bytes and st.basestring == (str,)
    assert st.u is st.cast_unicode and st.asbytes is st.cast_bytes


@pytest.mark.parametrize("lib", ["purezmq", "zmq"])
def test_interop_and_win32(lib):
    interop = _import(f"{lib}.utils.interop")
    win32 = _import(f"{lib}.utils.win32")
    assert interop.cast_int_addr(1234) == 1234
    with pytest.raises(ValueError):
        interop.cast_int_addr("x")
    called = []
    with win32.allow_interrupt(lambda: called.append(1)):
        pass
    assert called == []  # off Windows, a no-op in both


def test_garbage_collector_releases_at_once():
    import threading

    from purezmq.utils.garbage import GarbageCollector, gc

    assert isinstance(gc, GarbageCollector)
    ev = threading.Event()
    key = gc.store(b"lent", ev)
    assert key and ev.is_set()
    assert not gc.is_alive()
    assert gc.refs == {}


def test_attribute_setter_maps_options():
    from purezmq.sugar.attrsettr import AttributeSetter

    class Opts(AttributeSetter):
        plain = None

        def __init__(self):
            object.__setattr__(self, "store", {})

        def set(self, opt, value):
            self.store[opt] = value

        def get(self, opt):
            if opt not in self.store:
                raise purezmq.ZMQError(purezmq.EINVAL)
            return self.store[opt]

    o = Opts()
    o.linger = 5
    o.plain = "attr"
    assert o.store == {purezmq.LINGER: 5} and o.plain == "attr"
    assert o.linger == 5
    with pytest.raises(AttributeError, match="write-only"):
        o.sndhwm  # noqa: B018
    with pytest.raises(AttributeError, match="no such option"):
        o.not_an_option = 1


def test_curve_keygen_module():
    pytest.importorskip("nacl")
    run = [sys.executable, "-m", "purezmq.curve_keygen"]
    out = subprocess.run(run, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "== CURVE PUBLIC KEY ==" and lines[3] == "== CURVE SECRET KEY =="
    public, secret = lines[1], lines[4]
    assert len(public) == len(secret) == 40 and lines[2] == ""
    assert purezmq.curve_public(secret.encode()).decode() == public
    out = subprocess.run(run + ["--json", f"--secret={secret}"], capture_output=True,
                         text=True, timeout=30)
    import json

    assert json.loads(out.stdout) == {"public": public, "secret": secret}
    # and pyzmq derives the same public key from the secret
    assert zmq.curve_public(secret.encode()).decode() == public


def test_log_watcher_prints_published_records():
    import logging

    from purezmq.log.handlers import PUBHandler

    ctx = purezmq.Context()
    pub = ctx.socket(purezmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "purezmq.log", f"tcp://127.0.0.1:{port}"],
        stdout=subprocess.PIPE, text=True)
    try:
        handler = PUBHandler(pub)
        logger = logging.getLogger("purezmq-test-logwatch")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        import time

        line = ""
        deadline = time.monotonic() + 20
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(watcher.stdout, selectors.EVENT_READ)
            while not line and time.monotonic() < deadline:
                logger.info("hello watcher")  # repeated until the subscription is in place
                if sel.select(0.2):
                    line = watcher.stdout.readline()
        assert line.strip().endswith("| hello watcher"), line
        assert "INFO" in line
        logger.removeHandler(handler)
    finally:
        watcher.terminate()
        watcher.wait(10)
        pub.close(linger=0)
        ctx.term()
