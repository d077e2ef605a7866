"""A loaded corpus index with its embedder: what search, evidence lines and quote checks run on.

One Retriever per state of the corpus: service.Vraagbaak builds a new one after documents are added or removed
(reusing the embedder, which is the slow part to load), so nothing here is a process-wide cache.
"""
from __future__ import annotations

import re

import logging
from pathlib import Path

import numpy as np

from config import Settings
from corpus.library import corpus_paths
from corpus.load import load_corpus
from corpus.markup import strip_markup
from corpus.model import Document
from errors import UserError
from retrieval.embed import Embedder
from retrieval.evidence import Evidence, select
from retrieval.search import Hit, search
from retrieval.store import Index, open_index
from retrieval.vectors import EmbeddingCache

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 2000  # questions, searches and quote-closest lookups alike (the page's boxes use it too)
MAX_K = 50


def check_query(query: str | None) -> str:
    """The query without control characters; UserError when it is empty, has no word, or is too long."""
    if query is not None and not isinstance(query, str):
        raise UserError("not_text", f"query is a {type(query).__name__}, not text")
    q = "".join(ch for ch in strip_markup(query or "") if ch.isprintable() or ch in "\n\t").strip()
    if not q:
        raise UserError("empty_query", "empty query")
    if not re.search(r"\w", q):
        raise UserError("no_words", f"query without a word: {q[:40]!r}")
    if len(q) > MAX_QUERY_CHARS:
        raise UserError("query_too_long", f"query of {len(q)} characters exceeds {MAX_QUERY_CHARS}",
                        length=len(q), limit=MAX_QUERY_CHARS)
    return q


class Retriever:
    """The settings' corpus, indexed (loaded from disk, or built and stored on first use)."""

    def __init__(self, settings: Settings, embedder: Embedder, rebuild: bool = False, progress=None):
        self.settings, self.embedder = settings, embedder
        corpus = load_corpus(corpus_paths(settings), settings.max_passage_chars)
        self.index: Index = open_index(corpus, embedder, Path(settings.cache_dir), settings.max_passage_chars,
                                       rebuild=rebuild, progress=progress,
                                       exact_max=settings.exact_search_max_passages)
        # Sentences of the passages, for evidence lines: embedded once per text (saved by answer.pipeline.pre_embed)
        self.vectors = EmbeddingCache(embedder, settings.cache_dir, kind="sentences", limit=50_000)

    @property
    def documents(self) -> dict[str, Document]:
        return self.index.documents_by_id

    def search(self, query: str, k: int | None = None, query_vec: np.ndarray | None = None) -> list[Hit]:
        """The k best passages (validated input)."""
        q = check_query(query)
        k = self.settings.k if k is None else k
        if not 1 <= k <= MAX_K:
            raise UserError("bad_k", f"k={k} out of range 1..{MAX_K}", limit=MAX_K)
        return search(self.index, self.embedder, q, k=k, fusion=self.settings.fusion,
                      dense_weight=self.settings.dense_weight, query_vec=query_vec)

    def evidence(self, question: str, k: int) -> tuple[list[Hit], list[Evidence]]:
        """The k best passages and the numbered evidence lines drawn from them (the question embedded once)."""
        vec = self.embedder.embed_query(question)
        hits = self.search(question, k, query_vec=vec)
        return hits, select(question, vec, hits, self.embedder, self.documents,
                            budget_chars=self.settings.evidence_chars, vectors=self.vectors)
