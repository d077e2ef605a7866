"""Fit the answering thresholds on the tuning half, and only there.

    .venv/bin/python -m eval.fit                 # run the model on the tuning data, then search thresholds
    .venv/bin/python -m eval.fit --cached        # search again on the stored model outputs

The model runs once per tuning question with the gate measured instead of applied (`measure_gate`), and
its outputs are stored in .cache/fit-observations.pkl. Then every combination of thresholds is replayed
through the real verify.gate and verify.decide code, which is deterministic given the model's output:
- MIN_DENSE (gate): best passage similarity below which the model is not asked;
- DOUBT_WEIGHTS (decide): a logistic model of "the sources do not hold the answer" over the model's
  probability of "geen", its confidence in the line it meant, and the lines' retrieval scores, fitted on
  the tuning questions (unanswerable = 1);
- DOUBT_MAX (decide): the doubt at which to refuse;
- SHOWN_LINES, MIN_LINE_P (decide): how many of the lines the model most likely meant the reply shows, and
  the probability a line it did not name needs to be one of them (key facts against citation precision).
It also reports the brief reply (the lines alone, given while many visitors wait) on the same outputs.
Tuning data: the tuning half of the seed-article questions with set D, the first 48 + 20 questions, and samples of the
tuning half of XQuAD-NL (answerable, and with the gold paragraph removed). Writes eval/results/fit.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import pickle
import random
import tempfile
from typing import NamedTuple
from pathlib import Path

import numpy as np

import config  # noqa: F401
from answer import pipeline
from answer.pipeline import AskResult
from answer.prompt import parse
from eval import replay as replay_mod
from eval.answers import xquad_rows
from eval.common import XQUAD_DIR, read_jsonl, write_result
from eval.questions import (ANSWERABLE_TYPES, Span, facts_hold, half, legacy_questions, locate, norm,
                            precise_citations)
from retrieval.service import Retriever
from service import Vraagbaak, settings_from
from verify import decide as decide_mod
from verify import gate as gate_mod

CACHE = Path(config.ROOT) / ".cache" / "fit-observations.pkl"


class Observation(NamedTuple):
    """A tuning question and what the pipeline did with it (stored as a plain tuple, so it unpickles anywhere)."""

    group: str  # seeds, seeds_unanswerable, xquad, xquad_gold_removed
    row: dict
    result: AskResult
    documents: dict


def observe(n_xquad: int) -> list[Observation]:
    app = Vraagbaak(settings_from())
    llm = app.llm()
    pipeline.pre_embed(app.retriever)
    out: list[Observation] = []

    def run(group: str, row: dict, retriever: Retriever) -> None:
        res = pipeline.ask(retriever, llm, row["question"], max_tokens=app.settings.max_tokens, measure_gate=True)
        out.append(Observation(group, row, res, retriever.documents))
        print(group, row.get("id"), res.kind, repr(res.raw[:80]), flush=True)

    def other(corpus: Path, cache_dir: str) -> Retriever:
        return Retriever(settings_from({"corpus": str(corpus), "cache_dir": cache_dir}), app.embedder)

    tune = half("tune")
    la, lu = legacy_questions()
    for r in [r for r in tune if r["type"] in ANSWERABLE_TYPES] + la:
        run("seeds", r, app.retriever)
    for r in [r for r in tune if r["type"] not in ANSWERABLE_TYPES] + lu:
        run("seeds_unanswerable", r, app.retriever)
    if n_xquad:
        xquad = other(XQUAD_DIR / "xquad_nl_corpus.jsonl", app.settings.cache_dir)
        for r in random.Random(3).sample(xquad_rows("tune"), n_xquad):
            run("xquad", r, xquad)
        corpus = read_jsonl(XQUAD_DIR / "xquad_nl_corpus.jsonl")
        text_of = {c["id"]: norm(c["text"]) for c in corpus}
        eligible = [r for r in xquad_rows("tune") if not any(
            norm(a) in t for a in r["answers"] for cid, t in text_of.items() if cid != r["context_id"])]
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp)
            (cache / "embeddings").symlink_to(Path(app.settings.cache_dir).resolve() / "embeddings")
            for i, r in enumerate(random.Random(5).sample(eligible, n_xquad)):
                path = cache / f"without-{i}.jsonl"
                path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in corpus
                                        if c["id"] != r["context_id"]), encoding="utf-8")
                run("xquad_gold_removed", r, other(path, str(cache)))
    return out


def signals(o: Observation) -> decide_mod.Signals:
    return replay_mod.signals(o.result)


def replay(o: Observation, min_dense: float, weights: tuple, max_doubt: float,
           shown_lines: int = decide_mod.SHOWN_LINES, min_line_p: float = decide_mod.MIN_LINE_P,
           brief: bool = False) -> AskResult:
    """The result the pipeline would give with these settings, from the stored model output (eval.replay)."""
    return replay_mod.replay(o.result, o.documents, min_dense, weights, max_doubt, shown_lines, min_line_p, brief)


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 3000) -> np.ndarray:
    """Logistic regression by gradient descent on standardised features; the weights for the raw features,
    intercept first (the form verify.decide.doubt takes)."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        w -= 0.5 * (z.T @ (p - y) + l2 * np.r_[0, w[1:]]) / len(y)
    # back to the raw features: w0 + sum w_i (x_i - mu_i) / sd_i
    return np.r_[w[0] - np.sum(w[1:] * mu / sd), w[1:] / sd]


