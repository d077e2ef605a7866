"""Answering with the real local model: verified citations, refusals, follow-ups, and the three backends."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from answer.context import Sentence, Source, select
from answer.pipeline import (Turn, ask, can_quote, expects_number, has_number, looks_like_follow_up, missing_specifics,
                             pointed_excerpt, rewrite_messages)
from config import load_settings
from retrieval.search import Hit, search
from tests.conftest import PYTHON, ROOT, run_app
from verify.citations import check_answer, split_sentences
from verify.service import get_quote_index

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llm(settings):
    from answer.pipeline import warm_up

    return warm_up(settings)


def _sources(seed_index, *specs):
    """Sources built from real passages: (doc, paragraph) pairs, numbered from 1."""
    index, _ = seed_index
    out = []
    for n, (doc, para) in enumerate(specs, start=1):
        p = next(x for x in index.passages if x.doc == doc and x.paragraph == para)
        out.append(Source(n=n, hit=Hit(p, 1.0, 0.9, 1.0), sentences=[Sentence(n - 1, p.start, p.end, p.text)]))
    return out


# ---- verification, on real passages ------------------------------------------------------------------

def test_supported_sentence_keeps_its_citation(seed_index, settings):
    src = _sources(seed_index, ("004_2ca47b64a9ad85fe.txt", 5), ("002_58525c23230dbfbf.txt", 13))
    checked = check_answer("Het formele sociaal werk bestaat in China zo’n 30 jaar [1].", src,
                           get_quote_index(settings))
    assert [s.cited for s in checked.kept] == [[1]]
    assert checked.answer_text() == "Het formele sociaal werk bestaat in China zo’n 30 jaar\u00a0[1]."


def test_wrong_number_invalid_citation_and_invention_are_dropped(seed_index, settings):
    src = _sources(seed_index, ("004_2ca47b64a9ad85fe.txt", 5))
    answer = ("Het formele sociaal werk bestaat in China zo’n 50 jaar [1]. "
              "De maan is van groene kaas [7]. Sociaal werk in China is al 30 jaar formeel [3].")
    checked = check_answer(answer, src, get_quote_index(settings))
    kept = checked.kept
    assert len(kept) == 1 and kept[0].cited == [1] and "30 jaar" in kept[0].text  # [3] corrected to [1]
    assert not checked.sentences[0].supported and not checked.sentences[1].supported


def test_quotation_must_be_in_the_corpus(seed_index, settings):
    src = _sources(seed_index, ("002_58525c23230dbfbf.txt", 13))
    good = check_answer("Zij schrijft: „Totale inclusie is een illusie” [1].", src, get_quote_index(settings))
    bad = check_answer("Zij schrijft: „Totale inclusie is een utopie” [1].", src, get_quote_index(settings))
    assert good.kept and not bad.kept and bad.quotes_rejected == ["Totale inclusie is een utopie"]


def test_sentence_splitting_keeps_citations_with_their_sentence():
    parts = split_sentences("Eerste zin [1]. Tweede zin.[2][3] Derde zin zonder bron.")
    assert parts == [("Eerste zin.", [1]), ("Tweede zin.", [2, 3]), ("Derde zin zonder bron.", [])]


def test_follow_up_detection_and_missing_names():
    assert looks_like_follow_up("En wat zegt zij over vertrouwen?")
    assert not looks_like_follow_up("Wat is de kern van solidariteit volgens Kremer?")
    assert missing_specifics("Hoeveel vrijwilligers werken er in Duitsland?", []) == ["Duitsland"]


def _excerpts(seed_index, question):
    index, embedder = seed_index
    vec = embedder.embed_query(question)
    return select(question, vec, search(index, embedder, question, k=5, query_vec=vec), embedder)


def test_excerpts_come_best_first_with_the_sentences_they_lean_on(seed_index):
    sources, excerpts = _excerpts(seed_index, "Waarom gooien steeds meer sociaal werkers de handdoek in de ring?")
    assert [e.score for e in excerpts] == sorted((e.score for e in excerpts), reverse=True)
    # "Het is een belangrijk motief ..." is shown with the sentence that says what "het" is.
    first = excerpts[0].text
    assert first.index("relationele continuïteit") < first.index("Het is een belangrijk motief")
    # "Ze worden bijvoorbeeld uitgenodigd ..." comes with the "Maar ..." before it and the "Hierdoor ..." after it.
    sources, excerpts = _excerpts(seed_index, "Waarvoor worden vrijwilligers door professionals uitgenodigd?")
    first = excerpts[0].text
    assert first.startswith("Maar het blijkt") and first.endswith("al gauw leeggezogen.")
    # Every excerpt sentence is marked on its source, for the highlighting in the page.
    shown = {s.text for src in sources for s in src.sentences}
    assert {s.text for e in excerpts for s in e.sentences} == shown


def test_pointed_excerpt_is_the_one_the_answer_drew_on(seed_index):
    question = "Waar draait het herwinnen van vertrouwen in de verzorgingsstaat om?"
    sources, excerpts = _excerpts(seed_index, question)
    raw = "Het herwinnen van vertrouwen in de verzorgingsstaat draait om de tijd nemen en continuïteit [1]."
    pointed = pointed_excerpt(question, raw, sources, excerpts)
    assert pointed is not None and "tijd nemen en in continuïteit" in pointed.text
    assert pointed_excerpt(question, "De maan is van groene kaas [1].", sources, excerpts) is None


def test_a_quote_must_name_what_the_question_names_and_hold_a_number_when_asked(seed_index):
    assert expects_number("Wanneer werd Movisie opgericht?") and expects_number("Hoeveel vrijwilligers zijn er?")
    assert not expects_number("Waarom haken sociaal werkers af?")
    assert has_number("elke vier, vijf jaar") and has_number("53.200 sociaal werkers") and not has_number("een boek")
    question = "Welk boek schreef Saskia Moerbeek in 2015?"
    sources, excerpts = _excerpts(seed_index, question)
    moerbeek = [e for e in excerpts if "Moerbeek" in sources[e.n - 1].passage.text]
    others = [e for e in excerpts if "Moerbeek" not in sources[e.n - 1].passage.text]
    assert others and not any(can_quote(question, sources, e) for e in others)
    assert all(can_quote(question, sources, e) == has_number(e.text) for e in moerbeek)


# ---- the real model ------------------------------------------------------------------------------------

def test_answers_in_dutch_with_a_verified_citation(settings, llm):
    result = ask(settings, "Hoeveel jaar bestaat formeel sociaal werk al in China?", llm=llm)
    d = result.to_dict()
    assert not d["refused"] and "30" in d["answer"]
    assert d["citations"] and d["citations"][0]["doc"] == "004_2ca47b64a9ad85fe.txt"
    assert all(c["supported"] for c in d["citations"])
    assert d["timings"]["first_token_ms"] > 0 and d["timings"]["retrieval_ms"] < d["timings"]["total_ms"]


def test_numbers_with_thousands_separators_reach_the_answer(settings, llm):
    d = ask(settings, "Hoeveel sociaal werkers en vrijwilligers zijn er in Nederland actief?", llm=llm).to_dict()
    assert "53.200" in d["answer"] and "117.000" in d["answer"] and d["citations"]


def test_an_answer_leaning_on_a_pronoun_comes_with_what_it_refers_to(settings, llm):
    # The model answers "Het is een belangrijk motief ... [1]."; "het" is the sentence before, which it left out.
    d = ask(settings, "Waarom gooien steeds meer sociaal werkers de handdoek in de ring?", llm=llm).to_dict()
    assert not d["refused"] and "relationele continuïteit" in d["answer"] and d["citations"]


@pytest.mark.parametrize("question", ["Wat is de hoofdstad van Australië?",
                                      "Hoeveel vrijwilligers werken er in Duitsland?",
                                      "Wanneer werd Movisie opgericht?"])
def test_refuses_what_the_sources_do_not_hold(settings, llm, question):
    d = ask(settings, question, llm=llm).to_dict()
    assert d["refused"] and d["answer"] == "Dat staat niet in de bronnen." and d["citations"] == []


def test_follow_up_is_rewritten_with_the_conversation(settings, llm):
    history = [Turn("Wat zegt Monique Kremer over solidariteit?",
                    "Volgens Kremer zijn de pijlers onder solidariteit wederkerigheid en vertrouwen [1].")]
    result = ask(settings, "En wat zegt zij over inclusie?", history=history, llm=llm)
    assert result.standalone != result.question
    assert any(s.passage.doc == "002_58525c23230dbfbf.txt" for s in result.sources[:2])


def test_the_rewrite_prompt_prefix_is_read_at_warm_up(settings, llm):
    """The first follow-up of a demonstration does not wait for the rewrite prompt's fixed part."""
    from answer.llm import Timing

    timing = Timing()
    history = [Turn("Wat zegt Monique Kremer over solidariteit?", "Wederkerigheid en vertrouwen [1].")]
    text = "".join(llm.stream(rewrite_messages("En over inclusie?", history), 48, timing))
    assert "Kremer" in text and timing.cached_tokens > 2 * timing.prompt_tokens


