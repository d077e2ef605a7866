"""Evidence recall: does the sentence that answers reach the model's prompt? No language model needed.

    .venv/bin/python -m eval.evidence --half tune --grid     # fit weights, lines and budget (tuning half only)
    .venv/bin/python -m eval.evidence --half test            # report the chosen settings on the test half

For every answerable question: is its evidence (every evidence sentence the writer marked; a byline counts
when the document's byline line is shown) among the top-5 passages, and among the numbered evidence lines
the model is shown? Also the prompt size those lines cost. Writes eval/results/evidence-<half>.json.
"""
from __future__ import annotations

import argparse
import itertools
import statistics

import config  # noqa: F401
from eval.common import write_result
from eval.questions import ANSWERABLE_TYPES, Span, covered, half, legacy_questions, locate
from retrieval import evidence as ev
from retrieval.search import search
from service import Vraagbaak, settings_from

SOURCES_K = 5


def prepare(questions: list[dict], index, embedder, settings) -> list[tuple]:
    out = []
    for r in questions:
        qv = embedder.embed_query(r["question"])
        hits = search(index, embedder, r["question"], k=SOURCES_K, fusion=settings.fusion,
                      dense_weight=settings.dense_weight, query_vec=qv)
        gold = [g for g in (locate(index, e["doc"], e["text"]) for e in r["evidence"]) if g is not None]
        out.append((r, qv, hits, gold))
    return out


def measure(prepared: list[tuple], index, embedder, **kw) -> dict:
    in_passages = in_prompt = 0
    chars, misses = [], []
    for r, qv, hits, gold in prepared:
        lines = ev.select(r["question"], qv, hits, embedder, index.documents_by_id, **kw)
        spans = [Span(*s) for e in lines for s in e.spans()]
        passages = [Span(h.passage.doc, h.passage.start, h.passage.end) for h in hits]
        in_passages += covered([g for g in gold if g.start >= 0], passages) or all(g.start < 0 for g in gold)
        ok = covered(gold, spans, r.get("type") == "metadata")
        in_prompt += ok
        chars.append(sum(len(e.text) for e in lines))
        if not ok:
            misses.append(r["id"])
    n = len(prepared)
    return {"n": n, "evidence_in_top5_passages": round(in_passages / n, 3), "evidence_in_prompt": round(in_prompt / n, 3),
            "median_prompt_chars": statistics.median(chars), "misses": misses}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--half", choices=["tune", "test"], required=True)
    ap.add_argument("--grid", action="store_true", help="search weights, lines and budget (tuning half only)")
    args = ap.parse_args()
    if args.grid and args.half != "tune":
        raise SystemExit("fit on the tuning half only")
    settings = settings_from()
    retriever = Vraagbaak(settings).retriever
    index, embedder = retriever.index, retriever.embedder
    questions = [r for r in half(args.half) if r["type"] in ANSWERABLE_TYPES]
    if args.half == "tune":
        questions += legacy_questions()[0]
    prepared = prepare(questions, index, embedder, settings)
    result: dict = {"half": args.half, "settings": {"w_overlap": ev.W_OVERLAP, "w_passage": ev.W_PASSAGE,
                                                    "lines": ev.EVIDENCE_LINES,
                                                    "budget_chars": settings.evidence_chars}}
    result["chosen"] = measure(prepared, index, embedder, budget_chars=settings.evidence_chars)  # as the app
    print(result["settings"], {k: v for k, v in result["chosen"].items() if k != "misses"})
    if args.grid:
        grid = []
        for wo, wp, lines, budget in itertools.product((0.0, 0.1, 0.15, 0.25), (0.0, 0.05, 0.1, 0.2),
                                                       (4, 5, 6, 8), (700, 900, 1100)):
            m = measure(prepared, index, embedder, w_overlap=wo, w_passage=wp, lines=lines, budget_chars=budget)
            grid.append({"w_overlap": wo, "w_passage": wp, "lines": lines, "budget_chars": budget,
                         **{k: v for k, v in m.items() if k != "misses"}})
            print(grid[-1], flush=True)
        result["grid"] = grid
    write_result(f"evidence-{args.half}", result)


if __name__ == "__main__":
    main()
