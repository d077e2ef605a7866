"""What the CLI and the web app call: the corpus index for the current settings, loaded once per process."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from config import Settings
from corpus.library import corpus_paths
from corpus.load import load_corpus
from errors import UserError
from retrieval.embed import Embedder, get_embedder
from retrieval.search import Hit, search
from retrieval.store import Index, open_index

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 2000
MAX_K = 50

_lock = threading.Lock()
_loaded: dict[tuple, tuple[Index, Embedder]] = {}


def _key(settings: Settings) -> tuple:
    return (str(Path(settings.corpus).resolve()), str(Path(settings.added_dir).resolve()), settings.embedder,
            settings.max_passage_chars, str(Path(settings.cache_dir).resolve()))


def get_index(settings: Settings, rebuild: bool = False, progress=None) -> tuple[Index, Embedder]:
    """Load the corpus, then load or build its index. Cached per settings; thread-safe."""
    key = _key(settings)
    with _lock:
        if key in _loaded and not rebuild:
            return _loaded[key]
        corpus = load_corpus(corpus_paths(settings), settings.max_passage_chars)
        embedder = get_embedder(settings.embedder, settings.threads)
        index = open_index(corpus, embedder, Path(settings.cache_dir), settings.max_passage_chars,
                           rebuild=rebuild, progress=progress)
        _loaded[key] = (index, embedder)
        return index, embedder


def forget(settings: Settings) -> None:
    """Drop the cached index so the next call re-reads the corpus (after documents were added or removed)."""
    with _lock:
        _loaded.pop(_key(settings), None)


def check_query(query: str | None) -> str:
    q = (query or "").strip()
    q = "".join(ch for ch in q if ch.isprintable() or ch in "\n\t")
    if not q:
        raise UserError("empty_query", "empty query")
    if len(q) > MAX_QUERY_CHARS:
        raise UserError("query_too_long", f"query of {len(q)} characters exceeds {MAX_QUERY_CHARS}",
                        length=len(q), limit=MAX_QUERY_CHARS)
    return q


def run_search(settings: Settings, query: str, k: int | None = None) -> list[Hit]:
    """Validated search over the settings' corpus."""
    q = check_query(query)
    k = settings.k if k is None else k
    if not 1 <= k <= MAX_K:
        raise UserError("bad_k", f"k={k} out of range 1..{MAX_K}", limit=MAX_K)
    index, embedder = get_index(settings)
    return search(index, embedder, q, k=k, fusion=settings.fusion, dense_weight=settings.dense_weight)
