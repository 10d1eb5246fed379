#!/usr/bin/env bash
# Windows and macOS by construction: no Windows or Mac runs CI, so run test modules on
# Linux with the POSIX-only pieces of the standard library removed before purezmq is
# imported (PUREZMQ_TEST_NONPOSIX=1, tests/nonposix.py: no select.poll/epoll, no AF_UNIX,
# no fork, sched_yield or fcntl; socketpair over loopback tcp as on Windows).  Tests that
# need ipc:// skip.  What this cannot show is Windows' own socket behaviour: see README,
# "What runs where".  Uses .ci/run's virtual environment when it is active.
# Measured on the 2-core development VM (shared, loaded): 74-78 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python -c "import purezmq, pytest, zmq" 2>/dev/null; then
  python3 -m venv /tmp/purezmq-ci-nonposix
  # shellcheck disable=SC1091
  . /tmp/purezmq-ci-nonposix/bin/activate
  python -m pip install -q --upgrade pip
  python -m pip install -q ".[test]"
fi
start=$SECONDS
PUREZMQ_TEST_NONPOSIX=1 python -m pytest -q -p no:cacheprovider \
  tests/test_portable.py tests/test_free_threading.py tests/test_poller.py \
  tests/test_patterns.py tests/test_host_spin.py tests/test_asyncio.py \
  tests/test_security.py tests/test_shadow.py tests/test_monitor.py tests/test_eventloop.py \
  tests/test_devices.py tests/test_draft.py tests/test_decorators_log.py
echo "40-nonposix: $((SECONDS - start)) s"
