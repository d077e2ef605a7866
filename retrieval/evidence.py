"""Sentence-level retrieval: the few sentences of the best passages that may answer a question.

The language model is shown numbered evidence lines, best first, and chooses the ones that answer; what it
is not shown it cannot use, so this step decides the ceiling of every answer. Each candidate is a sentence of
a retrieved passage (headings, links and list debris left out) or, for questions about the documents themselves
("Wie schreef ...?", "Wanneer verscheen ...?"), a document's byline (title, author, date: cleaning moves bylines
out of the text). Shown to every question, bylines drew the model's choice away from the sentences that answer. Candidates are scored by e5
similarity to the question, the share of the question's content words they hold, and the score of the
passage they come from; a sentence that leans on its neighbour ("Het is een belangrijk motief ...",
"Daarbij gaat het om ...") brings that neighbour along. The weights were fitted on the tuning half of the
evaluation questions (`python -m eval.evidence`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from corpus.clean import is_furniture
from corpus.model import Document, Passage
from corpus.sentences import sentence_spans
from corpus.split import looks_like_heading
from prompts import fold, message, word_pattern, words
from retrieval.embed import Embedder
from retrieval.search import Hit
from retrieval.text import content_stems
from retrieval.vectors import EmbeddingCache

MIN_SENTENCE_WORDS = 4  # shorter "sentences" are list debris ("Sociale samenhang 2015." in a reference list)
W_OVERLAP = 0.0  # weight of the share of question content words a sentence holds (fitted: no gain)
W_PASSAGE = 0.05  # weight of its passage's fused retrieval score (0..1 over the hits)
EVIDENCE_LINES = 8  # numbered lines in the prompt
BUDGET_CHARS = 800  # their total length (~275 new tokens), the default of the evidence_chars setting
_URL_RE = re.compile(r"\S*(?:https?://|www\.)\S*")


@dataclass(frozen=True)
class Sentence:
    doc: str
    start: int  # offsets into the document text; -1 for a byline (it is not in the text)
    end: int
    text: str


@dataclass
class Evidence:
    """One numbered line of the prompt: consecutive sentences of one passage, or a document's byline."""

    id: int  # its number in the prompt, 1-based, best first
    source: int  # 0-based rank of its passage among the hits (the user sees source + 1)
    sentences: tuple[Sentence, ...]
    score: float  # score of the sentence that earned the line its place

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def doc(self) -> str:
        return self.sentences[0].doc

    @property
    def byline(self) -> bool:
        return self.sentences[0].start < 0

    def spans(self) -> list[tuple[str, int, int]]:
        return [(s.doc, s.start, s.end) for s in self.sentences]


def sentences_of(p: Passage) -> list[Sentence]:
    """Sentences of a passage with document offsets; headings, links and fragments are left out."""
    out = []
    for block_match in re.finditer(r"[^\n]+", p.text):
        block, base = block_match.group(), block_match.start()
        if looks_like_heading(block):
            continue  # a heading echoes the question's words but never answers it
        for a, b in sentence_spans(block):
            if len(_URL_RE.sub(" ", block[a:b]).split()) >= MIN_SENTENCE_WORDS and not is_furniture(block[a:b]):
                out.append(Sentence(p.doc, p.start + base + a, p.start + base + b, block[a:b]))
    return out


def byline_of(doc: Document) -> Sentence:
    """A document's title, author and date as one Dutch sentence the model can read and choose."""
    key = "byline." + ("full" if doc.author and doc.date else "author" if doc.author else
                       "date" if doc.date else "title")
    return Sentence(doc.id, -1, -1, message(key, title=doc.title, author=doc.author or "",
                                            date=dutch_date(doc.date) if doc.date else ""))


def dutch_date(iso: str) -> str:
    """2018-09-06 -> 6 september 2018 (as the articles write dates)."""
    months = words("month_names")
    try:
        y, m, d = (int(x) for x in iso.split("-"))
        return f"{d} {months[m - 1]} {y}"
    except (ValueError, IndexError):
        return iso


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    source: int
    score: float


def score_sentences(question: str, query_vec: np.ndarray, hits: list[Hit], embedder: Embedder,
                    documents: dict[str, Document], w_overlap: float = W_OVERLAP, w_passage: float = W_PASSAGE,
                    vectors: EmbeddingCache | None = None) -> list[Scored]:
    """Every candidate sentence of the hits (and the bylines of their documents), best first."""
    candidates: list[tuple[Sentence, int]] = [(s, rank) for rank, h in enumerate(hits) for s in sentences_of(h.passage)]
    first_hit: dict[str, int] = {}
    for rank, h in enumerate(hits):
        first_hit.setdefault(h.passage.doc, rank)
    if asks_about_documents(question):
        candidates += [(byline_of(documents[d]), rank) for d, rank in first_hit.items() if d in documents]
    if not candidates:
        return []
    vecs = (vectors or EmbeddingCache(embedder))([s.text for s, _ in candidates])
    fused = np.array([h.score for h in hits], dtype=np.float32)
    fused = (fused - fused.min()) / (fused.max() - fused.min()) if fused.max() > fused.min() else np.ones_like(fused)
    q_stems = set(content_stems(question))
    out = []
    for (s, rank), v in zip(candidates, vecs):
        overlap = len(q_stems & set(content_stems(s.text))) / max(len(q_stems), 1)
        out.append(Scored(s, rank, float(v @ query_vec) + w_overlap * overlap + w_passage * float(fused[rank])))
    return sorted(out, key=lambda x: -x.score)


def asks_about_documents(question: str) -> bool:
    """Who wrote it, when it appeared, what it is called: only then do bylines compete for the prompt."""
    return bool(word_pattern("metadata_questions").search(fold(question)))


def leans_back(text: str) -> bool:
    """Opens on a word that refers to the sentence before ("Het ...", "Daarbij ...", "Denk aan ...")."""
    return bool(word_pattern("anaphor_openers", anchored=True).match(fold(text)))


def select(question: str, query_vec: np.ndarray, hits: list[Hit], embedder: Embedder,
           documents: dict[str, Document], lines: int = EVIDENCE_LINES, budget_chars: int = BUDGET_CHARS,
           vectors: EmbeddingCache | None = None, **weights: float) -> list[Evidence]:
    """The numbered evidence lines for the prompt, best first, within `lines` and `budget_chars`.
    Pass the Retriever's `vectors` so that sentences are embedded once per corpus, not once per question."""
    scored = score_sentences(question, query_vec, hits, embedder, documents, vectors=vectors, **weights)
    siblings: dict[int, list[Sentence]] = {}
    for x in scored:
        if x.sentence.start >= 0:
            siblings.setdefault(x.source, []).append(x.sentence)
    for sents in siblings.values():
        sents.sort(key=lambda s: s.start)
    chosen: list[Evidence] = []
    shown: set[Sentence] = set()
    used = 0
    for x in scored:
        if len(chosen) >= lines:
            break
        if x.sentence in shown:
            continue
        group = [x.sentence]
        if x.sentence.start >= 0:
            sibs = siblings[x.source]
            i = sibs.index(x.sentence)
            if i > 0 and leans_back(x.sentence.text) and sibs[i - 1] not in shown:
                group.insert(0, sibs[i - 1])
            if i + 1 < len(sibs) and sibs[i + 1] not in shown and leans_back(sibs[i + 1].text):
                group.append(sibs[i + 1])
        size = sum(len(s.text) for s in group)
        if chosen and used + size > budget_chars:
            continue
        chosen.append(Evidence(len(chosen) + 1, x.source, tuple(group), x.score))
        shown.update(group)
        used += size
    return chosen
