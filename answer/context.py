"""Cut the retrieved passages down to the few sentences that matter for the question.

Prompt reading costs ~13 ms per token on 2 cores (ik_llama.cpp; ~27 ms with mainline llama.cpp), so every
sentence in the prompt costs first-token time; past three sentences the small model gains nothing from more.
Sentences of the top passages are ranked by e5 similarity to the question plus shared content words; the
best three (within a character budget) are kept, best first, numbered by their passage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from corpus.model import Passage
from corpus.sentences import sentence_spans
from corpus.split import looks_like_heading
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


MIN_SENTENCE_WORDS = 4  # shorter "sentences" are list debris ("Sociale samenhang 2015." in a reference list)
_URL_RE = re.compile(r"\S*(?:https?://|www\.)\S*")


def sentences_of(p: Passage, rank: int) -> list[Sentence]:
    """Sentences of a passage with document offsets; headings, links and fragments are left out."""
    out = []
    for block_match in re.finditer(r"[^\n]+", p.text):
        block, base = block_match.group(), block_match.start()
        if looks_like_heading(block):
            continue  # a heading: it echoes the question's words but never answers it
        for a, b in sentence_spans(block):
            if len(_URL_RE.sub(" ", block[a:b]).split()) >= MIN_SENTENCE_WORDS:
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


# Words that open a sentence leaning on the one before: "Het", "Dat komt door", "Hierdoor", "Denk aan", ...
_ANAPHOR_RE = re.compile(r"^(het|dit|dat|die|deze|zo|ook|zij|hij|ze|hun|dan|maar|en|want|denk|hier\w*|daar\w*|"
                         r"bovendien|toch|immers|namelijk|zulke|zo['’]n)\b", re.I)


@dataclass
class Excerpt:
    """One line of the prompt: a ranked sentence of source n, with the sentence before it when it leans on
    that one ("Het is een belangrijk motief ..." needs what "het" is) and the sentence after it when that
    one leans on it (the answer often follows the sentence that echoes the question)."""

    n: int
    sentences: list[Sentence]
    score: float  # ranking score of the sentence that earned the excerpt its place

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


def select(question: str, query_vec: np.ndarray, hits: list[Hit], embedder: Embedder, budget_chars: int = 500,
           excerpts: int = 3) -> tuple[list[Source], list[Excerpt]]:
    """Numbered sources (one per hit) and the prompt's excerpts, best first.

    Best first because the small model leans on the first line it reads: on the seed questions, ranked
    excerpts gave 37/48 correct answers against 32/48 for the same sentences in document order."""
    ranked = rank_sentences(question, query_vec, hits, embedder)
    sources = [Source(n=i + 1, hit=h, sentences=[]) for i, h in enumerate(hits)]
    by_passage: dict[int, list[Sentence]] = {}
    for r in ranked:
        by_passage.setdefault(r.sentence.passage_rank, []).append(r.sentence)
    for sents in by_passage.values():
        sents.sort(key=lambda s: s.start)
    chosen: list[Excerpt] = []
    shown: set[Sentence] = set()
    used = 0
    for r in ranked[:excerpts]:
        if r.sentence in shown:
            continue
        siblings = by_passage[r.sentence.passage_rank]
        i = siblings.index(r.sentence)
        group = [r.sentence]
        if i > 0 and _ANAPHOR_RE.match(r.sentence.text) and siblings[i - 1] not in shown:
            group.insert(0, siblings[i - 1])
        if i + 1 < len(siblings) and siblings[i + 1] not in shown and _ANAPHOR_RE.match(siblings[i + 1].text):
            group.append(siblings[i + 1])  # "... op waarde te schatten. Hierdoor worden ze leeggezogen."
        size = sum(len(s.text) for s in group)
        if chosen and used + size > budget_chars:
            continue
        chosen.append(Excerpt(n=r.sentence.passage_rank + 1, sentences=group, score=r.score))
        shown.update(group)
        used += size
    for s in sorted(shown, key=lambda s: (s.passage_rank, s.start)):
        sources[s.passage_rank].sentences.append(s)
    return sources, chosen


def prompt_block(excerpts: list[Excerpt]) -> str:
    """'[n] sentence(s)' lines, best excerpt first."""
    return "\n".join(f"[{e.n}] {e.text}" for e in excerpts)
