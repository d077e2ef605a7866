"""The seed articles are cleaned of page furniture, keep their content, and split into citable passages."""
from __future__ import annotations

import json
import re

import pytest

from corpus.clean import clean, parse_date
from corpus.load import load_corpus
from corpus.sentences import sentence_spans
from errors import UserError
from tests.conftest import ROOT

FURNITURE = ["Reactie toevoegen", "Login of Maak een account aan", "Geen HTML toegestaan",
             "Meld je hier aan voor de Agenda", "Het e-mailadres wordt niet gepubliceerd", "Artikel bewaren",
             "Om te kunnen reageren moet je ingelogd zijn", "Dit artikel is 2154 keer bekeken",
             "Plain text", "Meer informatie Minder informatie", "Foto: AdobeStock", "Reacties0"]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "seeds")


def test_furniture_is_gone(corpus):
    text = "\n".join(d.text for d in corpus.documents)
    for phrase in FURNITURE:
        assert phrase not in text, phrase


def test_article_text_and_comments_survive(corpus):
    text = "\n".join(d.text for d in corpus.documents)
    for sentence in [
        "Totale inclusie is een illusie.",
        "Hun caseload is te hoog, de volgende cliënt wacht",
        "De bijeenkomst vindt plaats in de Geertekerk (Utrecht).",  # event text with a sign-up call at its end
        "Bovendien zijn er circa 1 miljoen mensen die laaggeletterd zijn",  # a reader comment with content
        "Toen aarzelde de tolk even…",
        "Passende waardering voor het bestaande vrijwilligerswerk",  # list item
    ]:
        assert sentence in text, sentence


def test_every_raw_content_line_is_kept(corpus):
    """Nothing long is lost: every raw line over 150 characters is in the cleaned text."""
    for doc in corpus.documents:
        raw = (ROOT / "seeds" / doc.id).read_text(encoding="utf-8")
        for line in raw.splitlines():
            line = line.replace("\u00a0", " ").strip()
            if len(line) > 150:
                assert line in doc.text, (doc.id, line[:80])


def test_metadata(corpus):
    meta = {d.id: (d.title, d.author, d.date) for d in corpus.documents}
    assert meta["000_5baeb642dc7a47c9.txt"] == ("Sociaal werkers missen verbindende verzorgingsstaat",
                                                 "Radboud Engbersen", None)
    assert meta["001_2eb0ce1dd4be8871.txt"] == ("Oproep tot een andere focus op het sociaal werk",
                                                 "Saskia Moerbeek", "2020-06-19")
    assert meta["002_58525c23230dbfbf.txt"][:2] == ("Sociaal werk moet zorgen voor meer dan anderhalve meter solidariteit",
                                                     "Monique Kremer")  # named only in her closing note
    assert meta["003_14675bcff8dca4b5.txt"][0] == "De dilemma’s van sociaal professionals"
    assert meta["004_2ca47b64a9ad85fe.txt"] == ("Sociaal werk met stokjes", "Marije van der Meij", "2018-09-06")


def test_passage_offsets_point_into_the_document(corpus):
    for p in corpus.passages:
        doc = corpus.document(p.doc)
        assert doc.text[p.start:p.end] == p.text
    numbers = {}
    for p in corpus.passages:
        numbers.setdefault(p.doc, []).append(p.paragraph)
    assert all(n == list(range(1, len(n) + 1)) for n in numbers.values())


def test_headings_are_merged_into_what_they_head(corpus):
    by_start = {(p.doc, p.text.split("\n\n")[0]): p for p in corpus.passages}
    p = by_start.get(("002_58525c23230dbfbf.txt", "Subtiel ontmoeten"))
    assert p is not None and "Elkaar ontmoeten, samen dingen doen" in p.text
    for p in corpus.passages:  # no passage is a bare heading
        assert len(p.text) >= 60 or re.search(r"[.!?…)]$", p.text), p.text


def test_single_newline_paragraphs_are_split(corpus):
    doc4 = [p for p in corpus.passages if p.doc == "004_2ca47b64a9ad85fe.txt"]
    assert len(doc4) >= 9
    assert any(p.text.startswith("In China krijgen lokale overheden") for p in doc4)


def test_long_paragraphs_are_split_at_sentences(tmp_path):
    sentence = "Dit is een lange zin over sociaal werk in de wijk en de buurt. "
    (tmp_path / "lang.txt").write_text("Titel van het stuk\n\n" + sentence * 60, encoding="utf-8")
    c = load_corpus(tmp_path, max_chars=800)
    assert len(c.passages) >= 4
    assert all(len(p.text) <= 900 for p in c.passages)
    assert all(p.text.rstrip().endswith(".") for p in c.passages)


