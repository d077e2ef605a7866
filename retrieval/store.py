"""The on-disk index: built on first use, keyed by a hash of the corpus and settings, written atomically.

Layout: <cache_dir>/index/<key>/ with manifest.json (sha256 of every file), documents.jsonl,
passages.jsonl, dense.faiss and bm25/. A build happens in a temporary sibling folder that is renamed into
place only when complete, so a crash never leaves a half-written index under the real name. On load every
file is checked against the manifest; a corrupt index is set aside and rebuilt, with a clear message.

The dense index is exact (FAISS IndexFlatIP) up to `exact_search_max_passages` passages and an HNSW graph
above: exact search costs time in proportion to the corpus (6 ms a query at 100k passages, 51 ms at 1M on
2 cores), HNSW under a millisecond at a recall@10 of 0.97 at 1M, for a build of about a minute and 18 % more
memory (eval/bigcorpus.py). The kind is part of the index key, so a corpus that crosses the threshold gets a
new index instead of a stale one.

Embeddings are cached per passage text (sha256) in <cache_dir>/embeddings/, so a rebuild after adding or
changing documents embeds only the new passages.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from atomic import folder_sha256, sha256_file
from config import Settings
from corpus.load import Corpus
from corpus.model import Document, Passage
from retrieval.embed import Embedder
from retrieval.text import content_stems
from retrieval.vectors import EmbeddingCache

log = logging.getLogger(__name__)
INDEX_VERSION = 1  # bump when the on-disk format or passage rules change
EXACT_MAX = Settings.exact_search_max_passages  # the setting's default, for callers that do not pass one
HNSW_M = 32  # graph links per vector: recall@10 0.965 at 1M passages, where M=16 gives 0.87 (eval/bigcorpus.py)
HNSW_EF_CONSTRUCTION = 40  # FAISS's default: 67 s to build 1M passages on 2 cores
HNSW_EF_SEARCH = 128  # search breadth; the app asks for 100 candidates, which FAISS takes as a floor


class CorruptIndex(Exception):
    pass


@dataclass
class Index:
    key: str
    path: Path
    documents: list[Document]
    passages: list[Passage]
    dense: faiss.Index
    bm25: bm25s.BM25
    rebuilt_because: str | None = None  # set when a corrupt or stale index was replaced on load

    @property
    def vectors(self) -> np.ndarray:
        """The passages' vectors, read from the FAISS index itself (a view, not a copy: 1.5 GB at 1M)."""
        return stored_vectors(self.dense)

    def document(self, doc_id: str) -> Document | None:
        return self.documents_by_id.get(doc_id)

    @property
    def documents_by_id(self) -> dict[str, Document]:
        if not hasattr(self, "_docs"):
            self._docs = {d.id: d for d in self.documents}
        return self._docs


def embedding_input(p: Passage) -> str:
    """What the embedder sees for a passage: its document title gives short paragraphs their topic."""
    return f"{p.title}. {p.text}" if p.title and not p.text.startswith(p.title) else p.text


def dense_kind(n_passages: int, exact_max: int = EXACT_MAX) -> str:
    """'flat' (exact search) for up to `exact_max` passages, 'hnsw<M>' (approximate) above."""
    return "flat" if n_passages <= exact_max else f"hnsw{HNSW_M}"


def corpus_key(corpus: Corpus, embedder_name: str, max_chars: int, exact_max: int = EXACT_MAX) -> str:
    h = hashlib.sha256()
    params = {"v": INDEX_VERSION, "embedder": embedder_name, "max_chars": max_chars}
    kind = dense_kind(len(corpus.passages), exact_max)
    if kind != "flat":  # exact indexes keep the keys they had before the kind existed
        params["dense"] = kind
    h.update(json.dumps(params).encode())
    for d in corpus.documents:
        h.update(json.dumps([d.id, d.title, d.author, d.date, d.text], ensure_ascii=False).encode())
    return h.hexdigest()[:20]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ---- embedding cache ------------------------------------------------------------------------------------

def embed_passages(passages: list[Passage], embedder: Embedder, cache_dir: Path,
                   progress=None) -> tuple[np.ndarray, int]:
    """Vectors for all passages, embedding only those not in the cache. Returns (vectors, n_embedded)."""
    return EmbeddingCache(embedder, cache_dir).embed([embedding_input(p) for p in passages], progress)


# ---- build and load -------------------------------------------------------------------------------------

def _bm25_tokens(passages: list[Passage]) -> list[list[str]]:
    return [content_stems(f"{p.title} {p.text}") or ["_leeg_"] for p in passages]


def _new_dense(kind: str, dim: int) -> faiss.Index:
    """An empty dense index of `kind` (see dense_kind); both kinds score by inner product (cosine)."""
    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def stored_vectors(dense: faiss.Index) -> np.ndarray:
    """A read-only view of the float32 vectors of an exact or HNSW index (the two kinds `_new_dense` builds; both
    keep the vectors whole). The view lives in the index's memory: use it while the index lives."""
    flat = faiss.downcast_index(dense.storage) if isinstance(dense, faiss.IndexHNSW) else dense
    if flat.ntotal == 0:
        return np.zeros((0, flat.d), np.float32)
    view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    view.flags.writeable = False
    return view


