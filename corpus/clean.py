"""Turn a saved web page (plain text) into clean article text plus title, author and date.

The rules are general, not tuned to file names: page furniture (comment forms, log-in prompts, share and
sign-up calls) is recognised by the phrases such widgets use on Dutch sites, and only on lines short enough
to be a widget, so article sentences that happen to mention "reactie" survive.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from corpus.split import looks_like_heading
from prompts import word_pattern, words

_CALL_MAX_CHARS = 90
_FURNITURE_MAX_CHARS = 300
TITLE_MAX = 150  # a title may be longer than a section heading

# The phrases page widgets use (prompts/language.toml, [furniture]): whole lines, phrases anywhere in a line,
# and calls to action (dropped only when the line is short enough to be a button or a teaser link).
_furniture_re = re.compile(r"^(?:" + "|".join(words("furniture_lines")) + r")$", re.IGNORECASE)
_phrase_re = re.compile("|".join(words("furniture_phrases")), re.IGNORECASE)
_call_re = re.compile("|".join(words("calls_to_action")), re.IGNORECASE)
_reading_time_re = re.compile(r"\s*[|·•-]\s*\d+\s+minu(?:u|)t(?:en)?\s+lezen\s*$", re.IGNORECASE)

_MONTH_NAMES = words("month_names")
_MONTHS = {**{m: i + 1 for i, m in enumerate(_MONTH_NAMES)}, **{abbr: i + 1 for i, abbrs in
           enumerate(words("month_abbreviations")) for abbr in abbrs.split()}}
_WEEKDAY = r"(?:(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)\s+)?"
_date_numeric_re = re.compile(r"^(?:gepubliceerd( op)?:?\s*)?(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$", re.I)
_date_iso_re = re.compile(r"^(?:gepubliceerd( op)?:?\s*)?(\d{4})-(\d{2})-(\d{2})$", re.I)
_date_words_re = re.compile(
    r"^(?:gepubliceerd( op)?:?\s*)?" + _WEEKDAY + r"(\d{1,2})\s+(" + "|".join(_MONTHS) + r")\.?\s+(\d{4})$", re.I
)
_byline_door_re = re.compile(r"^(?:(?:blog|tekst|artikel|column|interview)\s+)?door:?\s+(?P<name>[^,|(]{3,60})", re.I)
_byline_auteur_re = re.compile(r"^auteurs?:\s*(?P<name>.*)$", re.I)
_name_re = re.compile(
    r"^(?:[A-ZÀ-Ý][\w'’.-]+|van|der|den|de|ter|ten|te|het|'t|in|op|la|le|du|von)"
    r"(?:\s+(?:[A-ZÀ-Ý][\w'’.-]+|van|der|den|de|ter|ten|te|het|'t|in|op|la|le|du|von)){1,4}$"
)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"'})


@dataclass
class Cleaned:
    """Kept lines (blank lines kept as ""), and what was learnt from the bylines."""

    lines: list[str]
    title: str
    author: str | None
    date: str | None


def fold(text: str) -> str:
    """Case-, quote- and whitespace-insensitive form used to compare short lines."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return re.sub(r"\s+", " ", text).strip(" '\"")


def parse_date(line: str) -> str | None:
    """ISO date if the whole line is a date (Dutch formats, optional reading-time suffix), else None."""
    line = _reading_time_re.sub("", line).strip()
    if m := _date_numeric_re.match(line):
        day, month, year = int(m.group(2)), int(m.group(3)), int(m.group(4))
    elif m := _date_iso_re.match(line):
        year, month, day = int(m.group(2)), int(m.group(3)), int(m.group(4))
    elif m := _date_words_re.match(line):
        day, month, year = int(m.group(2)), _MONTHS[m.group(3).lower()], int(m.group(4))
    else:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2100):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def is_furniture(line: str) -> bool:
    """True for a line that is page furniture rather than article or comment text."""
    s = line.strip().rstrip(".!").strip()
    if not s:
        return False
    if _furniture_re.match(s):
        return True
    if len(s) <= _FURNITURE_MAX_CHARS and _phrase_re.search(s):
        return True
    return len(s) <= _CALL_MAX_CHARS and bool(_call_re.search(s))


