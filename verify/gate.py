"""Refuse before the model runs when retrieval shows the sources cannot hold the answer.

Two signals, both measured on the tuning half of the evaluation questions (`python -m eval.gate`):
- the best passage is not about the question (its e5 similarity is low);
- the question names something (a person, place, organisation, number or year) that no retrieved passage,
  title or byline mentions: "Welke positie had maatschappelijk werk in 1996?" when only 1987, 2006 and 2016
  occur; names inflect ("Chinese" for "China"), so a name counts as mentioned when its first half is.
"""
from __future__ import annotations

import re

from corpus.model import Document
from retrieval.search import Hit
from retrieval.text import strip_accents
from verify.dutch import known_in_english, looks_english

MIN_DENSE = 0.79  # below this the best passage is about something else
_ENTITY_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-ZÀ-Ý][\wÀ-ÿ'’-]+|\d[\d.,]*\d|\d)")


def missing_specifics(question: str, texts: list[str]) -> list[str]:
    """Names and numbers in the question that none of `texts` mention."""
    text = strip_accents(" ".join(texts)).lower()
    english = looks_english(question)
    missing = []
    for m in _ENTITY_RE.finditer(question.strip()):
        word = m.group(1)
        if not word[0].isdigit() and english and known_in_english(word):
            continue  # an English question names things in English ("Netherlands" for "Nederland")
        probe = strip_accents(word).lower().rstrip(".,")
        probe = probe if probe[0].isdigit() else probe[:max(4, (len(probe) + 1) // 2)]
        if probe not in text:
            missing.append(word)
    return missing


def gate(question: str, hits: list[Hit], documents: dict[str, Document], min_dense: float = MIN_DENSE) -> str | None:
    """Why the sources cannot hold the answer, or None when asking the model is worth it."""
    if not hits:
        return "no passages"
    if hits[0].dense < min_dense:
        return f"best passage similarity {hits[0].dense:.3f} < {min_dense}"
    texts = [h.passage.text + " " + h.passage.title for h in hits]
    texts += [f"{d.title} {d.author or ''} {d.date or ''}" for d in (documents.get(h.passage.doc) for h in hits) if d]
    if missing := missing_specifics(question, texts):
        return f"question names {missing} that the passages do not mention"
    return None