def test_english_question_gets_a_dutch_answer(settings, llm):
    d = ask(settings, "How long has formal social work existed in China?", llm=llm).to_dict()
    assert d["refused"] or not any(w in d["answer"].lower().split() for w in ("the", "has", "years"))


def test_cli_ask_json(seed_index, cache_dir):
    out = run_app("ask", "Wat is de hoofdstad van Australië?", "--json", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "answer", "refused", "citations", "timings"}
    assert set(data["timings"]) >= {"retrieval_ms", "first_token_ms", "total_ms"}
    assert data["refused"] is True


# ---- the other two backends ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_backend_against_a_real_llama_cpp_server(seed_index, cache_dir):
    port = _free_port()
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache_dir)}
    server = subprocess.Popen([PYTHON, "-m", "answer.serve_llm", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.5)
        out = run_app("ask", "Hoeveel jaar bestaat formeel sociaal werk al in China?", "--json",
                      "--llm-url", f"http://127.0.0.1:{port}/v1", cache_dir=cache_dir)
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert "30" in data["answer"] and data["citations"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_transformers_backend_loads_the_gguf_and_generates(cache_dir):
    """The design card's library on the same weights (dequantised: ~9 GB, about a minute to load)."""
    from answer.llm import get_llm

    settings = load_settings({"cache_dir": str(cache_dir), "llm_backend": "transformers"}, environ={})
    llm = get_llm(settings)
    assert llm.backend == "transformers"
    text = llm.complete([{"role": "user", "content": "Wat is de hoofdstad van Nederland? Eén woord."}],
                        max_tokens=6)
    assert "Amsterdam" in text
