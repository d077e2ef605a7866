"""Quote-check benchmark: verdicts and locations on eval/quote_cases.jsonl, speed, and scaling.

    .venv/bin/python -m eval.quotes                     # seeds + a synthetic 100,000-paragraph corpus
    .venv/bin/python -m eval.quotes --paragraphs 20000  # smaller synthetic corpus

The synthetic corpus draws its words with the seed corpus's word frequencies, so common words have the
long position lists of a real large corpus; the real seed documents are added to it, and every verdict
and location must still be right.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import time

import config  # noqa: F401
from corpus.load import load_corpus
from corpus.model import Document, Passage
from eval.common import EVAL_DIR, read_jsonl, write_result
from verify.quotes import build_quote_index, check_quote


def score(qi, cases) -> tuple[float, float, list[float], list[str]]:
    """(verdict accuracy, location accuracy of non-absent cases, latencies ms, failures)."""
    right = located = n_loc = 0
    times, failures = [], []
    for case in cases:
        t0 = time.perf_counter()
        r = check_quote(qi, case["quote"])
        times.append((time.perf_counter() - t0) * 1000)
        right += r.verdict == case["verdict"]
        if case["verdict"] != "absent":
            n_loc += 1
            m = r.matches[0] if r.matches else None
            ok = m is not None and m.doc.id == case["doc"] and m.text == case["source"]
            located += ok
            if not ok or r.verdict != case["verdict"]:
                failures.append(f"{case['id']}: {r.verdict} at {m.doc.id if m else None}")
        elif r.verdict != "absent":
            failures.append(f"{case['id']}: {r.verdict}")
    return right / len(cases), located / max(n_loc, 1), times, failures


def synthetic(seed_docs: list[Document], n: int, rng: random.Random) -> tuple[list[Document], list[Passage]]:
    """n paragraphs of 40-120 words drawn with the seed corpus's word frequencies (a unigram model)."""
    vocab = [w for d in seed_docs for w in re.findall(r"\w+", d.text)]
    docs, passages = [], []
    for i in range(n):
        words = rng.choices(vocab, k=rng.randint(40, 120))
        text = " ".join(words).capitalize() + "."
        doc = Document(id=f"synth-{i:06d}", title=f"Synthetisch {i}", text=text)
        docs.append(doc)
        passages.append(Passage(doc=doc.id, paragraph=1, start=0, end=len(text), text=text, title=doc.title))
    return docs, passages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--paragraphs", type=int, default=100_000)
    args = ap.parse_args()
    cases = read_jsonl(EVAL_DIR / "quote_cases.jsonl")
    seeds = load_corpus(config.ROOT / "seeds")
    t0 = time.perf_counter()
    qi = build_quote_index(seeds.documents, seeds.passages)
    seed_build = time.perf_counter() - t0
    for case in cases:  # warm-up
        check_quote(qi, case["quote"])
    acc, loc, times, failures = score(qi, cases)
    result = {"cases": len(cases), "seeds": {
        "verdict_accuracy": round(acc, 3), "location_accuracy": round(loc, 3), "failures": failures,
        "index_build_ms": round(seed_build * 1000, 1), "median_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 2)}}
    print(f"seeds ({len(seeds.passages)} passages): verdicts {acc:.3f}, locations {loc:.3f}, "
          f"median {statistics.median(times):.2f} ms, max {max(times):.2f} ms per quote")
    for f in failures:
        print("  failed:", f)

    if args.paragraphs:
        rng = random.Random(42)
        sdocs, spass = synthetic(seeds.documents, args.paragraphs, rng)
        t0 = time.perf_counter()
        big = build_quote_index(sdocs + seeds.documents, spass + seeds.passages)
        build_s = time.perf_counter() - t0
        acc, loc, times, failures = score(big, cases)
        result["synthetic"] = {
            "paragraphs": args.paragraphs + len(seeds.passages), "tokens": int(len(big.tokens)),
            "index_build_s": round(build_s, 1), "verdict_accuracy": round(acc, 3),
            "location_accuracy": round(loc, 3), "failures": failures,
            "median_ms": round(statistics.median(times), 1), "p95_ms": round(sorted(times)[int(.95 * len(times))], 1),
            "max_ms": round(max(times), 1)}
        s = result["synthetic"]
        print(f"synthetic ({s['paragraphs']} paragraphs, {s['tokens']} words): index built in {build_s:.1f} s; "
              f"verdicts {acc:.3f}, locations {loc:.3f}; median {s['median_ms']} ms, p95 {s['p95_ms']} ms, "
              f"max {s['max_ms']} ms per quote")
        for f in failures:
            print("  failed:", f)
    path = write_result("quotes", result)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
