"""Test-session setup shared by every test directory.

``PUREZMQ_TEST_NONPOSIX=1`` runs the tests on a Linux machine as if it were Windows (or a
platform without poll): before purezmq is imported, the POSIX-only pieces it could lean
on are removed (see :func:`tests.nonposix.strip_posix`), and tests that need them skip.
"""

from __future__ import annotations

import os

if os.environ.get("PUREZMQ_TEST_NONPOSIX"):
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from nonposix import strip_posix

    strip_posix()

    import pytest

    # Tests that use ipc:// without saying so in their name (or parameters).
    USES_IPC = {"test_several_endpoints_per_socket", "test_dish_rejoins_after_reconnect"}

    def pytest_collection_modifyitems(config, items):
        skip = pytest.mark.skip(reason="ipc:// needs AF_UNIX (removed: PUREZMQ_TEST_NONPOSIX)")
        for item in items:
            if (
                "ipc" in item.name
                or item.originalname in USES_IPC
                or item.get_closest_marker("needs_posix")
            ):
                item.add_marker(skip)
