"""Would another signal tell answerable from unanswerable questions better? Cross-validated on the tuning half.

    .venv/bin/python -m eval.doubt_cv          # needs .cache/fit-observations.pkl (python -m eval.fit)

verify/decide.py refuses when a logistic "doubt" over the model's probability of "geen", its confidence in the
line it meant and the lines' retrieval scores is 0.5 or more. This replays the stored tuning observations
(122 seed questions, 36 unanswerable, 60 XQuAD-NL, 60 with the gold paragraph removed) and fits the doubt
with extra features in 5 folds (3 shuffles), so that a feature is judged on questions it was not fitted on.
Objective: the mean of answerable right, unanswerable refused, XQuAD-NL right, gold-removed refused.
"""
from __future__ import annotations

import pickle
import random

import numpy as np

import config  # noqa: F401
from answer.prompt import parse
from eval import fit as F
from eval.common import write_result
from retrieval.text import content_stems
from verify import decide as D
from verify.claims import asks_quantity, check_claim, has_quantity
from verify.dutch import looks_english

UNANSWERABLE = ("seeds_unanswerable", "xquad_gold_removed")
GROUPS = ("seeds", "seeds_unanswerable", "xquad", "xquad_gold_removed")
EXTRA = ["question words in the line", "question words in its passage", "claim passes its checks",
         "choice margin (first - second line probability)", "amount asked, none given", "lines chosen",
         "line score - mean of the lines", "top score - mean of the lines", "English question"]


def features(o: F.Observation) -> tuple[list[float], list[float]] | None:
    res, reply = o.result, parse(o.result.raw)
    if res.signals.get("p_none") is None or not reply.chosen:
        return None
    sig = F.signals(o)
    line = D.meant(res.lines, reply.chosen, sig)
    q, claim = res.standalone, reply.claim
    stems = set(content_stems(q))
    passage = " ".join(s.passage.text for s in res.sources if s.n - 1 == line.source)
    picked = [e.text for e in res.lines if e.id in reply.chosen]
    probs = sorted(sig.p_lines.values(), reverse=True) or [1.0]
    scores = [e.score for e in res.lines]
    mean = sum(scores) / len(scores)
    extra = [len(stems & set(content_stems(line.text))) / max(len(stems), 1),
             len(stems & set(content_stems(passage))) / max(len(stems), 1),
             float(check_claim(claim, picked, q).ok), probs[0] - (probs[1] if len(probs) > 1 else 0.0),
             float(asks_quantity(q) and not has_quantity(claim + " " + line.text)), float(len(reply.chosen)),
             line.score - mean, max(scores) - mean, float(looks_english(q))]
    return D.doubt_features(res.lines, line, sig)[1:], extra


def cross_validated(rows: list, cols: list[int], folds: int = 5, shuffles: int = 3) -> dict:
    usable = [i for i, r in enumerate(rows) if r["x"] is not None]
    x = np.array([rows[i]["x"] for i in usable])[:, cols]
    y = np.array([float(rows[i]["group"] in UNANSWERABLE) for i in usable])
    out = {g: 0.0 for g in GROUPS}
    for seed in range(shuffles):
        order = list(range(len(usable)))
        random.Random(seed).shuffle(order)
        doubt: dict[int, float] = {}
        for k in range(folds):
            test = set(order[k::folds])
            train = [j for j in range(len(usable)) if j not in test]
            w = F.logistic(x[train], y[train])
            for j in sorted(test):
                doubt[usable[j]] = float(1 / (1 + np.exp(-(w[0] + x[j] @ w[1:]))))
        for g in GROUPS:
            members = [i for i, r in enumerate(rows) if r["group"] == g]
            refused = [rows[i]["pre_refused"] or doubt.get(i, 0.0) >= D.DOUBT_MAX for i in members]
            good = [r if g in UNANSWERABLE else (not r and rows[i]["good"]) for i, r in zip(members, refused)]
            out[g] += sum(good) / len(members) / shuffles
    out = {g: round(v, 3) for g, v in out.items()}
    out["objective"] = round(sum(out.values()) / len(GROUPS), 3)
    return out


def observation_rows(obs: list[F.Observation]) -> list[dict]:
    """Per observation: its group, the doubt's 4 features then the EXTRA ones (None where the doubt does not
    apply), whether it is refused without the doubt, and whether that reply is right."""
    rows = []
    for o in obs:
        unrefused = F.replay(o, F.gate_mod.MIN_DENSE, D.DOUBT_WEIGHTS, 1.01)  # what it gives without the doubt
        f = features(o)
        rows.append({"group": o.group, "x": None if f is None else f[0] + f[1], "pre_refused": unrefused.refused,
                     "good": F.good(o, unrefused) if o.group in ("seeds", "xquad") else None})
    return rows


def main() -> None:
    rows = observation_rows([F.Observation(*o) for o in pickle.loads(F.CACHE.read_bytes())])
    base = [0, 1, 2, 3]
    result = {"base (the doubt as it is)": cross_validated(rows, base)}
    for i, name in enumerate(EXTRA):
        result[f"+ {name}"] = cross_validated(rows, base + [4 + i])
    result["+ all of them"] = cross_validated(rows, base + list(range(4, 4 + len(EXTRA))))
    for name, r in result.items():
        print(f"{r['objective']:.3f}  {name}  {r}")
    write_result("doubt_cv", {"n": len(rows), "folds": 5, "shuffles": 3, "results": result})


if __name__ == "__main__":
    main()