def _normalise_line(line: str) -> str:
    line = line.replace("\u00a0", " ").replace("\u200b", "").replace("\t", " ").rstrip()
    if not line.strip():
        return ""
    stripped = line.strip()
    # Markdown headings and block quotations (the readers mark HTML and .docx ones so too): keep the words.
    stripped = re.sub(r"^#{1,6}\s+", "", stripped)
    stripped = re.sub(r"^>\s?", "", stripped)
    return stripped


def clean(raw: str) -> Cleaned:
    """Drop page furniture and byline lines; return the kept lines with title, author and date."""
    lines = [_normalise_line(line) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str] = []
    seen_short: set[str] = set()
    author: str | None = None
    date: str | None = None
    byline_idx: int | None = None  # index in `kept` where the first byline sat
    pending_author_label = False

    for i, line in enumerate(lines):
        if not line:
            kept.append("")
            continue
        if is_furniture(line):
            continue
        # Bylines: metadata, not citable text.
        if pending_author_label:
            pending_author_label = False
            if _name_re.match(line) or len(line) < 60:
                author = author or line.strip()
                continue
        if m := _byline_auteur_re.match(line):
            name = m.group("name").strip()
            if name:
                author = author or name
            else:
                pending_author_label = True
            byline_idx = len(kept) if byline_idx is None else byline_idx
            continue
        if (m := _byline_door_re.match(line)) and len(line) < 120:
            author = author or m.group("name").strip()
            byline_idx = len(kept) if byline_idx is None else byline_idx
            continue
        if (d := parse_date(line)) is not None:
            date = date or d
            # A bare personal name right before the date line is the author ("Marije van der Meij").
            prev = _last_text_index(kept)
            if author is None and prev is not None and _name_re.match(kept[prev]) and len(kept[prev]) < 50:
                author = kept[prev]
                del kept[prev]
            byline_idx = len(kept) if byline_idx is None else byline_idx
            continue
        key = fold(line)
        if len(line) < 120 and key in seen_short:
            continue  # a repeated heading (e.g. the title again as an image caption)
        if len(line) < 120:
            seen_short.add(key)
        kept.append(line)

    title = _pick_title(kept, byline_idx)
    return Cleaned(lines=_squeeze_blanks(kept), title=title, author=author or _author_note(kept), date=date)


_BIO_RE = re.compile(r"^(?P<name>[^,.:;()]{5,60}?) (?:is|was|werkt) ")
AUTHOR_NOTE_MAX = 400  # an "about the author" note is a short paragraph


def _author_note(lines: list[str]) -> str | None:
    """The author named in an "about the author" note: a short paragraph that starts with a person's name
    and refers to the text itself ("Monique Kremer is hoogleraar ... Dit artikel is een verkorte versie van
    haar lezing.")."""
    for line in lines:
        if len(line) > AUTHOR_NOTE_MAX or not word_pattern("self_reference").search(fold(line)):
            continue
        if (m := _BIO_RE.match(line)) and _name_re.match(m.group("name")):
            return m.group("name")
    return None


def _last_text_index(lines: list[str]) -> int | None:
    for j in range(len(lines) - 1, -1, -1):
        if lines[j]:
            return j
    return None


def _pick_title(lines: list[str], byline_idx: int | None) -> str:
    """The heading right above an early byline (skipping one subtitle), else the first heading, else line one."""
    text_idx = [j for j, line in enumerate(lines) if line]
    if not text_idx:
        return ""
    if byline_idx is not None:
        before = [j for j in text_idx if j < byline_idx][-3:]
        early = len([j for j in text_idx if j < byline_idx]) <= 5
        if early:
            for j in reversed(before):
                if looks_like_heading(lines[j], TITLE_MAX):
                    return _strip_quotes(lines[j])
    for j in text_idx[:3]:
        if looks_like_heading(lines[j], TITLE_MAX):
            return _strip_quotes(lines[j])
    first = lines[text_idx[0]]
    return _strip_quotes(first[:120])


def _strip_quotes(s: str) -> str:
    s = s.strip()
    pairs = {"'": "'", '"': '"', "‘": "’", "“": "”", "„": "”"}
    if len(s) > 2 and s[0] in pairs and s[-1] == pairs[s[0]]:
        return s[1:-1].strip()
    return s


def _squeeze_blanks(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return out
