"""Runtime generics: which classes are subscriptable, and what that gives, as in pyzmq.

pyzmq 27 makes ``Context`` (in its socket class) and ``Socket`` (in what recv returns)
``typing.Generic``; applications evaluate ``zmq.Context[Any]`` at import (ipykernel).  The
asyncio classes are concrete specialisations there, so subscripting them is a TypeError.
"""

from __future__ import annotations

import importlib
import typing
from typing import Any

import pytest

import purezmq

pytestmark = pytest.mark.timeout(30)

LIBS = ["purezmq", "zmq"]

# (module, class, subscript): the cases applications and type-annotated code use
CASES = [
    ("", "Context", Any),
    ("", "Context", "zmq.Socket"),
    ("", "Socket", bytes),
    ("", "Socket", Any),
    ("", "Socket", (Any, int)),  # one parameter only
    ("", "SyncContext", Any),
    ("", "SyncSocket", bytes),
    ("", "Frame", Any),
    ("", "Poller", Any),
    ("", "MessageTracker", Any),
    ("asyncio", "Context", Any),
    ("asyncio", "Socket", Any),
    ("asyncio", "Poller", Any),
]


def _lib(name: str, sub: str):
    if name == "zmq":
        pytest.importorskip("zmq")
    return importlib.import_module(f"{name}.{sub}" if sub else name)


def _outcome(lib: str, sub: str, cls_name: str, arg: Any):
    cls = getattr(_lib(lib, sub), cls_name)
    try:
        alias = cls[arg]
    except TypeError:
        return "TypeError"
    assert typing.get_origin(alias) is cls
    args = arg if isinstance(arg, tuple) else (arg,)
    return ("alias", len(typing.get_args(alias)) == len(args))


@pytest.mark.parametrize("sub,cls_name,arg", CASES)
def test_subscripting_matches_pyzmq(sub, cls_name, arg):
    ours = _outcome("purezmq", sub, cls_name, arg)
    theirs = _outcome("zmq", sub, cls_name, arg)
    assert ours == theirs


@pytest.mark.parametrize("lib", LIBS)
def test_generic_classes_are_the_same_in_both(lib):
    zmq = _lib(lib, "")
    generic = {n for n in ("Context", "Socket", "Frame", "Poller", "MessageTracker")
               if typing.Generic in getattr(zmq, n).__mro__}
    assert generic == {"Context", "Socket"}
    assert len(zmq.Context.__parameters__) == len(zmq.Socket.__parameters__) == 1


@pytest.mark.parametrize("lib", LIBS)
def test_sync_aliases(lib):
    zmq = _lib(lib, "")
    assert typing.get_origin(zmq.SyncContext) is zmq.Context
    assert typing.get_origin(zmq.SyncSocket) is zmq.Socket
    assert typing.get_args(zmq.SyncSocket) == (bytes,)
    ctx = zmq.SyncContext()
    try:
        assert type(ctx) is zmq.Context
    finally:
        ctx.term()


@pytest.mark.parametrize("lib", LIBS)
def test_parametrized_classes_still_construct(lib):
    zmq = _lib(lib, "")
    ctx = zmq.Context[Any]()
    try:
        assert type(ctx) is zmq.Context
        s = ctx.socket(zmq.PAIR)
        assert isinstance(s, zmq.Socket)
        s.close(linger=0)
        inst = zmq.Context[Any].instance()
        assert inst is zmq.Context.instance()
    finally:
        ctx.term()


def test_asyncio_classes_derive_from_the_generic_ones():
    import purezmq.asyncio as aio

    assert issubclass(aio.Context, purezmq.Context)
    assert issubclass(aio.Socket, purezmq.Socket)
    # a subclass that re-parametrizes is itself generic, as with pyzmq's classes
    T = typing.TypeVar("T")

    class MySocket(purezmq.Socket[T]):
        pass

    assert typing.get_origin(MySocket[int]) is MySocket
