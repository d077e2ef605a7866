"""A full question through the page, run inside a network namespace with only loopback (tests/test_offline.py).

    unshare -rn sh -c 'ip link set lo up && python tests/offline_page.py CACHE_DIR OUT.json SHOT.png'

Starts the app, asks in headless Chromium, waits for the checked answer and writes what happened to OUT.json:
whether the outside world was reachable, the answer, its citation, every URL the page requested.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Hoeveel jaar bestaat formeel sociaal werk al in China?"


def outside_reachable() -> str:
    try:
        socket.create_connection(("1.1.1.1", 80), timeout=3).close()
        return "reachable"
    except OSError as exc:
        return f"blocked: {exc}"


def main(cache_dir: str, out: str, shot: str) -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": cache_dir}
    log = open(Path(out).with_suffix(".log"), "w")
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, cwd=ROOT,
                           stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    result: dict = {"outside": outside_reachable()}
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.time() > deadline or app.poll() is not None:
                    raise RuntimeError("app did not start")
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--headless=new", "--no-sandbox", "--disable-gpu",
                                               "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            page.wait_for_selector("#question textarea", timeout=30_000)
            page.fill("#question textarea", QUESTION)
            page.click("#send")
            deadline = time.time() + 240
            link = page.locator('#chatbot a[href^="#bron-"]')
            while time.time() < deadline:
                if link.count() and not page.locator("#status").inner_text().strip():
                    break
                time.sleep(0.3)
            result.update(answer=page.locator("#chatbot .message").last.inner_text(), citations=link.count(),
                          sources=page.locator("#sources").inner_text()[:2000], requests=requests)
            page.screenshot(path=shot, full_page=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
        Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
