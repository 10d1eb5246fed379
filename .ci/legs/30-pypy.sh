#!/usr/bin/env bash
# PyPy: Debian's pypy3 (7.3, Python 3.9) runs the suite but the modules named below.
# pyzmq installs on PyPy (a pp39 wheel, its CFFI backend), so interop tests run; PyNaCl
# does not (no wheel, and its source build needs PyPy's C headers), so CURVE tests skip.
# Measured on the 2-core development VM (shared): 3 min 51 s (21 s venv and install, 2,104
# tests in 3 min 28 s); 5 min 24 s while another leg ran beside it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v pypy3 >/dev/null 2>&1 || ! pypy3 -c "import venv, ensurepip" 2>/dev/null; then
  apt-get update -qq
  apt-get install -y -qq pypy3 pypy3-venv >/dev/null
fi
start=$SECONDS
venv=/tmp/purezmq-ci-pypy
rm -rf "$venv"
pypy3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q ".[test]"
installed=$SECONDS
# Left out (seconds on PyPy, measured on the loaded 2-core VM): tests/reliability (network
# faults, crashes, churn: minutes even on CPython), tests/interop (JeroMQ/Java and
# process-per-peer harnesses), tests/zmtp/test_decoder.py (1,859 small cases: 75 s; the JIT
# never warms up) and tests/zmtp/test_fuzz.py (hypothesis: 21 s); tests/apps and
# tests/test_green.py, whose applications and gevent the test extra installs on CPython only.
# Deselected, because pyzmq's CFFI backend (the one it uses on PyPy) differs from its Cython
# one: it has no Frame.get (zmq_msg_gets; the tests read Peer-Address / User-Id through
# it), proxy_steerable returns None, and Context.destroy()/term() hang with a proxy's or a
# raw socket's peers open.  And PyPy frees objects only when its GC runs, so the test that
# a dropped Context is collected at once cannot pass there.
DESELECT=(
  # pyzmq's CFFI Frame (its backend on PyPy) differs from its Cython one: a read-only
  # buffer, == compares the bytes, a received frame's .more is False: these parity cases
  # run against purezmq only there.
  "tests/test_frame.py::test_frame_made_from_data[pyzmq]"
  "tests/test_frame.py::test_frames_compare_by_identity[pyzmq]"
  "tests/test_frame.py::test_frame_properties_and_copy[pyzmq]"
  tests/test_devices.py::test_proxy_terminated_context_like_pyzmq
  tests/test_devices.py::test_proxy_steerable_matches_libzmq
  "tests/test_security.py::test_plain_with_zap[pyzmq-serves]"
  "tests/test_security.py::test_null_with_zap_domain[pyzmq-serves]"
  "tests/test_security.py::test_refusal[pyzmq-serves-wrong-password]"
  tests/test_security.py::test_zap_request_matches_libzmq
  tests/test_security.py::test_zap_enforce_domain_on_null
  tests/test_transports.py::test_ipv6_dual_stack_wildcard
  tests/test_transports.py::test_source_address_without_port_and_zmtp_peer_address
  tests/test_transports.py::test_tcp_options_reach_the_kernel_sockets_as_with_libzmq
  tests/test_warnings.py::test_unclosed_context_and_socket_warn_without_hanging
)
args=()
for d in "${DESELECT[@]}"; do args+=(--deselect "$d"); done
# Known flake (2026-12-07): in a whole run on PyPy, one or two ipc:// cases out of ~80 time
# out waiting for messages (test_pull_fair_queues[ipc], a NODROP fan-out); they pass alone,
# and have not been seen on CPython.  Until that is found, the cases that fail are run once
# more by themselves, and the leg fails only if they fail again; the first failures stay in
# the log, and a line names them.
cache=$(mktemp -d /tmp/purezmq-pypy-cache.XXXXXX)
run=("$venv/bin/python" -m pytest -q -o "cache_dir=$cache")
if ! "${run[@]}" tests \
  --ignore=tests/reliability --ignore=tests/interop --ignore=tests/apps \
  --ignore=tests/test_green.py \
  --ignore=tests/zmtp/test_decoder.py --ignore=tests/zmtp/test_fuzz.py "${args[@]}"; then
  echo "30-pypy: failures above; running the failed cases once more, alone (known ipc flake)"
  "${run[@]}" --lf --last-failed-no-failures none tests "${args[@]}"
  echo "30-pypy: FLAKY on PyPy (failed in the whole run, passed alone): see the first run above"
fi
rm -rf "$cache"
echo "30-pypy: $((SECONDS - start)) s ($((installed - start)) s to install)"
