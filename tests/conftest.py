"""Shared fixtures: real corpus, real models, real index, in a temporary cache per test session."""
from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402  (offline environment first)
from service import Vraagbaak, settings_from  # noqa: E402

PYTHON = sys.executable


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cache")
    # Reuse the assembled model instead of writing another 1.1 GB copy per test session.
    # Likewise the engine setup.sh built for this CPU (answer/native.py), so the tests run what the app runs.
    for name in ("models", "engine"):
        if (ROOT / ".cache" / name).is_dir():
            (path / name).symlink_to(ROOT / ".cache" / name, target_is_directory=True)
    # Start from the embeddings setup.sh computed for the seeds (a copy: tests add to it). Entries are keyed by
    # the sha256 of the text and the embedder's name, so a stale cache can only cost time, never give a wrong vector.
    embeddings = ROOT / ".cache" / "embeddings"
    if embeddings.is_dir():
        shutil.copytree(embeddings, path / "embeddings")
    return path


@pytest.fixture(scope="session")
def settings(cache_dir):
    return settings_from({"cache_dir": str(cache_dir), "corpus": str(ROOT / "seeds")}, environ={})


@pytest.fixture(scope="session")
def vraagbaak(settings) -> Vraagbaak:
    """The seed corpus, indexed once for the whole session (the model loads only when a test asks)."""
    return Vraagbaak(settings)


@pytest.fixture(scope="session")
def retriever(vraagbaak):
    return vraagbaak.retriever


@pytest.fixture(scope="session")
def seed_index(retriever):
    return retriever.index, retriever.embedder


@pytest.fixture()
def small_corpus(tmp_path):
    """Two short articles in a folder of their own: cheap to index from scratch."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Buurthuizen\n\nIn veel wijken zijn de buurthuizen gesloten door bezuinigingen "
                                  "van de gemeente.", encoding="utf-8")
    (folder / "b.txt").write_text("Vrijwilligers\n\nVrijwilligers kunnen het werk van beroepskrachten niet "
                                  "overnemen, zeggen de sociaal werkers.", encoding="utf-8")
    return folder


def run_app(*args: str, cache_dir: Path, env: dict | None = None, timeout: int = 300, cmd_prefix=()):
    """Run `python app.py ARGS` as a user would; return the CompletedProcess."""
    full_env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache_dir), **(env or {})}
    return subprocess.run([*cmd_prefix, PYTHON, str(ROOT / "app.py"), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


def cli(*args: str, cache_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`app.main(ARGS)` in this process: the code `python app.py ARGS` runs, without an interpreter start and
    the imports (0.3 s each). Use run_app where the process itself is tested: stdin, signals, exit through
    sys.exit, the English log lines on stderr (here they go to pytest's log capture)."""
    import app

    out, err, saved = io.StringIO(), io.StringIO(), dict(os.environ)
    os.environ.update({"VRAAGBAAK_CACHE_DIR": str(cache_dir), **(env or {})})
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = app.main(list(args))
            except SystemExit as exc:  # argparse's own errors
                code = exc.code
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["app.py", *args], code, out.getvalue(), err.getvalue())


# ---- the real web app and Debian's Chromium, for the tests that use the page as a person would ----------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(cache_dir, tmp_path_factory, *extra):
    """`python app.py --port P EXTRA` on a free port with its own feedback and added folders; (process, info).
    Tests use `running_app`, which also stops it; this is for those that stop it themselves."""
    port = free_port()
    feedback = tmp_path_factory.mktemp("feedback")
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache_dir), "VRAAGBAAK_FEEDBACK_DIR": str(feedback),
           "VRAAGBAAK_ADDED_DIR": str(tmp_path_factory.mktemp("added"))}
    log = open(tmp_path_factory.mktemp("log") / "server.log", "w")
    proc = subprocess.Popen([PYTHON, str(ROOT / "app.py"), "--port", str(port), *extra], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("app did not start")
    return proc, {"url": url, "feedback": feedback, "log": Path(log.name), "added": env["VRAAGBAAK_ADDED_DIR"],
                  "pid": proc.pid}


@contextmanager
def running_app(cache_dir, tmp_path_factory, *extra) -> Iterator[dict]:
    """The app started as `start_app` starts it, stopped when the block ends (also when a test fails)."""
    proc, info = start_app(cache_dir, tmp_path_factory, *extra)
    try:
        yield info
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (run-tests.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


