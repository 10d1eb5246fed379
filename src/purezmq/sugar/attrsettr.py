"""pyzmq's ``zmq.sugar.attrsettr``: options as attributes (``sock.linger = 0``).

purezmq's ``Context`` and ``Socket`` implement this themselves; :class:`AttributeSetter` is
here for application classes that derive from pyzmq's mixin.
"""

from __future__ import annotations

import errno
from typing import Any, TypeVar

from purezmq import constants

T = TypeVar("T")
OptValT = str | bytes | int


class AttributeSetter:
    """Maps ``obj.name = value`` / ``obj.name`` for option names (``linger``, ``sndhwm``)
    to ``self.set(opt, value)`` / ``self.get(opt)``; other attributes are plain."""

    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.__dict__ or any(
            key in k.__dict__ or key in getattr(k, "__annotations__", {})
            for k in type(self).__mro__
        ):
            object.__setattr__(self, key, value)
            return
        upper = key.upper()
        try:
            opt = getattr(constants, upper)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no such option: {upper}")
        self._set_attr_opt(upper, opt, value)

    def _set_attr_opt(self, name: str, opt: int, value: Any) -> None:
        """How an option attribute is set: ``self.set`` unless overridden."""
        self.set(opt, value)

    def __getattr__(self, key: str) -> OptValT:
        upper = key.upper()
        try:
            opt = getattr(constants, upper)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no such option: {upper}") from None
        from purezmq.error import ZMQError

        try:
            return self._get_attr_opt(upper, opt)
        except ZMQError as exc:
            if exc.errno in (errno.EINVAL, errno.EFAULT):
                raise AttributeError(f"{key} attribute is write-only")
            raise

    def _get_attr_opt(self, name: str, opt: int) -> OptValT:
        """How an option attribute is read: ``self.get`` unless overridden."""
        return self.get(opt)

    def get(self, option: int) -> OptValT:
        """Read an option: override in a subclass."""
        raise NotImplementedError("override in subclass")

    def set(self, option: int, value: Any) -> None:
        """Set an option: override in a subclass."""
        raise NotImplementedError("override in subclass")


__all__ = ["AttributeSetter"]
