"""Find the quotations in a whole text: every quoting style a Dutch text uses, and not the apostrophes.

Styles: „…” (and „…“), “…”, «…», "…", ‘…’, '…', and block quotations (lines starting with "> ", which the
readers also write for HTML <blockquote> and indented or italic .docx paragraphs). A quotation may span line
breaks but not a blank line (a new paragraph). Inside a quotation, quotes of another style are the quoted
person's own and are not listed apart (only the outer quotation is checked).

Single quotes are the hard part, because the same character is the Dutch apostrophe: ’t, zo’n, d’r, a’dam,
foto’s, ’s avonds. A single quote opens only at the start of a word (not after a letter) and not before an
elision ('t, 's, 'n, 'k, 'm, 'r, 'em); it closes only after a non-space and before a non-letter. A quote
character right after a digit is a measure (5'10"), not a quotation mark.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from verify.quotes import QUOTE_EDGES

MAX_SPAN = 6000  # characters: a quotation longer than this is a missed closing mark, not a quotation

_BLOCK_LINE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.M)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_ELISION = re.compile(r"(?:t|s|n|k|m|r|em|ie)(?=[\s\-–.,;:!?)]|$)", re.I)
_EDGE = QUOTE_EDGES + "‹›"

# Double-quote styles: opening mark -> (style, closing marks)
_DOUBLE = {"„": ("low-high", "”“"), "“": ("curly-double", "”"), "«": ("guillemets", "»"),
           '"': ("straight-double", '"')}
_SINGLE = {"‘": ("curly-single", "’"), "'": ("straight-single", "'"), "‚": ("low-high-single", "’‘")}


@dataclass(frozen=True)
class Quotation:
    text: str  # the quoted words (for a block quotation without its "> " markers)
    start: int  # offsets of the quoted words in the checked text
    end: int
    style: str  # low-high, curly-double, guillemets, straight-double, curly-single, straight-single, block


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def _block_quotations(text: str) -> list[Quotation]:
    """Runs of lines that start with '>' (Markdown block quotations)."""
    out: list[Quotation] = []
    lines = text.splitlines(keepends=True)
    pos, run = 0, []  # run: (content start, content end) per line
    for line in lines + [""]:
        m = _BLOCK_LINE.match(line) if line else None
        if m:
            body = line.rstrip("\r\n")
            run.append((pos + m.end(), pos + len(body)))
        elif run:
            start, end = _trimmed(text, run[0][0], run[-1][1])
            if start < end:
                words = " ".join(text[a:b].strip() for a, b in run if text[a:b].strip())
                out.append(Quotation(words.strip(_EDGE), start, end, "block"))
            run = []
        pos += len(line)
    return out


def _opens(text: str, i: int) -> bool:
    """Can the mark at i open a quotation: at a word's start, followed by something quoted."""
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return not before.isalnum() and not after.isspace()


def _closes(text: str, i: int) -> bool:
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return not before.isspace() and not after.isalnum()


def _paired(text: str, marks: dict[str, tuple[str, str]], taken: list[tuple[int, int]],
            single: bool) -> list[Quotation]:
    """Pair opening and closing marks left to right, outside the spans already `taken`."""
    out: list[Quotation] = []
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(text)]
    closers = "".join(c for _, cs in marks.values() for c in cs)
    candidates = [i for i, ch in enumerate(text) if ch in marks or ch in closers]
    open_at: int | None = None
    style, closing = "", ""
    for i in candidates:
        if any(a <= i < b for a, b in taken):
            continue
        ch = text[i]
        if open_at is not None:
            crossed = any(open_at < b < i for b in breaks)
            if crossed or i - open_at > MAX_SPAN:
                open_at = None  # an unclosed mark: forget it and read this one afresh
            elif ch in closing and _closes(text, i):
                start, end = _trimmed(text, open_at + 1, i)
                if start < end:
                    out.append(Quotation(text[start:end], start, end, style))
                open_at = None
                continue
            else:
                continue
        if ch not in marks or not _opens(text, i):
            continue
        if i > 0 and text[i - 1].isdigit():
            continue  # 5'10": a measure
        if single and _ELISION.match(text, i + 1):
            continue  # ’t, ’s avonds, ’n
        open_at, (style, closing) = i, marks[ch]
    return out


def find_quotations(text: str) -> list[Quotation]:
    """Every quotation in `text`, in reading order; only the outer one where quotations nest."""
    found = _block_quotations(text)
    taken = [(q.start, q.end) for q in found]
    doubles = _paired(text, _DOUBLE, taken, single=False)
    found += doubles
    taken += [(q.start - 1, q.end + 1) for q in doubles]
    found += _paired(text, _SINGLE, taken, single=True)
    outer = [q for q in found if not any(o is not q and o.start <= q.start and q.end <= o.end for o in found)]
    return sorted(outer, key=lambda q: q.start)
