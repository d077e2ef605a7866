"""Cut the retrieved passages down to the few sentences that matter for the question.

Prompt reading costs ~25-30 ms per token on 2 cores, so every sentence in the prompt costs first-token
time. Sentences of the top passages are ranked by e5 similarity to the question plus shared content words;
the best ones (within a character budget) are kept, in document order, numbered by their passage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from corpus.model import Passage
from corpus.sentences import sentence_spans
from retrieval.embed import Embedder
from retrieval.search import Hit
from retrieval.text import content_stems


@dataclass(frozen=True)
class Sentence:
    passage_rank: int  # 0-based rank of its passage among the hits
    start: int  # offsets into the document text
    end: int
    text: str


@dataclass
class Source:
    """A numbered source as the model and the user see it: the passage and the sentences shown to the model."""

    n: int
    hit: Hit
    sentences: list[Sentence]

    @property
    def passage(self) -> Passage:
        return self.hit.passage


def sentences_of(p: Passage, rank: int) -> list[Sentence]:
    """Sentences of a passage with document offsets; headings are left out."""
    out = []
    for block_match in re.finditer(r"[^\n]+", p.text):
        block, base = block_match.group(), block_match.start()
        if len(block) < 100 and not re.search(r"[.!?…:;\"”’)]\s*$", block):
            continue  # a heading: it echoes the question's words but never answers it
        for a, b in sentence_spans(block):
            if b - a >= 3:
                out.append(Sentence(rank, p.start + base + a, p.start + base + b, block[a:b]))
    return out


_VECTORS: dict[tuple[str, str], np.ndarray] = {}


def sentence_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """e5 passage vectors for sentences, cached in memory across questions."""
    missing = [t for t in dict.fromkeys(texts) if (embedder.name, t) not in _VECTORS]
    if missing:
        for t, v in zip(missing, embedder.embed_passages(missing)):
            _VECTORS[(embedder.name, t)] = v
        if len(_VECTORS) > 50_000:
            _VECTORS.clear()
    return np.stack([_VECTORS[(embedder.name, t)] for t in texts])


@dataclass
class Ranked:
    sentence: Sentence
    score: float


def rank_sentences(question: str, query_vec: np.ndarray, hits: list[Hit], embedder: Embedder) -> list[Ranked]:
    """Sentences of the hits, best first: e5 similarity + shared content words, a little passage rank."""
    candidates = [s for rank, h in enumerate(hits) for s in sentences_of(h.passage, rank)]
    if not candidates:
        return []
    vecs = sentence_vectors(embedder, [c.text for c in candidates])
    q_stems = set(content_stems(question))
    ranked = []
    for c, v in zip(candidates, vecs):
        overlap = len(q_stems & set(content_stems(c.text))) / max(len(q_stems), 1)
        ranked.append(Ranked(c, float(v @ query_vec) + 0.15 * overlap - 0.01 * c.passage_rank))
    return sorted(ranked, key=lambda r: -r.score)


def select(question: str, query_vec: np.ndarray, hits: list[Hit], embedder: Embedder,
           budget_chars: int = 480, anchors: int = 2) -> tuple[list[Source], list[Ranked]]:
    """Numbered sources (one per hit) with the sentences chosen for the prompt, and the ranking.

    The best sentences are taken with the sentence that follows each: an answer often sits right after
    the sentence that shares the question's words ("... onder druk. Dat komt door de ongelijkheid.")."""
    ranked = rank_sentences(question, query_vec, hits, embedder)
    sources = [Source(n=i + 1, hit=h, sentences=[]) for i, h in enumerate(hits)]
    by_passage: dict[int, list[Sentence]] = {}
    for r in ranked:
        by_passage.setdefault(r.sentence.passage_rank, []).append(r.sentence)
    for sents in by_passage.values():
        sents.sort(key=lambda s: s.start)
    chosen: list[Sentence] = []
    used = 0
    for r in ranked[:anchors]:
        siblings = by_passage[r.sentence.passage_rank]
        i = siblings.index(r.sentence)
        for s in siblings[i:i + 2]:
            if s in chosen:
                continue
            if chosen and used + len(s.text) > budget_chars:
                break
            chosen.append(s)
            used += len(s.text)
    for c in sorted(chosen, key=lambda c: (c.passage_rank, c.start)):
        sources[c.passage_rank].sentences.append(c)
    return sources, ranked


def prompt_block(sources: list[Source]) -> str:
    """'[n] sentence sentence' lines for the sources that have sentences."""
    return "\n".join(f"[{s.n}] " + " ".join(x.text for x in s.sentences) for s in sources if s.sentences)
