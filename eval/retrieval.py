"""Retrieval benchmark: recall@1, recall@5 and MRR for dense, BM25 and hybrid fusions.

    .venv/bin/python -m eval.retrieval            # seeds + XQuAD-NL, writes eval/results/retrieval.json

Data: (a) eval/seed_questions.jsonl, Dutch questions we wrote about the seed articles, each tied to the
sentence that answers it; (b) XQuAD-NL (CC BY-SA 4.0) read from ../shared/data/xquad-nl, never copied here.
Also measures the seed index build time (cold, empty cache) and the median query latency.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import config  # noqa: F401
from corpus.load import load_corpus
from eval.common import EVAL_DIR, XQUAD_DIR, gold_passages, read_jsonl, write_result
from retrieval.embed import load_embedder
from retrieval.search import search
from retrieval.store import open_index
from service import settings_from

CONFIGS = [("dense", 0.0), ("bm25", 0.0), ("rrf", 0.0), ("mix", 0.5), ("mix", 0.6), ("mix", 0.7),
           ("mix", 0.8), ("mix", 0.9)]


def evaluate(index, embedder, questions: list[tuple[str, set[int]]]) -> dict[str, dict]:
    out = {}
    for fusion, w in CONFIGS:
        r1 = r5 = rr = 0.0
        for q, gold in questions:
            hits = search(index, embedder, q, k=10, fusion=fusion, dense_weight=w)
            ids = [_pid(index, h.passage) for h in hits]
            rank = next((i + 1 for i, pid in enumerate(ids) if pid in gold), None)
            r1 += rank == 1
            r5 += rank is not None and rank <= 5
            rr += 1 / rank if rank else 0
        n = len(questions)
        name = fusion if fusion != "mix" else f"mix{w:.1f}"
        out[name] = {"recall@1": round(r1 / n, 3), "recall@5": round(r5 / n, 3), "mrr": round(rr / n, 3), "n": n}
    return out


def seed_set(settings, embedder, cache_dir: Path):
    """The seed index (built or loaded in cache_dir) and our seed questions with their gold passages."""
    index = open_index(load_corpus(settings.corpus, settings.max_passage_chars), embedder, cache_dir,
                       settings.max_passage_chars)
    rows = read_jsonl(EVAL_DIR / "seed_questions.jsonl")
    return index, [(r["question"], gold_passages(index, r["doc"], r["sentence"])) for r in rows]


def xquad_set(settings, embedder, cache_dir: Path):
    """The XQuAD-NL index (built or loaded in cache_dir) and its questions with their paragraph's passages."""
    xindex = open_index(load_corpus(XQUAD_DIR / "xquad_nl_corpus.jsonl", settings.max_passage_chars), embedder,
                        cache_dir, settings.max_passage_chars)
    by_doc: dict[str, set[int]] = {}
    for i, p in enumerate(xindex.passages):
        by_doc.setdefault(p.doc, set()).add(i)
    return xindex, [(r["question"], by_doc[r["context_id"]]) for r in read_jsonl(XQUAD_DIR / "xquad_nl.jsonl")]


def _pid(index, passage) -> int:
    if not hasattr(index, "_pid"):
        index._pid = {(p.doc, p.paragraph): i for i, p in enumerate(index.passages)}
    return index._pid[(passage.doc, passage.paragraph)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-xquad", action="store_true")
    args = ap.parse_args()
    settings = settings_from()
    embedder = load_embedder(settings.embedder, settings.threads, settings.embed_device)
    result: dict = {"embedder": embedder.name, "default": {"fusion": settings.fusion,
                                                          "dense_weight": settings.dense_weight}}

    # Cold build of the seed index in an empty cache (embedding included).
    seeds = load_corpus(settings.corpus, settings.max_passage_chars)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        open_index(seeds, embedder, Path(tmp), settings.max_passage_chars)
        result["seed_index_build_s"] = round(time.perf_counter() - t0, 2)
    index, questions = seed_set(settings, embedder, Path(settings.cache_dir))
    result["seeds"] = evaluate(index, embedder, questions)

    latencies = []
    for q, _ in questions * 3:
        t0 = time.perf_counter()
        search(index, embedder, q, k=5, fusion=settings.fusion, dense_weight=settings.dense_weight)
        latencies.append((time.perf_counter() - t0) * 1000)
    result["query_latency_ms"] = {"median": round(statistics.median(latencies), 1),
                                  "p95": round(sorted(latencies)[int(0.95 * len(latencies))], 1)}

    if not args.skip_xquad:
        xindex, xq = xquad_set(settings, embedder, Path(settings.cache_dir))
        result["xquad_nl"] = evaluate(xindex, embedder, xq)

    path = write_result("retrieval", result)
    print(f"embedder: {result['embedder']}   seed index cold build: {result['seed_index_build_s']} s   "
          f"query latency median {result['query_latency_ms']['median']} ms, p95 {result['query_latency_ms']['p95']} ms")
    for dataset in ("seeds", "xquad_nl"):
        if dataset not in result:
            continue
        print(f"\n{dataset}  (n={next(iter(result[dataset].values()))['n']})")
        print(f"{'method':<8} {'R@1':>6} {'R@5':>6} {'MRR':>6}")
        for name, m in result[dataset].items():
            print(f"{name:<8} {m['recall@1']:>6.3f} {m['recall@5']:>6.3f} {m['mrr']:>6.3f}")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
