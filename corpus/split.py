"""Split cleaned lines into the document text and the passages a reader would cite.

A passage is a paragraph: a line of its own (pages saved with one paragraph per line, blank lines or not),
or a block of hard-wrapped lines. Headings and short lead-ins are merged into what they head, list items
into their lead-in, and very long paragraphs are cut at sentence boundaries.
"""
from __future__ import annotations

import math
import re

from corpus.model import Passage
from corpus.sentences import sentence_spans

_BULLET_RE = re.compile(r"^\s*(?:[•·▪◦*\-–]|\d{1,2}[.)])\s+")
HEADING_MAX = 100
SHORT_UNIT = 60


def _is_hard_wrapped(block: list[str]) -> bool:
    """True when a block's lines are one paragraph wrapped at a fixed width (e.g. Markdown or e-mail)."""
    if len(block) < 2 or any(_BULLET_RE.match(line) for line in block):
        return False
    body = block[:-1]
    if any(len(line) > 110 for line in body):
        return False
    open_ended = sum(1 for line in body if not re.search(r"[.!?:…\"”’)]$", line))
    return open_ended >= 0.6 * len(body)


def units(lines: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join kept lines into the document text; return it with (start, end) spans of paragraph units."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    pieces: list[str] = []
    for block in blocks:
        if not block:
            continue
        if _is_hard_wrapped(block):
            pieces.append("\n".join(block))
        else:
            pieces.extend(block)
    text = ""
    spans: list[tuple[int, int]] = []
    for piece in pieces:
        if text:
            text += "\n\n"
        spans.append((len(text), len(text) + len(piece)))
        text += piece
    return text, spans


def looks_like_heading(line: str, max_chars: int = HEADING_MAX) -> bool:
    """A short line that does not end like a sentence or a clause: a title or section heading.
    (The one heading test: corpus/clean.py uses it with a longer limit to find titles.)"""
    s = line.strip()
    return 0 < len(s) <= max_chars and not re.search(r"[.!?:;,…)][\"”’]?$", s)


def _is_lead_in(unit: str) -> bool:
    """A heading or short lead-in that belongs with the paragraph after it."""
    s = unit.strip()
    return s.endswith(":") or len(s) < SHORT_UNIT or looks_like_heading(s)


def split_long(text: str, start: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut [start, start+len(text)) at sentence ends into near-equal parts no longer than max_chars if possible."""
    if len(text) <= max_chars:
        return [(start, start + len(text))]
    bounds = [a for a, _ in sentence_spans(text)[1:]]
    n = math.ceil(len(text) / max_chars)
    target = len(text) / n
    spans: list[tuple[int, int]] = []
    cur = 0
    for b in bounds:
        if b - cur >= target and len(text) - b >= target * 0.5:
            spans.append((cur, b))
            cur = b
    spans.append((cur, len(text)))
    out = []
    for a, b in spans:
        seg = text[a:b]
        a2 = a + (len(seg) - len(seg.lstrip()))
        b2 = b - (len(seg) - len(seg.rstrip()))
        out.append((start + a2, start + b2))
    return out


def passages(doc_id: str, title: str, text: str, spans: list[tuple[int, int]], max_chars: int) -> list[Passage]:
    """Group units into citable passages and number them from 1."""
    groups: list[tuple[int, int]] = []
    pending: int | None = None  # start of accumulated lead-ins
    in_list = False
    for a, b in spans:
        unit = text[a:b]
        is_item = bool(_BULLET_RE.match(unit)) and len(unit) < 400
        if in_list and is_item and groups:
            groups[-1] = (groups[-1][0], b)
            continue
        in_list = False
        if _is_lead_in(unit):
            if pending is None:
                pending = a
            in_list = unit.strip().endswith(":")
            if in_list:
                groups.append((pending, b))
                pending = None
            continue
        groups.append((pending if pending is not None else a, b))
        pending = None
    if pending is not None:
        last_end = spans[-1][1]
        if groups and last_end - pending < SHORT_UNIT:
            groups[-1] = (groups[-1][0], last_end)  # a trailing fragment joins the last paragraph
        else:
            groups.append((pending, last_end))

    result: list[Passage] = []
    for a, b in groups:
        # A list block may have been opened by a lead-in that got no items; it still stands as a passage.
        for s, e in split_long(text[a:b], a, max_chars):
            result.append(Passage(doc=doc_id, paragraph=len(result) + 1, start=s, end=e, text=text[s:e], title=title))
    return result
