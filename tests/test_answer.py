"""Answering with the real local model: evidence chosen under a grammar, checked answers, refusals,
follow-ups through every interface, and the three backends. (Branches are pinned with a replaying model in
test_decide.py; these tests are for what only the real model shows.)"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from answer.followup import Turn, rewrite_messages
from answer.prompt import PREFILL, build_messages, grammar, parse
from service import settings_from
from retrieval.evidence import select
from retrieval.search import search
from tests.conftest import PYTHON, ROOT, free_port, run_app

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llm(vraagbaak):
    return vraagbaak.llm()  # loaded once, both prompt prefixes read


def test_the_grammar_holds_the_model_to_lines_that_exist(seed_index, llm):
    index, embedder = seed_index
    question = "Wat is de hoofdstad van Australië?"  # nothing answers it: the model may only say geen or a number
    vec = embedder.embed_query(question)
    lines = select(question, vec, search(index, embedder, question, k=5, query_vec=vec), embedder,
                   index.documents_by_id, lines=3)
    raw = llm.complete(build_messages(question, lines), max_tokens=40, grammar=grammar(3), prefill=PREFILL)
    reply = parse(raw)
    assert raw.startswith(" geen") or (raw.startswith(" ") and reply.chosen and set(reply.chosen) <= {1, 2, 3}
                                       and "\nAntwoord: " in raw), raw


# ---- the real model ------------------------------------------------------------------------------------

def test_answers_in_dutch_with_checked_evidence(vraagbaak, llm):
    result = vraagbaak.ask("Hoeveel jaar bestaat formeel sociaal werk al in China?")
    d = result.to_dict()
    assert d["kind"] in ("answer", "quote") and "30" in d["answer"]
    cited = d["citations"][0]
    assert cited["doc"] == "004_2ca47b64a9ad85fe.txt"
    evidence = next(e for e in cited["evidence"] if "30 jaar" in e["text"])
    assert "30 jaar" in evidence["text"] and cited["start"] <= evidence["start"] < evidence["end"] <= cited["end"]
    assert d["timings"]["first_token_ms"] > 0 and d["timings"]["retrieval_ms"] < d["timings"]["total_ms"]


def test_numbers_with_thousands_separators_reach_the_answer(vraagbaak, llm):
    d = vraagbaak.ask("Hoeveel sociaal werkers en vrijwilligers zijn er in Nederland actief?").to_dict()
    assert "53.200" in d["answer"] and "117.000" in d["answer"] and d["citations"]


def test_who_wrote_it_is_answered_from_the_byline(vraagbaak, llm):
    d = vraagbaak.ask("Wie schreef het artikel over sociaal werk in China?").to_dict()
    assert not d["refused"] and "Marije van der Meij" in d["answer"]
    assert d["citations"][0]["doc"] == "004_2ca47b64a9ad85fe.txt"


@pytest.mark.parametrize("question", ["Wat is de hoofdstad van Australië?",
                                      "Hoeveel vrijwilligers werken er in Duitsland?",
                                      "Hoe oud is Monique Kremer?"])
def test_refuses_what_the_sources_do_not_hold(vraagbaak, llm, question):
    d = vraagbaak.ask(question).to_dict()
    assert d["refused"] and d["answer"] == "Dat staat niet in de bronnen." and d["citations"] == []


def test_with_visitors_waiting_the_model_stops_after_choosing_its_lines(vraagbaak, llm):
    from answer import pipeline

    question = "Hoeveel sociaal werkers zijn er in Nederland?"
    busy = llm.line.join()
    events = pipeline.ask_stream(vraagbaak.retriever, llm, question, brief_when_waiting=2)
    assert [next(events)[0], next(events)[0]] == ["sources", "waiting"]
    behind = [llm.line.join(), llm.line.join()]
    busy.leave()
    brief = pipeline.result_of(events)
    for t in behind:
        t.leave()
    full = pipeline.ask(vraagbaak.retriever, llm, question)  # asked alone: the same lines, and a sentence
    assert brief.brief and brief.kind == "quote" and not brief.claim and "53.200" in brief.answer
    assert brief.timings["generated_tokens"] < full.timings["generated_tokens"] and not full.brief
    assert parse(brief.raw).chosen == parse(full.raw).chosen and full.raw.startswith(brief.raw)


def test_follow_up_is_rewritten_with_the_conversation(vraagbaak, llm):
    history = [Turn("Hoeveel sociaal werkers zijn er in Nederland?", "Er zijn 53.200 sociaal werkers [1].")]
    result = vraagbaak.ask("En hoeveel vrijwilligers?", history)
    assert result.standalone != result.question and "vrijwilliger" in result.standalone.lower()
    assert "117.000" in result.answer


def test_the_rewrite_prompt_prefix_is_read_at_warm_up(vraagbaak, llm):
    """The first follow-up of a demonstration does not wait for the rewrite prompt's fixed part."""
    from answer.llm import Timing

    timing = Timing()
    history = [Turn("Wat zegt Monique Kremer over solidariteit?", "Wederkerigheid en vertrouwen [1].")]
    text = "".join(llm.stream(rewrite_messages("En over inclusie?", history), 48, timing))
    assert "Kremer" in text and timing.cached_tokens > 2 * timing.prompt_tokens


def test_english_question_gets_a_dutch_answer(vraagbaak, llm):
    from verify.dutch import english_words

    d = vraagbaak.ask("How long has formal social work existed in China?").to_dict()
    assert not d["refused"] and "30 jaar" in d["answer"]
    assert not english_words(d["answer"], " ".join(c["text"] for c in d["citations"]))


def test_cli_ask_json(seed_index, cache_dir):
    out = run_app("ask", "Wat is de hoofdstad van Australië?", "--json", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "answer", "kind", "refused", "citations", "timings"}
    assert set(data["timings"]) >= {"retrieval_ms", "first_token_ms", "total_ms"}
    assert data["refused"] is True and data["kind"] == "refused"


def test_cli_batch_rows_carry_their_conversation(seed_index, cache_dir, tmp_path):
    rows = [{"id": "q1", "question": "En hoeveel vrijwilligers?",
             "history": [{"question": "Hoeveel sociaal werkers zijn er in Nederland?", "answer": "53.200 [1]."}]},
            {"id": "q2", "question": "Wie?", "history": "niet goed"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = run_app("ask", "--batch", str(path), cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["id"] == "q1" and "vrijwilliger" in first["standalone_question"].lower()
    assert "117.000" in first["answer"]
    assert second["id"] == "q2" and "gespreksgeschiedenis" in second["error"]


# ---- the other two backends ----------------------------------------------------------------------------

def test_openai_backend_against_a_real_llama_cpp_server(seed_index, cache_dir):
    port = free_port()
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
        assert "30" in data["answer"] and data["citations"] and data["kind"] in ("answer", "quote")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_transformers_backend_loads_the_gguf_and_generates(cache_dir):
    """The design card's library on the same weights (dequantised: ~9 GB, about a minute to load)."""
    from answer.backends import load_llm

    settings = settings_from({"cache_dir": str(cache_dir), "llm_backend": "transformers"}, environ={})
    llm = load_llm(settings)
    assert llm.backend == "transformers"
    text = llm.complete([{"role": "user", "content": "Wat is de hoofdstad van Nederland?"}], max_tokens=6,
                        prefill="De hoofdstad van Nederland is")
    assert "Amsterdam" in text and not text.startswith("De hoofdstad")  # the prefill is read, not repeated
