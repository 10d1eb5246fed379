"""pyzmq's deprecated ``Stopwatch``, kept for drop-in compatibility."""

from __future__ import annotations

import time

from purezmq import constants as C
from purezmq.error import ZMQError


class Stopwatch:
    """Microseconds between ``start()`` and ``stop()``."""

    def __init__(self) -> None:
        self._start = 0.0

    def start(self) -> None:
        self._start = time.monotonic()

    def stop(self) -> int:
        if self._start == 0:
            raise ZMQError(C.EINVAL, "Must start the Stopwatch before calling stop.")
        elapsed = int((time.monotonic() - self._start) * 1e6)
        self._start = 0.0
        return elapsed
