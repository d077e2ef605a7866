"""The one place that decides what the user gets: a checked answer, the evidence alone, or a refusal.

The model has read numbered evidence lines, chosen the ones that answer the question (or "geen"), and written
a short answer. Its choice is a signal, not the truth: a 1.5B model picks the right line about seven times in
ten. Code decides:
1. Refuse when the model chose no line, or when the doubt is high: the model's own probability of "geen",
   its confidence in the line it named first, and how well the lines match the question, weighed by a
   logistic model fitted on the tuning half (`python -m eval.fit`).
2. An amount or date question ("Hoeveel ...?", "Wanneer ...?") whose answer holds none gets the chosen lines
   that hold one and share a word with the question, as a quotation (the model often writes "veel" where its
   line says "117.000"); refused when no chosen line does.
3. A claim the token limit cut off loses its unfinished last sentence (or is not shown at all).
   The claim passes verify.claims against one, two or three of the lines (supported, same polarity,
   Dutch, says something): answer = the claim, cited, with those lines verbatim as its evidence.
4. Otherwise the lines speak for themselves, verbatim, labelled as a quotation. So do they when the model was
   stopped after choosing them ("brief", while many visitors wait): on the tuning half that reply holds the key
   facts 0.656 of the time against 0.672 with the model's sentence, for about a second less per question.
Beside the claim's own lines (or as the quotation) the reply shows the lines the model most likely meant,
ranked by its probability of naming each line first fused with the line's retrieval score, not the lines it
happened to write down: among its options the model ranks the answering line better than it writes it (tuning
half: the answering line among the two best ranked 0.86, among the up to three it wrote 0.72).
Every decision carries its reasons (English) for the logs and the benchmark.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

from retrieval.evidence import Evidence
from retrieval.text import content_stems
from verify.claims import asks_quantity, check_claim, has_quantity, strip_yes_no, whole_sentences

# Doubt: logistic weights over (1, log p_none, log p_first, best line score, top line score), fitted by eval/fit.py
# on the tuning half; refuse at or above DOUBT_MAX. p_first is the model's probability of the line it meant.
DOUBT_WEIGHTS = (23.8288, 0.8042, 0.0628, -1.4738, -21.7918)
DOUBT_MAX = 0.5  # the logistic model's own boundary: refuse when no answer is the likelier case
LINE_WEIGHT = 10.0  # how much a line's retrieval score counts against the model's log-probability of naming it
MAX_EVIDENCE = 3  # lines a claim may be checked against
SHOWN_LINES = 2  # lines shown beside a claim's own (or as a quotation), best ranked first (fitted: eval.fit)
MIN_LINE_P = 0.1  # a line the model did not name is shown only when it gave it this probability (fitted: eval.fit)
_FLOOR = 1e-4  # probabilities the model did not report count as this


@dataclass
class Signals:
    """What the model's first tokens said (None/empty where the backend reports no probabilities)."""

    p_none: float | None = None  # probability of "geen": no line answers
    p_lines: dict[int, float] = field(default_factory=dict)  # probability of naming line i first


@dataclass
class Decision:
    kind: Literal["answer", "quote", "refuse"]
    claim: str = ""  # the model's checked sentence (kind "answer")
    evidence: list[Evidence] = field(default_factory=list)  # shown verbatim (kinds "answer" and "quote")
    support: list[int] = field(default_factory=list)  # ids of the evidence lines the claim was checked against
    notes: list[str] = field(default_factory=list)
    doubt: float | None = None


def meant(lines: list[Evidence], chosen: list[int], signals: Signals) -> Evidence | None:
    """The line the model most likely meant: its probability of naming it first, and the line's retrieval
    score (the model alone picks the right line about 70% of the time, fused about 75%)."""
    if not lines:
        return None
    if not signals.p_lines:
        return next((e for e in lines if e.id in chosen), None)
    return max(lines, key=lambda e: fused(e, signals.p_lines))


def fused(line: Evidence, p_lines: dict[int, float]) -> float:
    """How likely the model meant a line: its log-probability of naming it first, plus its retrieval score."""
    return math.log(max(p_lines.get(line.id, 0.0), _FLOOR)) + LINE_WEIGHT * line.score


