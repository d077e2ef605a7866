"""Dutch sentence boundaries with character offsets, shared by passage splitting, prompt building and the
support check, so that all three agree on what a sentence is.

sentencex (Wikimedia's rule-based segmenter) knows Dutch abbreviations and leaves numbers such as 53.200
alone; two rules are added on top: a line break always ends a sentence, and a "sentence" that starts with
a lower-case letter continues the previous one ("o.a. dat", "1,5 mln. euro").
"""
from __future__ import annotations

import re

import sentencex

_LINE_RE = re.compile(r"[^\n]+")
_OPENING_RE = re.compile(r"[\"'“‘„(«\s]*")
_ELIDED_RE = re.compile(r"\s*['’][stn]\s")  # ’s Avonds, ’t Gooi: a sentence may start with these


def _continues(segment: str) -> bool:
    if _ELIDED_RE.match(segment):
        return False
    rest = segment[_OPENING_RE.match(segment).end():]
    return bool(rest) and (rest[0].islower() or (not rest[0].isalnum() and rest[0] not in "—–-•"))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, surrounding whitespace excluded."""
    spans: list[tuple[int, int]] = []
    for line in _LINE_RE.finditer(text):
        line_spans: list[tuple[int, int]] = []
        text_of_line = line.group()
        for b in sentencex.get_sentence_boundaries("nl", text_of_line):
            segment = b["text"]
            if not segment.strip():
                continue
            start, end = b["start_index"], b["end_index"]
            if line_spans and _ELIDED_RE.match(text_of_line, start - 1) and text_of_line[start - 2:start - 1].isspace():
                # sentencex took the apostrophe of "’s Avonds" for a closing quote of the previous sentence
                line_spans[-1] = (line_spans[-1][0], start - 1)
                line_spans.append((start - 1, end))
            elif line_spans and _continues(segment):
                line_spans[-1] = (line_spans[-1][0], end)
            else:
                line_spans.append((start, end))
        for start, end in line_spans:
            piece = text_of_line[start:end]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if end - trail > start + lead:
                spans.append((line.start() + start + lead, line.start() + end - trail))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of `text` as strings."""
    return [text[s:e] for s, e in sentence_spans(text)]
