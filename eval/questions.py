"""Evaluation data for answering: the question sets, their halves, and how an answer is scored.

Scoring is deliberately simple and independent of the pipeline's own checks:
- key facts: every fact of a question (a phrase, or a list of alternative phrases) occurs in the reply
  the user sees, with case, accents, quotation marks and spacing ignored;
- where the answer is: the evidence sentences the question's writer marked, located in the cleaned
  document text (byline evidence, which cleaning moves into a document's metadata, is located as
  "byline" of its document).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from eval.common import EVAL_DIR, read_jsonl
from eval.split import QUESTIONS_DIR, heldout_questions, load_split, seed_questions, tuning_questions
from retrieval.text import strip_accents

ANSWERABLE_TYPES = ("paraphrase", "why_how", "list", "yes_no", "number_date", "metadata", "english",
                    "multi_part", "definition", "opinion")
UNANSWERABLE_TYPES = ("out_of_corpus", "near_miss")


def norm(text: str) -> str:
    text = strip_accents(text).lower()
    text = re.sub(r"[‘’‚‛′`´]", "'", text)
    text = re.sub(r"[“”„‟«»]", '"', text)
    text = re.sub(r"[–—‐-]", "-", text)
    return " ".join(text.split())


def fact_holds(reply: str, fact: str | list[str]) -> bool:
    alternatives = fact if isinstance(fact, list) else [fact]
    r = norm(reply)
    return any(norm(a) in r for a in alternatives)


def facts_hold(reply: str, facts: list) -> bool:
    return all(fact_holds(reply, f) for f in facts)


# The seed questions' writers' sets in the figures: A and B (split into halves) and the held-out set C.
SET_GROUPS = {"ab": "test half of sets A and B (split 2026-11-23)",
              "c": "held-out set C (written 2026-11-24, never tuned on)"}


def set_of(question_id: str) -> str:
    """The writer's set of a seed question ('a', 'b', 'c', 'd'), from its id."""
    return question_id[0]


def half(name: str, sets: str = "abcd") -> list[dict]:
    """The seed-article questions of one half: 'tune' (the split's tuning half and set D) or 'test' (the
    split's test half and the held-out set C); `sets`: the writers' sets to keep."""
    if not sets or set(sets) - set("abcd"):
        raise ValueError(f"question sets are any of a, b, c, d, not {sets!r}")
    ids = set(load_split()["questions"][name])
    extra = heldout_questions() if name == "test" else tuning_questions()
    return [r for r in [r for r in seed_questions() if r["id"] in ids] + extra if set_of(r["id"]) in sets]


def legacy_questions() -> tuple[list[dict], list[dict]]:
    """The 48 questions and 20 unanswerable ones the pipeline was first tuned on (tuning data only)."""
    answerable = [{"id": r["id"], "type": "legacy", "question": r["question"], "facts": r["facts"],
                   "evidence": [{"doc": r["doc"], "text": r["sentence"]}]}
                  for r in read_jsonl(EVAL_DIR / "seed_questions.jsonl")]
    unanswerable = [{"id": r["id"], "type": "out_of_corpus", "question": r["question"]}
                    for r in read_jsonl(EVAL_DIR / "unanswerable.jsonl")]
    return answerable, unanswerable


def conversations(name: str) -> list[dict]:
    """Two-turn conversations: the test half is the 26 an independent writer wrote (never tuned on); the
    tuning half is 10 we wrote ourselves to look at follow-up rewriting while developing."""
    return read_jsonl(QUESTIONS_DIR / ("conversations.jsonl" if name == "test" else "conversations_tune.jsonl"))


@dataclass(frozen=True)
class Span:
    doc: str
    start: int  # offsets into the cleaned document text; -1 for a byline
    end: int

    def overlaps(self, other: "Span") -> bool:
        if self.doc != other.doc:
            return False
        if self.start < 0 or other.start < 0:
            return self.start == other.start
        return self.start < other.end and other.start < self.end


def locate(index, doc_id: str, text: str) -> Span | None:
    """Where an evidence text is in the cleaned document; a byline span if cleaning moved it to metadata."""
    doc = index.document(doc_id)
    if doc is None:
        return None
    pos = doc.text.find(text)
    if pos >= 0:
        return Span(doc_id, pos, pos + len(text))
    # Whitespace may differ (non-breaking spaces, joined lines): match word by word.
    pattern = r"\s+".join(re.escape(w) for w in text.split())
    m = re.search(pattern, doc.text)
    if m:
        return Span(doc_id, m.start(), m.end())
    return Span(doc_id, -1, -1)  # a byline line (author, date) or page furniture cleaning removed


def precise_citations(gold: list[Span], cited: list[Span], metadata: bool) -> int:
    """How many cited passages hold a gold evidence span (for a question about a document itself, any passage
    of that document: its byline holds the answer)."""
    return sum(any(g.overlaps(s) or (metadata and g.doc == s.doc) for g in gold) for s in cited)


def covered(gold: list[Span], spans: list[Span], metadata: bool = False) -> bool:
    """Every gold evidence span overlaps one of `spans`. For a question about a document itself (who wrote
    it, when, its title), a byline of the same document shown to the model counts: it holds the answer."""
    return bool(gold) and all(any(g.overlaps(s) or (metadata and s.start < 0 and s.doc == g.doc) for s in spans)
                              for g in gold)
