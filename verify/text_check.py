"""Check every quotation in a whole text against the corpus (issue: journalists and editors hold a whole text).

Each quotation that verify/quotations.py finds is checked with the same matcher as a single quote
(verify/service.QuoteChecker): exact, altered (with the word diff) or absent (with the closest passages).
One or two quoted words are too short to judge and listed as `too_short`, never guessed.
The JSON form is a contract other tools rely on:
    {"source", "quotations": [{"text", "start", "end", "style", "verdict", "matches": [...]}],
     "summary": {"exact", "altered", "absent", "too_short"}}
with start/end offsets into the checked text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from errors import UserError
from verify.quotations import Quotation, find_quotations
from verify.quotes import MAX_CHARS, Match, tokenize
from verify.service import QuoteChecker

VERDICTS = ("exact", "altered", "absent", "too_short")
MAX_TEXT_CHARS = 500_000  # about 80,000 words: a book chapter is fine, a whole book is not
TOO_SHORT_WORDS = 2  # one or two quoted words are a term or scare quotes, too short to judge


@dataclass
class CheckedQuotation:
    quotation: Quotation
    verdict: str
    matches: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict:
        q = self.quotation
        return {"text": q.text, "start": q.start, "end": q.end, "style": q.style, "verdict": self.verdict,
                "matches": [m.to_dict() for m in self.matches]}


@dataclass
class TextCheck:
    source: str  # a file name, or "tekst" for pasted text
    text: str
    quotations: list[CheckedQuotation]

    def summary(self) -> dict[str, int]:
        return {v: sum(1 for c in self.quotations if c.verdict == v) for v in VERDICTS}

    def to_dict(self) -> dict:
        return {"source": self.source, "quotations": [c.to_dict() for c in self.quotations],
                "summary": self.summary()}


def check_text(checker: QuoteChecker, text: str, source: str = "tekst") -> TextCheck:
    """Find and check every quotation in `text` (none found is a result too). UserError for empty or huge input."""
    text = (text or "").replace("\r\n", "\n")
    if not text.strip():
        raise UserError("empty_text", "empty text to check")
    if len(text) > MAX_TEXT_CHARS:
        raise UserError("text_too_long", f"text of {len(text)} characters exceeds {MAX_TEXT_CHARS}",
                        length=len(text), limit=MAX_TEXT_CHARS)
    checked = []
    for q in find_quotations(text):
        if len(tokenize(q.text)) <= TOO_SHORT_WORDS:
            checked.append(CheckedQuotation(q, "too_short"))
            continue
        result = checker.check(q.text[:MAX_CHARS])
        checked.append(CheckedQuotation(q, result.verdict, result.matches))
    return TextCheck(source, text, checked)
