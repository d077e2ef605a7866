"""Several questions answered at once (`--llm-parallel`): the page's model queue admits as many as the
in-process engine writes in one batch (answer/batching.py), through the real server and model."""
from __future__ import annotations

import threading

import pytest

from eval.common import ask_waiting
from tests.conftest import running_app

pytestmark = pytest.mark.llm


def test_two_visitors_are_answered_together_without_queueing(seed_index, cache_dir, tmp_path_factory):
    from gradio_client import Client

    with running_app(cache_dir, tmp_path_factory, "--llm-parallel", "2") as info:
        Client(info["url"], verbose=False).predict("Wat is de kern van solidariteit?", api_name="/ask")  # warm
        questions = ["Hoeveel sociaal werkers zijn er in Nederland?",
                     "Hoeveel jaar bestaat formeel sociaal werk al in China?"]
        clients = [Client(info["url"], verbose=False) for _ in questions]
        results: list = [None, None]
        start = threading.Barrier(2)

        def visitor(i: int) -> None:
            start.wait()
            results[i] = ask_waiting(clients[i], questions[i])

        threads = [threading.Thread(target=visitor, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        (first, first_queued), (second, second_queued) = results
        assert not first_queued and not second_queued  # one at a time, the second would see its queue place
        assert "53.200" in first["answer"] and first["citations"]
        assert "30" in second["answer"] and second["citations"]
