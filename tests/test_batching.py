"""Prompt-lookup guesses (answer/batching.draft): what the scheduler feeds ahead of the model's choice."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from answer.batching import DRAFT_NGRAMS, draft

TOKENS = st.lists(st.integers(0, 5), max_size=60)  # few distinct tokens: many repeats, as in real prompts


def test_the_tokens_after_the_last_occurrence_of_the_longest_tail():
    source = np.array([7, 1, 2, 3, 9, 9, 1, 2, 3, 4, 5, 6, 2, 3, 8])
    assert draft(source, [0, 1, 2, 3], 3) == [4, 5, 6]  # "1 2 3" occurs twice: the last one, nearest the question
    assert draft(source, [0, 0, 2, 3], 2) == [8]  # "0 2 3" is not there, "2 3" is: its last occurrence
    assert draft(source, [0, 0, 0, 5], 4) == []  # no tail of two tokens is in the prompt: nothing guessed
    assert draft(source, [1, 2, 3], 0) == [] and draft(source[:2], [7, 1], 3) == []


@given(TOKENS, TOKENS, st.integers(0, 8))
def test_a_guess_continues_an_occurrence_of_the_tail_in_the_prompt(source, tail, n):
    guess = draft(np.array(source, dtype=np.int32), tail, n)
    assert len(guess) <= n
    if guess:
        starts = [i for i in range(len(source) - len(guess) + 1) if source[i:i + len(guess)] == guess]
        assert any(source[s - size:s] == tail[-size:] for s in starts for size in DRAFT_NGRAMS if s >= size)
