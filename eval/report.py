"""One command for the quality and speed report: `python -m eval` (about 45 minutes) or `python -m eval --quick`
(a few minutes, a small sample: for trying a change, not for quoting).

Runs, in one process and one loaded model:
- retrieval: recall@1/5/10 and MRR per search method, on the test half of the seed questions and XQuAD-NL;
- quote checks: verdict and location accuracy on eval/quote_cases.jsonl, and their speed;
- answers, the product and the naive-RAG baseline (eval/naive.py) side by side on the same questions: the
  seed questions' test half, an XQuAD-NL sample, and XQuAD-NL questions with their paragraph removed;
- the engine against the machine's bound (eval/roofline.py).
Writes eval/report.md with PNG plots in eval/report/, and eval/results/report.json; prints a summary and exits
with status 1 when a quality figure misses its target (TARGETS), so it can guard a change.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import config  # noqa: F401
from answer.pipeline import SOURCES_K
from eval import answers as ours
from eval import naive, replay
from eval.common import EVAL_DIR, RESULTS_DIR, XQUAD_DIR, read_jsonl, write_result
from eval.questions import (ANSWERABLE_TYPES, SET_GROUPS, Span, covered, facts_hold, half, locate, norm,
                            precise_citations, set_of)
from eval.retrieval import CONFIGS
from retrieval.search import search
from retrieval.service import Retriever
from service import Vraagbaak, settings_from

REPORT = EVAL_DIR / "report.md"  # --quick writes report-quick.md and report-quick/ (not committed)

# Quality targets (issue #11 for answers, #12 for quote checks): (figure, "min" or "max", value).
TARGETS = [
    ("answers.ours.correct", "min", 0.85),
    ("answers.ours.cited_holds_answer", "min", 0.85),
    ("answers.ours.refused_unanswerable", "min", 0.90),
    ("answers.ours.false_refusals", "max", 0.08),
    ("answers.ours.english", "max", 0.02),
    ("answers.ours.evidence_in_prompt", "min", 0.95),
    ("answers.ours.xquad_contains_answer", "min", 0.75),
    ("answers.ours.gold_removed_refused", "min", 0.80),
    ("quotes.verdict_accuracy", "min", 0.97),
]
# Figures where the product must beat the baseline, and which way is better.
VERSUS = [("correct", "higher"), ("cited_holds_answer", "higher"), ("citation_precision", "higher"),
          ("phantom_citations", "lower"), ("refused_unanswerable", "higher"), ("false_refusals", "lower"),
          ("xquad_contains_answer", "higher"), ("gold_removed_refused", "higher")]


# ---- retrieval and quotes -----------------------------------------------------------------------------------

def retrieval_figures(app: Vraagbaak, questions: list[dict], xquad: list[dict], xretriever: Retriever) -> dict:
    """recall@1/5/10 and MRR per method; each question embedded once."""
    out = {}
    seed_index = app.retriever.index
    seed_q = []
    for r in questions:
        gold = [locate(seed_index, e["doc"], e["text"]) for e in r.get("evidence", [])]
        gold = [g for g in gold if g is not None and g.start >= 0]
        if gold:
            seed_q.append((r["question"], gold))
    x_q = [(r["question"], [Span(r["context_id"], 0, 10 ** 9)]) for r in xquad]
    latencies = []
    for name, index, qs in (("seeds", seed_index, seed_q), ("xquad_nl", xretriever.index, x_q)):
        vecs = [app.embedder.embed_query(q) for q, _ in qs]
        table = {}
        for fusion, w in CONFIGS:
            r1 = r5 = r10 = rr = 0.0
            for (q, gold), v in zip(qs, vecs):
                t0 = time.perf_counter()
                hits = search(index, app.embedder, q, k=10, fusion=fusion, dense_weight=w, query_vec=v)
                latencies.append((time.perf_counter() - t0) * 1000)
                rank = next((i + 1 for i, s in enumerate(_span_list(hits)) if any(g.overlaps(s) for g in gold)), None)
                r1 += rank == 1
                r5 += rank is not None and rank <= 5
                r10 += rank is not None
                rr += 1 / rank if rank else 0
            n = max(len(qs), 1)
            label = fusion if fusion != "mix" else f"mix{w:.1f}"
            table[label] = {"recall@1": round(r1 / n, 3), "recall@5": round(r5 / n, 3),
                            "recall@10": round(r10 / n, 3), "mrr": round(rr / n, 3), "n": len(qs)}
        out[name] = table
    out["search_ms_without_embedding"] = {"median": round(statistics.median(latencies), 1),
                                          "p90": ours.percentile(latencies, 0.9)}
    return out


def quote_figures() -> dict:
    from corpus.load import load_corpus
    from eval.quotes import score
    from verify.quotes import build_quote_index

    cases = read_jsonl(EVAL_DIR / "quote_cases.jsonl")
    seeds = load_corpus(config.ROOT / "seeds")
    qi = build_quote_index(seeds.documents, seeds.passages)
    score(qi, cases)  # warm-up
    acc, loc, times, failures = score(qi, cases)
    return {"cases": len(cases), "verdict_accuracy": round(acc, 3), "location_accuracy": round(loc, 3),
            "median_ms": round(statistics.median(times), 2), "p90_ms": ours.percentile(times, 0.9),
            "failures": failures}


# ---- answers: product and baseline on the same questions ---------------------------------------------------------

def _span_list(hits) -> list[Span]:
    return [Span(h.passage.doc, h.passage.start, h.passage.end) for h in hits]


def ask_both(app: Vraagbaak, run: ours.Run, seeds: list[dict], xquad: list[dict], removed: list[dict],
             xret: Retriever) -> dict:
    """Every question through the product and through the baseline; rows with the judged figures."""
    index = app.retriever.index
    llm = run.llm
    rows: dict[str, list[dict]] = {"ours": [], "naive": []}
    for r in seeds:
        answerable = r["type"] in ANSWERABLE_TYPES
        mine = run.answerable(r, index) if answerable else run.unanswerable(r)
        theirs = naive.ask(app.retriever, llm, r["question"])
        gold = [g for g in (locate(index, e["doc"], e["text"]) for e in r.get("evidence", [])) if g is not None]
        meta = r.get("type") == "metadata"
        written = [int(n) for n in naive.CITATION_RE.findall(mine["reply"])]
        mine.update(set="seeds", answerable=answerable, citations=len(written),
                    phantom=sum(not 1 <= n <= SOURCES_K for n in written))
        if answerable:
            my_cited = [Span(*c) for c in mine["citation_spans"]]
            mine.update(distinct_citations=len(my_cited), precise_citations=precise_citations(gold, my_cited, meta))
        rows["ours"].append(mine)
        cited = _span_list(theirs.cited_hits())
        rows["naive"].append({
            "id": r["id"], "set": "seeds", "type": r["type"], "answerable": answerable, "question": r["question"],
            "reply": theirs.reply, "refused": theirs.refused, "timings": theirs.timings,
            "correct": answerable and facts_hold(theirs.reply, r["facts"]) and not theirs.refused,
            "cited_passage_holds_answer": answerable and not theirs.refused and covered(gold, cited, meta),
            "citations": len(theirs.citations), "phantom": len(theirs.phantom),
            "precise_citations": precise_citations(gold, cited, meta),
            "distinct_citations": len(cited)})
        print(f"{r['id']:<5} ours {'OK ' if mine.get('correct', mine['refused']) else 'BAD'} | naive "
              f"{'OK ' if rows['naive'][-1]['correct'] or (not answerable and theirs.refused) else 'BAD'} "
              f"{theirs.reply[:70]!r}", flush=True)
    print(f"XQuAD-NL: {len(xquad)} questions; gold paragraph removed: {len(removed)}", flush=True)
    for r in xquad:
        res = run.ask(r["question"], retriever=xret).to_dict()
        theirs = naive.ask(xret, llm, r["question"])
        for who, reply, refused, timings in (("ours", res["answer"], res["refused"], res["timings"]),
                                             ("naive", theirs.reply, theirs.refused, theirs.timings)):
            rows[who].append({"id": r["id"], "set": "xquad", "question": r["question"], "reply": reply,
                              "refused": refused, "timings": timings,
                              "contains_answer": not refused and any(norm(a) in norm(reply) for a in r["answers"])})
    for r, retriever in ours.without_own_paragraph(run, removed):
        result = run.ask(r["question"], retriever=retriever)
        res = result.to_dict()
        theirs = naive.ask(retriever, llm, r["question"])
        for who, reply, refused, timings in (("ours", res["answer"], res["refused"], res["timings"]),
                                             ("naive", theirs.reply, theirs.refused, theirs.timings)):
            rows[who].append({"id": r["id"], "set": "gold_removed", "question": r["question"], "reply": reply,
                              "refused": refused, "timings": timings})
        rows["ours"][-1].update(run.trade_off(result, retriever))
    return rows


def trade_off(rows: list[dict]) -> dict | None:
    """The refusal trade-off of the seed questions (eval.replay.trade_off); None for rows without a replay
    (the baseline's)."""
    seeds = [r for r in rows if r["set"] == "seeds"]
    if not seeds or any("refused_at" not in r for r in seeds):
        return None
    return replay.trade_off([r for r in seeds if r["answerable"]], [r for r in seeds if not r["answerable"]],
                            [r for r in rows if r["set"] == "gold_removed" and "refused_at" in r])


def figures(rows: list[dict]) -> dict:
    """The side-by-side figures of one pipeline's rows (the same computation for both)."""
    seeds = [r for r in rows if r["set"] == "seeds"]
    ans = [r for r in seeds if r["answerable"]]
    una = [r for r in seeds if not r["answerable"]]
    xq = [r for r in rows if r["set"] == "xquad"]
    removed = [r for r in rows if r["set"] == "gold_removed"]
    cits = sum(r.get("distinct_citations", 0) for r in ans)
    written = sum(r.get("citations", 0) for r in seeds)

    def share(xs: list, key) -> float | None:
        return round(sum(bool(key(r)) for r in xs) / len(xs), 3) if xs else None

    def times(key: str) -> list[float]:
        return [r["timings"][key] for r in rows if r.get("timings", {}).get(key) is not None]

    out = {"answerable": len(ans), "unanswerable": len(una), "xquad": len(xq), "gold_removed": len(removed),
           "correct": share(ans, lambda r: r["correct"]),
           "cited_holds_answer": share(ans, lambda r: r["cited_passage_holds_answer"]),
           "citation_precision": round(sum(r.get("precise_citations", 0) for r in ans) / cits, 3) if cits else None,
           "phantom_citations": round(sum(r.get("phantom", 0) for r in seeds) / written, 3) if written else 0.0,
           "false_refusals": share(ans, lambda r: r["refused"]),
           "refused_unanswerable": share(una, lambda r: r["refused"]),
           "xquad_contains_answer": share(xq, lambda r: r["contains_answer"]),
           "gold_removed_refused": share(removed, lambda r: r["refused"])}
    if ans and "in_prompt" in ans[0]:
        out["evidence_in_prompt"] = share(ans, lambda r: r["in_prompt"])
        out["english"] = share(ans, lambda r: r["english_words"])
    for key in ("retrieval_ms", "first_token_ms", "total_ms"):
        vals = times(key)
        out[key] = {"median": round(statistics.median(vals), 1) if vals else None,
                    "p90": ours.percentile(vals, 0.9), "values": vals}
    return out


# ---- report ---------------------------------------------------------------------------------------------------

def get(result: dict, dotted: str):
    node = result
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def check(result: dict) -> list[dict]:
    """Every target and comparison with its verdict."""
    out = []
    for name, way, target in TARGETS:
        value = get(result, name)
        ok = value is not None and (value >= target if way == "min" else value <= target)
        out.append({"figure": name, "value": value, "target": f"{'≥' if way == 'min' else '≤'} {target}", "met": ok})
    a = result["answers"]
    for key, better in VERSUS:
        mine, theirs = a["ours"].get(key), a["naive"].get(key)
        ideal = 1.0 if better == "higher" else 0.0  # a tie counts as a win only where both are perfect
        ok = mine is not None and theirs is not None and (
            (mine > theirs if better == "higher" else mine < theirs) or mine == theirs == ideal)
        out.append({"figure": f"versus naive: {key}", "value": mine, "target": f"{'>' if better == 'higher' else '<'} "
                    f"naive {theirs}", "met": ok})
    ft_mine, ft_theirs = a["ours"]["first_token_ms"]["median"], a["naive"]["first_token_ms"]["median"]
    ratio = round(ft_theirs / ft_mine, 2) if ft_mine and ft_theirs else None
    out.append({"figure": "versus naive: first token, times faster", "value": ratio, "target": "≥ 2",
                "met": ratio is not None and ratio >= 2})
    return out


def plots(result: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    a = result["answers"]
    keys = ["correct", "cited_holds_answer", "citation_precision", "refused_unanswerable", "false_refusals",
            "xquad_contains_answer", "gold_removed_refused", "phantom_citations"]
    labels = ["key facts", "cited passage\nholds answer", "citation\nprecision", "unanswerable\nrefused",
              "false\nrefusals ↓", "XQuAD-NL\ncontained", "gold removed\nrefused", "phantom\ncitations ↓"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3.2, 1]})
    x = range(len(keys))
    for off, who, colour in ((-0.2, "ours", "#1f6f8b"), (0.2, "naive", "#c8553d")):
        vals = [a[who].get(k) or 0 for k in keys]
        ax.bar([i + off for i in x], vals, 0.4, label="Vraagbaak" if who == "ours" else "naive RAG", color=colour)
    ax.set_xticks(list(x), labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("Quality, same questions, same model (↓: lower is better)")
    ax.legend(loc="upper right", fontsize=8)
    for who, colour, pos in (("ours", "#1f6f8b", 0), ("naive", "#c8553d", 1)):
        for key, hatch, off in (("first_token_ms", "", -0.2), ("total_ms", "//", 0.2)):
            v = (a[who][key]["median"] or 0) / 1000
            ax2.bar(pos + off, v, 0.4, color=colour, hatch=hatch, edgecolor="white")
    ax2.set_xticks([0, 1], ["Vraagbaak", "naive RAG"])
    ax2.set_ylabel("seconds (median)")
    ax2.set_title("First token (plain) / full answer (hatched)", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "versus-naive.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
    for ax, dataset in zip(axes, ("seeds", "xquad_nl")):
        table = result["retrieval"][dataset]
        methods = list(table)
        for j, (metric, colour) in enumerate((("recall@1", "#9db4c0"), ("recall@5", "#5c6b73"),
                                              ("recall@10", "#253237"), ("mrr", "#e0a458"))):
            ax.bar([i + (j - 1.5) * 0.2 for i in range(len(methods))], [table[m][metric] for m in methods], 0.2,
                   label=metric, color=colour)
        ax.set_xticks(range(len(methods)), methods, fontsize=8)
        ax.set_title(f"Retrieval, {dataset} (n={table[methods[0]]['n']})")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(folder / "retrieval.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.8))
    data, ticks = [], []
    for key, label in (("retrieval_ms", "retrieval"), ("first_token_ms", "first token"), ("total_ms", "full answer")):
        for who in ("ours", "naive"):
            data.append([v / 1000 for v in a[who][key]["values"]] or [0])
            ticks.append(f"{label}\n{'Vraagbaak' if who == 'ours' else 'naive'}")
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(ticks) + 1), ticks, fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title("Latency per question (2 cores)")
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=110)
    plt.close(fig)

    if t := result.get("trade_off"):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        pts = t["points"]
        ax.plot([p["false_refusals"] for p in pts], [p["refused_unanswerable"] for p in pts], marker=".",
                color="#1f6f8b", label="Vraagbaak at other doubt thresholds (replayed)")
        at: dict[tuple, list[float]] = {}  # thresholds that land on the same point share one label
        for p in pts:
            at.setdefault((p["false_refusals"], p["refused_unanswerable"]), []).append(p["max_doubt"])
        for xy, ts in at.items():
            ax.annotate(f"{ts[0]:g}" + (f"–{ts[-1]:g}" if len(ts) > 1 else ""), xy, fontsize=7,
                        xytext=(3, -9), textcoords="offset points", color="#1f6f8b")
        own = next(p for p in pts if p["max_doubt"] == t["product_max_doubt"])
        ax.plot(own["false_refusals"], own["refused_unanswerable"], "o", color="#1f6f8b", ms=9,
                label=f"Vraagbaak as it runs (doubt < {t['product_max_doubt']:g}, fitted on the tuning half)")
        ax.plot(a["naive"]["false_refusals"], a["naive"]["refused_unanswerable"], "s", color="#c8553d", ms=9,
                label="naive RAG")
        ax.set_xlabel("answerable questions refused (lower is better)")
        ax.set_ylabel("unanswerable questions refused")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title("Refusing: what each threshold costs (seed questions, test half)", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        fig.savefig(folder / "refusal-trade-off.png", dpi=110)
        plt.close(fig)

    e = result["engine"]["engine"]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ks = [int(k) for k in e["batched_ms_per_answer_token"]]
    ax.plot(ks, [e["batched_ms_per_answer_token"][str(k)] for k in ks], marker="o", label="measured")
    ax.axhline(result["engine"]["bound"]["writing_floor_ms_per_token"], color="grey", ls="--",
               label="one sequence's floor (weights / bandwidth)")
    ax.set_xlabel("answers written in one batch")
    ax.set_ylabel("ms per answer token")
    ax.set_title("Writing several answers at once")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "batched-writing.png", dpi=110)
    plt.close(fig)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if v <= 1 else f"{v:.1f}"
    return str(v)


QUALITY = (("correct", "answer holds the key facts"), ("cited_holds_answer", "a cited passage holds the answer"),
           ("citation_precision", "citation precision"), ("phantom_citations", "phantom citations (share of written [n])"),
           ("false_refusals", "answerable questions refused"), ("refused_unanswerable", "unanswerable refused"),
           ("xquad_contains_answer", "XQuAD-NL answer contained"), ("gold_removed_refused", "gold paragraph removed: refused"))


def trade_off_markdown(result: dict) -> list[str]:
    t, naive_fig = result.get("trade_off"), result["answers"]["naive"]
    if not t:
        return []
    pts = t["points"]
    better = [p for p in pts if p["false_refusals"] < naive_fig["false_refusals"]
              and p["refused_unanswerable"] > naive_fig["refused_unanswerable"] and p["correct"] > naive_fig["correct"]]
    lines = ["", "### Refusing: the trade-off", "",
             f"One threshold on the doubt (verify/decide.py, refuse at {t['product_max_doubt']:g} or more, fitted on "
             "the tuning half) trades refusing unanswerable questions against refusing answerable ones. The same "
             "test replies, decided again at other thresholds (eval/replay.py: the model's output and "
             "probabilities are stored, and the decision is deterministic given them; at the product's threshold "
             f"the replay agrees with the live decision on {t['replayed'] - t['replay_mismatches']} of {t['replayed']} "
             "questions). The rows are for reading, not for "
             "choosing: the product keeps the threshold fitted on the tuning half.", "",
             "| refuse at doubt ≥ | answerable refused | unanswerable refused | key facts | gold removed: refused |",
             "|---|---|---|---|---|"]
    for p in pts:
        own = " (as it runs)" if p["max_doubt"] == t["product_max_doubt"] else ""
        lines.append(f"| {p['max_doubt']:g}{own} | {_fmt(p['false_refusals'])} | {_fmt(p['refused_unanswerable'])} | "
                     f"{_fmt(p['correct'])} | {_fmt(p['gold_removed_refused'])} |")
    lines.append(f"| naive RAG | {_fmt(naive_fig['false_refusals'])} | {_fmt(naive_fig['refused_unanswerable'])} | "
                 f"{_fmt(naive_fig['correct'])} | {_fmt(naive_fig['gold_removed_refused'])} |")
    lines += ["", ("Thresholds at which Vraagbaak refuses more unanswerable questions, fewer answerable ones and "
                   "holds more key facts than naive RAG: " + ", ".join(f"{p['max_doubt']:g}" for p in better) + "."
                   if better else "No threshold refuses more unanswerable questions than naive RAG while refusing "
                   "fewer answerable ones and holding more key facts."),
              "", "![Refusal trade-off](report/refusal-trade-off.png)"]
    return lines


def markdown(result: dict, checks: list[dict]) -> str:
    a, q, r, e = result["answers"], result["quotes"], result["retrieval"], result["engine"]
    lines = [f"# Quality and speed report{' (quick sample: not for quoting)' if result['quick'] else ''}", "",
             f"Generated {result['generated']} by `python -m eval{' --quick' if result['quick'] else ''}` on "
             f"{result['machine']['cpus']} cores ({result['machine']['platform']}), model {result['model']}, "
             f"{result['duration_min']} min. Test half only: nothing here was tuned on.", "",
             "![Vraagbaak against naive RAG](report/versus-naive.png)", "",
             "## Targets", "", "| figure | value | target | |", "|---|---|---|---|"]
    lines += [f"| {c['figure']} | {_fmt(c['value'])} | {c['target']} | {'met' if c['met'] else '**missed**'} |"
              for c in checks]
    n = a["ours"]
    lines += ["", "## Answers: Vraagbaak against naive RAG", "",
              f"Same questions, same model and engine ({result['backend']}), same hybrid search. Naive RAG: the top-5 "
              "whole passages in the prompt, the reply and its citations shown as written (eval/naive.py). "
              f"Seed questions (the test half of sets A and B, and set C): {n['answerable']} answerable, "
              f"{n['unanswerable']} out-of-corpus or near "
              f"miss; XQuAD-NL sample: {n['xquad']}; XQuAD-NL with the gold paragraph removed: {n['gold_removed']}. "
              "Citation precision: share of cited passages that hold a gold evidence span of the test data.", "",
              "| figure | Vraagbaak | naive RAG |", "|---|---|---|"]
    for key, label in QUALITY:
        lines.append(f"| {label} | {_fmt(a['ours'].get(key))} | {_fmt(a['naive'].get(key))} |")
    for key, label in (("retrieval_ms", "retrieval"), ("first_token_ms", "first token"), ("total_ms", "full answer")):
        lines.append(f"| {label}, median (p90) | {_fmt(a['ours'][key]['median'])} ms ({_fmt(a['ours'][key]['p90'])}) | "
                     f"{_fmt(a['naive'][key]['median'])} ms ({_fmt(a['naive'][key]['p90'])}) |")
    lines.append(f"| first token, times faster | {_fmt(result['versus']['first_token_speedup'])}× | 1× |")
    lines.append(f"| full answer, times faster | {_fmt(result['versus']['full_answer_speedup'])}× | 1× |")
    by_set = {g: v for g, v in result.get("answers_by_set", {}).items()
              if v["ours"]["answerable"] or v["ours"]["unanswerable"]}
    if len(by_set) > 1:
        lines += ["", "The seed questions by set (Vraagbaak / naive RAG):", "",
                  "| figure | " + " | ".join(f"{SET_GROUPS[g]}: {v['ours']['answerable']} + {v['ours']['unanswerable']}"
                                          for g, v in by_set.items()) + " |", "|---|" + "---|" * len(by_set)]
        for key, label in QUALITY[:6]:
            lines.append(f"| {label} | " + " | ".join(f"{_fmt(v['ours'].get(key))} / {_fmt(v['naive'].get(key))}"
                                                     for v in by_set.values()) + " |")
    lines += trade_off_markdown(result)
    lines += ["", "![Latency](report/latency.png)", "", "## Retrieval", "",
              f"Search without the query embedding: median {r['search_ms_without_embedding']['median']} ms.", ""]
    for dataset in ("seeds", "xquad_nl"):
        lines += [f"**{dataset}**", "", "| method | R@1 | R@5 | R@10 | MRR |", "|---|---|---|---|---|"]
        lines += [f"| {m} | {v['recall@1']:.3f} | {v['recall@5']:.3f} | {v['recall@10']:.3f} | {v['mrr']:.3f} |"
                  for m, v in r[dataset].items()]
        lines.append("")
    lines += ["![Retrieval](report/retrieval.png)", "", "## Quote checks", "",
              f"{q['cases']} cases (eval/quote_cases.jsonl): verdicts {q['verdict_accuracy']:.3f}, locations "
              f"{q['location_accuracy']:.3f}, median {q['median_ms']} ms per quotation.", "",
              "## The engine against the machine's bound", "",
              f"Memory read bandwidth {e['machine']['memory_read_gb_s']} GB/s, float32 products "
              f"{e['machine']['float32_gflop_s']} GFLOP/s ({e['machine']['threads']} threads); the model has "
              f"{e['model']['parameters'] / 1e9:.2f} B parameters in {e['model']['weight_bytes'] / 1e9:.2f} GB "
              f"({e['model']['file']}; engine: {e['engine'].get('how', 'the prebuilt wheel')}).", "",
              "| | measured | floor | share of the floor |", "|---|---|---|---|",
              f"| writing, ms per token | {e['bound']['writing_measured_ms_per_token']} | "
              f"{e['bound']['writing_floor_ms_per_token']} (weights / bandwidth) | {e['bound']['writing_share_of_bound']:.0%} |",
              f"| prompt reading, ms per token | {e['bound']['prompt_measured_ms_per_token']} | "
              f"{e['bound']['prompt_floor_ms_per_token_int8_estimate']} (2 ops per weight at "
              f"{e['bound'].get('int8_speed_over_float32', 2)}× the float32 rate, 8-bit products) | "
              f"{e['bound']['prompt_share_of_int8_bound']:.0%} |", "",
              "Writing several answers in one batch (one llama_decode of k rows): ms per answer token "
              + ", ".join(f"k={k}: {v}" for k, v in e["engine"]["batched_ms_per_answer_token"].items()) + ".", "",
              "![Batched writing](report/batched-writing.png)", "",
              f"Peak memory of this run before the engine measurement (model, indexes, both pipelines): {result['peak_rss_mb']:.0f} MB.", ""]
    others = _other_results()
    if others:
        lines += ["## Separate benchmarks (not re-run by this command)", "",
                  "| benchmark | generated | command |", "|---|---|---|"]
        lines += [f"| {name} | {gen} | `{cmd}` |" for name, gen, cmd in others]
        lines.append("")
    return "\n".join(lines)


OTHER = [("load", "python -m eval.load"), ("soak", "python -m eval.soak"), ("bigcorpus", "python -m eval.bigcorpus"),
         ("embedding", "python -m eval.embedding"),
         ("embedding-st-cpu", "python -m eval.embedding_st .cache/e5-st"),
         ("embedding-st-cuda", "python -m eval.embedding_st FOLDER --corpus 100000 (on a GPU machine)"),
         ("embedding-st-same-index", "python -m eval.embedding_st .cache/e5-st --same-index"),
         ("replicas", "python -m eval.replicas"),
         ("text_check", "python -m eval.text_check"), ("hostile", "python -m eval.hostile"),
         ("answers-test", "python -m eval.answers --half test")]


def _other_results() -> list[tuple[str, str, str]]:
    out = []
    for name, cmd in OTHER:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            out.append((f"[{name}](results/{name}.json)", json.loads(path.read_text())["generated"], cmd))
    return out


def samples(quick: bool) -> tuple[list[dict], list[dict], list[dict]]:
    """The questions: seed test half, an XQuAD-NL sample of the test paragraphs, gold-removed ones."""
    seeds = half("test")
    xq_all = ours.xquad_rows("test")
    n_x, n_r = (6, 4) if quick else (30, 20)
    if quick:
        rng = random.Random(5)
        seeds = rng.sample([r for r in seeds if r["type"] in ANSWERABLE_TYPES], 10) + \
            rng.sample([r for r in seeds if r["type"] not in ANSWERABLE_TYPES], 4)
    xquad = random.Random(7).sample(xq_all, n_x)
    removed = random.Random(11).sample(ours.nearmiss_candidates("test"), n_r)
    return seeds, xquad, removed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small sample in a few minutes (not for quoting)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    app = Vraagbaak(settings_from())
    run = ours.Run(app)
    from answer import pipeline

    pipeline.pre_embed(app.retriever)
    seeds, xquad, removed = samples(args.quick)
    print("retrieval ...", flush=True)
    result: dict = {"quick": args.quick, "backend": run.llm.backend, "model": run.llm.name}
    xret = run.retriever({"corpus": str(XQUAD_DIR / "xquad_nl_corpus.jsonl"), "cache_dir": app.settings.cache_dir})
    result["retrieval"] = retrieval_figures(app, half("test"), xquad if args.quick else ours.xquad_rows("test"), xret)
    print("quote checks ...", flush=True)
    result["quotes"] = quote_figures()
    print(f"answers: {len(seeds)} seed, {len(xquad)} XQuAD-NL, {len(removed)} gold-removed questions, twice ...",
          flush=True)
    rows = ask_both(app, run, seeds, xquad, removed, xret)
    result["answers"] = {who: figures(rows[who]) for who in rows}
    result["answers_by_set"] = {g: {who: {k: v for k, v in figures([r for r in rows[who] if r["set"] == "seeds"
                                                                    and set_of(r["id"]) in g]).items()
                                          if not k.endswith("_ms")} for who in rows} for g in SET_GROUPS}
    result["trade_off"] = trade_off(rows["ours"])
    a = result["answers"]
    result["versus"] = {
        "first_token_speedup": _ratio(a["naive"]["first_token_ms"]["median"], a["ours"]["first_token_ms"]["median"]),
        "full_answer_speedup": _ratio(a["naive"]["total_ms"]["median"], a["ours"]["total_ms"]["median"])}
    print("engine against the machine's bound ...", flush=True)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from eval import roofline

    result["engine"] = roofline.measure()
    result["duration_min"] = round((time.perf_counter() - t_start) / 60, 1)
    checks = check(result)
    result["checks"] = checks
    name = "report-quick" if args.quick else "report"
    path = write_result(name, {**result, "rows": rows})
    written = json.loads(path.read_text())
    result["generated"], result["machine"] = written["generated"], written["machine"]
    out = REPORT if not args.quick else EVAL_DIR / "report-quick.md"
    plots(result, out.with_suffix(""))
    out.write_text(markdown(result, checks).replace("](report/", f"]({out.stem}/") + "\n", encoding="utf-8")
    missed = [c for c in checks if not c["met"]]
    print(f"\n{len(checks) - len(missed)} of {len(checks)} targets met; report in {out.relative_to(config.ROOT)}")
    for c in checks:
        print(f"  {'met   ' if c['met'] else 'MISSED'} {c['figure']}: {_fmt(c['value'])} (target {c['target']})")
    return 1 if missed else 0


def _ratio(slow, fast) -> float | None:
    return round(slow / fast, 2) if slow and fast else None


if __name__ == "__main__":
    sys.exit(main())
