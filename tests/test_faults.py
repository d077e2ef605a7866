"""Faults, each made real: a model server that is down, silent or talks nonsense; the model package missing; a
full or read-only disk (a tmpfs in a private mount namespace); the app killed in the middle of an add.

Each must end in a clear Dutch message (an English log line, exit code 3 on the command line), nothing lost or
half-written, and search and quote checks going on as before."""
from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from corpus import library
from corpus.load import load_corpus
from errors import ServiceFailure
from service import Vraagbaak, settings_from
from tests.conftest import PYTHON, ROOT, free_port, run_app, running_app

QUESTION = "Hoeveel vrijwilligers zijn er in Nederland?"  # passes the gate: the model is asked


class _BadServer(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible address that misbehaves in the way `mode` says."""

    mode = "garbage"

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "slow":
            time.sleep(8)
        status = {"error": 500, "key": 401}.get(self.mode, 200)
        body = {"garbage": b"<html><body>Bad gateway</body></html>", "error": b"internal error",
                "key": b'{"error": {"code": 401, "message": "Invalid API Key"}}',
                "broken": b"data: {\"choices\": [{\"delta\": {\"content\": \"Zin",
                "slow": b"data: [DONE]\n\n"}[self.mode]
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream" if self.mode == "broken" else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client gave up first (slow)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture()
def bad_server():
    servers = []

    def start(mode: str) -> str:
        handler = type("Handler", (_BadServer,), {"mode": mode})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for srv in servers:
        srv.shutdown()


@pytest.mark.parametrize("mode, reason", [
    ("down", "niet bereikbaar"), ("slow", "niet op tijd"), ("garbage", "onleesbaar"), ("broken", "onleesbaar"),
    ("error", "onleesbaar"), ("key", "weigert de toegangssleutel"),
])
def test_model_server_faults_give_a_message_and_search_goes_on(seed_index, settings, bad_server, mode, reason):
    url = f"http://127.0.0.1:{free_port()}/v1" if mode == "down" else bad_server(mode)
    app = Vraagbaak(settings_from({**vars(settings), "llm_url": url, "llm_timeout_s": 1}, environ={}))
    t0 = time.perf_counter()
    with pytest.raises(ServiceFailure) as err:
        app.ask(QUESTION)
    assert time.perf_counter() - t0 < 5  # the timeout holds: nobody waits for a silent server
    assert err.value.key == "model_failed" and reason in err.value.dutch and err.value.exit_code == 3
    assert "zoeken en citaten controleren werken gewoon" in err.value.dutch
    assert "117.000 vrijwilligers" in " ".join(h.passage.text for h in app.search(QUESTION, 3))
    assert app.quote("Totale inclusie is een illusie").verdict == "exact"


def test_model_server_down_on_the_command_line(seed_index, cache_dir):
    out = run_app("ask", QUESTION, "--llm-url", f"http://127.0.0.1:{free_port()}/v1", cache_dir=cache_dir)
    assert out.returncode == 3, out.stderr
    assert "modelserver is niet bereikbaar" in out.stderr and "Traceback" not in out.stderr
    assert "ERROR" in out.stderr and "no LLM server at" in out.stderr  # the English line for the logs


def test_model_package_missing_names_what_to_install(seed_index, cache_dir, tmp_path):
    """A fresh process in which the engine's wheel cannot be imported, as if it were not installed."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['ik_llama_cpp'] = None\n")
    env = {"PYTHONPATH": str(tmp_path)}
    out = run_app("ask", QUESTION, cache_dir=cache_dir, env=env)
    requirement = next(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                       if line.startswith("ik-llama-cpp-python=="))
    assert out.returncode == 3, out.stderr
    assert requirement in out.stderr and "./setup.sh" in out.stderr and "Traceback" not in out.stderr
    assert "zoeken en citaten controleren werken gewoon" in out.stderr.lower()
    found = run_app("search", QUESTION, "--json", cache_dir=cache_dir, env=env)
    assert found.returncode == 0 and "117.000 vrijwilligers" in found.stdout
    quoted = run_app("quote", "Totale inclusie is een illusie", cache_dir=cache_dir, env=env)
    assert quoted.returncode == 0 and "Exact" in quoted.stdout


# ---- a full or read-only disk, for real: a tiny tmpfs in a mount namespace of our own -------------------------

def _unshare_mount_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"], capture_output=True).returncode == 0


needs_mount_ns = pytest.mark.skipif(not _unshare_mount_works(), reason="needs unshare -rm (user and mount namespaces)")

FEEDBACK_SCRIPT = """
import json, sys
from service import Vraagbaak, settings_from
from errors import UserError
app = Vraagbaak(settings_from({"feedback_dir": sys.argv[1]}, environ={}))
try:
    app.save_feedback({"liked": True, "question": "Wat is sociaal werk?", "answer": "x" * 20000, "sources": []})
    print(json.dumps({"saved": True}))
except UserError as exc:
    print(json.dumps({"saved": False, "dutch": exc.dutch, "english": exc.english}))
"""


def _in_namespace(tmp_path: Path, how: str, command: str) -> subprocess.CompletedProcess:
    """Run `command` with tmp_path/disk a 64 KiB tmpfs that is full ('full') or read-only ('ro')."""
    disk = tmp_path / "disk"
    disk.mkdir(exist_ok=True)
    prepare = {
        # one earlier feedback line, then fill the rest but for 200 bytes
        "full": f"printf '%s\\n' '{{\"liked\": false}}' > {disk}/feedback.jsonl; mkdir -p {disk}/added; "
                f"head -c $(( $(stat -f -c '%a*%S' {disk}) - 200 )) /dev/zero > {disk}/filler 2>/dev/null; true",
        "ro": f"printf '%s\\n' '{{\"liked\": false}}' > {disk}/feedback.jsonl; mkdir -p {disk}/added; "
              f"mount -o remount,ro {disk}",
    }[how]
    script = f"mount -t tmpfs -o size=64k tmpfs {disk} && {prepare} && {command}"
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


@needs_mount_ns
@pytest.mark.parametrize("how, reason", [("full", "de schijf is vol"), ("ro", "de map is alleen-lezen")])
def test_feedback_on_a_full_or_read_only_disk(tmp_path, how, reason):
    script = tmp_path / "feedback.py"
    script.write_text(FEEDBACK_SCRIPT)
    disk = tmp_path / "disk"
    out = _in_namespace(tmp_path, how, f"{PYTHON} {script} {disk} && cat {disk}/feedback.jsonl")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[0])
    assert result == {"saved": False, "dutch": f"Uw beoordeling kon niet worden opgeslagen: {reason}. Er is niets "
                                               "veranderd.", "english": result["english"]}
    assert out.stdout.splitlines()[1:] == ['{"liked": false}']  # the earlier line whole, nothing half-written


