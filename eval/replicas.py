"""Several app replicas against one model server: the load test of eval/load.py spread over the replicas.

    .venv/bin/python -m eval.replicas                      # 2 replicas; 1 and 2 server slots; 10 and 20 visitors
    .venv/bin/python -m eval.replicas --slots 2 --visitors 10 --out replicas-short

Starts one llama.cpp server (`python -m answer.serve_llm --parallel S`) and `--replicas` app processes
(`python app.py --llm-url ...`) on free localhost ports, all on the same corpus, added-documents and cache
folders. For each slot count and number of visitors: every replica answers one question first (the server's
slots read the fixed prompt), then the visitors submit one different seed question each through `/ask` at the
same moment, visitor i on replica i mod R (as a sticky load balancer would place them). Reported: errors,
median and worst wait from submitting to the checked answer, per replica, the answers per minute the one
server gave, and the memory of the server and the replicas; compared with the single in-process app of
eval/results/load.json. Written to eval/results/<out>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import config  # noqa: F401
from config import ROOT
from eval.common import EVAL_DIR, RESULTS_DIR, ask_at_once, read_jsonl, start_app, write_result

WARM_QUESTION = "Wat is de kern van solidariteit?"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_model_server(port: int, slots: int = 1, env: dict | None = None, log=subprocess.DEVNULL,
                       timeout_s: float = 180) -> subprocess.Popen:
    """`python -m answer.serve_llm --port PORT --parallel SLOTS`, waited for until its /health says it is ready
    (the one address that needs no API key)."""
    proc = subprocess.Popen([sys.executable, "-m", "answer.serve_llm", "--port", str(port), "--parallel", str(slots)],
                            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"model server on port {port} did not start")
            time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_replicas(n: int, llm_url: str) -> list[tuple[subprocess.Popen, str]]:
    """n app processes (`app.py --llm-url URL`) on free ports, started side by side: [(process, url)]."""
    out: list = [None] * n
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            proc, url, _ = start_app("--llm-url", llm_url)
            out[i] = (proc, url)
        except BaseException as exc:  # reported after the others have started (and are stopped)
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for started in out:
            if started:
                stop(started[0])
        raise errors[0]
    return out


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def load_round(urls: list[str], questions: list[str]) -> dict:
    """One visitor per question, all submitted at the same moment, visitor i on replica i mod len(urls)."""
    from gradio_client import Client

    n = len(questions)
    clients = [Client(urls[i % len(urls)], verbose=False) for i in range(n)]
    crowd = ask_at_once(clients, questions)
    waits, kinds = crowd.waits, crowd.kinds
    wall = max(crowd.finished_at) - crowd.started
    per_replica = {}
    for r, url in enumerate(urls):
        mine = [waits[i] for i in range(n) if i % len(urls) == r]
        per_replica[url] = {"visitors": len(mine), "median_s": round(statistics.median(mine), 1),
                            "worst_s": round(max(mine), 1)}
    return {
        "visitors": n, "errors": crowd.errors,
        "answer_wait_s": {"median": round(statistics.median(waits), 1), "worst": round(max(waits), 1),
                          "best": round(min(waits), 1)},
        "per_replica": per_replica,
        "all_answered_after_s": round(wall, 1),
        "answers_per_minute": round(60 * n / wall, 1),
        "kinds": {k: kinds.count(k) for k in sorted(set(kinds))},
        "visitors_that_saw_their_queue_position": sum(crowd.saw_place),
    }


def warm(urls: list[str]) -> None:
    """One question on every replica at once: the server's slots read the fixed prompt before the timing."""
    from gradio_client import Client

    threads = [threading.Thread(target=lambda u=u: Client(u, verbose=False).predict(WARM_QUESTION, api_name="/ask"))
               for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--slots", type=int, nargs="+", default=[1, 2], help="server slot counts to try (--parallel)")
    ap.add_argument("--visitors", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--out", default="replicas")
    args = ap.parse_args(argv)

    all_questions = [r["question"] for r in read_jsonl(EVAL_DIR / "seed_questions.jsonl")]
    if max(args.visitors) > len(all_questions):
        ap.error(f"at most {len(all_questions)} visitors (one different seed question each)")
    port = free_port()
    llm_url = f"http://127.0.0.1:{port}/v1"
    runs: list[dict] = []
    server, running_slots = start_model_server(port, args.slots[0]), args.slots[0]
    t0 = time.perf_counter()
    replicas = start_replicas(args.replicas, llm_url)
    started_s = time.perf_counter() - t0
    urls = [u for _, u in replicas]
    try:
        for n_slots in args.slots:
            if n_slots != running_slots:  # the replicas stay; the server comes back on the same port
                stop(server)
                server, running_slots = start_model_server(port, n_slots), n_slots
            warm(urls)
            for n in args.visitors:
                run = {"server_slots": n_slots, **load_round(urls, all_questions[:n])}
                run["memory_mb"] = {"model_server": round(rss_mb(server.pid)),
                                    "replicas": [round(rss_mb(p.pid)) for p, _ in replicas]}
                print(json.dumps(run, ensure_ascii=False), flush=True)
                runs.append(run)
    finally:
        for proc, _ in replicas:
            stop(proc)
        stop(server)
    single = RESULTS_DIR / "load.json"
    single_app = json.loads(single.read_text(encoding="utf-8")) if single.exists() else {}
    result = {
        "replicas": args.replicas, "replicas_serving_after_s": round(started_s, 1),
        "set_up": f"one `python -m answer.serve_llm --parallel S` and {args.replicas} `python app.py --llm-url` "
                  "on localhost, same corpus, added and cache folders; visitor i on replica i mod R",
        "runs": runs,
        "single_app_in_process": {k: single_app.get(k) for k in ("generated", "sessions", "errors", "answer_wait_s")},
    }
    path = write_result(args.out, result)
    print(f"written to {path}")
    return 1 if any(r["errors"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
