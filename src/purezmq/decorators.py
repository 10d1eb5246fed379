"""``@context()`` and ``@socket()``: a Context or Socket for the length of a call (pyzmq's
``zmq.decorators``).

Each call of the decorated function gets a fresh object, handed over as a keyword argument
when the decorator was given a name, else appended to the positional arguments. It is
closed when the call returns or raises: the context as by ``with ctx:`` (``destroy()``:
sockets left open are closed with their own ``LINGER``, then ``term()``), the socket as by
``with sock:`` (``close()`` with its ``LINGER``).

Stack them to get both::

    @context()
    @socket(zmq.PUSH)
    def work(ctx, push):
        ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from purezmq.core.context import Context

__all__ = ("context", "socket")

_F = TypeVar("_F", bound=Callable[..., Any])


def _take_name(args: tuple, kwargs: dict[str, Any]) -> tuple[str | None, tuple, dict]:
    """Split the argument name off the decorator's arguments, as pyzmq does.

    A str ``name=`` keyword wins, else a leading str positional; anything else is left in
    place for the Context/socket constructor (which then rejects it).
    """
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("name"), str):
        return kwargs.pop("name"), args, kwargs
    if args and isinstance(args[0], str):
        return args[0], args[1:], kwargs
    return None, args, kwargs


def _call(func: Callable[..., Any], name: str | None, obj: Any, args: tuple,
          kwargs: dict[str, Any]) -> Any:
    if not name:  # None or "": positional
        return func(*args, obj, **kwargs)
    if name in kwargs:  # the message Python itself gives for a duplicate argument
        raise TypeError(f"{func.__name__}() got multiple values for argument '{name}'")
    kwargs[name] = obj
    return func(*args, **kwargs)


def context(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    """Give the function a new Context, terminated when it returns.

    ``name`` (the first positional if a str, or ``name=``) makes it a keyword argument;
    the other arguments go to ``Context(...)``.
    """
    name, ctx_args, ctx_kwargs = _take_name(args, kwargs)

    def decorator(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            with Context(*ctx_args, **ctx_kwargs) as ctx:
                return _call(func, name, ctx, a, kw)

        return wrapper  # type: ignore[return-value]

    return decorator


def _find_context(context_name: Any, args: tuple, kwargs: dict[str, Any]) -> Context:
    """The call's own Context, so stacked ``@context() @socket(...)`` share one."""
    ctx = kwargs.get(context_name)
    if isinstance(ctx, Context):
        return ctx
    for arg in args:
        if isinstance(arg, Context):
            return arg
    return Context.instance()


def socket(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    """Give the function a new socket, closed when it returns.

    ``name`` as for :func:`context`; ``context_name`` (default ``"context"``) is the keyword
    argument of the call to take the context from, else the first Context among the
    positional arguments, else ``Context.instance()``. The other arguments go to
    ``ctx.socket(...)``: a socket type, then ``socket_class`` and its keywords (socket
    options are not accepted there, as in pyzmq).
    """
    name, sock_args, sock_kwargs = _take_name(args, kwargs)
    context_name = sock_kwargs.pop("context_name", "context")

    def decorator(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            ctx = _find_context(context_name, a, kw)
            with ctx.socket(*sock_args, **sock_kwargs) as sock:
                return _call(func, name, sock, a, kw)

        return wrapper  # type: ignore[return-value]

    return decorator