@needs_mount_ns
@pytest.mark.parametrize("how, reason", [("full", "de schijf is vol"), ("ro", "de map is alleen-lezen")])
def test_adding_a_document_to_a_full_or_read_only_disk(tmp_path, cache_dir, how, reason):
    doc = tmp_path / "verslag.txt"
    doc.write_text("Verslag\n\n" + "In de wijk helpen vrijwilligers elke week bij de voedselbank. " * 300,
                   encoding="utf-8")
    disk = tmp_path / "disk"
    out = _in_namespace(tmp_path, how, f"VRAAGBAAK_CACHE_DIR={cache_dir} VRAAGBAAK_ADDED_DIR={disk}/added "
                                       f"{PYTHON} app.py add {doc}; echo \"exit=$?\"; ls -A {disk}/added")
    lines = out.stdout.splitlines()
    assert "exit=3" in lines, out.stdout + out.stderr
    assert f"Het document kon niet worden opgeslagen: {reason}. Er is niets veranderd." in out.stderr
    assert "Traceback" not in out.stderr and "could not save document" in out.stderr
    stored = lines[lines.index("exit=3") + 1:]
    assert not [n for n in stored if n.endswith(".txt") or n.endswith(".tmp")], stored  # nothing half-written


# ---- killed in the middle of an add ----------------------------------------------------------------------

