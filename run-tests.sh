#!/usr/bin/env bash
# Run the test suite: sets up .venv if needed, makes sure Debian's chromium is there for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped"
  else
    echo "warning: chromium not found (sudo apt-get install chromium); browser tests will be skipped"
  fi
fi
export HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE
exec .venv/bin/python -m pytest "$@"
