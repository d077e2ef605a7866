"""Growing the corpus: time to add one article, and to index 1,000 generated articles.

    .venv/bin/python -m eval.ingest                  # writes eval/results/ingest.json
    .venv/bin/python -m eval.ingest --articles 200   # a shorter run

Articles are ~450 words in 5 paragraphs, made of seed-corpus sentences in random order (every paragraph is
new text, so the embedding cache cannot help). Adding one article is measured through the same function
the CLI and the web page use, including the index update, on top of an already indexed seed corpus.
"""
from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from pathlib import Path

import config  # noqa: F401
from corpus.load import load_corpus
from eval.common import write_result
from service import Vraagbaak, settings_from


def articles(n: int, rng: random.Random) -> list[str]:
    seeds = load_corpus(config.ROOT / "seeds")
    sentences = [s for d in seeds.documents for s in re.split(r"(?<=[.!?])\s+", d.text.replace("\n\n", " "))
                 if 40 < len(s) < 300]
    out = []
    for i in range(n):
        paras = []
        for _ in range(5):
            words, para = 0, []
            while words < 90:
                s = rng.choice(sentences)
                para.append(s)
                words += len(s.split())
            paras.append(" ".join(para))
        out.append(f"Gegenereerd artikel {i} over sociaal werk\n\n" + "\n\n".join(paras) + f"\n\nKenmerk {i}-{rng.random()}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=1000)
    args = ap.parse_args()
    rng = random.Random(1)
    texts = articles(args.articles + 1, rng)
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = Vraagbaak(settings_from({"cache_dir": str(tmp / "cache"), "added_dir": str(tmp / "added")}, environ={}))
        app.retriever  # seed index in place, as on a running installation
        t0 = time.perf_counter()
        added = app.add("nieuw-artikel.txt", texts[0].encode())
        index = app.retriever.index
        result["add_one_article_s"] = round(time.perf_counter() - t0, 2)
        result["add_one_article_paragraphs"] = added.paragraphs
        print(f"add one article ({added.paragraphs} paragraphs, ~{len(texts[0].split())} words) and update the "
              f"index: {result['add_one_article_s']} s")

        folder = tmp / "bulk"
        folder.mkdir()
        for i, text in enumerate(texts[1:]):
            (folder / f"artikel-{i:04d}.txt").write_text(text, encoding="utf-8")
        bulk = Vraagbaak(settings_from({"cache_dir": str(tmp / "cache2"), "corpus": str(folder)}, environ={}))
        bulk.embedder  # loaded before the clock starts, as in a running installation
        t0 = time.perf_counter()
        index = bulk.retriever.index
        secs = time.perf_counter() - t0
        result["bulk"] = {"articles": args.articles, "passages": len(index.passages),
                          "words": sum(len(t.split()) for t in texts[1:]), "index_s": round(secs, 1),
                          "passages_per_s": round(len(index.passages) / secs, 1)}
        print(f"index {args.articles} articles ({len(index.passages)} passages): {secs:.1f} s "
              f"({len(index.passages) / secs:.1f} passages/s)")
    path = write_result("ingest", result)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