def test_killed_during_an_add_leaves_the_corpus_before_or_after(tmp_path, small_corpus):
    """kill -9 at three moments of `app.py add`: before the file is stored, right after it is (the index not yet
    updated), and while the index is being built. Each time the folder holds the old corpus or the whole new
    document, and the next start serves an index that matches the folder exactly."""
    corpus, cache = small_corpus, tmp_path / "cache"
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache), "VRAAGBAAK_CORPUS": str(corpus)}
    moments = {
        "before the file is stored": lambda: True,
        "right after the file is stored": lambda: (corpus / "moestuin.txt").exists(),
        "while the index is built": lambda: any((cache / "index").glob(".*building-*")),
    }
    for round_no, (moment, ready) in enumerate(moments.items()):
        # new words each round, so that no round finds its passages in the embedding cache of the one before
        new = tmp_path / f"{round_no}" / "moestuin.txt"
        new.parent.mkdir()
        new.write_text("Moestuinen in de wijk\n\n" + "\n\n".join(
            f"Ronde {round_no}, alinea {i}: in wijk {i} helpen {i + 3} vrijwilligers bij de moestuin." for i in range(40)
        ) + "\n", encoding="utf-8")
        reference = settings_from({"corpus": str(_copy(corpus, tmp_path / f"reference{round_no}"))}, environ={})
        expected = library.add_file(reference, "moestuin.txt", new.read_bytes()).path.read_text(encoding="utf-8")
        proc = subprocess.Popen([PYTHON, str(ROOT / "app.py"), "add", str(new)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not ready() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        if moment == "before the file is stored":
            time.sleep(0.2)  # interpreter started, nothing written yet
        assert proc.poll() is None, f"the add finished before it could be killed {moment}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()

        names = sorted(p.name for p in corpus.iterdir() if not p.name.startswith("."))
        assert names in (["a.txt", "b.txt"], ["a.txt", "b.txt", "moestuin.txt"]), (moment, names)
        if "moestuin.txt" in names:
            assert (corpus / "moestuin.txt").read_text(encoding="utf-8") == expected, moment  # whole, never half
        settings = settings_from({"cache_dir": str(cache), "corpus": str(corpus)}, environ={})
        index = Vraagbaak(settings).retriever.index  # the next start
        on_disk = load_corpus([corpus], settings.max_passage_chars)
        assert [p.to_dict() for p in index.passages] == [p.to_dict() for p in on_disk.passages], moment
        assert index.dense.ntotal == len(on_disk.passages)
        if "moestuin.txt" in names:
            assert "moestuin.txt" in library.removable(settings)  # ours, so it can be removed again
            library.remove(settings, "moestuin.txt")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.browser
def test_the_page_with_its_model_server_down_answers_with_a_message_and_checks_quotes(
        seed_index, cache_dir, tmp_path_factory, browser):
    with running_app(cache_dir, tmp_path_factory, "--llm-url", f"http://127.0.0.1:{free_port()}/v1",
                     "--llm-timeout-s", "2") as info:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(info["url"], wait_until="load")
        page.wait_for_selector("#question textarea", timeout=30_000)
        page.fill("#question textarea", QUESTION)
        page.click("#send")
        page.wait_for_function("document.querySelector('#chatbot').innerText.includes('niet bereikbaar')",
                               timeout=30_000)
        said = page.locator("#chatbot .message").last.inner_text()
        assert "Het taalmodel geeft nu geen antwoord (de modelserver is niet bereikbaar)" in said
        assert "117.000 vrijwilligers" in page.locator("#sources").text_content()  # what was found is still shown
        page.get_by_role("tab", name="Citaat controleren").click()
        page.fill("#quote textarea", "Totale inclusie is een illusie")
        page.click("#check")
        page.wait_for_selector("#verdict [data-verdict=exact]", timeout=30_000)
        page.close()
        assert "no LLM server at" in info["log"].read_text()  # the English line for the logs


@pytest.mark.browser
def test_a_corrupt_index_is_rebuilt_and_the_page_says_so(small_corpus, tmp_path, tmp_path_factory, browser):
    cache = tmp_path / "cache"
    index = Vraagbaak(settings_from({"cache_dir": str(cache), "corpus": str(small_corpus)}, environ={})).retriever.index
    with open(index.path / "dense.faiss", "r+b") as fh:  # one flipped byte: the checksum no longer matches
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with running_app(cache, tmp_path_factory, "--corpus", str(small_corpus),
                     "--llm-url", f"http://127.0.0.1:{free_port()}/v1") as info:
        page = browser.new_page()
        page.goto(info["url"], wait_until="load")
        page.wait_for_function("(document.querySelector('#model-state')?.innerText || '').includes('beschadigd')",
                               timeout=30_000)
        page.get_by_role("tab", name="Citaat controleren").click()
        page.fill("#quote textarea", "In veel wijken zijn de buurthuizen gesloten")
        page.click("#check")
        page.wait_for_selector("#verdict [data-verdict=exact]", timeout=30_000)  # the rebuilt index serves
        page.close()
        assert "checksum mismatch" in info["log"].read_text()  # the English line for the logs
