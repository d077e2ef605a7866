"""Hybrid search: FAISS dense similarity and Dutch BM25, fused.

Fusion 'mix' (default) scores each candidate as w * dense_norm + (1 - w) * bm25_norm, both min-max
normalised over the candidates of this query; 'rrf' uses reciprocal-rank fusion (k=60). The choice and the
weight come from eval/retrieval.py (figures in the README).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from corpus.model import Passage
from retrieval.embed import Embedder
from retrieval.store import Index
from retrieval.text import content_stems

CANDIDATES = 100
RRF_K = 60


@dataclass
class Hit:
    passage: Passage
    score: float  # the fused score used for ranking
    dense: float  # cosine similarity of query and passage
    bm25: float  # raw BM25 score (0 when no query term occurs)

    def to_dict(self) -> dict:
        p = self.passage
        return {"doc": p.doc, "title": p.title, "paragraph": p.paragraph, "start": p.start, "end": p.end,
                "text": p.text, "score": round(float(self.score), 4)}


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-9 else (x - lo) / (hi - lo)


def bm25_scores(index: Index, query: str) -> np.ndarray:
    tokens = [t for t in content_stems(query) if t in index.bm25.vocab_dict]
    if not tokens:
        return np.zeros(len(index.passages), dtype=np.float32)
    return np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)


@dataclass
class Candidates:
    """The passages either method ranks highly, with both scores; what a fusion combines."""

    ids: np.ndarray  # passage indices
    dense: np.ndarray  # cosine similarity to the query
    lex: np.ndarray  # BM25 score (0 when no query term occurs)
    dense_rank: dict[int, int]  # passage index -> rank by cosine similarity
    bm25_rank: dict[int, int]
    depth: int  # how deep each ranking was read


def _mix(c: Candidates, dense_weight: float) -> np.ndarray:
    """w * min-max normalised cosine + (1 - w) * max-normalised BM25 (the default: best on both question sets)."""
    lex_norm = c.lex / c.lex.max() if c.lex.max() > 0 else np.zeros_like(c.lex)
    return dense_weight * _minmax(c.dense) + (1 - dense_weight) * lex_norm


def _rrf(c: Candidates, _w: float) -> np.ndarray:
    """Reciprocal-rank fusion (k=60)."""
    return np.array([1 / (RRF_K + c.dense_rank.get(int(i), c.depth)) + 1 / (RRF_K + c.bm25_rank.get(int(i), c.depth))
                     for i in c.ids])


def _dense(c: Candidates, _w: float) -> np.ndarray:
    return c.dense


def _bm25(c: Candidates, _w: float) -> np.ndarray:
    return c.lex + 1e-6 * c.dense  # dense breaks ties (e.g. no query word in the corpus)


# How dense and BM25 rankings are combined: setting `fusion` names one of these.
FUSIONS: dict[str, Callable[[Candidates, float], np.ndarray]] = {"mix": _mix, "rrf": _rrf, "dense": _dense,
                                                                 "bm25": _bm25}


def search(index: Index, embedder: Embedder, query: str, k: int = 5, fusion: str = "mix",
           dense_weight: float = 0.8, query_vec: np.ndarray | None = None) -> list[Hit]:
    """The k best passages for `query`, best first. Pass `query_vec` when the caller already embedded it."""
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose from {sorted(FUSIONS)}")
    n = len(index.passages)
    if n == 0:
        return []
    q = (embedder.embed_query(query) if query_vec is None else query_vec).astype(np.float32)
    m = min(n, max(CANDIDATES, k))
    _, dense_ids = index.dense.search(q.reshape(1, -1), m)
    dense_ids = [int(i) for i in dense_ids[0] if i >= 0]
    lexical = bm25_scores(index, query)
    bm25_ids = [int(i) for i in np.argsort(-lexical)[:m] if lexical[i] > 0]
    ids = np.array(sorted(set(dense_ids) | set(bm25_ids)), dtype=np.int64)
    c = Candidates(ids, index.vectors[ids] @ q, lexical[ids], {pid: r for r, pid in enumerate(dense_ids)},
                   {pid: r for r, pid in enumerate(bm25_ids)}, m)
    fused = FUSIONS[fusion](c, dense_weight)
    order = np.argsort(-fused, kind="stable")[:k]
    return [Hit(passage=index.passages[int(c.ids[i])], score=float(fused[i]), dense=float(c.dense[i]),
                bm25=float(c.lex[i])) for i in order]
