"""Shared helpers for the benchmarks: data locations, JSONL reading, gold passages, result files."""
from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from config import ROOT

EVAL_DIR = ROOT / "eval"
RESULTS_DIR = EVAL_DIR / "results"
SHARED = Path(os.environ.get("VRAAGBAAK_SHARED", ROOT.parent / "shared"))
XQUAD_DIR = SHARED / "data" / "xquad-nl"


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def gold_passages(index, doc_id: str, sentence: str) -> set[int]:
    """Indices of the passages of `doc_id` that overlap the answering sentence."""
    doc = index.document(doc_id)
    if doc is None:
        raise KeyError(f"unknown document {doc_id}")
    pos = doc.text.find(sentence)
    if pos < 0:
        raise ValueError(f"sentence not found in {doc_id}: {sentence[:60]}")
    end = pos + len(sentence)
    return {i for i, p in enumerate(index.passages) if p.doc == doc_id and p.start < end and p.end > pos}


def write_result(name: str, payload: dict, path: Path | None = None) -> Path:
    """Write eval/results/<name>.json (or `path`) with the machine it ran on."""
    payload = {"generated": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}, **payload}
    path = path or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def start_app(*extra: str):
    """`python app.py --port P EXTRA` on a free localhost port, waited for: (process, url, seconds to serve)."""
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, t0 = f"http://127.0.0.1:{port}/", time.perf_counter()
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url, time.perf_counter() - t0
        except OSError:
            if time.perf_counter() - t0 > 180 or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("app did not start")
            time.sleep(0.3)


def ask_waiting(client, question: str) -> tuple[dict, bool]:
    """Submit a question to the app's /ask (a gradio_client Client) and wait for the checked answer, as a
    visitor would: (the result, whether the visitor was told its place in line meanwhile: the model's line
    reports {"waiting": n} or {"same_question": true}, Gradio's queue a rank)."""
    job = client.submit(question, api_name="/ask")
    saw_place = False
    while not job.done():
        saw_place = saw_place or job.status().rank is not None
        time.sleep(0.2)
    saw_place = saw_place or any(isinstance(o, dict) and ("waiting" in o or "same_question" in o)
                                 for o in job.outputs())
    return job.result(), saw_place


@dataclass
class Crowd:
    """What visitors asking at once met: per visitor the wait, the reply's kind, whether it saw its queue place
    and when it finished; and the errors (a failure, an empty reply, an answer or quotation without citations)."""

    started: float
    waits: list[float]
    kinds: list[str]
    saw_place: list[bool]
    finished_at: list[float]
    errors: list[str]


def ask_at_once(clients: list, questions: list[str], meanwhile: Callable[[], None] | None = None) -> Crowd:
    """Visitor i asks questions[i] through clients[i] (gradio_client), all released at the same moment, one
    thread each; `meanwhile` runs while they wait (other requests that must not wait for the model)."""
    n = len(questions)
    crowd = Crowd(0.0, [0.0] * n, [""] * n, [False] * n, [0.0] * n, [])
    barrier = threading.Barrier(n + 1)

    def visitor(i: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            result, crowd.saw_place[i] = ask_waiting(clients[i], questions[i])
            crowd.kinds[i] = result.get("kind", "") + (" (brief)" if result.get("brief") else "")
            if not result.get("answer"):
                crowd.errors.append(f"visitor {i}: empty answer")
            elif result.get("kind") in ("answer", "quote") and not result.get("citations"):
                crowd.errors.append(f"visitor {i}: {result['kind']} without citations")
        except Exception as exc:  # any failure is a finding
            crowd.errors.append(f"visitor {i}: {exc!r}"[:300])
        crowd.finished_at[i] = time.perf_counter()
        crowd.waits[i] = crowd.finished_at[i] - t0

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    crowd.started = time.perf_counter()
    if meanwhile:
        meanwhile()
    for t in threads:
        t.join()
    return crowd