def _search_ready(index: faiss.Index) -> faiss.Index:
    """Set the search breadth, which FAISS does not store with an HNSW index."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def build(corpus: Corpus, embedder: Embedder, root: Path, key: str, cache_dir: Path, progress=None,
          exact_max: int = EXACT_MAX) -> Path:
    """Write a complete index for `corpus` to root/key, atomically. Returns the final folder."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.building-", dir=root))
    try:
        t0 = time.perf_counter()
        vectors, n_new = embed_passages(corpus.passages, embedder, cache_dir, progress)
        kind = dense_kind(len(corpus.passages), exact_max)
        dense = _new_dense(kind, embedder.dim)
        dense.add(vectors)
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(_bm25_tokens(corpus.passages), show_progress=False)
        retriever.save(str(tmp / "bm25"))
        _write_jsonl(tmp / "documents.jsonl", [d.to_dict() for d in corpus.documents])
        _write_jsonl(tmp / "passages.jsonl", [p.to_dict() for p in corpus.passages])
        manifest = {
            "version": INDEX_VERSION, "key": key, "embedder": embedder.name, "dim": embedder.dim, "dense": kind,
            "documents": len(corpus.documents), "passages": len(corpus.passages),
            "embedded_now": n_new, "build_seconds": round(time.perf_counter() - t0, 2),
            "files": folder_sha256(tmp, skip="manifest.json"),
        }
        with open(tmp / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.rename(tmp, final)
        except OSError:
            if (final / "manifest.json").exists():  # another process finished the same build first
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
        log.info("built index %s: %d passages (%d embedded now) in %.1fs", key, len(corpus.passages),
                 n_new, time.perf_counter() - t0)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(folder: Path, embedder_name: str) -> Index:
    """Load and verify an index folder; raise CorruptIndex when anything does not check out."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("version") != INDEX_VERSION or manifest.get("embedder") != embedder_name:
            raise CorruptIndex("index was built with another version or embedder")
        for rel, digest in manifest["files"].items():
            f = folder / rel
            if not f.exists():
                raise CorruptIndex(f"missing file {rel}")
            if sha256_file(f) != digest:
                raise CorruptIndex(f"checksum mismatch in {rel}")
        documents = [Document(**row) for row in _read_jsonl(folder / "documents.jsonl")]
        passages = [Passage(**row) for row in _read_jsonl(folder / "passages.jsonl")]
        dense = _search_ready(faiss.read_index(str(folder / "dense.faiss")))
        retriever = bm25s.BM25.load(str(folder / "bm25"))
        if dense.ntotal != len(passages):
            raise CorruptIndex("vector count does not match passage count")
    except CorruptIndex:
        raise
    except Exception as exc:  # unreadable JSON, truncated FAISS file, ...
        raise CorruptIndex(f"{type(exc).__name__}: {exc}") from exc
    return Index(key=manifest["key"], path=folder, documents=documents, passages=passages, dense=dense,
                 bm25=retriever)


def open_index(corpus: Corpus, embedder: Embedder, cache_dir: Path, max_chars: int,
               rebuild: bool = False, progress=None, exact_max: int = EXACT_MAX) -> Index:
    """The index for this corpus and settings: loaded if present and sound, else (re)built."""
    root = cache_dir / "index"
    key = corpus_key(corpus, embedder.name, max_chars, exact_max)
    folder = root / key
    reason = None
    if folder.exists() and rebuild:
        _set_aside(folder, "rebuild")
        reason = "rebuild requested"
    elif folder.exists():
        try:
            return load(folder, embedder.name)
        except CorruptIndex as exc:
            log.error("index at %s is corrupt (%s); setting it aside and rebuilding", folder, exc)
            _set_aside(folder, "corrupt")
            reason = f"corrupt: {exc}"
    build(corpus, embedder, root, key, cache_dir, progress, exact_max)
    _prune(root, keep=key)
    index = load(folder, embedder.name)
    index.rebuilt_because = reason
    return index


def _set_aside(folder: Path, why: str) -> None:
    target = folder.with_name(f".{folder.name}.{why}-{int(time.time() * 1000)}")
    os.rename(folder, target)
    shutil.rmtree(target, ignore_errors=True)


def _prune(root: Path, keep: str, max_kept: int = 3) -> None:
    """Keep the newest few index folders (other corpora/settings), remove older ones and stale temp folders."""
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for p in folders[max_kept:]:
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in root.iterdir():
        if p.name.startswith(".") and ".building-" in p.name and time.time() - p.stat().st_mtime > 3600:
            shutil.rmtree(p, ignore_errors=True)
