"""Answers kept for questions asked again, one answer for visitors asking the same at once (answer/cache.py),
through the service on the real index, with a model that replays given text."""
from __future__ import annotations

import threading
import time

import pytest

from answer.followup import Turn
from service import Vraagbaak, settings_from
from tests.fakes import FakeLLM

Q = "Hoeveel sociaal werkers zijn er in Nederland?"


def reply_for(app: Vraagbaak, question: str = Q) -> str:
    _, lines = app.retriever.evidence(question, 5)
    n = next(e.id for e in lines if "53.200" in e.text)
    return f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland."


def with_model(settings, fake: FakeLLM, **overrides) -> Vraagbaak:
    app = Vraagbaak(settings_from({**vars(settings), **overrides}, environ={}))
    app._llm, app.model_state = fake.llm, "ready"
    return app


def test_a_question_asked_again_gets_the_kept_answer(settings):
    fake = FakeLLM()
    app = with_model(settings, fake)
    fake.replies.append(reply_for(app))
    first = app.ask(Q)
    again = app.ask("  hoeveel sociaal werkers zijn er in  Nederland ")  # the same question, typed differently
    assert len(fake.calls) == 1 and first.kind == "answer" and "53.200" in first.answer
    assert again.answer == first.answer and again.citations() == first.citations()
    assert again.timings["from_cache"] and not first.timings.get("from_cache")
    events = [kind for kind, _ in app.ask_stream(Q)]  # the page still gets its sources, then the answer
    assert events == ["sources", "done"] and len(fake.calls) == 1


def test_follow_ups_and_a_cache_of_none_ask_the_model_again(settings):
    fake = FakeLLM()
    app = with_model(settings, fake, answer_cache=0)
    fake.replies += [reply_for(app)] * 2
    app.ask(Q)
    app.ask(Q)
    assert len(fake.calls) == 2
    fake = FakeLLM()
    app = with_model(settings, fake)
    history = [Turn("Wat doen sociaal werkers?", "Ze helpen mensen.")]
    fake.replies += [Q, reply_for(app)] * 2  # the rewrite of the follow-up, then its answer
    app.ask("En hoeveel zijn het er?", history)
    app.ask("En hoeveel zijn het er?", history)
    assert len(fake.calls) == 4  # its answer depends on the conversation: never kept


def test_visitors_asking_the_same_at_once_share_one_answer(settings):
    class Slow(FakeLLM):
        def _stream(self, *args, **kwargs):
            time.sleep(1.2)
            yield from super()._stream(*args, **kwargs)

    fake = Slow()
    app = with_model(settings, fake)
    fake.replies.append(reply_for(app))
    events: list = []
    threads = [threading.Thread(target=lambda: events.append(list(app.ask_stream(Q)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [e[-1][1] for e in events]
    assert len(fake.calls) == 1 and len(results) == 4
    assert {r.answer for r in results} == {results[0].answer} and "53.200" in results[0].answer
    # The three that waited for the first one's answer were told so while they waited.
    assert sorted(("shared", None) in e for e in events) == [False, True, True, True]


def test_a_failed_answer_is_not_kept(settings):
    class Failing(FakeLLM):
        def _stream(self, *args, **kwargs):
            if not self.calls:
                self.calls.append({})
                raise RuntimeError("model crashed")
            yield from super()._stream(*args, **kwargs)

    fake = Failing()
    app = with_model(settings, fake)
    fake.replies.append(reply_for(app))
    with pytest.raises(Exception):
        app.ask(Q)
    assert "53.200" in app.ask(Q).answer and len(fake.calls) == 2 and len(app.answers) == 1


def test_a_changed_corpus_never_serves_an_old_answer(small_corpus, cache_dir, tmp_path):
    settings = settings_from({"corpus": str(small_corpus), "cache_dir": str(cache_dir),
                              "added_dir": str(tmp_path / "added")}, environ={})
    fake = FakeLLM(" geen", " geen")
    app = with_model(settings, fake)
    question = "Wat doen de vrijwilligers in de moestuin?"
    app.ask(question)
    app.ask(question)
    assert len(fake.calls) == 1
    app.add("moestuin.txt", "Moestuin\n\nVrijwilligers onderhouden de moestuin van het buurthuis.".encode())
    app.ask(question)
    assert len(fake.calls) == 2


def test_the_evidence_budget_is_a_setting(settings):
    """VRAAGBAAK_EVIDENCE_CHARS bounds what the model reads (the first line always goes in)."""
    small = Vraagbaak(settings_from({**vars(settings), "evidence_chars": 300}, environ={}))
    rest = {k: v for k, v in vars(settings).items() if k != "evidence_chars"}
    wide = Vraagbaak(settings_from(rest, environ={"VRAAGBAAK_EVIDENCE_CHARS": "1500"}))
    _, few = small.retriever.evidence(Q, 5)
    _, many = wide.retriever.evidence(Q, 5)
    assert few and sum(len(e.text) for e in few) <= max(300, len(few[0].text))
    assert sum(len(e.text) for e in many) > 800 and len(many) > len(few)


def test_a_brief_answer_goes_to_those_who_waited_for_it_but_is_not_kept():
    from answer.cache import AnswerCache
    from answer.pipeline import AskResult

    cache, started, release, runs = AnswerCache(8), threading.Event(), threading.Event(), []

    def run(brief: bool):
        def events():
            runs.append(brief)
            started.set()
            release.wait(10)
            yield "done", AskResult(Q, Q, "quote", [], brief=brief)
        return events

    first: list = []
    asker = threading.Thread(target=lambda: first.extend(cache.stream("k", run(True))))
    asker.start()
    started.wait(10)
    waiter: list = []
    other = threading.Thread(target=lambda: waiter.extend(cache.stream("k", run(True))))
    other.start()
    time.sleep(0.7)  # the second visitor waits for the first one's answer...
    release.set()
    asker.join(10)
    other.join(10)
    assert runs == [True] and waiter[-1][1].brief and ("shared", None) in waiter  # ...and gets it
    assert len(cache) == 0  # not kept: the next asker runs the question again
    list(cache.stream("k", run(False)))
    assert runs == [True, False] and len(cache) == 1
