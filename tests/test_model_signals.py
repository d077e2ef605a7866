"""The reader behind `python -m eval.model_signals` (hidden states and question likelihood), on the real model."""
from __future__ import annotations

import numpy as np
import pytest

from eval.model_signals import LAYERS, Reader

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
