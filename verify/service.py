"""What the CLI and the web app call to check a quotation against the current corpus."""
from __future__ import annotations

import threading

from rapidfuzz import fuzz

from config import Settings
from retrieval.search import search
from retrieval.service import get_index
from verify.quotes import Match, QuoteIndex, QuoteResult, build_quote_index, check_quote, clean_quote, tokenize

_lock = threading.Lock()
_quote_indexes: dict[str, QuoteIndex] = {}
CLOSEST = 3


def get_quote_index(settings: Settings) -> QuoteIndex:
    """The word-position index over the same cleaned documents the search index holds (built once)."""
    index, _ = get_index(settings)
    with _lock:
        if index.key not in _quote_indexes:
            _quote_indexes.clear()
            _quote_indexes[index.key] = build_quote_index(index.documents, index.passages)
        return _quote_indexes[index.key]


def _words(text: str) -> str:
    return " ".join(w for w, _, _ in tokenize(text))


def closest_passages(settings: Settings, quote: str, k: int = CLOSEST) -> list[Match]:
    """For an absent quote: the passages nearest in meaning and wording, so the user can judge."""
    index, embedder = get_index(settings)
    hits = search(index, embedder, quote, k=k, fusion=settings.fusion, dense_weight=settings.dense_weight)
    q = _words(quote)
    out = []
    for h in hits:
        p = h.passage
        similarity = fuzz.partial_ratio(q, _words(p.text)) / 100 if len(q) <= len(_words(p.text)) else \
            fuzz.ratio(q, _words(p.text)) / 100
        out.append(Match(doc=index.document(p.doc), paragraph=p.paragraph, paragraph_end=p.paragraph,
                         start=p.start, end=p.end, similarity=similarity, differences=[]))
    return out


def run_quote(settings: Settings, quote: str) -> QuoteResult:
    """Verdict (exact / altered / absent) with locations; for absent quotes the closest passages."""
    clean_quote(quote)  # fail fast on bad input before loading anything
    result = check_quote(get_quote_index(settings), quote)
    if result.verdict == "absent":
        result.matches = closest_passages(settings, result.quote)
    return result
