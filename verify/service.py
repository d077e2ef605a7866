"""Check a quotation against the corpus a Retriever holds: verdict, locations, and for absent quotes the
passages nearest to it. The word-position index is built once per Retriever (per state of the corpus)."""
from __future__ import annotations

import threading

from rapidfuzz import fuzz

from retrieval.service import Retriever
from verify.quotes import Match, QuoteIndex, QuoteResult, build_quote_index, check_quote, clean_quote, tokenize

CLOSEST = 3


def _words(text: str) -> str:
    return " ".join(w for w, _, _ in tokenize(text))


class QuoteChecker:
    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        self._index: QuoteIndex | None = None
        self._lock = threading.Lock()

    @property
    def quote_index(self) -> QuoteIndex:
        with self._lock:
            if self._index is None:
                index = self.retriever.index
                self._index = build_quote_index(index.documents, index.passages)
            return self._index

    def closest_passages(self, quote: str, k: int = CLOSEST) -> list[Match]:
        """For an absent quote: the passages nearest in meaning and wording, so the user can judge."""
        q = _words(quote)
        out = []
        for h in self.retriever.search(quote[:2000], k):
            p = h.passage
            words = _words(p.text)
            similarity = (fuzz.partial_ratio(q, words) if len(q) <= len(words) else fuzz.ratio(q, words)) / 100
            out.append(Match(doc=self.retriever.index.document(p.doc), paragraph=p.paragraph,
                             paragraph_end=p.paragraph, start=p.start, end=p.end, similarity=similarity,
                             differences=[]))
        return out

    def check(self, quote: str) -> QuoteResult:
        """Verdict (exact / altered / absent) with locations; for absent quotes the closest passages."""
        clean_quote(quote)  # fail fast on bad input before building anything
        result = check_quote(self.quote_index, quote)
        if result.verdict == "absent":
            result.matches = self.closest_passages(result.quote)
        return result