def fit_doubt(obs: list[Observation], l2: float = 1.0, steps: int = 3000) -> tuple[float, ...]:
    """Does the question lack an answer in the sources? Fitted on the model's signals (see `logistic`)."""
    rows, labels = [], []
    for o in obs:
        res, reply = o.result, parse(o.result.raw)
        if res.signals.get("p_none") is None or not reply.chosen:
            continue
        line = decide_mod.meant(res.lines, reply.chosen, signals(o))
        rows.append(decide_mod.doubt_features(res.lines, line, signals(o)))
        labels.append(float(o.group in ("seeds_unanswerable", "xquad_gold_removed")))
    raw = logistic(np.array(rows)[:, 1:], np.array(labels), l2, steps)  # column 0 of the features is the 1
    return tuple(round(float(v), 4) for v in raw)


def good(o: Observation, r: AskResult) -> bool:
    if o.group == "seeds":
        return not r.refused and facts_hold(r.answer, o.row["facts"])
    if o.group == "xquad":
        return not r.refused and any(norm(a) in norm(r.answer) for a in o.row["answers"])
    return r.refused


class _Documents:
    """eval.questions.locate's view of an observation's documents (no index needed)."""

    def __init__(self, documents: dict):
        self.documents = documents

    def document(self, doc_id: str):
        return self.documents.get(doc_id)


def precise(o: Observation, r: AskResult) -> tuple[int, int]:
    """(cited passages holding a gold evidence span, cited passages) of an answered seed question, judged as
    eval/report.py judges citation precision."""
    gold = [g for g in (locate(_Documents(o.documents), e["doc"], e["text"]) for e in o.row.get("evidence", []))
            if g is not None]
    cited = [Span(p.doc, p.start, p.end) for p in (r.sources[n - 1].passage for n in r.cited())]
    return precise_citations(gold, cited, o.row.get("type") == "metadata"), len(cited)


def score(obs: list[Observation], **settings) -> dict:
    out: dict = {}
    for group in ("seeds", "seeds_unanswerable", "xquad", "xquad_gold_removed"):
        sub = [o for o in obs if o.group == group]
        if sub:
            results = [replay(o, **settings) for o in sub]
            out[group] = round(sum(good(o, r) for o, r in zip(sub, results)) / len(sub), 3)
            if group in ("seeds", "xquad"):
                out[group + "_refused"] = round(sum(r.refused for r in results) / len(sub), 3)
            if group == "seeds":
                counts = [precise(o, r) for o, r in zip(sub, results) if not r.refused]
                cited = max(sum(c[1] for c in counts), 1)
                out["seeds_citation_precision"] = round(sum(c[0] for c in counts) / cited, 3)
                out["seeds_lines_shown"] = round(sum(len(r.evidence) for r in results) / len(sub), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cached", action="store_true", help="reuse the stored model outputs")
    ap.add_argument("--xquad", type=int, default=60, help="XQuAD-NL questions per group (0 to skip)")
    args = ap.parse_args()
    if args.cached:
        obs = [Observation(*o) for o in pickle.loads(CACHE.read_bytes())]
    else:
        obs = observe(args.xquad)
        CACHE.write_bytes(pickle.dumps([tuple(o) for o in obs]))
    weights = fit_doubt(obs)
    current = {"min_dense": gate_mod.MIN_DENSE, "weights": decide_mod.DOUBT_WEIGHTS,
               "max_doubt": decide_mod.DOUBT_MAX}
    rows = []
    for md, mx in itertools.product((0.0, 0.79), (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.01)):
        rows.append({"min_dense": md, "weights": weights, "max_doubt": mx,
                     **score(obs, min_dense=md, weights=weights, max_doubt=mx)})
    # Balanced objective: answerable right plus unanswerable refused, seeds and XQuAD-NL alike.
    keys = [k for k in ("seeds", "seeds_unanswerable", "xquad", "xquad_gold_removed") if k in rows[0]]
    for r in rows:
        r["objective"] = round(sum(r[k] for k in keys) / len(keys), 4)
    rows.sort(key=lambda r: -r["objective"])
    for r in rows[:20]:
        print({k: v for k, v in r.items() if k != "weights"})
    print("fitted doubt weights", weights)
    print("current", score(obs, **current))
    # The lines shown: more lines hold the key facts more often but cite more passages that do not.
    shown = []
    for lines, min_p in itertools.product((1, 2, 3), (0.0, 0.05, 0.1, 0.2)):
        shown.append({"shown_lines": lines, "min_line_p": min_p,
                      **score(obs, **current, shown_lines=lines, min_line_p=min_p)})
        print(shown[-1])
    # The reply while many visitors wait: the lines the model chose, without its sentence (--brief-when-waiting).
    brief = score(obs, **current, brief=True)
    print("brief", brief)
    write_result("fit", {"fitted_weights": weights, "current": {**current, **score(obs, **current)}, "best": rows,
                         "shown_lines": shown, "brief": brief, "n": {k: sum(o.group == k for o in obs) for k in keys}})


if __name__ == "__main__":
    main()
