"""Is a text Dutch? English words in the model's own words, found with word frequencies, not a hand list.

wordfreq knows how often a word is used in Dutch and in English. A word counts as English when it is common
in English and at least ten times (one zipf unit) more common there than in Dutch: "the", "work", "people"
are, "of", "die", "hand", "over" are not (they are Dutch words too). Words that occur in the sources ("core
business", "caseload") are the authors' own and never count against an answer.
"""
from __future__ import annotations

import re
from functools import lru_cache

ENGLISH_MIN_ZIPF = 3.0  # common enough in English to be recognised as such (about once per million words)
ENGLISH_MARGIN = 1.0  # zipf units by which English use must exceed Dutch use
_WORD_RE = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
# Text between quotation marks is the source's, not the model's.
_QUOTED_RE = re.compile(r"„[^”]*”|“[^”]*”|\"[^\"]*\"|«[^»]*»")


@lru_cache(maxsize=50_000)
def is_english(word: str) -> bool:
    from wordfreq import zipf_frequency

    w = word.lower()
    en = zipf_frequency(w, "en")
    return en >= ENGLISH_MIN_ZIPF and en - zipf_frequency(w, "nl") >= ENGLISH_MARGIN


def known_in_english(word: str) -> bool:
    """An English word or name in common use ("Netherlands", "Chinese"), whatever its Dutch use."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en") >= ENGLISH_MIN_ZIPF


def english_words(text: str, allowed: str = "") -> list[str]:
    """English words in `text` outside quotations, leaving out words that occur in `allowed` (the sources)."""
    own = {w.lower() for w in _WORD_RE.findall(allowed)}
    return [w for w in _WORD_RE.findall(_QUOTED_RE.sub(" ", text)) if w.lower() not in own and is_english(w)]


def looks_english(text: str) -> bool:
    """Whether a question is written in English: most of its words are English words."""
    found = _WORD_RE.findall(text)
    return bool(found) and sum(is_english(w) for w in found) >= 0.5 * len(found)
