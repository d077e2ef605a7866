"""Check a generated answer against its sources, sentence by sentence. The model is never trusted.

- Citation numbers that point at no source are removed.
- Each sentence must be supported by a cited source: nearly all of its content words (Dutch stems) must
  occur in two consecutive sentences of that source, and every number in it somewhere in the source.
  A sentence without a citation gets one if a source supports it.
- Text between quotation marks must occur in the corpus (the quote checker's exact verdict).
- Unsupported sentences are dropped; what survives carries the citations that were verified.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from answer.context import Source
from corpus.sentences import sentences
from retrieval.text import content_stems, strip_accents
from verify.quotes import QuoteIndex, check_quote

SUPPORT_MIN = 0.75  # share of a sentence's content stems found in one place of the cited source
_CITE_RE = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_QUOTED_RE = re.compile(r"[„“\"«‘']([^„“”\"«»‘’']{8,}?)[”\"»’']")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_REFUSAL_RE = re.compile(r"(staat|vind|vinden|staan)\b.{0,30}\bniet\b.{0,20}\b(bronnen|fragmenten|tekst)", re.I)


@dataclass
class CheckedSentence:
    text: str  # without citation markers
    cited: list[int]  # citation numbers after verification
    supported: bool
    support: float
    reason: str = ""


@dataclass
class Checked:
    sentences: list[CheckedSentence]
    refused: bool  # the model said the sources do not hold the answer
    quotes_rejected: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[CheckedSentence]:
        return [s for s in self.sentences if s.supported]

    def answer_text(self) -> str:
        """The kept sentences with their verified citations, placed before the closing punctuation."""
        out = []
        for s in self.kept:
            marks = "".join(f"\u00a0[{n}]" for n in s.cited)
            m = re.search(r"[.!?…]+$", s.text)
            out.append(s.text[:m.start()] + marks + m.group() if m else s.text + marks)
        return " ".join(out)

    @property
    def cited_numbers(self) -> list[int]:
        return sorted({n for s in self.kept for n in s.cited})


def split_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, citation numbers) pairs; markers after the full stop count for it."""
    text = answer.strip()
    pieces: list[tuple[str, list[int]]] = []
    # Cut after sentence-final punctuation (optionally followed by citation markers).
    for m in re.finditer(r".+?(?:[.!?…]+(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*|$)(?=\s|$)", text, re.S):
        chunk = m.group().strip()
        if not chunk:
            continue
        nums = [int(n) for g in _CITE_RE.findall(chunk) for n in re.split(r"\s*[,;]\s*", g)]
        sentence = _CITE_RE.sub("", chunk).strip()
        if sentence and re.search(r"\w", sentence):
            pieces.append((sentence, nums))
        elif nums and pieces:  # markers on their own: they belong to the previous sentence
            pieces[-1][1].extend(nums)
    return pieces


def is_refusal(answer: str) -> bool:
    return bool(_REFUSAL_RE.search(strip_accents(answer)))


def _windows(text: str) -> list[str]:
    """Overlapping pairs of consecutive sentences: a claim must come from one place, not from words
    scattered over a whole paragraph."""
    sents = sentences(text)
    return [" ".join(sents[i:i + 2]) for i in range(max(1, len(sents) - 1))] if sents else [text]


def support(sentence: str, source_text: str) -> float:
    """How well one place in the source backs the sentence: the share of its content stems found in the
    best pair of consecutive source sentences; 0 if a number is missing or too many words are."""
    stems = set(content_stems(sentence))
    numbers = set(_NUMBER_RE.findall(sentence))
    if numbers - set(_NUMBER_RE.findall(source_text)):
        return 0.0
    if not stems:
        return 1.0
    best_missing = min(len(stems - set(content_stems(w))) for w in _windows(source_text))
    if best_missing > len(stems) // 4:  # up to 3 content words: none may be missing; 4-7: one; 8-11: two
        return 0.0
    return 1 - best_missing / len(stems)


def check_answer(answer: str, sources: list[Source], quote_index: QuoteIndex | None) -> Checked:
    by_n = {s.n: s for s in sources}
    checked: list[CheckedSentence] = []
    rejected: list[str] = []
    refused = is_refusal(answer)
    for sentence, nums in split_sentences(answer):
        if is_refusal(sentence):
            continue
        valid = [n for n in dict.fromkeys(nums) if n in by_n]
        scores = {n: support(sentence, by_n[n].passage.text) for n in valid}
        good = [n for n in valid if scores[n] >= SUPPORT_MIN]
        reason = ""
        if not good:
            # Uncited or wrongly cited: credit the source that does support it, if any.
            best = {s.n: support(sentence, s.passage.text) for s in sources}
            n_best = max(best, key=best.get) if best else None
            if n_best is not None and best[n_best] >= SUPPORT_MIN:
                good, scores[n_best] = [n_best], best[n_best]
                reason = "citation corrected" if valid else "citation added"
            else:
                reason = "not supported by the sources"
        for q in _QUOTED_RE.findall(sentence):
            if quote_index is not None and len(q.split()) >= 2 and check_quote(quote_index, q).verdict != "exact":
                rejected.append(q)
                good, reason = [], "quotation not in the corpus"
        checked.append(CheckedSentence(text=sentence, cited=good, supported=bool(good),
                                       support=max((scores.get(n, 0.0) for n in good), default=0.0),
                                       reason=reason))
    return Checked(sentences=checked, refused=refused and not any(s.supported for s in checked),
                   quotes_rejected=rejected)
