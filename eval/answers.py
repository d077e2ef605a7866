"""Answering benchmark on questions nobody tuned on: correctness, where the answer is lost, refusals, speed.

    .venv/bin/python -m eval.answers --half test          # report: the test half (figures that count)
    .venv/bin/python -m eval.answers --half tune          # tuning: the tuning half (+ the first 48+20 questions)
    .venv/bin/python -m eval.answers --half test --parts seeds,conversations --xquad 0
    .venv/bin/python -m eval.answers --half test --parts seeds --xquad 0 --nearmiss 0 --sets c   # set C alone
    .venv/bin/python -m eval.answers --llm-backend transformers   # another backend, same questions
    .venv/bin/python -m eval.answers --half test --parts seeds --xquad 0 --nearmiss 0 --brief --out answers-test-brief
    VRAAGBAAK_LLM_PARALLEL=4 .venv/bin/python -m eval.answers --half test --parts seeds --xquad 0 --nearmiss 0 --concurrent 4 \
        --out answers-test-concurrent4      # quality when four visitors ask at once (answers written together)

Parts (all by default):
- seeds: the half's questions about the seed articles (eval/questions/, split by eval/split.py). Answerable
  ones: key facts in the reply, a cited passage holding the evidence, false refusals, and where the
  evidence sentence was lost (top-5 passages -> the model's prompt -> the evidence the reply shows).
  Out-of-corpus and near-miss ones: refusals.
- conversations: two-turn conversations, the second turn asked with the first turn's real answer as history:
  the 26 an independent writer wrote (test half; never tuned on), or 10 of our own (tuning half).
- xquad: a fixed sample of XQuAD-NL (CC BY-SA 4.0, read from ../shared) questions of the half's paragraphs,
  against all 240 paragraphs: the gold answer occurs in the reply.
- nearmiss: a fixed sample of the half's XQuAD-NL questions asked against the corpus with the question's own
  paragraph removed (the article's other paragraphs stay; questions whose answer occurs in another paragraph
  are left out): the right reply is a refusal.
Writes eval/results/answers-<half>[-<backend>].json with every reply, the model's raw output and the notes.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import config  # noqa: F401
from answer import pipeline
from answer.followup import Turn
from eval import replay
from eval.common import XQUAD_DIR, read_jsonl, write_result
from eval.questions import (ANSWERABLE_TYPES, SET_GROUPS, Span, conversations, covered, facts_hold, half,
                            legacy_questions, locate, norm, set_of)
from eval.split import load_split
from retrieval.service import Retriever
from service import Vraagbaak, settings_from
from verify.dutch import english_words

PARTS = ("seeds", "conversations", "xquad", "nearmiss")


def shown_spans(result) -> list[Span]:
    """What the model was shown (document spans; a byline as start -1)."""
    return [Span(*s) for s in result.shown_spans()]


def evidence_spans(result) -> list[Span]:
    """What the reply shows as its evidence (cited passages when the reply shows no sentences)."""
    return [Span(*s) for s in result.evidence_spans()]


def passage_spans(result) -> list[Span]:
    return [Span(s.passage.doc, s.passage.start, s.passage.end) for s in result.sources]


def percentile(xs: list, q: float) -> float | None:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    return round(xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))], 1)


def rate(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return round(sum(bool(v) for v in vals) / len(vals), 3) if vals else None


class Run:
    """Asks questions with one loaded model and keeps every reply and timing."""

    def __init__(self, app: Vraagbaak):
        self.app, self.settings, self.llm = app, app.settings, app.llm()
        self.timings: list[dict] = []

    def retriever(self, overrides: dict) -> Retriever:
        """Another corpus (XQuAD-NL, or it without one paragraph), searched with the same embedder."""
        return Retriever(settings_from({**overrides, "llm_backend": self.settings.llm_backend,
                                        "llm_url": self.settings.llm_url}), self.app.embedder)

    def ask(self, question: str, history: list[Turn] | None = None, retriever: Retriever | None = None):
        res = pipeline.ask(retriever or self.app.retriever, self.llm, question, history, self.settings.max_tokens,
                           brief_when_waiting=self.settings.brief_when_waiting)
        self.timings.append(res.timings)
        return res

    def trade_off(self, res, retriever: Retriever | None = None, facts: list | None = None) -> dict:
        """The reply again at every doubt threshold of eval.replay.DOUBT_GRID: refused, and (given `facts`)
        right; for the refusal trade-off of eval.report."""
        again = replay.at_thresholds(res, (retriever or self.app.retriever).documents)
        out = {"refused_at": [a.refused for a in again]}
        if facts is not None:
            out["correct_at"] = [not a.refused and facts_hold(a.answer, facts) for a in again]
        return out

    def answerable(self, r: dict, index, history: list[Turn] | None = None, question: str | None = None) -> dict:
        res = self.ask(question or r["question"], history)
        d = res.to_dict()
        gold = [locate(index, e["doc"], e["text"]) for e in r["evidence"]]
        gold = [g for g in gold if g is not None]
        meta = r.get("type") == "metadata"
        in_text = any(g.start >= 0 for g in gold)
        by_doc = [Span(c["doc"], -1, -1) for c in d["citations"]]  # a cited document's byline
        sources_text = " ".join(s.passage.text + " " + s.passage.title for s in res.sources)
        row = {"id": r["id"], "type": r.get("type"), "question": d["question"], "reply": d["answer"],
               "refused": d["refused"], "kind": d.get("kind"), "facts": r["facts"],
               "correct": facts_hold(d["answer"], r["facts"]) and not d["refused"],
               "cited_passage_holds_answer": not d["refused"] and covered(
                   gold, [Span(c["doc"], c["start"], c["end"]) for c in d["citations"]] + by_doc, meta),
               "in_top5_passages": covered([g for g in gold if g.start >= 0], passage_spans(res)) or not in_text,
               "in_prompt": covered(gold, shown_spans(res), meta),
               "in_evidence": not d["refused"] and covered(gold, evidence_spans(res), meta),
               "shown": [list(s) for s in res.shown_spans()], "evidence": [list(s) for s in res.evidence_spans()],
               "english_words": english_words(d["answer"], sources_text),
               "citation_spans": [[c["doc"], c["start"], c["end"]] for c in d["citations"]],
               "raw": res.raw, "notes": d.get("notes", []), "timings": d["timings"],
               **self.trade_off(res, facts=r["facts"])}
        if d.get("standalone_question"):
            row["standalone"] = d["standalone_question"]
        return row

    def unanswerable(self, r: dict, history: list[Turn] | None = None, question: str | None = None,
                     retriever: Retriever | None = None) -> dict:
        res = self.ask(question or r["question"], history, retriever)
        d = res.to_dict()
        row = {"id": r["id"], "type": r.get("type"), "question": d["question"], "reply": d["answer"],
               "refused": d["refused"], "kind": d.get("kind"), "raw": res.raw, "notes": d.get("notes", []),
               "timings": d["timings"], **self.trade_off(res, retriever)}
        if d.get("standalone_question"):
            row["standalone"] = d["standalone_question"]
        return row


def summarise_answerable(rows: list[dict]) -> dict:
    out = {"n": len(rows), "answer_correctness": rate(rows, "correct"),
           "cited_passage_holds_answer": rate(rows, "cited_passage_holds_answer"),
           "false_refusals": rate(rows, "refused"),
           "evidence_in_top5_passages": rate(rows, "in_top5_passages"),
           "evidence_in_prompt": rate(rows, "in_prompt"),
           "evidence_in_reply": rate(rows, "in_evidence"),
           "replies_with_english_words": round(sum(bool(r["english_words"]) for r in rows) / max(len(rows), 1), 3)}
    types = sorted({r["type"] for r in rows if r.get("type")}, key=lambda t: (t not in ANSWERABLE_TYPES, t))
    out["correct_by_type"] = {t: f"{sum(r['correct'] for r in rows if r['type'] == t)}/"
                                 f"{sum(1 for r in rows if r['type'] == t)}" for t in types}
    return out


def summarise_unanswerable(rows: list[dict]) -> dict:
    out = {"n": len(rows), "refusal_rate": rate(rows, "refused")}
    for t in sorted({r["type"] for r in rows}):
        sub = [r for r in rows if r["type"] == t]
        out[f"{t}_refused"] = f"{sum(r['refused'] for r in sub)}/{len(sub)}"
    return out


def run_seeds(run: Run, name: str, index, with_legacy: bool, limit: int = 0, concurrent: int = 1,
              sets: str = "abc") -> dict:
    """The seed questions of one half (of the writers' `sets`); `concurrent` asks that many at once (answers
    written in one batch)."""
    questions = half(name, sets)[:limit or None]
    answerable = [r for r in questions if r["type"] in ANSWERABLE_TYPES]
    unanswerable = [r for r in questions if r["type"] not in ANSWERABLE_TYPES]
    if with_legacy:
        la, lu = legacy_questions()
        answerable, unanswerable = answerable + la, unanswerable + lu
    with ThreadPoolExecutor(concurrent) as pool:
        a_rows = list(pool.map(lambda r: run.answerable(r, index), answerable))
        u_rows = list(pool.map(run.unanswerable, unanswerable))
    for row in a_rows:
        print(f"{row['id']:<5} {'OK ' if row['correct'] else 'BAD'} {'P' if row['in_prompt'] else '-'} "
              f"{'E' if row['in_evidence'] else '-'} {row['reply'][:120]!r}", flush=True)
    for row in u_rows:
        print(f"{row['id']:<5} {'refused ' if row['refused'] else 'ANSWERED'} {row['reply'][:120]!r}", flush=True)
    new_a = [r for r in a_rows if r["type"] != "legacy"]
    new_u = [r for r in u_rows if not r["id"].startswith("u")]
    out = {"answerable": summarise_answerable(new_a), "unanswerable": summarise_unanswerable(new_u),
           "trade_off": replay.trade_off(new_a, new_u), "rows": a_rows + u_rows}
    if name == "test":  # the split's test half (sets a, b) and the held-out set C, each on its own
        out["by_set"] = {g: {"answerable": summarise_answerable([r for r in new_a if set_of(r["id"]) in g]),
                             "unanswerable": summarise_unanswerable([r for r in new_u if set_of(r["id"]) in g])}
                         for g in SET_GROUPS if any(set_of(r["id"]) in g for r in new_a + new_u)}
    if with_legacy:
        out["legacy_answerable"] = summarise_answerable([r for r in a_rows if r["type"] == "legacy"])
        out["legacy_unanswerable"] = summarise_unanswerable([r for r in u_rows if r["id"].startswith("u")])
    return out


def run_conversations(run: Run, name: str, index, limit: int = 0) -> dict:
    rows = []
    for c in conversations(name)[:limit or None]:
        first, second = c["turns"]
        r1 = run.answerable({**first, "id": c["id"] + "-1"}, index)
        history = [Turn(first["question"], r1["reply"])]
        if second.get("answerable", True):
            r2 = run.answerable({**second, "id": c["id"] + "-2", "type": "follow_up"}, index, history)
        else:
            r2 = run.unanswerable({**second, "id": c["id"] + "-2", "type": "follow_up_unanswerable"}, history)
        r2["answerable"] = second.get("answerable", True)
        r2["ok"] = r2["correct"] if r2["answerable"] else r2["refused"]
        rows += [r1, r2]
        print(f"{c['id']} turn1 {'OK ' if r1['correct'] else 'BAD'} turn2 {'OK ' if r2['ok'] else 'BAD'} "
              f"{r2.get('standalone', '')[:60]!r} -> {r2['reply'][:90]!r}", flush=True)
    seconds = [r for r in rows if r["id"].endswith("-2")]
    ans = [r for r in seconds if r["answerable"]]
    una = [r for r in seconds if not r["answerable"]]
    return {"n": len(seconds), "follow_up_correct": rate(seconds, "ok"),
            "answerable_follow_ups_correct": f"{sum(r['ok'] for r in ans)}/{len(ans)}",
            "unanswerable_follow_ups_refused": f"{sum(r['ok'] for r in una)}/{len(una)}",
            "first_turn_correct": rate([r for r in rows if r["id"].endswith("-1")], "correct"), "rows": rows}


def xquad_rows(name: str) -> list[dict]:
    paragraphs = set(load_split()["xquad_paragraphs"][name])
    return [r for r in read_jsonl(XQUAD_DIR / "xquad_nl_strict.jsonl") if r["context_id"] in paragraphs]


def run_xquad(run: Run, name: str, n: int) -> dict:
    retriever = run.retriever({"corpus": str(XQUAD_DIR / "xquad_nl_corpus.jsonl"), "cache_dir": run.settings.cache_dir})
    index = retriever.index
    rows = []
    for r in random.Random(7).sample(xquad_rows(name), n):
        res = run.ask(r["question"], retriever=retriever)
        d = res.to_dict()
        ok = any(norm(a) in norm(d["answer"]) for a in r["answers"])
        gold = [Span(r["context_id"], p.start, p.end) for p in index.passages if p.doc == r["context_id"]]
        rows.append({"id": r["id"], "question": r["question"], "gold": r["answers"], "reply": d["answer"],
                     "contains_answer": ok, "refused": d["refused"], "kind": d.get("kind"),
                     "in_top5_passages": any(g.overlaps(s) for g in gold for s in passage_spans(res)),
                     "raw": res.raw, "notes": d.get("notes", [])})
        print(f"xquad {'OK ' if ok else 'BAD'} {r['answers'][0]!r} <- {d['answer'][:100]!r}", flush=True)
    return {"n": len(rows), "contains_answer": rate(rows, "contains_answer"), "refused": rate(rows, "refused"),
            "gold_paragraph_in_top5": rate(rows, "in_top5_passages"), "rows": rows}


def nearmiss_candidates(name: str) -> list[dict]:
    """The half's XQuAD-NL questions whose answer occurs in no other paragraph: without their own paragraph
    the corpus cannot answer them."""
    text_of = {c["id"]: norm(c["text"]) for c in read_jsonl(XQUAD_DIR / "xquad_nl_corpus.jsonl")}
    return [r for r in xquad_rows(name)
            if not any(norm(a) in t for a in r["answers"] for cid, t in text_of.items() if cid != r["context_id"])]


def without_own_paragraph(run: Run, questions: list[dict]) -> Iterator[tuple[dict, Retriever]]:
    """Each question with a retriever over the XQuAD-NL corpus less the question's own paragraph (built in a
    temporary cache that shares the embeddings, so nothing is embedded again)."""
    corpus = read_jsonl(XQUAD_DIR / "xquad_nl_corpus.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        (cache / "embeddings").symlink_to(Path(run.settings.cache_dir).resolve() / "embeddings",
                                          target_is_directory=True)
        for i, r in enumerate(questions):
            path = cache / f"without-{i}.jsonl"
            path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in corpus
                                    if c["id"] != r["context_id"]), encoding="utf-8")
            yield r, run.retriever({"corpus": str(path), "cache_dir": str(cache)})


def run_nearmiss(run: Run, name: str, n: int) -> dict:
    """Each question against the XQuAD-NL corpus without its own paragraph: it should be refused."""
    candidates = nearmiss_candidates(name)
    sample = random.Random(11).sample(candidates, min(n, len(candidates)))
    rows = []
    for r, retriever in without_own_paragraph(run, sample):
        row = run.unanswerable({"id": r["id"], "type": "xquad_gold_removed", "question": r["question"]},
                               retriever=retriever)
        row["gold"] = r["answers"]
        rows.append(row)
        print(f"nearmiss {'refused ' if row['refused'] else 'ANSWERED'} {row['reply'][:100]!r}", flush=True)
    return {"n": len(rows), "eligible": len(candidates), "refusal_rate": rate(rows, "refused"), "rows": rows}


def samples_markdown(result: dict, source: str, n: int = 10) -> str:
    """Ten replies of the half drawn by a fixed seed, half of them right and half wrong (or refused), as
    Markdown, so that a reader sees what the figures stand for."""
    rows = [r for r in result["seeds"]["rows"] if r.get("type") != "legacy"]
    answerable = [r for r in rows if "correct" in r]
    unanswerable = [r for r in rows if "correct" not in r]
    rng = random.Random(2026)
    good = rng.sample([r for r in answerable if r["correct"]], min(4, sum(r["correct"] for r in answerable)))
    bad = rng.sample([r for r in answerable if not r["correct"]], min(4, sum(not r["correct"] for r in answerable)))
    other = rng.sample(unanswerable, min(n - len(good) - len(bad), len(unanswerable)))
    out = [f"# Sample replies, {result['half']} half", "",
           f"Drawn by a fixed seed from `eval/results/{source}.json` (generated {result['generated']}):"
           " four with every key fact, four without, two questions the sources cannot answer.", ""]
    for r in good + bad + other:
        verdict = ("right" if r["correct"] else "wrong") if "correct" in r else \
            ("refused, right" if r["refused"] else "answered, wrong")
        out += [f"## {r['id']} ({r['type']}): {verdict}", "", f"**Vraag:** {r['question']}", ""]
        if r.get("facts"):
            out += ["**Key facts:** " + "; ".join(" / ".join(f) if isinstance(f, list) else f for f in r["facts"]), ""]
        out += ["**Reply:**", "", "\n".join("> " + line for line in r["reply"].split("\n")), ""]
        if r.get("notes"):
            out += ["Notes: " + "; ".join(r["notes"]), ""]
    return "\n".join(out) + "\n"


def timing_summary(timings: list[dict]) -> dict:
    def col(key):
        return [t.get(key) for t in timings]

    out = {"n": len(timings)}
    for key in ("first_token_ms", "total_ms", "retrieval_ms", "prompt_ms", "generation_ms", "prompt_tokens",
                "cached_tokens", "generated_tokens", "check_ms"):
        vals = [v for v in col(key) if v is not None]
        if vals:
            out[key] = {"median": round(statistics.median(vals), 1), "p90": percentile(vals, 0.9)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=["tune", "test"], required=True)
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    ap.add_argument("--xquad", type=int, default=100, help="XQuAD-NL questions to ask (0 to skip)")
    ap.add_argument("--nearmiss", type=int, default=100, help="gold-removed XQuAD-NL questions (0 to skip)")
    ap.add_argument("--no-legacy", action="store_true", help="tuning half: leave out the first 48+20 questions")
    ap.add_argument("--limit", type=int, default=0, help="only the first N seed questions and conversations")
    ap.add_argument("--sets", default="abcd", help="the writers' question sets to ask (ids' first letters): a and b "
                                                   "are split into halves, c is test data whole, d tuning data whole")
    ap.add_argument("--concurrent", type=int, default=1, help="seed questions asked at once (batched answers)")
    ap.add_argument("--llm-backend", dest="llm_backend")
    ap.add_argument("--llm-url", dest="llm_url")
    ap.add_argument("--brief", action="store_true",
                    help="every reply as while many visitors wait: the lines the model chose, without its sentence")
    ap.add_argument("--out", help="result name (default answers-<half>[-<backend>])")
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    try:  # half() knows the letters and which sets a half holds: ask it rather than a second copy of the rules
        if not half(args.half, args.sets):
            raise ValueError(f"the {args.half} half holds none of the sets {args.sets!r} (c: test; d: tuning)")
    except ValueError as exc:
        ap.error(f"--sets: {exc}")
    if args.brief:  # as if a crowd waited behind every question (see the brief_when_waiting setting)
        from answer.line import Ticket

        Ticket.behind = lambda self: 1_000_000
    app = Vraagbaak(settings_from({"llm_backend": args.llm_backend, "llm_url": args.llm_url}))
    t0 = time.perf_counter()
    llm = app.llm()  # loaded, and its prompt prefixes read
    load_s = time.perf_counter() - t0
    pipeline.pre_embed(app.retriever)
    index = app.retriever.index
    run = Run(app)
    result: dict = {"half": args.half, "sets": args.sets, "backend": llm.backend, "model": llm.name,
                    "model_load_and_warm_up_s": round(load_s, 1)}
    if "seeds" in parts:
        result["seeds"] = run_seeds(run, args.half, index, with_legacy=args.half == "tune" and not args.no_legacy,
                                    limit=args.limit, concurrent=args.concurrent, sets=args.sets)
    seed_timings = list(run.timings)
    if "conversations" in parts:
        result["conversations"] = run_conversations(run, args.half, index, args.limit)
    if "xquad" in parts and args.xquad:
        result["xquad"] = run_xquad(run, args.half, args.xquad)
    if "nearmiss" in parts and args.nearmiss:
        result["xquad_gold_removed"] = run_nearmiss(run, args.half, args.nearmiss)
    result["timings_seed_questions"] = timing_summary(seed_timings)
    result["timings_all"] = timing_summary(run.timings)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    name = args.out or (f"answers-{args.half}" + ("" if set(args.sets) >= set("abcd") else f"-sets-{args.sets}")
                        + ("" if llm.backend == "llamacpp" else f"-{llm.backend}"))
    path = write_result(name, result)
    if "seeds" in result and not args.limit:
        (path.parent / f"{name}-samples.md").write_text(samples_markdown(json.loads(path.read_text()), name), encoding="utf-8")
    print(json.dumps(summary(result), indent=1, ensure_ascii=False))
    print(f"written to {path}")


def summary(result: dict) -> dict:
    """Everything but the rows."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "rows"}
        return x

    return strip(result)


if __name__ == "__main__":
    main()
