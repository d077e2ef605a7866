"""Big corpora: what exact and approximate vector search, BM25 and the quote checker cost at 10k-1M passages.

    flock /tmp/vraagbaak-bench.lock .venv/bin/python -m eval.bigcorpus            # ~20 min on 2 cores
    flock /tmp/vraagbaak-bench.lock .venv/bin/python -m eval.bigcorpus --quick    # 10k and 100k, ~2 min

Synthetic data, generated from a fixed seed:
- Vectors (dim 384, unit length, like multilingual-e5-small). Uniform random unit vectors have no
  neighbours worth the name (every pair is nearly orthogonal, the top 10 are ties), so recall@10 on them
  says nothing about real embeddings. These are drawn like real ones instead: a common direction, 64-dim
  topic clusters and isotropic noise, giving a mean pairwise cosine of ~0.7 and a participation ratio of
  ~70 dimensions (the seed corpus's e5 vectors: 0.79 and ~60). Queries: perturbed copies of stored vectors
  (cosine ~0.9 to their source, as a question to its passage) plus 20 % fresh draws.
- Text: Dutch word forms sampled by their `wordfreq` frequency (top 30,000), in sentences of 6-20 words,
  passages of 40-120 words, 3-15 passages per document.

Each (size, part) runs in a fresh process, so memory figures are its own: `rss_growth` is resident memory
after the build minus before it, `peak_rss_growth` the highest value seen while building, `bytes` the size
of what would be stored (FAISS file, BM25 folder) or held (quote index arrays). Dense latency is one query
at a time for the app's candidate depth (retrieval.search.CANDIDATES), with 2 FAISS threads; recall@10 is
against exact search. BM25 latency is the app's lexical step (scores for every passage, then sorted).
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from types import SimpleNamespace

import numpy as np
import psutil

import config  # noqa: F401  (offline environment first)
from eval.common import write_result

DIM = 384
SEED = 14
THREADS = 2
HNSW_BUILDS = ((16, 40), (32, 40))  # (M, efConstruction); efConstruction capped at 40 to build 1M in ~2 min
EF_SEARCH = (128, 256)  # below the app's depth of 100 candidates FAISS searches with ef = 100 anyway
IVF_NPROBE = (8, 32)
VOCAB = 30_000


# ---- measuring ------------------------------------------------------------------------------------------

def _rss() -> int:
    return psutil.Process().memory_info().rss


class _Memory:
    """Resident memory growth over a block, and its peak (sampled every 20 ms)."""

    def __enter__(self) -> "_Memory":
        gc.collect()
        self.before = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.after = _rss()
        self.peak = max(self.peak, self.after)

    def figures(self) -> dict:
        return {"build_s": round(self.seconds, 2), "rss_growth_mb": _mb(self.after - self.before),
                "peak_rss_growth_mb": _mb(self.peak - self.before)}


def _mb(n: float) -> float:
    return round(n / 2**20, 1)


def _latency(fn, items) -> dict:
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return {"median_ms": round(float(np.median(ms)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3)}


# ---- vectors --------------------------------------------------------------------------------------------

def unit_vectors(n: int, rng: np.random.Generator, latent: int = 64) -> tuple[np.ndarray, callable]:
    """n embedding-like unit vectors (see the module docstring) and a function drawing more of the same kind."""
    basis = np.linalg.qr(rng.standard_normal((DIM, latent + 1)))[0].T.astype(np.float32)
    common, topics = basis[0], basis[1:]
    centres = rng.standard_normal((max(16, n // 500), latent)).astype(np.float32)

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, DIM), np.float32)
        for a in range(0, m, 100_000):
            b = min(m, a + 100_000)
            z = centres[rng.integers(0, len(centres), b - a)] + 0.7 * rng.standard_normal((b - a, latent),
                                                                                          dtype=np.float32)
            x = (z @ topics) / np.sqrt(latent) + 0.5 / np.sqrt(DIM) * rng.standard_normal((b - a, DIM),
                                                                                            dtype=np.float32)
            x += 1.9 * common
            out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n), draw


def query_vectors(x: np.ndarray, draw, n: int, rng: np.random.Generator) -> np.ndarray:
    """80 % perturbed stored vectors (cosine ~0.9 to their source), 20 % fresh draws."""
    near = n - n // 5
    q = x[rng.integers(0, len(x), near)] + 0.5 / np.sqrt(DIM) * rng.standard_normal((near, DIM), dtype=np.float32)
    q = np.vstack([q, draw(n // 5)])
    return np.ascontiguousarray(q / np.linalg.norm(q, axis=1, keepdims=True), dtype=np.float32)


def _index_bytes(index) -> int:
    import faiss

    with tempfile.NamedTemporaryFile(suffix=".faiss") as fh:
        faiss.write_index(index, fh.name)
        return os.path.getsize(fh.name)


def _recall(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return round(float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)])), 4)


def dense_part(n: int, n_queries: int, methods: tuple[str, ...]) -> list[dict]:
    """Build each dense index kind over the same n vectors; time, size, latency and recall@10 vs exact."""
    import faiss

    from retrieval.search import CANDIDATES
    from retrieval.store import stored_vectors

    faiss.omp_set_num_threads(THREADS)
    rng = np.random.default_rng(SEED + n)
    x, draw = unit_vectors(n, rng)
    queries = query_vectors(x, draw, n_queries, rng)
    depth = min(n, CANDIDATES)
    rows = []

    def measure(name: str, params: dict, build, tune=None, settings=((None, None),)) -> None:
        with _Memory() as mem:
            index = build()
        base = {"part": "dense", "passages": n, "method": name, **params, **mem.figures(),
                "bytes_mb": _mb(_index_bytes(index))}
        if name in ("exact", "hnsw"):  # the kinds the app builds: what reading their vectors adds (a view: ~0)
            with _Memory() as reading:
                vectors = stored_vectors(index)
            base["vectors_for_reranking_mb"] = reading.figures()["rss_growth_mb"]
            del vectors
        for label, value in settings:
            if tune:
                tune(index, value)
            found = index.search(queries, depth)[1]
            lat = _latency(lambda q: index.search(q.reshape(1, -1), depth), queries)
            rows.append({**base, **({label: value} if label else {}), **lat,
                         "recall_at_10": _recall(found, truth) if truth is not None else 1.0})
            print(_row(rows[-1]), flush=True)
        del index
        gc.collect()

    truth = None

    def flat():
        index = faiss.IndexFlatIP(DIM)
        index.add(x)
        return index

    measure("exact", {}, flat)
    truth = faiss.knn(queries, x, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    if "hnsw" in methods:
        for m, efc in HNSW_BUILDS:
            def hnsw(m=m, efc=efc):
                index = faiss.IndexHNSWFlat(DIM, m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = efc
                index.add(x)
                return index

            measure("hnsw", {"M": m, "efConstruction": efc}, hnsw,
                    lambda index, ef: setattr(index.hnsw, "efSearch", ef), [("efSearch", ef) for ef in EF_SEARCH])
    if "ivf" in methods:
        nlist = int(min(1024, 4 * np.sqrt(n)))

        def ivf():
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(x[rng.permutation(n)[:64 * nlist]])
            index.add(x)
            return index

        measure("ivf", {"nlist": nlist}, ivf, lambda index, p: setattr(index, "nprobe", p),
                [("nprobe", p) for p in IVF_NPROBE])
    return rows


# ---- text -----------------------------------------------------------------------------------------------

def dutch_corpus(n: int, rng: np.random.Generator):
    """n passages of Dutch-like text in documents of 3-15 passages, with true offsets (corpus.model)."""
    from wordfreq import top_n_list, word_frequency

    from corpus.model import Document, Passage

    words = [w for w in top_n_list("nl", VOCAB) if not re.search(r"[\d_]", w)]  # wordfreq writes digits as 0
    freq = np.array([word_frequency(w, "nl") for w in words])
    vocab = np.array(words, dtype=object)
    capital = np.array([w[:1].upper() + w[1:] for w in words], dtype=object)
    lengths = rng.integers(40, 121, n)
    drawn = rng.choice(len(words), size=int(lengths.sum()), p=freq / freq.sum())
    documents, passages = [], []
    pos = 0
    doc_sizes = []
    left = n
    while left > 0:
        doc_sizes.append(min(left, int(rng.integers(3, 16))))
        left -= doc_sizes[-1]
    p_num = 0
    for d, size in enumerate(doc_sizes):
        doc_id, title = f"doc{d:07d}", f"Document {d}"
        parts, start = [], 0
        for paragraph in range(1, size + 1):
            ids = drawn[pos:pos + lengths[p_num]]
            pos += lengths[p_num]
            p_num += 1
            sentences, i = [], 0
            while i < len(ids):
                j = min(len(ids), i + int(rng.integers(6, 21)))
                s = vocab[ids[i:j]].tolist()
                s[0] = capital[ids[i]]
                if j - i > 8:
                    s[4] += ","
                sentences.append(" ".join(s) + ".")
                i = j
            text = " ".join(sentences)
            passages.append(Passage(doc=doc_id, paragraph=paragraph, start=start, end=start + len(text),
                                    text=text, title=title))
            parts.append(text)
            start += len(text) + 2
        documents.append(Document(id=doc_id, title=title, text="\n\n".join(parts), author=None,
                                  date="2024-01-01", source=f"{doc_id}.txt"))
    return documents, passages, vocab


def _search_queries(passages, n: int, rng: np.random.Generator) -> list[str]:
    """Questions made of 3-6 words of a random passage."""
    out = []
    for i in rng.integers(0, len(passages), n):
        w = re.findall(r"\w+", passages[i].text)
        out.append(" ".join(rng.choice(w, size=min(len(w), int(rng.integers(3, 7))), replace=False)))
    return out


def _quotes(passages, vocab, n: int, rng: np.random.Generator) -> dict[str, list[str]]:
    """Exact spans of 12-25 words, the same with 3 words replaced, and sentences that occur nowhere."""
    exact, altered, absent = [], [], []
    for i in rng.integers(0, len(passages), n):
        w = passages[i].text.split()
        length = min(len(w), int(rng.integers(12, 26)))
        a = int(rng.integers(0, len(w) - length + 1))
        span = w[a:a + length]
        exact.append(" ".join(span))
        changed = list(span)
        for j in rng.choice(np.arange(1, length), size=3, replace=False):
            changed[j] = str(vocab[int(rng.integers(0, len(vocab)))])
        altered.append(" ".join(changed))
        absent.append(" ".join(vocab[rng.integers(0, len(vocab), length)].tolist()) + ".")
    return {"exact": exact, "altered": altered, "absent": absent}


def text_part(n: int, n_queries: int, which: str) -> list[dict]:
    """BM25 ('bm25') or the quote checker ('quotes') over n generated passages."""
    rng = np.random.default_rng(SEED + n)
    t0 = time.perf_counter()
    documents, passages, vocab = dutch_corpus(n, rng)
    generated_s = round(time.perf_counter() - t0, 1)
    words = sum(len(p.text.split()) for p in passages)
    base = {"part": which, "passages": n, "documents": len(documents), "words": words, "generate_s": generated_s}
    if which == "bm25":
        import bm25s

        from retrieval.search import bm25_scores
        from retrieval.store import _bm25_tokens

        with _Memory() as mem:
            t1 = time.perf_counter()
            tokens = _bm25_tokens(passages)
            tokenise_s = time.perf_counter() - t1
            retriever = bm25s.BM25(k1=1.2, b=0.75)
            retriever.index(tokens, show_progress=False)
            del tokens
        folder = tempfile.mkdtemp(prefix="bm25-")
        try:
            retriever.save(folder)
            size = sum(f.stat().st_size for f in os.scandir(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

        index = SimpleNamespace(bm25=retriever, passages=passages)  # what bm25_scores reads of an Index

        def lexical_step(query: str) -> None:  # as retrieval.search.search does it
            scores = bm25_scores(index, query)
            np.argsort(-scores)[:100]

        row = {**base, **mem.figures(), "tokenise_s": round(tokenise_s, 2), "bytes_mb": _mb(size),
               **_latency(lexical_step, _search_queries(passages, n_queries, rng))}
        print(_row(row), flush=True)
        return [row]
    from verify.quotes import build_quote_index, check_quote

    with _Memory() as mem:
        qi = build_quote_index(documents, passages)
    held = sum(a.nbytes for a in (qi.tokens, qi.doc_of, qi.starts, qi.ends, qi.order, qi.offsets, qi.doc_first))
    rows = []
    for kind, quotes in _quotes(passages, vocab, n_queries, rng).items():
        verdicts = []
        lat = _latency(lambda q: verdicts.append(check_quote(qi, q).verdict), quotes)
        rows.append({**base, **mem.figures(), "arrays_mb": _mb(held), "vocabulary": len(qi.vocab),
                     "quote": kind, **lat, "verdict_as_expected": round(verdicts.count(kind) / len(verdicts), 3)})
        print(_row(rows[-1]), flush=True)
    return rows


# ---- driver ---------------------------------------------------------------------------------------------

def _row(r: dict) -> str:
    what = {"dense": lambda: f"{r['method']:5} " + " ".join(f"{k}={r[k]}" for k in
                                                            ("M", "efConstruction", "efSearch", "nlist", "nprobe")
                                                            if k in r),
            "bm25": lambda: "bm25", "quotes": lambda: f"quote {r['quote']}"}[r["part"]]()
    extra = (f" recall@10 {r['recall_at_10']:.3f}" if "recall_at_10" in r else
             f" as expected {r['verdict_as_expected']:.2f}" if "verdict_as_expected" in r else "")
    size = r.get("bytes_mb", r.get("arrays_mb"))
    return (f"{r['passages']:>9,} {what:38} build {r['build_s']:7.1f}s  size {size:7.1f} MB  "
            f"rss +{r['rss_growth_mb']:7.1f} MB (peak +{r['peak_rss_growth_mb']:7.1f})  "
            f"median {r['median_ms']:8.2f} ms  p90 {r['p90_ms']:8.2f} ms{extra}")


def _in_child(fn, *args):
    """Run fn(*args) in a fresh process, so its memory figures are not another part's leftovers."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="passage counts, comma-separated")
    ap.add_argument("--quick", action="store_true", help="10k and 100k only, few queries")
    ap.add_argument("--methods", default="hnsw,ivf", help="approximate index kinds to measure: hnsw, ivf")
    args = ap.parse_args(argv)
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    n_queries = 50 if args.quick else 200
    methods = tuple(m for m in args.methods.split(",") if m)
    t0 = time.perf_counter()
    rows: list[dict] = []
    for n in sizes:
        rows += _in_child(dense_part, n, n_queries, methods)
        rows += _in_child(text_part, n, n_queries, "bm25")
        rows += _in_child(text_part, n, n_queries, "quotes")
    result = {"sizes": sizes, "queries_per_measure": n_queries, "threads": THREADS, "dim": DIM,
              "total_s": round(time.perf_counter() - t0, 1), "rows": rows}
    path = write_result("bigcorpus-quick" if args.quick else "bigcorpus", result)
    print(f"total {result['total_s']:.0f}s; written to {path}")


if __name__ == "__main__":
    main()
