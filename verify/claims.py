"""Does a sentence the model wrote say only what its evidence says, in Dutch, and answer the question?

Checks on one claim against the evidence sentences it rests on (the lines the model chose):
- support: every content word (Dutch stem) of the claim occurs in the evidence, and every number;
- polarity: a claim may not drop a negation that the evidence puts before a word the claim uses ("wordt nog
  niet erkend" -> "wordt erkend"), nor add one the evidence does not have;
- Dutch: no English word of the model's own (words the evidence uses are the authors' and allowed);
- substance: the claim says something the question did not already say, and more than yes or no; a
  question (a rhetorical one from the sources, say) is not an answer.
Word overlap cannot see every change of meaning, which is why the evidence is always shown verbatim beside
the claim, and a claim that fails is replaced by the evidence alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.sentences import sentence_spans
from prompts import fold, word_pattern
from retrieval.text import content_stems, words
from verify.dutch import english_words

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
NEGATION_REACH = 4  # words after a negation that it may govern ("niet altijd even effectief")


@dataclass
class ClaimCheck:
    ok: bool
    reason: str = ""  # why not, in English (for logs and the benchmark)


def numbers(text: str) -> set[str]:
    return {n.rstrip(".,") for n in _NUMBER_RE.findall(text)}


def has_quantity(text: str) -> bool:
    """A number, an amount or a time expression ("53.200", "dertig", "jaren", "oktober")."""
    return bool(_NUMBER_RE.search(text)) or bool(word_pattern("quantity_words").search(fold(text)))


def asks_quantity(question: str) -> bool:
    """'Hoeveel ...?', 'Wanneer ...?', 'In welk jaar ...?': only an amount or a date answers these."""
    return bool(word_pattern("quantity_questions").search(fold(question)))


def strip_yes_no(claim: str) -> tuple[str, bool]:
    """The claim without a leading 'Ja,' / 'Nee,' (which code cannot check), and whether it had one."""
    m = re.match(r"^\s*(" + word_pattern("yes_no_answers").pattern + r")[\s,.!:;–-]*", fold(claim))
    if not m:
        return claim, False
    rest = claim[m.end():].strip()
    return (rest[:1].upper() + rest[1:]) if rest else "", True


def same_words(claim: str, evidence: list[str]) -> bool:
    """The claim is its evidence word for word (case, accents and punctuation aside): a copy, not a summary."""
    return bool(claim.strip()) and words(claim) == words(" ".join(evidence))


def whole_sentences(claim: str) -> str:
    """A claim the token limit cut off, without its unfinished last sentence ("" when it had only that one)."""
    spans = sentence_spans(claim)
    return claim[:spans[-2][1]].strip() if len(spans) > 1 else ""


def negated_stems(text: str) -> set[str]:
    """Stems of the content words that follow a negation within NEGATION_REACH words."""
    tokens = words(text)
    negation = word_pattern("negations")
    out: set[str] = set()
    for i, tok in enumerate(tokens):
        if negation.fullmatch(tok):
            for follower in tokens[i + 1:i + 1 + NEGATION_REACH]:
                out.update(content_stems(follower))
    return out


def has_negation(text: str) -> bool:
    return bool(word_pattern("negations").search(fold(text)))


def check_claim(claim: str, evidence: list[str], question: str) -> ClaimCheck:
    source = " ".join(evidence)
    if not claim.strip():
        return ClaimCheck(False, "empty claim")
    if claim.rstrip(" \u00a0\"”’»").endswith("?"):
        return ClaimCheck(False, "a question, not an answer")
    if missing := numbers(claim) - numbers(source):
        return ClaimCheck(False, f"numbers not in the evidence: {sorted(missing)}")
    stems = set(content_stems(claim))
    if missing := stems - set(content_stems(source)):
        return ClaimCheck(False, f"words not in the evidence: {sorted(missing)}")
    claim_negated, source_negated = negated_stems(claim), negated_stems(source)
    if (has_negation(claim) and not has_negation(source)) or claim_negated - source_negated:
        return ClaimCheck(False, f"negation the evidence does not have: {sorted(claim_negated - source_negated)}")
    if dropped := (source_negated & stems) - claim_negated:
        return ClaimCheck(False, f"drops the negation of {sorted(dropped)}")
    if english := english_words(claim, source):
        return ClaimCheck(False, f"English words: {english}")
    if not stems - set(content_stems(question)) and has_negation(claim) == has_negation(question):
        return ClaimCheck(False, "says nothing the question does not")
    return ClaimCheck(True)
