"""Many visitors for minutes: questions, quote checks and searches through the API and the page at once.

    .venv/bin/python -m eval.soak                          # 20 visitors (16 API, 4 page), 5 minutes
    .venv/bin/python -m eval.soak --visitors 20 --page 0 --seconds 30 --out soak-short

Starts the app on a free localhost port and keeps `--visitors` visitors busy for `--seconds`: each picks a
question (40 %), a quote check (30 %) or a search (30 %; page visitors ask or check a quote), waits for the result,
thinks 2-8 s, and goes on. A visitor still waiting when the time is up finishes its request. Reported: every
request's outcome (answered, or an error with its text), how long each kind took, whether waiting visitors
saw their place in the queue, and the app's memory (RSS) at the start, its peak and at the end, written to
eval/results/<out>.json. Exit code 1 on any error, or when memory at the end exceeds the start by more than
--memory-growth (10 %).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time

import config  # noqa: F401
from eval.common import EVAL_DIR, ask_waiting, read_jsonl, start_app, write_result

QUOTES = ["Totale inclusie is een illusie", "Totale inclusie is een utopie", "dweilen met de kraan open",
          "Sociaal werkers zijn de smeerolie van de samenleving", "Het formele sociaal werk bestaat nu zo'n 30 jaar"]


def _rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


class Tally:
    """Outcomes and timings of every request, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.saw_queue = 0
        self.waited = 0

    def ok(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.done.setdefault(kind, []).append(seconds)

    def error(self, kind: str, text: str) -> None:
        with self.lock:
            self.errors.append(f"{kind}: {text[:300]}")


def api_visitor(url: str, questions: list[str], stop_at: float, tally: Tally, seed: int) -> None:
    from gradio_client import Client

    rnd = random.Random(seed)
    client = Client(url, verbose=False)
    while time.time() < stop_at:
        kind = rnd.choices(["ask", "quote", "search"], [4, 3, 3])[0]
        t0 = time.perf_counter()
        try:
            if kind == "ask":
                result, told = ask_waiting(client, rnd.choice(questions))
                if not result.get("answer"):
                    raise RuntimeError("empty answer")
                waited = time.perf_counter() - t0 > 10
                with tally.lock:
                    tally.waited += waited
                    tally.saw_queue += bool(waited and told)
            elif kind == "quote":
                if client.predict(rnd.choice(QUOTES), api_name="/quote")["verdict"] not in ("exact", "altered", "absent"):
                    raise RuntimeError("no verdict")
            else:
                if not client.predict(rnd.choice(questions), 5, api_name="/search")["passages"]:
                    raise RuntimeError("no passages")
            tally.ok(kind, time.perf_counter() - t0)
        except Exception as exc:  # every failure is a finding
            tally.error(kind, repr(exc))
        time.sleep(rnd.uniform(2, 8))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visitors", type=int, default=20)
    ap.add_argument("--page", type=int, default=4, help="how many of the visitors use the page (Chromium)")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--out", default="soak")
    ap.add_argument("--memory-growth", type=float, default=0.10,
                    help="the bound: memory at the end may exceed the start by at most this share")
    args = ap.parse_args(argv)

    proc, url, _ = start_app()
    try:
        from gradio_client import Client

        Client(url, verbose=False).predict("Wat is de kern van solidariteit?", api_name="/ask")  # model warm
        time.sleep(5)
        memory = [(0.0, _rss_mb(proc.pid))]
        questions = [r["question"] for r in read_jsonl(EVAL_DIR / "seed_questions.jsonl")]
        tally, start = Tally(), time.time()
        stop_at = start + args.seconds
        n_page = min(args.page, args.visitors)
        threads = [threading.Thread(target=api_visitor, args=(url, questions, stop_at, tally, i))
                   for i in range(args.visitors - n_page)]
        finished = threading.Event()

        def sample() -> None:
            while not finished.wait(5):
                memory.append((round(time.time() - start, 1), _rss_mb(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        for t in [*threads, sampler]:
            t.start()
        if n_page:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--headless=new", "--no-sandbox", "--disable-gpu",
                                                   "--disable-dev-shm-usage"])
                _drive_page_visitors(browser, url, questions, stop_at, tally, n_page)
                browser.close()
        for t in threads:
            t.join()
        finished.set()
        sampler.join()
        memory.append((round(time.time() - start, 1), _rss_mb(proc.pid)))
        requests = sum(len(v) for v in tally.done.values()) + len(tally.errors)
        result = {
            "visitors": args.visitors, "page_visitors": n_page, "seconds": args.seconds,
            "wall_s": round(time.time() - start, 1), "requests": requests, "errors": tally.errors,
            "by_kind": {k: {"n": len(v), "median_s": round(statistics.median(v), 2), "worst_s": round(max(v), 2)}
                        for k, v in sorted(tally.done.items())},
            "questions_that_waited_over_10s": tally.waited,
            "of_those_saw_their_queue_position": tally.saw_queue,
            "memory_mb": {"start": round(memory[0][1]), "peak": round(max(m for _, m in memory)),
                          "end": round(memory[-1][1]), "bound": round(memory[0][1] * (1 + args.memory_growth)),
                          "samples": [(t, round(m)) for t, m in memory]},
        }
        path = write_result(args.out, result)
        print({k: v for k, v in result.items() if k != "memory_mb"}, {k: v for k, v in result["memory_mb"].items()
                                                                   if k != "samples"})
        print(f"written to {path}")
        return 1 if tally.errors or memory[-1][1] > memory[0][1] * (1 + args.memory_growth) else 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _drive_page_visitors(browser, url, questions, stop_at, tally, n) -> None:
    """Page visitors, advanced a step at a time in this thread (Playwright's sync API belongs to the thread
    that started it), until the time is up and none is waiting for a result."""
    visitors = [_PageVisitor(browser, url, questions, tally, seed=100 + i) for i in range(n)]
    while time.time() < stop_at or any(v.busy for v in visitors):
        for v in visitors:
            v.step(stop_at)
        time.sleep(0.3)


class _PageVisitor:
    """One visitor on the page, advanced a step at a time (ask or check, wait, think) by the driving thread."""

    def __init__(self, browser, url, questions, tally, seed):
        self.rnd, self.questions, self.tally = random.Random(seed), questions, tally
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("#question textarea", timeout=60_000)
        self.busy, self.kind, self.t0, self.asked, self.next_at = False, "", 0.0, 0, time.time()
        self.quote = ""  # the quotation it checked last

    def step(self, stop_at: float) -> None:
        page, now = self.page, time.time()
        try:
            if not self.busy:
                if now < self.next_at or now >= stop_at:
                    return
                self.kind = self.rnd.choice(["page_ask", "page_quote"])
                self.t0 = time.perf_counter()
                if self.kind == "page_ask":
                    page.get_by_role("tab", name="Vragen").click()
                    page.fill("#question textarea", self.rnd.choice(self.questions))
                    page.click("#send")
                    self.asked += 1
                else:
                    page.get_by_role("tab", name="Citaat controleren").click()
                    page.evaluate("document.querySelectorAll('#verdict [data-verdict]').forEach(e => e.remove())")
                    # Another quotation than the last: the same verdict again would not be drawn anew, so the
                    # removed one would never come back (the 5-minute run lost a visitor to that for 600 s).
                    self.quote = self.rnd.choice([q for q in QUOTES if q != self.quote])
                    page.fill("#quote textarea", self.quote)
                    page.click("#check")
                self.busy = True
                return
            if self.kind == "page_ask":
                finished = (page.locator("#chatbot .message").count() >= 2 * self.asked
                            and not page.locator("#status").inner_text().strip())
            else:
                finished = page.locator("#verdict [data-verdict]").count() > 0
            toasts = page.locator("[data-testid='toast-body']").all_inner_texts()
            if toasts:
                raise RuntimeError(f"notice on the page: {toasts}")
            if finished:
                self.tally.ok(self.kind, time.perf_counter() - self.t0)
            elif time.perf_counter() - self.t0 > 600:
                raise RuntimeError("no result in 600 s")
            else:
                return
        except Exception as exc:
            self.tally.error(self.kind, repr(exc))
        self.busy, self.next_at = False, time.time() + self.rnd.uniform(2, 8)


if __name__ == "__main__":
    sys.exit(main())
