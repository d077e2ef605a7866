"""Where is a misquotation? Generated misquotes of every seed sentence, and whether the checker finds them
in the right place.

    .venv/bin/python -m eval.misquotes            # every sentence of 8-40 words, five kinds of change

Each sentence of the seed corpus is quoted five ways a writer gets a quote wrong: its first word replaced,
a word added before it, a middle word replaced, a middle word left out, its last word replaced. The
checker must call each "altered" and place it on the sentence: the same document, starting and ending in
the sentence's own paragraph, with at most two words of the source outside the sentence at either end.
A location that reaches into the paragraph before shows the reader text the writer never quoted.
"""
from __future__ import annotations

import argparse
import random
import re
from collections import Counter

import config
from corpus.load import load_corpus
from corpus.model import Document, Passage
from corpus.sentences import sentence_spans
from eval.common import write_result
from verify.quotes import build_quote_index, check_quote, tokenize

KINDS = ("first_replaced", "word_added_before", "middle_replaced", "middle_dropped", "last_replaced")
STRANGERS = ("Er", "Zo", "Toen", "Dus", "Volgens mij", "ook", "zeker", "nooit", "misschien", "vaak")
MIN_WORDS, MAX_WORDS = 8, 40
SLACK_WORDS = 2


def variant(words: list[str], kind: str, rng: random.Random) -> str:
    w = list(words)
    mid = len(w) // 2
    if kind == "first_replaced":
        w[0] = rng.choice(STRANGERS[:4])
    elif kind == "word_added_before":
        w.insert(0, rng.choice(STRANGERS[:5]))
    elif kind == "middle_replaced":
        w[mid] = rng.choice(STRANGERS[5:])
    elif kind == "middle_dropped":
        del w[mid]
    else:
        w[-1] = rng.choice(STRANGERS[5:])
    return " ".join(w)


def sentences(documents: list[Document], passages: list[Passage]) -> list[tuple]:
    """(document, paragraph passage, start, end) of every sentence of MIN_WORDS..MAX_WORDS words."""
    docs = {d.id: d for d in documents}
    out = []
    for p in passages:
        for s, e in sentence_spans(p.text):
            text = p.text[s:e]
            if MIN_WORDS <= min(len(re.findall(r"\w+", text)), len(text.split())) <= MAX_WORDS:
                out.append((docs[p.doc], p, p.start + s, p.start + e))
    return out


def words_outside(text: str, start: int, end: int, s_start: int, s_end: int) -> tuple[int, int]:
    """Source words of the match before the sentence's start and after its end."""
    before = len(tokenize(text[start:s_start])) if start < s_start else 0
    after = len(tokenize(text[s_end:end])) if end > s_end else 0
    return before, after


def measure(documents: list[Document], passages: list[Passage]) -> dict:
    """Verdicts and placements of the generated misquotes of every sentence of the corpus."""
    qi = build_quote_index(documents, passages)
    rng = random.Random(11)
    total, verdict_ok, placed_ok = Counter(), Counter(), Counter()
    examples: list[dict] = []
    for doc, passage, s_start, s_end in sentences(documents, passages):
        words = re.findall(r"\S+", doc.text[s_start:s_end])
        for kind in KINDS:
            quote = variant(words, kind, rng)
            r = check_quote(qi, quote)
            total[kind] += 1
            verdict_ok[kind] += r.verdict == "altered"
            m = r.matches[0] if r.matches else None
            ok = False
            if m is not None and r.verdict != "absent" and m.doc.id == doc.id:
                before, after = words_outside(doc.text, m.start, m.end, s_start, s_end)
                ok = (m.paragraph == m.paragraph_end == passage.paragraph and m.start < s_end and m.end > s_start
                      and before <= SLACK_WORDS and after <= SLACK_WORDS)
            placed_ok[kind] += ok
            if not ok and len(examples) < 40:
                examples.append({"kind": kind, "quote": quote, "verdict": r.verdict,
                                 "sentence": doc.text[s_start:s_end],
                                 "found": m.text if m else None,
                                 "paragraphs": [m.paragraph, m.paragraph_end, passage.paragraph] if m else None})
    n = sum(total.values())
    return {"sentences": total[KINDS[0]], "quotes": n,
            "altered_verdict": round(sum(verdict_ok.values()) / n, 3),
            "placed_on_the_sentence": round(sum(placed_ok.values()) / n, 3),
            "per_kind": {k: {"altered_verdict": round(verdict_ok[k] / total[k], 3),
                             "placed_on_the_sentence": round(placed_ok[k] / total[k], 3)} for k in KINDS},
            "misplaced_examples": examples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="misquotes")
    args = ap.parse_args()
    seeds = load_corpus(config.ROOT / "seeds")
    result = measure(seeds.documents, seeds.passages)
    n = result["quotes"]
    print(f"{result['sentences']} sentences, {n} misquotes: verdict altered {result['altered_verdict']:.3f}, "
          f"placed on the sentence {result['placed_on_the_sentence']:.3f}")
    for k in KINDS:
        print(f"  {k:18s} verdict {result['per_kind'][k]['altered_verdict']:.3f}  "
              f"placed {result['per_kind'][k]['placed_on_the_sentence']:.3f}")
    print(f"written to {write_result(args.out, result)}")


if __name__ == "__main__":
    main()
