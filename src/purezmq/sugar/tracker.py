"""pyzmq's ``zmq.sugar.tracker``: ``MessageTracker`` and the tracker that is done already
(implemented in :mod:`purezmq.sugar.frame`)."""

from __future__ import annotations

from purezmq.sugar.frame import _DONE as _FINISHED_TRACKER
from purezmq.sugar.frame import MessageTracker

__all__ = ["MessageTracker", "_FINISHED_TRACKER"]
