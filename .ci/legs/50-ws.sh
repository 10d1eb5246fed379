#!/usr/bin/env bash
# ws:// and wss:// against peers nobody here wrote: jszmq 0.1.2 (npm) in Node.js and, bundled
# by esbuild, in Debian's headless chromium driven by playwright-core; plus the ws tests and the
# dashboard example in the browser.  The main suite skips the Node/browser tests when node, npm
# or chromium are missing; here PUREZMQ_WS_REQUIRED=1 turns such a skip into a failure.
# npm packages go to a temporary directory (never the tree).  About a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
python3 -m venv /tmp/purezmq-ws-venv
# shellcheck disable=SC1091
. /tmp/purezmq-ws-venv/bin/activate
python -m pip install -q ".[test]"
PUREZMQ_WS_NODE_DIR=$(mktemp -d /tmp/purezmq-ws-node.XXXXXX)
export PUREZMQ_WS_NODE_DIR PUREZMQ_WS_REQUIRED=1
trap 'rm -rf "$PUREZMQ_WS_NODE_DIR"' EXIT
timeout 900 python -m pytest -q -p no:cacheprovider \
  tests/test_ws.py tests/test_ws_protocol.py tests/test_ws_jszmq.py tests/test_ws_browser.py tests/test_ws_example.py
