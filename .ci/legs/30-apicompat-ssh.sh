#!/usr/bin/env bash
# zmq.ssh against a real OpenSSH: tests/test_ssh.py and tests/apps/test_circus.py start their
# own sshd on a 127.0.0.1 ephemeral port with throwaway keys (the main run skips those tests
# without sshd); paramiko for the paramiko_tunnel test. ~2 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq || echo "warning: apt-get update failed"
  apt-get install -y -qq openssh-client openssh-server >/dev/null
fi
mkdir -p /run/sshd
python3 -m venv /tmp/purezmq-ci-ssh
# shellcheck disable=SC1091
. /tmp/purezmq-ci-ssh/bin/activate
python -m pip install -q ".[test]" paramiko
python -m pytest -q -p no:cacheprovider -rs tests/test_ssh.py tests/apps/test_circus.py
