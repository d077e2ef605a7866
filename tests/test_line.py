"""The waiting line at the model (answer/line.py): order of arrival, places, leaving; and through the pipeline
and the service, that a question waiting for the model says where it stands and that kept answers and
sources do not wait for the model at all."""
from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from answer import pipeline
from answer.line import WaitingLine
from tests.fakes import FakeLLM
from tests.test_cache import Q, reply_for, with_model


def test_turns_go_in_order_of_arrival_and_places_count_down():
    line = WaitingLine(1)
    a, b, c = line.join(), line.join(), line.join()
    assert a.wait(0) and not b.wait(0) and not c.wait(0)
    assert (a.ahead(), b.ahead(), c.ahead()) == (0, 1, 2)
    b.leave()  # a visitor who gives up waiting
    assert c.ahead() == 1 and not c.wait(0)
    a.leave()
    assert c.wait(0) and c.ahead() == 0 and len(line) == 1
    c.leave()
    c.leave()  # twice is harmless
    assert len(line) == 0
    with pytest.raises(RuntimeError):
        c.wait(0)
    with pytest.raises(ValueError):
        WaitingLine(0)


@hsettings(max_examples=30, deadline=None)
@given(size=st.integers(1, 4), holders=st.integers(1, 12), data=st.data())
def test_never_more_than_size_at_once_and_waiting_ones_go_first_come(size, holders, data):
    """Threads that joined in a known order take turns: at most `size` hold one at a time, and a turn is
    given in the order of joining (each holder leaves after a random short while)."""
    line = WaitingLine(size)
    tickets = [line.join() for _ in range(holders)]
    holds = data.draw(st.lists(st.floats(0, 0.005), min_size=holders, max_size=holders))
    lock, inside, most, entered = threading.Lock(), [0], [0], []

    def visitor(i: int) -> None:
        assert tickets[i].wait(10)
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            entered.append(i)
        time.sleep(holds[i])
        with lock:
            inside[0] -= 1
        tickets[i].leave()

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(holders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert most[0] <= size and len(entered) == holders and len(line) == 0
    # A turn goes to the first waiting ticket: the i-th to enter is among the first i + size to join.
    assert all(i < pos + size for pos, i in enumerate(entered))


def test_a_question_waiting_for_the_model_reports_its_place_then_is_answered(settings):
    fake = FakeLLM()
    app = with_model(settings, fake)
    fake.replies.append(reply_for(app))
    busy = fake.llm.line.join()  # another visitor's answer is being written
    assert busy.wait(0)
    events = pipeline.ask_stream(app.retriever, fake.llm, Q)
    kinds = [next(events)[0]]
    kind, ahead = next(events)
    assert kinds == ["sources"] and (kind, ahead) == ("waiting", 1) and not fake.calls
    assert next(events) == ("waiting", 1)  # reported again while it waits (a page notices who left)
    busy.leave()
    rest = list(events)
    assert rest[-1][0] == "done" and "53.200" in rest[-1][1].answer and len(fake.calls) == 1
    assert rest[-1][1].timings["waited_ms"] > 0 and len(fake.llm.line) == 0


def test_a_visitor_who_leaves_while_waiting_gives_up_the_place(settings):
    fake = FakeLLM()
    app = with_model(settings, fake)
    busy = fake.llm.line.join()
    events = pipeline.ask_stream(app.retriever, fake.llm, Q)
    assert [next(events)[0], next(events)[0]] == ["sources", "waiting"]
    assert len(fake.llm.line) == 2
    events.close()  # the page was closed
    assert len(fake.llm.line) == 1 and not fake.calls
    busy.leave()


def test_a_kept_answer_does_not_wait_for_the_busy_model(settings):
    fake = FakeLLM()
    app = with_model(settings, fake)
    fake.replies.append(reply_for(app))
    first = app.ask(Q)
    busy = fake.llm.line.join()  # the model is busy with someone else's question
    try:
        t0 = time.perf_counter()
        kinds = [k for k, _ in app.ask_stream(Q)]
        assert kinds == ["sources", "done"] and time.perf_counter() - t0 < 1.0
        assert app.ask(Q).answer == first.answer and len(fake.calls) == 1
    finally:
        busy.leave()


def test_places_behind_count_those_who_joined_later():
    line = WaitingLine(1)
    a, b, c = line.join(), line.join(), line.join()
    assert (a.behind(), b.behind(), c.behind()) == (2, 1, 0)
    b.leave()
    assert a.behind() == 1 and b.behind() == 0


def test_places_behind_leave_out_those_answered_beside_it():
    """With three turns at once, the two that joined after the first and got a turn are not waiting."""
    line = WaitingLine(3)
    a, b, c, d, e = (line.join() for _ in range(5))
    assert (a.behind(), b.behind(), c.behind(), d.behind(), e.behind()) == (2, 2, 2, 1, 0)
    d.leave()
    assert (a.behind(), c.behind(), e.behind()) == (1, 1, 0)


def test_a_turn_that_comes_with_visitors_waiting_behind_gets_the_lines_alone(settings):
    """While many wait, the model only chooses its lines (they are the reply), so that everyone behind gets a
    turn sooner; asked again when it is calm, the question gets the full answer (a brief one is not kept)."""
    fake = FakeLLM()
    app = with_model(settings, fake, brief_when_waiting=2)
    fake.replies += [reply_for(app), reply_for(app)]
    busy = fake.llm.line.join()
    events = app.ask_stream(Q)
    assert [next(events)[0], next(events)[0]] == ["sources", "waiting"]
    behind = [fake.llm.line.join(), fake.llm.line.join()]  # two visitors ask after it
    busy.leave()
    rest = list(events)
    result = rest[-1][1]
    assert result.brief and result.kind == "quote" and "53.200" in result.answer and not result.claim
    assert "chosen" in [k for k, _ in rest] and "token" not in [k for k, _ in rest]  # no sentence waited for
    assert result.to_dict()["brief"]
    for t in behind:
        t.leave()
    calm = app.ask(Q)
    assert calm.kind == "answer" and not calm.brief and len(fake.calls) == 2
    assert app.ask(Q).answer == calm.answer and len(fake.calls) == 2  # the full one is kept


def test_a_turn_with_fewer_waiting_behind_than_the_setting_gets_the_full_answer(settings):
    fake = FakeLLM()
    app = with_model(settings, fake, brief_when_waiting=2)
    fake.replies.append(reply_for(app))
    busy = fake.llm.line.join()
    events = app.ask_stream(Q)
    assert [next(events)[0], next(events)[0]] == ["sources", "waiting"]
    behind = fake.llm.line.join()  # one visitor asks after it
    busy.leave()
    result = list(events)[-1][1]
    behind.leave()
    assert result.kind == "answer" and not result.brief
