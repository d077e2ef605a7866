"""The pipeline's decision again, from a stored model output, with other constants.

Given what the model wrote and its first tokens' probabilities, verify.gate and verify.decide are deterministic,
so other thresholds can be tried without running the model again: eval.fit searches the constants this way on
the tuning half, and the benchmarks draw the refusal trade-off (how many unanswerable questions are refused
for how many answerable ones, at every doubt threshold) on the test half.
"""
from __future__ import annotations

from answer.pipeline import AskResult
from answer.prompt import parse
from verify import decide as decide_mod
from verify import gate as gate_mod

# Doubt thresholds of the refusal trade-off; the product's own (verify/decide.py DOUBT_MAX) is among them.
DOUBT_GRID = (0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.01)


def signals(res: AskResult) -> decide_mod.Signals:
    return decide_mod.Signals(res.signals.get("p_none"), res.signals.get("p_lines") or {})


def replay(res: AskResult, documents: dict, min_dense: float = gate_mod.MIN_DENSE,
           weights: tuple = decide_mod.DOUBT_WEIGHTS, max_doubt: float = decide_mod.DOUBT_MAX,
           shown_lines: int = decide_mod.SHOWN_LINES, min_line_p: float = decide_mod.MIN_LINE_P,
           brief: bool = False) -> AskResult:
    """The result the pipeline would give with these constants (`brief`: had the model been stopped after its
    line numbers, which it writes before its sentence). A question the model was not asked stays refused."""
    reason = gate_mod.gate(res.standalone, [s.hit for s in res.sources], documents, min_dense=min_dense)
    reply = parse(res.raw)
    d = decide_mod.decide(res.standalone, res.lines, reply.chosen, reply.claim, signals(res), weights, max_doubt,
                          cut=bool(res.signals.get("cut")), shown_lines=shown_lines, min_line_p=min_line_p,
                          brief=brief)
    kind = "refused" if reason or d.kind == "refuse" else d.kind
    return AskResult(res.question, res.standalone, kind, res.sources, res.lines, d.evidence, d.claim, d.support)


def at_thresholds(res: AskResult, documents: dict, grid: tuple[float, ...] = DOUBT_GRID) -> list[AskResult]:
    """The result at each doubt threshold of `grid` (the other constants as they are)."""
    return [replay(res, documents, max_doubt=t) for t in grid]


def trade_off(answerable: list[dict], unanswerable: list[dict], removed: list[dict] = ()) -> dict:
    """Answerable refused, unanswerable refused, key facts (and gold-removed refused) at each threshold of
    DOUBT_GRID, from benchmark rows carrying "refused_at" (and "correct_at" for answerable ones); and how often
    the replay at the product's own threshold differs from the live decision (0, or the curve is not the
    product's)."""
    def share(rows: list[dict], key: str, i: int) -> float | None:
        return round(sum(r[key][i] for r in rows) / len(rows), 3) if rows else None

    points = [{"max_doubt": t, "false_refusals": share(answerable, "refused_at", i),
               "refused_unanswerable": share(unanswerable, "refused_at", i),
               "correct": share(answerable, "correct_at", i), "gold_removed_refused": share(list(removed), "refused_at", i)}
              for i, t in enumerate(DOUBT_GRID)]
    at = DOUBT_GRID.index(decide_mod.DOUBT_MAX)
    rows = [*answerable, *unanswerable, *removed]
    return {"product_max_doubt": decide_mod.DOUBT_MAX, "points": points, "replayed": len(rows),
            "replay_mismatches": sum(r["refused_at"][at] != r["refused"] for r in rows)}
