#!/usr/bin/env bash
# purezmq.green (gevent) on the oldest and newest supported CPython: tests/test_green.py,
# which also runs monkey-patched subprocesses.  (The default Python runs it in the main
# suite.)  An interpreter this machine lacks is reported and skipped.  ~1 min per version.
set -euo pipefail
cd "$(dirname "$0")/../.."
find_python() {  # python3.X on PATH, else a pyenv build of 3.X
  local v=$1 p
  for p in "$(command -v "python$v" || true)" \
           "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python3; do
    # (a pyenv shim exists for every version but runs only the selected ones)
    if [ -x "$p" ] && "$p" -c "import sys; assert sys.version_info[:2] == (${v/./, })" \
        2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
for v in 3.10 3.13; do
  if ! py=$(find_python "$v"); then
    echo "warning: no Python $v here; purezmq.green not tested on it"
    continue
  fi
  venv=/tmp/purezmq-ci-green-$v
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q . "gevent>=22" "pyzmq>=25" "tornado>=6" \
    "pytest>=7" "pytest-timeout>=2.1"
  echo "+ Python $v: tests/test_green.py"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_green.py
done
