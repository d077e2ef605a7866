"""Dutch word analysis shared by BM25 and the support checks: tokens, stopwords, Snowball stems."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_stemmer = Stemmer.Stemmer("dutch")


def strip_accents(text: str) -> str:
    """continuïteit -> continuiteit; keeps the letters, drops combining marks."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


STOPWORDS = frozenset(strip_accents(w) for w in STOPWORDS_DUTCH)


def words(text: str) -> list[str]:
    """Lower-cased, accent-free word tokens (numbers kept)."""
    return _WORD_RE.findall(strip_accents(text).lower())


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning (stopwords and 1-letter tokens dropped)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]
