"""Whole-text quotation check benchmark: detection, verdict and location, and speed.

    .venv/bin/python -m eval.text_check

Data: eval/quote_texts/ (texts by an independent writer who did not see the code; gold.jsonl lists every
quotation with its verdict and, for exact and altered ones, the seed document and sentence it comes from).
- detection: a found quotation counts when its words equal a gold quotation's (case, accents, punctuation
  ignored); precision and recall over all texts.
- verdict and location: of the gold quotations found, the share whose verdict is right and, for exact and
  altered ones, one of whose matches (every place it occurs) lies in the gold document and overlaps the gold sentence.
- speed: a text of about 5,000 words with 40 quotations, built from the test texts, checked end to end.
Writes eval/results/text_check.json.
"""
from __future__ import annotations

import json
import statistics
import time

from eval.common import EVAL_DIR, read_jsonl, write_result
from retrieval.text import words
from service import Vraagbaak, settings_from
from verify.text_check import check_text

TEXTS = EVAL_DIR / "quote_texts"


def norm(text: str) -> str:
    return " ".join(words(text))


def located(q: dict, gold: dict, documents: dict) -> bool:
    if gold["verdict"] not in ("exact", "altered"):
        return True
    text = documents[gold["doc"]].text
    start = text.find(gold["source"])
    return start >= 0 and any(m["doc"] == gold["doc"] and m["start"] < start + len(gold["source"]) and start < m["end"]
                              for m in q["matches"])


def speed_text(rows: list[dict]) -> str:
    """About 5,000 words with about 40 quotations: the test texts joined until both are reached."""
    parts, words, quotes = [], 0, 0
    for row in rows * 3:
        parts.append((TEXTS / row["text"]).read_text(encoding="utf-8"))
        words += len(parts[-1].split())
        quotes += len(row["quotations"])
        if words >= 5000 and quotes >= 40:
            break
    return "\n\n".join(parts)


def main() -> None:
    app = Vraagbaak(settings_from())
    checker = app.quotes
    documents = app.retriever.documents
    rows = read_jsonl(TEXTS / "gold.jsonl")
    tp = fp = fn = right = 0
    errors: list[dict] = []
    per_verdict: dict[str, list[int]] = {}
    for row in rows:
        text = (TEXTS / row["text"]).read_text(encoding="utf-8")
        found = check_text(checker, text, row["text"]).to_dict()["quotations"]
        gold = list(row["quotations"])
        for q in found:
            g = next((g for g in gold if norm(g["quote"]) == norm(q["text"])), None)
            if g is None:
                fp += 1
                errors.append({"text": row["text"], "error": "not a quotation", "found": q["text"][:120]})
                continue
            gold.remove(g)
            tp += 1
            ok = q["verdict"] == g["verdict"] and located(q, g, documents)
            right += ok
            per_verdict.setdefault(g["verdict"], []).append(int(ok))
            if not ok:
                errors.append({"text": row["text"], "error": "verdict or location", "quote": g["quote"][:120],
                               "gold": g["verdict"], "got": q["verdict"], "note": g.get("note"),
                               "got_doc": q["matches"][0]["doc"] if q["matches"] else None, "gold_doc": g["doc"]})
        fn += len(gold)
        errors += [{"text": row["text"], "error": "missed", "quote": g["quote"][:120], "style": g["style"]}
                   for g in gold]
    big = speed_text(rows)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        n_quotes = len(check_text(checker, big).quotations)
        times.append(time.perf_counter() - t0)
    result = {
        "texts": len(rows), "gold_quotations": tp + fn, "found": tp + fp,
        "detection_precision": round(tp / max(tp + fp, 1), 3), "detection_recall": round(tp / max(tp + fn, 1), 3),
        "verdict_and_location_right": round(right / max(tp, 1), 3),
        "per_verdict": {v: {"n": len(x), "right": round(sum(x) / len(x), 3)} for v, x in sorted(per_verdict.items())},
        "speed": {"words": len(big.split()), "quotations": n_quotes, "median_s": round(statistics.median(times), 3),
                  "max_s": round(max(times), 3)},
        "errors": errors,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "errors"}, ensure_ascii=False, indent=1))
    for e in errors:
        print(json.dumps(e, ensure_ascii=False))
    write_result("text_check", result)


if __name__ == "__main__":
    main()
