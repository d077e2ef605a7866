"""Answering benchmark: correctness, cited passages, refusals, speed and memory with the real model.

    .venv/bin/python -m eval.answers                 # seeds + unanswerable + 40 XQuAD-NL questions
    .venv/bin/python -m eval.answers --xquad 0       # skip XQuAD-NL
    .venv/bin/python -m eval.answers --llm-backend transformers   # another backend, same questions

Answer correctness: every key fact of the question (eval/seed_questions.jsonl "facts") occurs in the answer
(case and accents ignored). Cited passage holds the answer: a citation of the answer points at a passage
that contains the answering sentence. Writes eval/results/answers[-<backend>].json with every answer.
"""
from __future__ import annotations

import argparse
import random
import resource
import statistics
import time

import config  # noqa: F401
from answer.pipeline import ask, pre_embed_sentences, warm_up
from config import load_settings
from eval.common import EVAL_DIR, XQUAD_DIR, read_jsonl, write_result
from retrieval.text import strip_accents


def norm(text: str) -> str:
    return " ".join(strip_accents(text).lower().replace("’", "'").split())


def contains(answer: str, fact: str) -> bool:
    return norm(fact) in norm(answer)


def median(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--xquad", type=int, default=40, help="number of XQuAD-NL questions (0 to skip)")
    ap.add_argument("--llm-backend", dest="llm_backend")
    ap.add_argument("--llm-url", dest="llm_url")
    ap.add_argument("--limit", type=int, default=0, help="only the first N seed and unanswerable questions")
    args = ap.parse_args()
    settings = load_settings({"llm_backend": args.llm_backend, "llm_url": args.llm_url})
    t0 = time.perf_counter()
    llm = warm_up(settings)
    load_s = time.perf_counter() - t0
    pre_embed_sentences(settings)

    seeds = read_jsonl(EVAL_DIR / "seed_questions.jsonl")
    unans = read_jsonl(EVAL_DIR / "unanswerable.jsonl")
    if args.limit:
        seeds, unans = seeds[:args.limit], unans[:args.limit]
    rows, ttft, total, prompt_ms, gen_ms, prompt_tokens = [], [], [], [], [], []
    correct = cited_ok = false_refusals = 0
    for r in seeds:
        res = ask(settings, r["question"], llm=llm)
        d = res.to_dict()
        ok = all(contains(d["answer"], f) for f in r["facts"]) and not d["refused"]
        holds = any(r["sentence"] in c["text"] for c in d["citations"])
        correct += ok
        cited_ok += holds
        false_refusals += d["refused"]
        for lst, key in ((ttft, "first_token_ms"), (total, "total_ms"), (prompt_ms, "prompt_ms"),
                         (gen_ms, "generation_ms"), (prompt_tokens, "prompt_tokens")):
            lst.append(d["timings"].get(key))
        rows.append({"id": r["id"], "question": r["question"], "answer": d["answer"], "raw": res.raw,
                     "refused": d["refused"], "fallback": d.get("fallback", False), "correct": ok,
                     "cited_passage_holds_answer": holds, "citations": [c["n"] for c in d["citations"]],
                     "timings": d["timings"], "notes": d.get("notes", [])})
        print(f"{r['id']} {'OK ' if ok else 'BAD'} {'cite' if holds else '----'} {d['answer'][:110]!r}", flush=True)
    refusals = 0
    for r in unans:
        res = ask(settings, r["question"], llm=llm)
        d = res.to_dict()
        refusals += d["refused"]
        total.append(d["timings"].get("total_ms"))
        rows.append({"id": r["id"], "question": r["question"], "answer": d["answer"], "raw": res.raw,
                     "refused": d["refused"], "notes": d.get("notes", []), "timings": d["timings"]})
        print(f"{r['id']} {'refused' if d['refused'] else 'ANSWERED'} {d['answer'][:110]!r}", flush=True)

    n = len(seeds)
    result = {
        "backend": llm.backend, "model": llm.name, "model_load_and_warm_up_s": round(load_s, 1),
        "seeds": {"n": n, "answer_correctness": round(correct / n, 3), "cited_passage_holds_answer":
                  round(cited_ok / n, 3), "false_refusals": round(false_refusals / n, 3)},
        "unanswerable": {"n": len(unans), "refusal_rate": round(refusals / max(len(unans), 1), 3)},
        "timings_ms": {"median_first_token": median(ttft), "median_total": median(total),
                       "median_prompt_processing": median(prompt_ms), "median_generation": median(gen_ms),
                       "median_prompt_tokens_new": median(prompt_tokens)},
    }

    if args.xquad:
        xsettings = load_settings({"corpus": str(XQUAD_DIR / "xquad_nl_corpus.jsonl"),
                                   "llm_backend": args.llm_backend, "llm_url": args.llm_url})
        xrows = read_jsonl(XQUAD_DIR / "xquad_nl_strict.jsonl")
        sample = random.Random(7).sample(xrows, min(args.xquad, len(xrows)))
        hit = refused = 0
        for r in sample:
            res = ask(xsettings, r["question"], llm=llm)
            d = res.to_dict()
            got = any(contains(d["answer"], a) for a in r["answers"])
            hit += got
            refused += d["refused"]
            rows.append({"id": r["id"], "question": r["question"], "gold": r["answers"], "answer": d["answer"],
                         "contains_answer": got, "refused": d["refused"],
                         "raw": res.raw})
            print(f"xquad {'OK ' if got else 'BAD'} {r['answers'][0]!r} <- {d['answer'][:100]!r}", flush=True)
        result["xquad_nl_strict_sample"] = {"n": len(sample), "contains_answer": round(hit / len(sample), 3),
                                            "refused": round(refused / len(sample), 3)}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    result["answers"] = rows
    suffix = "" if llm.backend == "llamacpp" else f"-{llm.backend}"
    path = write_result(f"answers{suffix}", result)
    summary = {k: v for k, v in result.items() if k != "answers"}
    import json
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
