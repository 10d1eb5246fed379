"""``purezmq.green`` (``zmq.green``): purezmq for gevent.

``import purezmq.green as zmq`` (or, with ``zmq`` resolving to purezmq,
``import zmq.green as zmq``) gives everything ``purezmq`` has, with a green
``Context``, ``Socket``, ``Poller``, ``select``, ``zmq_poll``, ``proxy`` and ``device``:
any call that would block waits only the calling greenlet, while gevent's hub runs the
others.  Needs gevent (``pip install 'purezmq[green]'``); works with and without gevent's
monkey-patching.  See docs/guide/green.md.
"""

from __future__ import annotations

try:
    import gevent  # noqa: F401
except ImportError as e:  # name the extra, not just "no module named gevent"
    raise ImportError(
        "purezmq.green needs gevent: pip install 'purezmq[green]' (or gevent>=22)"
    ) from e

import purezmq as _zmq
from purezmq import *  # noqa: F403
from purezmq.green.core import _Context, _Socket
from purezmq.green.device import device, proxy  # noqa: F401
from purezmq.green.poll import _Poller, select, zmq_poll  # noqa: F401

Context = _Context
Socket = _Socket
Poller = _Poller

__all__ = list(_zmq.__all__)  # the green names above replace purezmq's own