def ranking(lines: list[Evidence], chosen: list[int], line: Evidence, p_lines: dict[int, float],
            min_p: float = MIN_LINE_P) -> list[Evidence]:
    """The lines the model may have meant, likeliest first (by `fused`): `line` (the one `meant` picked), and
    the others it named or gave at least `min_p`."""
    return [e for e in sorted(lines, key=lambda e: -fused(e, p_lines))
            if e is line or e.id in chosen or p_lines.get(e.id, 0.0) >= min_p]


def doubt_features(lines: list[Evidence], line: Evidence | None, signals: Signals) -> list[float]:
    p_first = signals.p_lines.get(line.id, 0.0) if line and signals.p_lines else 1.0
    return [1.0, math.log(max(signals.p_none or 0.0, _FLOOR)), math.log(max(p_first, _FLOOR)),
            line.score if line else 0.0, lines[0].score if lines else 0.0]


def doubt(features: list[float], weights: tuple[float, ...] = DOUBT_WEIGHTS) -> float:
    z = sum(w * x for w, x in zip(weights, features))
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


def supporting(question: str, claim: str, lines: list[Evidence], first: list[Evidence]) -> list[Evidence] | None:
    """The fewest lines (at most three) that the claim passes its checks against, trying `first` first."""
    order = first + [e for e in lines if e not in first]
    for size in range(1, MAX_EVIDENCE + 1):
        for combo in itertools.combinations(order, size):
            if check_claim(claim, [e.text for e in combo], question).ok:
                return sorted(combo, key=lambda e: e.id)
    return None


def decide(question: str, lines: list[Evidence], chosen: list[int], claim: str, signals: Signals | None = None,
           weights: tuple[float, ...] = DOUBT_WEIGHTS, max_doubt: float = DOUBT_MAX, cut: bool = False,
           shown_lines: int = SHOWN_LINES, min_line_p: float = MIN_LINE_P, brief: bool = False) -> Decision:
    """What to show for the model's choice of `chosen` line ids, its `claim` and its first tokens' `signals`;
    `cut`: the token limit ended the claim, so its last sentence is unfinished and is left out; `brief`: the
    model was stopped after its line numbers (many visitors waiting), so the lines are the reply, quoted, with
    the same doubt and ranking. The other parameters are the fitted constants, passed by eval.fit to try others."""
    signals = signals or Signals()
    by_id = {e.id: e for e in lines}
    picked = [by_id[i] for i in dict.fromkeys(chosen) if i in by_id]
    if not picked:
        return Decision("refuse", notes=["the model chose no evidence line"])
    line = meant(lines, chosen, signals) or picked[0]
    d = doubt(doubt_features(lines, line, signals), weights) if signals.p_none is not None else None
    if d is not None and d >= max_doubt:
        return Decision("refuse", notes=[f"doubt {d:.2f} >= {max_doubt}"], doubt=d)
    first = [line] + [e for e in picked if e is not line]
    # Without the model's probabilities, the lines it named are all there is to rank by.
    likely = ranking(lines, chosen, line, signals.p_lines, min_line_p) if signals.p_lines else first
    if brief:
        return Decision("quote", evidence=sorted(likely[:shown_lines], key=lambda e: e.id),
                        notes=["brief: the model chose its lines and wrote no sentence"], doubt=d)
    notes: list[str] = []
    text, had_yes_no = strip_yes_no(claim)
    if had_yes_no:
        notes.append("a leading yes/no was left out: code cannot check it")
    if cut:
        text = whole_sentences(text)
        notes.append("the token limit cut the answer off: its unfinished last sentence was left out")
    if asks_quantity(question) and not has_quantity(text):
        notes.append("the answer to an amount or date question holds none")
        asked = set(content_stems(question))
        if counted := [e for e in picked if has_quantity(e.text) and asked & set(content_stems(e.text))]:
            return Decision("quote", evidence=sorted(counted[:MAX_EVIDENCE], key=lambda e: e.id), notes=notes,
                            doubt=d)
        return Decision("refuse", notes=notes, doubt=d)
    if support := supporting(question, text, lines, first):
        # Lines beside the claim's own are shown too: its sentence often copies one line while the answer to
        # a list or two-part question spans another (tuning half: key facts 0.57 -> 0.63).
        shown = support + [e for e in likely if e not in support]
        return Decision("answer", claim=text, evidence=shown[:max(shown_lines, len(support))],
                        support=[e.id for e in support], notes=notes, doubt=d)
    notes.append(f"claim not shown: {check_claim(text, [e.text for e in first], question).reason}")
    return Decision("quote", evidence=sorted(likely[:shown_lines], key=lambda e: e.id), notes=notes, doubt=d)
