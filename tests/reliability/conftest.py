"""Fixtures for the reliability tests (faults, load, hostile input, shutdown).

Every test here fails if anything is logged at ERROR by the ``purezmq`` logger (an exception
that escaped into the I/O thread's safety net), and every test has a hard timeout.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
SRC = HERE.parent.parent / "src"
try:
    import purezmq  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(SRC))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_io_errors():
    """Fail the test if an exception reached the I/O thread's catch-all (logged at ERROR)."""
    handler = _Collect()
    logger = logging.getLogger("purezmq")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    if handler.records:
        text = "\n".join(
            handler.format(r) + ("\n" + logging.Formatter().formatException(r.exc_info)
                                 if r.exc_info else "")
            for r in handler.records[:5]
        )
        pytest.fail(f"{len(handler.records)} ERROR records from 'purezmq':\n{text}")


@pytest.fixture
def ctx():
    import purezmq as zmq

    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CI") and not os.environ.get("PUREZMQ_NETNS"):
        skip = pytest.mark.skip(reason="network-namespace tests are skipped in CI")
        for item in items:
            if "netns" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "netns: needs root and network namespaces (ip netns)")