def test_hard_wrapped_markdown_is_one_paragraph(tmp_path):
    md = ("# Wijkteams in de praktijk\n\nDe wijkteams werken sinds een aantal jaren met een\n"
          "vaste contactpersoon voor elk gezin, zodat bewoners niet\nsteeds een ander gezicht zien.\n\n"
          "Tweede alinea met een eigen onderwerp over de financiering\nvan het werk door de gemeente.\n")
    (tmp_path / "notitie.md").write_text(md, encoding="utf-8")
    c = load_corpus(tmp_path)
    assert c.documents[0].title == "Wijkteams in de praktijk"
    assert len(c.passages) == 2
    assert "vaste contactpersoon" in c.passages[0].text and "niet\nsteeds" in c.passages[0].text


def test_jsonl_corpus(tmp_path):
    rows = [{"id": "a", "title": "Eerste", "text": "Buurthuizen zijn belangrijk voor de sociale cohesie in de wijk."},
            {"id": "b", "title": "Tweede", "text": "Vrijwilligers doen veel werk, maar zijn geen professionals."}]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    c = load_corpus(path)
    assert [d.id for d in c.documents] == ["a", "b"]
    assert c.documents[0].title == "Eerste"


@pytest.mark.parametrize("make, key", [
    (lambda p: p / "bestaat-niet", "corpus_missing"),
    (lambda p: (p / "leeg").mkdir() or p / "leeg", "corpus_empty"),
    (lambda p: (p / "x.jsonl").write_text("{niet json") and p / "x.jsonl", "bad_jsonl"),
    (lambda p: (p / "x.png").write_bytes(b"\x89PNG") and p / "x.png", "corpus_kind"),
    (lambda p: (p / "x.pdf").write_bytes(b"%PDF") and p / "x.pdf", "bad_pdf"),  # a registered type, unreadable
])
def test_bad_corpus_gives_a_user_error(tmp_path, make, key):
    with pytest.raises(UserError) as err:
        load_corpus(make(tmp_path))
    assert err.value.key == key and err.value.dutch and err.value.english


@pytest.mark.parametrize("note, author", [
    ("Jan de Vries is lector wijkgericht werken aan de Hogeschool Utrecht. Dit essay is een bewerking van zijn "
     "oratie.", "Jan de Vries"),
    ("Fatima El Amrani werkt als jongerenwerker in Rotterdam. Deze bijdrage verscheen eerder in haar blog.",
     "Fatima El Amrani"),
    ("De gemeente is verantwoordelijk voor de uitvoering. Dit stuk gaat over de wijkteams.", None),
])
def test_the_author_of_an_about_the_author_note(note, author):
    body = "Een titel\n\nEen eerste alinea over sociaal werk in de wijk, lang genoeg om tekst te zijn.\n\n"
    assert clean(body + note).author == author


def test_dates():
    assert parse_date("19-6-2020") == "2020-06-19"
    assert parse_date("6 september 2018 | 2 minuten lezen") == "2018-09-06"
    assert parse_date("Op 5 oktober 2023 kun je meepraten") is None
    assert parse_date("31-13-2020") is None


def test_clean_keeps_sentences_that_mention_furniture_words():
    raw = ("Titel\n\nIn haar reactie toevoegen zij dat de nieuwsbrief van de gemeente de bewoners niet bereikt, "
           "omdat veel mensen laaggeletterd zijn en geen e-mail lezen.\n\nReageer\n")
    lines = clean(raw).lines
    assert any("nieuwsbrief van de gemeente" in line for line in lines)
    assert "Reageer" not in lines


def test_sentences_keep_numbers_abbreviations_and_offsets():
    text = ("Het werk wordt gedaan door 53.200 sociaal werkers en 117.000 vrijwilligers. Prof. dr. Kremer zegt "
            "o.a. dat het kan, bijv. in Amsterdam. Dat kost 1,5 mln. euro.\nKop zonder punt\n"
            "Zij zei: „Dit is het.” ’s Avonds is het stil.")
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "Het werk wordt gedaan door 53.200 sociaal werkers en 117.000 vrijwilligers.",
        "Prof. dr. Kremer zegt o.a. dat het kan, bijv. in Amsterdam.",
        "Dat kost 1,5 mln. euro.",
        "Kop zonder punt",
        "Zij zei: „Dit is het.”",
        "’s Avonds is het stil."]
