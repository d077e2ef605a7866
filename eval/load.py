"""Several visitors at once: 10 sessions ask questions simultaneously while others check quotes and search.

    .venv/bin/python -m eval.load            # starts the app on a free port, writes eval/results/load.json
    .venv/bin/python -m eval.load --sessions 20 --out load-20
    .venv/bin/python -m eval.load --parallel 4 --out load-p4   # four answers written in one batch
    .venv/bin/python -m eval.load --same 3 --out load-same3    # visitors tapping 3 example questions (kept answers)
    .venv/bin/python -m eval.load --kept 5 --out load-kept5    # 5 of the 10 ask questions answered before
    .venv/bin/python -m eval.load --brief 0 --out load-full    # every visitor gets the model's sentence

Each session is its own gradio_client connection. Reported: errors, median and worst time from submitting
a question to its answer, whether queued visitors saw their queue position, and how long quote checks and
searches took while the model queue was full (they must not wait for it).
"""
from __future__ import annotations

import argparse
import statistics
import time

import config  # noqa: F401
from eval.common import EVAL_DIR, ask_at_once, read_jsonl, start_app, write_result



def spread(waits: list[float], visitors: list[int]) -> dict:
    """How long these visitors waited: their number, median and worst."""
    w = [waits[i] for i in visitors]
    return {"n": len(w), "median": round(statistics.median(w), 1), "worst": round(max(w), 1)} if w else {}


def main() -> None:
    from gradio_client import Client

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10, help="visitors asking at once")
    ap.add_argument("--parallel", type=int, help="the app's --llm-parallel (default: the app's default)")
    ap.add_argument("--same", type=int, default=0,
                    help="only this many different questions, as when visitors tap the page's example questions")
    ap.add_argument("--kept", type=int, default=0,
                    help="this many of the visitors ask a question answered before (kept), the others new ones")
    ap.add_argument("--brief", type=int, help="the app's --brief-when-waiting (0: every visitor gets the model's "
                                              "sentence; default: the app's default)")
    ap.add_argument("--out", default="load", help="result name under eval/results/")
    args = ap.parse_args()
    sessions = args.sessions
    proc, url, page_ready_s = start_app(*(["--llm-parallel", str(args.parallel)] if args.parallel else []),
                                        *(["--brief-when-waiting", str(args.brief)] if args.brief is not None else []))
    try:
        warm = Client(url, verbose=False)
        warm.predict("Wat is de kern van solidariteit?", api_name="/ask")  # model loaded and warm
        questions = [r["question"] for r in read_jsonl(EVAL_DIR / "seed_questions.jsonl")][:args.same or None]
        questions = [questions[i % len(questions)] for i in range(sessions)]
        kept = set(range(1, sessions, 2)[:args.kept]) if args.kept else set()  # every other visitor, from the 2nd
        for i in kept:
            warm.predict(questions[i], api_name="/ask")  # answered once before the crowd: the answer is kept
        clients = [Client(url, verbose=False) for _ in range(sessions)]
        side: dict[str, list[float]] = {"quote": [], "search": []}

        def side_requests() -> None:
            time.sleep(1.0)  # the model queue is now full: quote checks and searches must still be quick
            side_client = Client(url, verbose=False)
            for i in range(5):
                t0 = time.perf_counter()
                side_client.predict("Totale inclusie is een utopie", api_name="/quote")
                side["quote"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                side_client.predict(questions[i % len(questions)], 5, api_name="/search")
                side["search"].append(time.perf_counter() - t0)

        crowd = ask_at_once(clients, questions, side_requests)
        waits, kinds = crowd.waits, crowd.kinds
        result = {
            "sessions": sessions, "llm_parallel": args.parallel or "default",
            "brief_when_waiting": "default" if args.brief is None else args.brief,
            "different_questions": len(set(questions)),
            "page_ready_after_start_s": round(page_ready_s, 1), "errors": crowd.errors,
            "answer_wait_s": {"median": round(statistics.median(waits), 1), "worst": round(max(waits), 1),
                              "best": round(min(waits), 1)},
            **({"kept_questions_wait_s": spread(waits, sorted(kept)),
                "new_questions_wait_s": spread(waits, [i for i in range(sessions) if i not in kept])} if kept else {}),
            "replies": {k: kinds.count(k) for k in sorted(set(kinds))},
            "sessions_that_saw_their_queue_position": sum(crowd.saw_place),  # the others were taken at once
            "while_model_busy_s": {k: {"median": round(statistics.median(v), 2), "worst": round(max(v), 2)}
                                   for k, v in side.items()},
        }
        path = write_result(args.out, result)
        print(result)
        print(f"written to {path}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
