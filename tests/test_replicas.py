"""Several app replicas on one corpus folder and one model server (issue #14): a document added through one
replica is served by the others within seconds; questions to each replica get cited answers. As behind a
reverse proxy, the replicas listen on 127.0.0.1 but are locked (`--lock yes`) with one admin token for all,
and the model server takes only requests that carry its API key.

The in-process test is fast; the real set-up (one llama.cpp server process, two app processes, Chromium
adding a document through one page) carries the `llm` and `browser` markers."""
from __future__ import annotations

import os
import threading
import time

import pytest

import service
from eval.replicas import start_model_server, stop
from service import Vraagbaak, settings_from
from tests.conftest import free_port, start_app

API_KEY = "sleutel-van-de-modelserver-7f3a"
ADMIN_TOKEN = "gedeeld-beheerderstoken-voor-alle-replicas"
NEW_DOC = ("Moestuin in Kampen\n\nIn Kampen onderhouden twintig buurtbewoners samen een moestuin achter het "
           "buurthuis; de oogst gaat naar de voedselbank.\n")


def _found(app: Vraagbaak, doc_id: str) -> bool:
    return any(h.passage.doc == doc_id for h in app.search("moestuin buurtbewoners voedselbank", 3))


def test_a_replica_serves_documents_another_process_added_or_removed(small_corpus, cache_dir, monkeypatch):
    monkeypatch.setattr(service, "CORPUS_CHECK_S", 0.2)
    settings = settings_from({"cache_dir": str(cache_dir), "corpus": str(small_corpus)}, environ={})
    a, b = Vraagbaak(settings), Vraagbaak(settings)
    assert not _found(b, "moestuin.txt")
    a.add("moestuin.txt", NEW_DOC.encode())
    time.sleep(0.3)
    assert _found(b, "moestuin.txt") and "moestuin.txt" in b.retriever.documents
    a.remove("moestuin.txt")
    time.sleep(0.3)
    assert not _found(b, "moestuin.txt") and b.quote("twintig buurtbewoners samen een moestuin").verdict == "absent"


