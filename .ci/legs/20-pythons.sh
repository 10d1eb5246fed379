#!/usr/bin/env bash
# CPython 3.9, 3.10, 3.12 and 3.13 (the whole suite runs on the default python3, 3.11, in
# .ci/run): a core set of test modules on each, in its own virtual environment.
# Interpreters come from pyenv (/root/.pyenv/versions/3.X.*) or PATH (python3.X); one that
# cannot be found is reported and skipped, not silently passed over.
# Measured on the 2-core development VM (shared): 3 min 50 s for the four, each 56-60 s
# with its venv and install (5 min 10 s while another leg ran beside it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# The core set: what differs between Python versions (asyncio, threads, dataclasses, the
# select/socket modules) without the slowest modules (test_asyncio as a whole and the
# decoder's 1,859 cases took 2.5 of the 3 minutes per interpreter; a slice of asyncio stays).
CORE=(
  tests/test_portable.py tests/test_free_threading.py tests/test_poller.py
  tests/test_patterns.py tests/test_security.py tests/test_shadow.py tests/test_monitor.py
  tests/zmtp/test_handshake.py tests/zmtp/test_encoder.py tests/zmtp/test_fail_closed.py
  tests/test_z85.py tests/test_subscriptions.py tests/test_constants.py tests/test_api_names.py
  tests/test_modules.py tests/test_import_cost.py tests/test_versions.py tests/test_generics.py
  tests/test_frame.py tests/test_object_model.py tests/zmtp/test_sodium_box.py
)
ASYNCIO_SLICE="req_rep or pub_sub or dealer_router or cancelled_recv or poller or io_on_loop"
# Real applications with `import zmq` = purezmq in every process (tests/apps: Jupyter,
# ipyparallel, locust, circus), zmq.green and the switch itself, on every Python they support
# (3.10+; the default Python runs them in the main suite).
APPS=(tests/apps tests/test_green.py tests/test_alias.py)
missing=()
for v in 3.9 3.10 3.12 3.13; do
  py=""
  for cand in /root/.pyenv/versions/"$v".*/bin/python3 "$(command -v "python$v" || true)"; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then py=$cand; break; fi
  done
  if [ -z "$py" ]; then
    echo "warning: no CPython $v found (pyenv or python$v): its core set did not run" >&2
    missing+=("$v")
    continue
  fi
  start=$SECONDS
  venv=/tmp/purezmq-ci-py$v
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q ".[test]"
  echo "+ CPython $v ($py): core set"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "${CORE[@]}"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_asyncio.py -k "$ASYNCIO_SLICE"
  if [ "$v" != 3.9 ]; then
    echo "+ CPython $v: real applications"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "${APPS[@]}"
  fi
  echo "CPython $v: $((SECONDS - start)) s"
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "20-pythons: not run on CPython ${missing[*]} (interpreter not found)" >&2
fi
