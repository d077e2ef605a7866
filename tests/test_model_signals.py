"""The reader behind `python -m eval.model_signals` (hidden states, question likelihood, leave-one-out "geen"),
on the real model."""
from __future__ import annotations

import numpy as np
import pytest

from eval.model_signals import LAYERS, Reader, without
from retrieval.evidence import Evidence, Sentence

pytestmark = pytest.mark.llm


def test_a_text_that_answers_the_question_makes_it_likelier_and_states_differ_per_prompt(settings):
    reader = Reader(settings)
    try:
        question = "Wie schreef het artikel over solidariteit?"
        answering = reader.question_logp("Het artikel over solidariteit is geschreven door Jan de Vries.", question)
        unrelated = reader.question_logp("De kat slaapt de hele middag op de bank.", question)
        assert answering > unrelated
        one = reader.hidden([{"role": "user", "content": question}])
        other = reader.hidden([{"role": "user", "content": "Hoeveel mensen wonen er in Utrecht?"}])
        assert one.shape == (len(LAYERS), other.shape[1]) and np.isfinite(one).all() and one.std() > 0
        assert not np.allclose(one, other)
    finally:
        reader.close()


def test_taking_away_the_line_that_answers_raises_the_models_geen(settings):
    texts = ["De kat slaapt de hele middag op de bank.", "Het gemeentehuis van Utrecht staat aan de Stadsplateau.",
             "Het artikel over solidariteit is geschreven door Jan de Vries."]
    lines = [Evidence(i, 0, (Sentence("d", 0, len(t), t),), 0.5) for i, t in enumerate(texts, 1)]
    assert [e.id for e in without(lines, {2})] == [1, 2] and without(lines, {2})[1].text == texts[2]
    reader = Reader(settings)
    try:
        question = "Wie schreef het artikel over solidariteit?"
        full, without_answer = reader.p_none(question, lines), reader.p_none(question, without(lines, {3}))
        assert 0 <= full < without_answer <= 1
    finally:
        reader.close()
