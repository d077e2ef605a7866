"""The benchmark report's own arithmetic and the naive-RAG baseline it compares with (eval/report.py,
eval/naive.py): a report that guards changes must judge right, so its judging is tested like product code."""
from __future__ import annotations

from eval import naive, report
from tests.fakes import FakeLLM


def test_the_baseline_shows_the_reply_as_written_with_its_citations(retriever):
    fake = FakeLLM("Er zijn 53.200 sociaal werkers [1] en veel vrijwilligers [7].")
    reply = naive.ask(retriever, fake.llm, "Hoeveel sociaal werkers zijn er in Nederland?")
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert all(h.passage.text in prompt for h in reply.hits) and len(reply.hits) == naive.K  # whole passages
    assert fake.calls[0]["grammar"] is None  # nothing holds the baseline to a format
    assert reply.reply.startswith("Er zijn 53.200") and not reply.refused
    assert reply.citations == [1, 7] and reply.phantom == [7]
    assert [h.passage.text for h in reply.cited_hits()] == [reply.hits[0].passage.text]
    assert reply.timings["first_token_ms"] is not None and reply.timings["total_ms"] >= reply.timings["first_token_ms"]


def test_a_refusal_in_the_models_own_words_is_recognised():
    for text in ("Dat staat niet in de bronnen.", "Helaas, dit wordt niet genoemd in de tekst.", ""):
        assert naive.NaiveReply("q", text, []).refused
    assert not naive.NaiveReply("q", "Solidariteit is een belangrijk motief [2].", []).refused


def _row(who_set: str, **kw) -> dict:
    base = {"set": who_set, "answerable": True, "refused": False, "correct": False,
            "cited_passage_holds_answer": False, "timings": {"retrieval_ms": 10.0, "first_token_ms": 1000.0,
                                                             "total_ms": 2000.0}}
    return {**base, **kw}


def test_figures_count_what_they_say():
    rows = [_row("seeds", correct=True, cited_passage_holds_answer=True, precise_citations=1, distinct_citations=2,
                 citations=3, phantom=1),
            _row("seeds", refused=True),
            _row("seeds", answerable=False, refused=True, citations=0),
            _row("seeds", answerable=False, refused=False, citations=1, phantom=0),
            _row("xquad", contains_answer=True), _row("xquad", contains_answer=False),
            _row("gold_removed", refused=True)]
    f = report.figures(rows)
    assert (f["correct"], f["false_refusals"], f["cited_holds_answer"]) == (0.5, 0.5, 0.5)
    assert f["citation_precision"] == 0.5  # 1 of 2 distinct cited passages holds the gold evidence
    assert f["phantom_citations"] == 0.25  # 1 of the 4 written [n]
    assert (f["refused_unanswerable"], f["xquad_contains_answer"], f["gold_removed_refused"]) == (0.5, 0.5, 1.0)
    assert f["first_token_ms"]["median"] == 1000.0


def test_the_checks_fail_on_a_missed_target_and_on_losing_to_the_baseline():
    good = {"correct": 0.9, "cited_holds_answer": 0.9, "citation_precision": 0.9, "phantom_citations": 0.0,
            "refused_unanswerable": 0.95, "false_refusals": 0.05, "english": 0.0, "evidence_in_prompt": 0.96,
            "xquad_contains_answer": 0.8, "gold_removed_refused": 0.85,
            "first_token_ms": {"median": 1000.0}, "total_ms": {"median": 2000.0}}
    base = {"correct": 0.5, "cited_holds_answer": 0.6, "citation_precision": 0.5, "phantom_citations": 0.1,
            "refused_unanswerable": 0.7, "false_refusals": 0.2, "xquad_contains_answer": 0.5,
            "gold_removed_refused": 0.5, "first_token_ms": {"median": 3000.0}, "total_ms": {"median": 9000.0}}
    result = {"answers": {"ours": good, "naive": base}, "quotes": {"verdict_accuracy": 0.99}}
    assert all(c["met"] for c in report.check(result))
    worse = {"answers": {"ours": {**good, "false_refusals": 0.2}, "naive": base}, "quotes": {"verdict_accuracy": 0.99}}
    tie = {"answers": {"ours": good, "naive": {**base, "refused_unanswerable": 0.95, "phantom_citations": 0.0}},
           "quotes": {"verdict_accuracy": 0.99}}
    # a tie is no win, unless both are perfect (no phantom citations on either side)
    assert [c["figure"] for c in report.check(tie) if not c["met"]] == ["versus naive: refused_unanswerable"]
    missed = {c["figure"] for c in report.check(worse) if not c["met"]}
    assert missed == {"answers.ours.false_refusals", "versus naive: false_refusals"}
    slow = {"answers": {"ours": {**good, "first_token_ms": {"median": 2000.0}}, "naive": base},
            "quotes": {"verdict_accuracy": 0.99}}
    assert [c["figure"] for c in report.check(slow) if not c["met"]] == ["versus naive: first token, times faster"]


def test_the_replay_gives_the_live_decision_and_refuses_more_as_the_threshold_falls(retriever, seed_index):
    from answer.pipeline import ask
    from eval import replay
    from tests.test_decide import Q, lines_for

    n = next(e.id for e in lines_for(seed_index, Q) if "53.200" in e.text)
    reply = f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland."
    live = [ask(retriever, FakeLLM(reply, step_probs=[{" ": 1 - p, " geen": p}, {str(n): 0.6}]).llm, Q)
            for p in (0.01, 0.3, 0.9)]
    doubts = [r.signals["doubt"] for r in live]
    assert doubts == sorted(doubts) and doubts[0] < 0.5 <= doubts[-1]  # the fake's "geen" moves the doubt
    for r in live:
        again = replay.replay(r, retriever.documents)
        assert (again.kind, again.answer) == (r.kind, r.answer)
        curve = [a.refused for a in replay.at_thresholds(r, retriever.documents)]
        # refused exactly at the thresholds at or below its doubt
        assert curve == [r.signals["doubt"] >= t for t in replay.DOUBT_GRID]
    gated = ask(retriever, FakeLLM(" 1\nAntwoord: Canberra.").llm, "Wat is de hoofdstad van Australië?")
    assert all(a.refused for a in replay.at_thresholds(gated, retriever.documents))  # the model was not asked: refused at every threshold


def test_the_trade_off_counts_each_threshold_and_checks_the_replay():
    from eval import replay

    k = len(replay.DOUBT_GRID)
    at = replay.DOUBT_GRID.index(replay.decide_mod.DOUBT_MAX)
    low = [True] * at + [False] * (k - at)  # refused below the product's threshold only
    rows = [_row("seeds", refused=False, refused_at=low, correct_at=[not x for x in low]),
            _row("seeds", refused=True, refused_at=[True] * k, correct_at=[False] * k),
            _row("seeds", answerable=False, refused=True, refused_at=[True] * k),
            _row("seeds", answerable=False, refused=False, refused_at=low),
            _row("gold_removed", refused=True, refused_at=[True] * k)]
    t = report.trade_off(rows)
    first, own = t["points"][0], t["points"][at]
    assert (first["false_refusals"], first["refused_unanswerable"], first["correct"]) == (1.0, 1.0, 0.0)
    assert (own["false_refusals"], own["refused_unanswerable"], own["correct"]) == (0.5, 0.5, 0.5)
    assert (t["replay_mismatches"], t["replayed"]) == (0, 5)
    rows[0]["refused"] = True  # the live decision differs from its replay
    assert report.trade_off(rows)["replay_mismatches"] == 1
    assert report.trade_off([{k: v for k, v in r.items() if k != "refused_at"} for r in rows]) is None  # naive's
