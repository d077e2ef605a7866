"""Quote checking against the whole corpus: exact, altered or absent, and exactly where.

Matching works on word tokens: lower-cased, diacritics removed, punctuation and quotation marks ignored.
That makes typographic quotes, dashes, line breaks, case, accents and a trailing full stop irrelevant,
as they should be. An ellipsis ("...", "…", "[…]") stands for omitted words: the pieces must occur in
order, close together, in one document.

A word-position index (token ids in one numpy array, positions grouped per token) finds exact
occurrences through the rarest word of each piece, and candidate places for misquotes by voting on where
the quote's rarer words would start; rapidfuzz then aligns the quote word by word against each candidate.
"""
from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from rapidfuzz.distance import Indel

from corpus.markup import strip_markup
from corpus.model import Document, Passage
from errors import UserError
from retrieval.text import STOPWORDS, strip_accents

MIN_WORDS = 2
QUOTE_EDGES = " \t\n\"'“”„‘’‚«»"  # stripped from a quotation's ends: space and quotation marks
MAX_CHARS = 5000
ALTERED_MIN_COVERAGE = 0.5  # of the quote's content words, in order
ALTERED_MIN_SHARE = 0.6  # of all its words
ALTERED_MIN_MATCHED = 3
ELLIPSIS_MAX_GAP = 400  # words that an ellipsis may stand for
CANDIDATES = 8
PRESELECT = 64
MAX_POSTINGS = 20_000  # words more frequent than this do not vote for candidate places
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_ELLIPSIS_RE = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\(\s*(?:\.\.\.|…)\s*\)|\.\.\.+|…)\s*")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) for every word of `text`, offsets into `text`."""
    return [(strip_accents(m.group()).casefold(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


@dataclass
class QuoteIndex:
    """Word positions of every document, concatenated. Built once per corpus index."""

    documents: list[Document]
    passages: list[Passage]
    vocab: dict[str, int]
    tokens: np.ndarray  # token id per corpus position
    doc_of: np.ndarray  # document number per position
    starts: np.ndarray  # char offset in its document
    ends: np.ndarray
    order: np.ndarray  # positions sorted by token id
    offsets: np.ndarray  # order[offsets[t]:offsets[t+1]] are the positions of token t
    doc_first: np.ndarray  # first position of each document
    _paragraphs: dict[str, list[Passage]] = field(default_factory=dict)

    def positions(self, token_id: int) -> np.ndarray:
        return self.order[self.offsets[token_id]:self.offsets[token_id + 1]]

    def frequency(self, token_id: int) -> int:
        return int(self.offsets[token_id + 1] - self.offsets[token_id])

    def paragraph_at(self, doc_id: str, char: int) -> Passage | None:
        """The passage holding character `char` (or the next one, if it falls between passages)."""
        paras = self._paragraphs.get(doc_id, [])
        for p in paras:
            if char < p.end:
                return p
        return paras[-1] if paras else None


def build_quote_index(documents: list[Document], passages: list[Passage]) -> QuoteIndex:
    """Word positions in typed arrays filled document by document: 20 bytes a word while building, where Python
    lists of ints took about 130 (a 1M-passage corpus peaked at +9.5 GB; eval/bigcorpus.py)."""
    vocab: dict[str, int] = {}
    ids, starts, ends = array("i"), array("q"), array("q")
    doc_first, lengths = [], []
    for doc in documents:
        doc_first.append(len(ids))
        words = tokenize(doc.text)
        lengths.append(len(words))
        ids.extend(vocab.setdefault(w, len(vocab)) for w, _, _ in words)
        starts.extend(s for _, s, _ in words)
        ends.extend(e for _, _, e in words)
    tokens = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, np.int32)  # no copies
    order = np.argsort(tokens, kind="stable").astype(np.int64)
    counts = np.bincount(tokens, minlength=len(vocab)) if len(tokens) else np.zeros(len(vocab), np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    paragraphs: dict[str, list[Passage]] = {}
    for p in passages:
        paragraphs.setdefault(p.doc, []).append(p)
    return QuoteIndex(documents=documents, passages=passages, vocab=vocab, tokens=tokens,
                      doc_of=np.repeat(np.arange(len(documents), dtype=np.int32), lengths),
                      starts=np.frombuffer(starts, dtype=np.int64) if len(starts) else np.zeros(0, np.int64),
                      ends=np.frombuffer(ends, dtype=np.int64) if len(ends) else np.zeros(0, np.int64),
                      order=order, offsets=offsets,
                      doc_first=np.asarray(doc_first, dtype=np.int64), _paragraphs=paragraphs)


# ---- input --------------------------------------------------------------------------------------------

def clean_quote(quote: str | None) -> str:
    """Strip control characters and surrounding quotation marks; reject empty, one-word and huge input."""
    text = "".join(ch if (ch.isprintable() or ch in "\n\t") else " " for ch in strip_markup(quote or ""))
    text = text.strip()
    if len(text) > MAX_CHARS:
        raise UserError("quote_too_long", f"quote of {len(text)} characters exceeds {MAX_CHARS}",
                        length=len(text), limit=MAX_CHARS)
    text = text.strip(QUOTE_EDGES)
    n_words = len(_WORD_RE.findall(text))
    if n_words == 0:
        raise UserError("empty_quote", "empty quote")
    if n_words < MIN_WORDS:
        raise UserError("quote_too_short", f"quote of {n_words} word is too short to check")
    return text


# ---- matching -----------------------------------------------------------------------------------------

@dataclass
class Match:
    doc: Document
    paragraph: int
    paragraph_end: int
    start: int
    end: int
    similarity: float
    differences: list[dict]

    @property
    def text(self) -> str:
        return self.doc.text[self.start:self.end]

    def to_dict(self) -> dict:
        out = {"doc": self.doc.id, "title": self.doc.title, "author": self.doc.author, "date": self.doc.date,
               "paragraph": self.paragraph, "start": self.start, "end": self.end, "text": self.text,
               "similarity": round(self.similarity, 3), "differences": self.differences}
        if self.paragraph_end != self.paragraph:
            out["paragraph_end"] = self.paragraph_end
        return out


@dataclass
class QuoteResult:
    quote: str
    verdict: str  # exact | altered | absent
    matches: list[Match]

    def to_dict(self) -> dict:
        return {"quote": self.quote, "verdict": self.verdict, "matches": [m.to_dict() for m in self.matches]}


def _segments(quote: str) -> list[list[tuple[str, int, int]]]:
    """Word tokens of each piece between ellipses (offsets into `quote`)."""
    pieces, pos = [], 0
    for m in _ELLIPSIS_RE.finditer(quote):
        pieces.append((pos, m.start()))
        pos = m.end()
    pieces.append((pos, len(quote)))
    segs = []
    for a, b in pieces:
        toks = [(w, s + a, e + a) for w, s, e in tokenize(quote[a:b])]
        if toks:
            segs.append(toks)
    return segs


def _occurrences(qi: QuoteIndex, ids: list[int]) -> np.ndarray:
    """Corpus positions where the token sequence `ids` starts (within one document)."""
    if any(i < 0 for i in ids):
        return np.zeros(0, dtype=np.int64)
    rare = min(range(len(ids)), key=lambda j: qi.frequency(ids[j]))
    starts = qi.positions(ids[rare]) - rare
    n = len(qi.tokens)
    starts = starts[(starts >= 0) & (starts + len(ids) <= n)]
    for j, t in enumerate(ids):
        if len(starts) == 0:
            break
        starts = starts[qi.tokens[starts + j] == t]
    if len(starts):
        starts = starts[qi.doc_of[starts] == qi.doc_of[starts + len(ids) - 1]]
    return np.sort(starts)


def _make_match(qi: QuoteIndex, first: int, last: int, similarity: float, differences: list[dict]) -> Match:
    doc = qi.documents[int(qi.doc_of[first])]
    start, end = int(qi.starts[first]), int(qi.ends[last])
    p1 = qi.paragraph_at(doc.id, start)
    p2 = qi.paragraph_at(doc.id, end - 1)
    return Match(doc=doc, paragraph=p1.paragraph if p1 else 0, paragraph_end=p2.paragraph if p2 else 0,
                 start=start, end=end, similarity=similarity, differences=differences)


def _exact(qi: QuoteIndex, segs: list[list[tuple[str, int, int]]]) -> list[Match]:
    ids_per_seg = [[qi.vocab.get(w, -1) for w, _, _ in seg] for seg in segs]
    first_hits = _occurrences(qi, ids_per_seg[0])
    matches = []
    for start in first_hits[:50]:
        cur_end = int(start) + len(ids_per_seg[0]) - 1
        ok = True
        for ids in ids_per_seg[1:]:
            nxt = _occurrences(qi, ids)
            nxt = nxt[(nxt > cur_end) & (nxt <= cur_end + 1 + ELLIPSIS_MAX_GAP)
                      & (qi.doc_of[nxt] == qi.doc_of[start])] if len(nxt) else nxt
            if not len(nxt):
                ok = False
                break
            cur_end = int(nxt[0]) + len(ids) - 1
        if ok:
            matches.append(_make_match(qi, int(start), cur_end, 1.0, []))
        if len(matches) >= 10:
            break
    return matches


def _candidates(qi: QuoteIndex, q_ids: list[int]) -> list[int]:
    """Likely start positions of a (mis)quote: where most of its rarer words agree on an alignment.

    Each quote word votes once for every bucket of 4 corpus positions where the quote would start if that
    occurrence were part of it; very common words are left out when there are enough others.
    """
    known = sorted(((j, t) for j, t in enumerate(q_ids) if t >= 0), key=lambda jt: qi.frequency(jt[1]))
    if not known:
        return []
    limit = max(len(known) // 2 + 1, min(len(known), 6))
    bucket = 4
    votes = []
    for n_used, (j, t) in enumerate(known[:limit]):
        if qi.frequency(t) > MAX_POSTINGS and n_used >= 2:
            break
        votes.append(np.unique((qi.positions(t) - j) // bucket))
    buckets, counts = np.unique(np.concatenate(votes), return_counts=True)
    need = 2 if len(known) > 2 else 1
    top = [int(buckets[i]) * bucket for i in np.argsort(-counts, kind="stable")[:PRESELECT] if counts[i] >= need]
    return _rerank(qi, q_ids, top)[:CANDIDATES]


def _rerank(qi: QuoteIndex, q_ids: list[int], starts: list[int]) -> list[int]:
    """Order candidate places by how many of the quote's word pairs (then words) occur there in order.

    Votes alone tie between the real sentence and chance co-occurrences in a large corpus; consecutive
    word pairs do not occur by chance."""
    if len(starts) <= 1:
        return starts
    v = np.int64(len(qi.vocab) + 1)
    q = np.asarray(q_ids, dtype=np.int64)
    q_pairs = q[:-1] * v + q[1:]
    q_pairs = q_pairs[(q[:-1] >= 0) & (q[1:] >= 0)]
    q_words = q[q >= 0]
    n = len(q_ids)
    scored = []
    for start in starts:
        w = qi.tokens[max(0, start - 8):start + n + 8].astype(np.int64)
        pairs = int(np.isin(w[:-1] * v + w[1:], q_pairs).sum()) if len(w) > 1 else 0
        words = len(np.intersect1d(w, q_words))
        scored.append((-pairs, -words, start))
    return [s for _, _, s in sorted(scored)]


def _blocks(q_ids: list[int], window: list[int], breaks: Callable[[int], bool]) -> list[list[int]]:
    """LCS alignment as blocks [is_equal, q_a, q_b, w_a, w_b]; window words before/after the quote dropped.

    Adjacent deletions and insertions are merged into one differing block. At the edges, a differing block
    keeps only as many window words as it has quote words, and none across a sentence break (`breaks(i)`:
    a sentence ends before window word i): the rest is context, not a difference.
    """
    blocks: list[list[int]] = []
    for o in Indel.opcodes(q_ids, window):
        eq = o.tag == "equal"
        if blocks and not eq and not blocks[-1][0]:
            blocks[-1][2], blocks[-1][4] = o.src_end, o.dest_end
        else:
            blocks.append([int(eq), o.src_start, o.src_end, o.dest_start, o.dest_end])
    _strip_context(blocks)
    _pull_in_edges(blocks, q_ids, window)
    _strip_context(blocks)
    # A differing edge block takes as many context words as it has quote words ("utopie" -> "illusie"),
    # but only next to a solid anchor: after a lone matched word the quote has simply wandered off.
    if blocks and not blocks[0][0]:
        b = blocks[0]
        anchored = len(blocks) > 1 and blocks[1][2] - blocks[1][1] >= 2
        b[3] = b[4] - (min(b[2] - b[1], b[4] - b[3]) if anchored else 0)
        b[3] = max([b[3]] + [i for i in range(b[3] + 1, b[4] + 1) if breaks(i)])
    if blocks and not blocks[-1][0]:
        b = blocks[-1]
        anchored = len(blocks) > 1 and blocks[-2][2] - blocks[-2][1] >= 2
        b[4] = b[3] + (min(b[2] - b[1], b[4] - b[3]) if anchored else 0)
        b[4] = min([b[4]] + [i for i in range(b[3], b[4]) if breaks(i)])
    return blocks


def _strip_context(blocks: list[list[int]]) -> None:
    """Window words before the quote's first word and after its last are context: drop them."""
    while blocks and not blocks[0][0] and blocks[0][1] == blocks[0][2]:
        blocks.pop(0)
    while blocks and not blocks[-1][0] and blocks[-1][1] == blocks[-1][2]:
        blocks.pop()


def _pull_in_edges(blocks: list[list[int]], q_ids: list[int], window: list[int]) -> None:
    """LCS ties are broken arbitrarily: a quote's first word ("Het") may match an earlier "het" in the
    context, leaving a gap of context words inside the match. Move such edge words next to the rest. The
    edge run may follow (or precede) a few quote words that match nothing ("Toen De hamvraag ...")."""
    _pull_in_leading(blocks, q_ids, window)
    mirrored = _mirrored(blocks, len(q_ids), len(window))  # the trailing edge is the leading one, read backwards
    _pull_in_leading(mirrored, q_ids[::-1], window[::-1])
    blocks[:] = _mirrored(mirrored, len(q_ids), len(window))


def _mirrored(blocks: list[list[int]], n_quote: int, n_window: int) -> list[list[int]]:
    """The same alignment with quote and window read from the end (its own inverse)."""
    return [[eq, n_quote - qb, n_quote - qa, n_window - wb, n_window - wa] for eq, qa, qb, wa, wb in reversed(blocks)]


def _pull_in_leading(blocks: list[list[int]], q_ids: list[int], window: list[int]) -> None:
    i = 0 if blocks and blocks[0][0] else 1  # the first run of equal words, after unmatched quote words
    if len(blocks) < i + 3 or not blocks[i][0] or blocks[i + 1][0] or blocks[i + 1][1] != blocks[i + 1][2]:
        return
    _, qa, qb, wa, _ = blocks[i]
    gap_end = blocks[i + 1][4]
    k = qb - qa
    if window[gap_end - k:gap_end] != q_ids[qa:qb]:
        return
    blocks[i] = [0, qa, qa, wa, gap_end - k]
    blocks[i + 1] = [1, qa, qb, gap_end - k, gap_end]
    if blocks[i + 2][0]:
        blocks[i + 1][2], blocks[i + 1][4] = blocks[i + 2][2], blocks[i + 2][4]
        del blocks[i + 2]
    if i:  # the context block and the unmatched words are one differing block again
        blocks[0][4] = blocks[1][4]
        del blocks[1]


@dataclass
class _Aligned:
    first: int
    last: int
    matched: int
    coverage: float  # share of the quote's content words found in order
    similarity: float
    span_words: int
    differences: list[dict]
    edits: float  # what the differences cost, see _edit_cost
    anchor: tuple[int, int, int, int]  # the longest run of equal words: quote from, to; corpus from, to


GAP_OPEN, GAP_WORD = 1.0, 0.1


def _edit_cost(quote_words: int, source_words: int) -> float:
    """Changed words cost one each; words only in the quote or only in the source cost one gap and a tenth a
    word (an affine gap, as in sequence alignment): dropping eight words in one place is a smaller error than
    changing three, and an early "het" matched across a paragraph is a long gap for one word."""
    extra = abs(quote_words - source_words)
    return min(quote_words, source_words) + (GAP_OPEN + GAP_WORD * extra if extra else 0.0)


def _sentence_breaks(qi: QuoteIndex, doc_text: str, lo: int, hi: int) -> Callable[[int], bool]:
    """Does a sentence or paragraph end right before window word i (of positions lo..hi; the window's edges
    count as breaks)? Asked only for the few words at a quote's edges, so looked up when asked."""
    def breaks(i: int) -> bool:
        pos = lo + i
        if pos <= lo or pos >= hi:
            return True
        between = doc_text[int(qi.ends[pos - 1]):int(qi.starts[pos])]
        return "\n" in between or any(c in between for c in ".!?")
    return breaks


def _align(qi: QuoteIndex, q_tokens: list[tuple[str, int, int]], q_ids: list[int], quote: str,
           approx_start: int, gap_after: set[int]) -> _Aligned | None:
    """Align the quote word by word against the corpus around approx_start (one document).

    The wide window lets a quote that left words out still match, but the LCS also takes a stray "het" or
    "zijn" from a sentence before for the quote's first word. So the quote is aligned a second time, in a
    window just around its longest run of equal words, and the alignment that needs fewer edits wins."""
    n = len(q_ids)
    slack = n + 8 + (ELLIPSIS_MAX_GAP // 4 if gap_after else 0)
    # The document of the quote's middle: its start, rounded down to a bucket, may lie in the document before.
    anchor = min(max(approx_start + n // 2, 0), len(qi.tokens) - 1)
    doc_num = int(qi.doc_of[anchor])
    doc_lo = int(qi.doc_first[doc_num])
    doc_hi = int(qi.doc_first[doc_num + 1]) if doc_num + 1 < len(qi.doc_first) else len(qi.tokens)
    lo, hi = max(doc_lo, approx_start - slack), min(doc_hi, approx_start + n + slack)
    wide = _align_window(qi, q_tokens, q_ids, quote, lo, hi, doc_num, gap_after)
    if wide is None or gap_after:
        return wide
    qa, qb, wa, wb = wide.anchor
    near_lo, near_hi = max(doc_lo, wa - qa - NEAR_SLACK), min(doc_hi, wb + (n - qb) + NEAR_SLACK)
    if (near_lo, near_hi) == (lo, hi):
        return wide
    near = _align_window(qi, q_tokens, q_ids, quote, near_lo, near_hi, doc_num, gap_after)
    return near if near is not None and near.edits < wide.edits else wide


NEAR_SLACK = 3  # words beyond the quote's length on either side of its longest run


def _align_window(qi: QuoteIndex, q_tokens: list[tuple[str, int, int]], q_ids: list[int], quote: str,
                  lo: int, hi: int, doc_num: int, gap_after: set[int]) -> _Aligned | None:
    """Align the quote against corpus positions lo..hi of one document."""
    if hi <= lo:
        return None
    n = len(q_ids)
    doc = qi.documents[doc_num]
    blocks = _blocks(q_ids, qi.tokens[lo:hi].tolist(), _sentence_breaks(qi, doc.text, lo, hi))
    if not any(b[0] for b in blocks):
        return None
    first, last = lo + blocks[0][3], lo + blocks[-1][4] - 1
    matched = content_total = content_matched = omitted = 0
    edits = 0.0
    diffs: list[dict] = []
    for eq, qa, qb, wa, wb in blocks:
        content = sum(1 for w, _, _ in q_tokens[qa:qb] if w not in STOPWORDS)
        content_total += content
        if eq:
            matched += qb - qa
            content_matched += content
            continue
        if qa == qb and qa in gap_after:
            omitted += wb - wa  # words an ellipsis stands for
            continue
        edits += _edit_cost(qb - qa, wb - wa)
        q_words = quote[q_tokens[qa][1]:q_tokens[qb - 1][2]] if qb > qa else ""
        s_words = doc.text[int(qi.starts[lo + wa]):int(qi.ends[lo + wb - 1])] if wb > wa else ""
        kind = "changed" if q_words and s_words else ("added" if q_words else "dropped")
        diffs.append({"type": kind, "quote": q_words, "source": s_words})
    longest = max((b for b in blocks if b[0]), key=lambda b: b[2] - b[1])
    span_words = last - first + 1 - omitted
    coverage = content_matched / content_total if content_total else matched / n
    similarity = 2 * matched / (n + max(span_words, 1))
    return _Aligned(first, last, matched, coverage, similarity, span_words, diffs, edits,
                    (longest[1], longest[2], lo + longest[3], lo + longest[4]))


def _is_misquote(a: _Aligned, n: int) -> bool:
    """Most of the quote's content words occur in order, in a span not much longer than the quote."""
    return (a.coverage >= ALTERED_MIN_COVERAGE and a.matched >= max(ALTERED_MIN_SHARE * n, min(ALTERED_MIN_MATCHED, n))
            and a.span_words <= 3 * n + 5)


def check_quote(qi: QuoteIndex, quote: str) -> QuoteResult:
    """Verdict for one quotation, with every place it (nearly) occurs."""
    text = clean_quote(quote)
    segs = _segments(text)
    exact = _exact(qi, segs)
    if exact:
        return QuoteResult(quote=text, verdict="exact", matches=exact)
    q_tokens = [t for seg in segs for t in seg]
    q_ids = [qi.vocab.get(w, -1) for w, _, _ in q_tokens]
    gap_after: set[int] = set()
    pos = 0
    for seg in segs[:-1]:
        pos += len(seg)
        gap_after.add(pos)  # an ellipsis sits before quote word number `pos`
    found: dict[tuple[int, int], _Aligned] = {}
    for cand in _candidates(qi, q_ids):
        a = _align(qi, q_tokens, q_ids, text, cand, gap_after)
        if a and ((a.first, a.last) not in found or found[(a.first, a.last)].similarity < a.similarity):
            found[(a.first, a.last)] = a
    ranked = sorted(found.values(), key=lambda a: (-_is_misquote(a, len(q_ids)), -a.coverage, -a.similarity))
    kept: list[_Aligned] = []
    for a in ranked:  # one match per place: drop overlapping weaker alignments
        if not any(k.first <= a.last and a.first <= k.last for k in kept):
            kept.append(a)
    misquotes = [a for a in kept if _is_misquote(a, len(q_ids))]
    verdict = "altered" if misquotes else "absent"
    shown = misquotes[:3] if misquotes else kept[:3]
    return QuoteResult(quote=text, verdict=verdict,
                       matches=[_make_match(qi, a.first, a.last, a.similarity, a.differences) for a in shown])
