"""The evaluation's question sets are sound data: every answerable question's evidence is found in the cleaned
seed articles (or in its byline), every key fact can be found in its evidence, the held-out set C shares no
id with the split and repeats no earlier question, and the split never changes."""
from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from config import ROOT
from eval.questions import (ANSWERABLE_TYPES, UNANSWERABLE_TYPES, conversations, fact_holds, half, legacy_questions,
                            locate, norm)
from eval.split import heldout_questions, load_split, make_split, seed_questions, tuning_questions

SEEDS = ROOT / "seeds"


def test_the_split_is_the_one_written_and_set_c_is_held_out_whole():
    split = load_split()
    assert make_split() == split  # the fixed seed still gives the stored halves
    ids = set(split["questions"]["tune"]) | set(split["questions"]["test"])
    c = heldout_questions()
    assert len(c) == 109 and not ids & {r["id"] for r in c}
    tune = {q["id"] for q in half("tune")}
    assert not tune & {r["id"] for r in c} and not half("tune", "c")
    assert {r["id"] for r in half("test", "c")} == {r["id"] for r in c}


def test_set_c_repeats_no_earlier_question():
    """A question asked nearly word for word before (in a tuning set, say) is no held-out question."""
    earlier = seed_questions() + sum(legacy_questions(), []) + [t for c in conversations("tune") for t in c["turns"]]
    for r in heldout_questions():
        assert all(fuzz.ratio(norm(e["question"]), norm(r["question"])) < 90 for e in earlier), r["id"]
        earlier.append(r)


def test_set_d_tunes_on_no_test_question():
    """Set D (tuning only) asks nothing the test half or set C asks, not even in other words."""
    test = half("test")
    d = half("tune", "d")
    assert len(d) == 24 and {r["type"] for r in d} == set(UNANSWERABLE_TYPES) and not half("test", "d")
    for r in d:
        assert all(fuzz.token_set_ratio(norm(t["question"]), norm(r["question"])) < 75 for t in test), r["id"]


@pytest.mark.parametrize("rows", [seed_questions(), heldout_questions(), tuning_questions()],
                         ids=["sets A and B", "set C", "set D"])
def test_evidence_is_in_the_articles_and_facts_in_the_evidence(rows, seed_index):
    index, _ = seed_index
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["type"] in ANSWERABLE_TYPES + UNANSWERABLE_TYPES, r["id"]
        if r["type"] in UNANSWERABLE_TYPES:
            assert not r.get("evidence"), r["id"]
            continue
        spans = [locate(index, e["doc"], e["text"]) for e in r["evidence"]]
        assert all(s is not None for s in spans), r["id"]
        for e, s in zip(r["evidence"], spans):  # not in the cleaned text: a byline, found in the article's file
            assert s.start >= 0 or " ".join(e["text"].split()) in " ".join((SEEDS / e["doc"]).read_text().split()), r["id"]
        evidence = " ".join(e["text"] for e in r["evidence"])
        assert r["facts"] and all(fact_holds(evidence, f) for f in r["facts"]), r["id"]