def test_two_replicas_loading_a_changed_corpus_at_once_build_one_sound_index(small_corpus, cache_dir, tmp_path):
    """Both replicas notice the same new document together and build the same index side by side (store.py
    builds in a temporary folder and renames): both serve it, and one index folder is left."""
    settings = settings_from({"cache_dir": str(tmp_path / "cache"), "corpus": str(small_corpus)}, environ={})
    (tmp_path / "cache").mkdir()
    if (cache_dir / "embeddings").is_dir():  # the seed embeddings: only the small corpus's passages embed now
        os.symlink(cache_dir / "embeddings", tmp_path / "cache" / "embeddings")
    replicas = [Vraagbaak(settings), Vraagbaak(settings)]
    (small_corpus / "moestuin.txt").write_text(NEW_DOC, encoding="utf-8")
    barrier, found = threading.Barrier(2), []

    def load(app: Vraagbaak) -> None:
        barrier.wait()
        found.append(_found(app, "moestuin.txt"))

    threads = [threading.Thread(target=load, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [True, True]
    assert replicas[0].retriever.index.key == replicas[1].retriever.index.key
    index_root = tmp_path / "cache" / "index"
    assert [p.name for p in index_root.iterdir() if not p.name.startswith(".")] == [replicas[0].retriever.index.key]
    assert not [p for p in index_root.iterdir() if ".building-" in p.name]


# ---- the real set-up: one llama.cpp server, two app processes ---------------------------------------------

@pytest.fixture(scope="module")
def replicas(seed_index, cache_dir, tmp_path_factory):
    """One model server with two slots and two app replicas sharing corpus, added and cache folders."""
    added = tmp_path_factory.mktemp("shared-added")
    port = free_port()
    log = open(tmp_path_factory.mktemp("llm") / "server.log", "w")
    server = start_model_server(port, slots=2, log=log,
                                env={"VRAAGBAAK_CACHE_DIR": str(cache_dir), "VRAAGBAAK_LLM_API_KEY": API_KEY})
    apps: list = [None, None]

    def one(i: int) -> None:
        apps[i] = start_app(cache_dir, tmp_path_factory, "--added-dir", str(added),
                            "--llm-url", f"http://127.0.0.1:{port}/v1", "--llm-api-key", API_KEY,
                            "--lock", "yes", "--admin-token", ADMIN_TOKEN)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert all(apps), "a replica did not start"
        yield [info for _, info in apps], added, port
    finally:
        for started in apps:
            if started:
                stop(started[0])
        stop(server)


@pytest.mark.llm
def test_questions_to_both_replicas_get_cited_answers_from_one_server(replicas):
    from gradio_client import Client

    infos, _, port = replicas
    questions = ["Hoeveel jaar bestaat formeel sociaal werk al in China?", "Hoeveel vrijwilligers zijn er in Nederland?"]
    jobs = [Client(info["url"], verbose=False).submit(q, api_name="/ask") for info, q in zip(infos, questions)]
    answers = [job.result(timeout=180) for job in jobs]
    for answer, key in zip(answers, ["30", "117.000"]):
        assert answer["kind"] in ("answer", "quote") and answer["citations"], answer
        assert key in answer["answer"]
        # Each replica had the server read the fixed prompt at start-up: the first question reads only its own part.
        assert answer["timings"]["cached_tokens"] >= 800 and answer["timings"]["prompt_tokens"] < 400, answer["timings"]
    # Without the key the model server answers nobody.
    import httpx

    r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=30,
                   json={"messages": [{"role": "user", "content": "Hoi"}], "max_tokens": 2})
    assert r.status_code == 401


@pytest.mark.llm
@pytest.mark.browser
def test_a_document_added_through_one_replicas_page_is_found_on_the_other(replicas, browser, tmp_path):
    from gradio_client import Client

    (a, b), added, _ = replicas
    doc = tmp_path / "moestuin.txt"
    doc.write_text(NEW_DOC, encoding="utf-8")
    page = browser.new_page()
    try:
        page.goto(a["url"], wait_until="load")
        page.get_by_role("tab", name="Bronnen").click()
        assert not page.locator("#upload").is_visible()  # locked, though it listens on 127.0.0.1
        page.locator("#admin").get_by_text("Beheer").first.click()
        page.set_input_files("#upload input[type=file]", str(doc))
        page.fill("#admin-token input", ADMIN_TOKEN)  # the token all replicas share
        page.wait_for_timeout(1000)
        page.click("#add")
        page.wait_for_function("document.querySelector('#change-log').innerText.includes('moestuin.txt')",
                               timeout=60_000)
    finally:
        page.close()
    assert (added / "moestuin.txt").is_file()
    client, t0 = Client(b["url"], verbose=False), time.perf_counter()
    while True:
        hits = client.predict("Wat doen de buurtbewoners in Kampen met de oogst?", 3, api_name="/search")["passages"]
        if any(h["doc"] == "moestuin.txt" for h in hits):
            break
        assert time.perf_counter() - t0 < 10, f"replica B did not serve the new document: {hits}"
        time.sleep(0.5)
    # The other replica takes the same token: it removes the document through its own page.
    page = browser.new_page()
    try:
        page.goto(b["url"], wait_until="load")
        page.get_by_role("tab", name="Bronnen").click()
        page.locator("#admin").get_by_text("Beheer").first.click()
        page.click("#remove-pick input")
        page.get_by_role("option", name="moestuin.txt").click()
        page.fill("#admin-token input", ADMIN_TOKEN)
        page.click("#remove")
        page.wait_for_function("document.querySelector('#change-log').innerText.includes('moestuin.txt')",
                               timeout=60_000)
    finally:
        page.close()
    assert not (added / "moestuin.txt").exists()
    for info in (a, b):  # a token chosen in the settings is never printed
        log = info["log"].read_text()
        assert ADMIN_TOKEN not in log and API_KEY not in log and "admin_token" in log
