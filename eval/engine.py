"""Prompt reading and writing speed of the llama.cpp builds on the real answer prompts.

    .venv/bin/python -m eval.engine            # ~5 minutes; writes eval/results/engine.json

The same bundled model, the same prompts (system + worked examples + the evidence lines of the first N seed
questions), 2 threads, greedy decoding, the fixed prefix cached. Each build runs in its own process:
- `ik`: answer/llamacpp.py on the ik_llama.cpp wheel (AVX2, the Q4_K_M weights);
- `native`: the same code on ik_llama.cpp built for this CPU by setup.sh (answer/native.py), with 8-bit
  weights where the CPU has AVX512-VNNI: what the app uses when the build exists;
- `mainline`: llama.cpp's own server code in-process through xllamacpp (what the app used before).
Why it matters: prompt reading is nearly all of the time to first token.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from answer.native import built_library
from config import load_settings
from eval.common import EVAL_DIR, read_jsonl, write_result

ENGINES = ("ik", "native", "mainline")  # the AVX2 wheel, the build for this CPU (answer/native.py), xllamacpp


def prompts(n: int) -> list[list[dict]]:
    from answer.pipeline import SOURCES_K
    from answer.prompt import build_messages
    from service import Vraagbaak, settings_from

    retriever = Vraagbaak(settings_from()).retriever
    return [build_messages(r["question"], retriever.evidence(r["question"], SOURCES_K)[1])
            for r in read_jsonl(EVAL_DIR / "seed_questions.jsonl")[:n]]


def _ik(path: str, threads: int, library=None):
    from answer.llamacpp import Engine
    from answer.llm import Timing

    engine = Engine(path, threads=threads, ctx=4096, library=library)

    def run(messages: list[dict]) -> tuple[str, int, float, int, float]:
        s = Timing()
        text = "".join(engine.generate(messages, 128, s))
        return text, s.prompt_tokens, s.prompt_ms, s.generated_tokens, s.generation_ms
    return run


def _mainline(path: str, threads: int):
    import secrets

    import xllamacpp as xl

    from answer.serve_llm import server_params

    p = server_params(path, 4096, threads)
    p.n_parallel, p.warmup = 1, False
    p.api_keys = [secrets.token_urlsafe(24)]  # its HTTP port stays closed to other local users
    server = xl.Server(p)

    def run(messages: list[dict]) -> tuple[str, int, float, int, float]:
        out: dict = {}
        server.handle_chat_completions({"messages": messages, "max_tokens": 128, "temperature": 0,
                                        "cache_prompt": True}, lambda c: out.update(c) or False)
        t = out["timings"]
        return (out["choices"][0]["message"]["content"], t["prompt_n"], t["prompt_ms"], t["predicted_n"],
                t["predicted_ms"])
    return run


def measure(engine: str, n: int) -> dict:
    """One build in this process: load, warm the fixed prefix, then answer n prompts."""
    from answer.native import engine_for

    settings = load_settings({"engine_build": "native" if engine == "native" else "wheel"})
    path, choice = engine_for(settings)
    msgs = prompts(n)
    t0 = time.perf_counter()
    if engine == "mainline":
        run = _mainline(str(path), settings.threads)
    else:
        run = _ik(str(path), settings.threads, choice.library)
    run(msgs[0][:-1] + [{"role": "user", "content": "Wat is sociaal werk?"}])  # cache the fixed prefix
    load_s = time.perf_counter() - t0
    rows = [run(m) for m in msgs]
    return {"engine": engine, "how": choice.why if engine != "mainline" else "xllamacpp", "model": path.name,
            "load_and_warm_up_s": round(load_s, 1),
            "median_new_prompt_tokens": statistics.median(r[1] for r in rows),
            "median_prompt_reading_ms": round(statistics.median(r[2] for r in rows), 1),
            "prompt_tokens_per_s": round(sum(r[1] for r in rows) / sum(r[2] for r in rows) * 1000, 1),
            "generated_tokens_per_s": round(sum(r[3] for r in rows) / sum(r[4] for r in rows) * 1000, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "answers": [r[0] for r in rows]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--engine", choices=ENGINES, help="measure one build in this process (internal)")
    args = ap.parse_args()
    if args.engine:
        print(json.dumps(measure(args.engine, args.questions)))
        return
    results = {}
    for engine in ENGINES:
        if engine == "native" and built_library(load_settings().cache_dir) is None:
            print("no build for this CPU (python -m answer.native): measuring the wheel and mainline only")
            continue
        out = subprocess.run([sys.executable, "-m", "eval.engine", "--engine", engine, "--questions",
                              str(args.questions)], capture_output=True, text=True, check=True)
        results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    same = sum(a == b for a, b in zip(results["ik"]["answers"], results["mainline"]["answers"]))
    same_native = (sum(a == b for a, b in zip(results["ik"]["answers"], results["native"]["answers"]))
                   if "native" in results else None)
    print(f"{'engine':10} {'prompt tok/s':>12} {'write tok/s':>11} {'prompt read ms':>14} {'load s':>7} {'RSS MB':>7}")
    for r in results.values():
        print(f"{r['engine']:10} {r['prompt_tokens_per_s']:>12} {r['generated_tokens_per_s']:>11} "
              f"{r['median_prompt_reading_ms']:>14} {r['load_and_warm_up_s']:>7} {r['peak_rss_mb']:>7}")
    print(f"identical answers, wheel and mainline: {same}/{args.questions}; wheel and native: {same_native}/"
          f"{args.questions} (greedy everywhere; kernels and 8-bit weights round differently)")
    print("written to", write_result("engine", {"questions": args.questions, "identical_answers": same,
                                               "identical_answers_wheel_native": same_native,
                                               **{k: v for k, v in results.items()}}))


if __name__ == "__main__":
    main()
