"""The web app as a user meets it: real server, real model, real headless Chromium (Debian's package)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import ROOT, running_app

pytestmark = pytest.mark.browser
SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(seed_index, cache_dir, tmp_path_factory):
    with running_app(cache_dir, tmp_path_factory) as info:
        yield info


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.requests = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(server["url"], wait_until="load")
    pg.wait_for_selector("#question textarea", timeout=30_000)
    yield pg
    context.close()


def test_chat_streams_a_verified_answer_with_a_clickable_citation(page, server):
    # Every text the last bubble and the status line show, as the page changes (a short answer is written in
    # well under a second: polling would miss its steps).
    page.evaluate("""() => { window.seen = new Set();
        new MutationObserver(() => {
            const m = document.querySelectorAll('#chatbot .message');
            if (m.length) window.seen.add(m[m.length - 1].innerText);
            window.seen.add(document.querySelector('#status').innerText);
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    page.fill("#question textarea", "Hoeveel jaar bestaat formeel sociaal werk al in China?")
    page.click("#send")
    # Sources come before the answer is finished.
    page.wait_for_selector("#sources details#bron-1", timeout=60_000)
    page.wait_for_function("document.querySelector('#chatbot a[href^=\"#bron-\"]') && "
                           "!document.querySelector('#status').innerText.trim()", timeout=240_000)
    link = page.locator('#chatbot a[href^="#bron-"]')
    seen = {t for t in page.evaluate("[...window.seen]") if t.strip()}
    writing = [t for t in seen if "koos zin" in t or "schrijft" in t or t.endswith(" …")]  # the model at work
    assert any("Bronnen zoeken" in t for t in seen) and writing, f"the answer did not arrive in steps: {seen}"
    answer = page.locator("#chatbot .message").last.inner_text()
    assert "30" in answer
    target = link.first.get_attribute("href")[1:]
    link.first.click()
    page.wait_for_function(f"document.getElementById('{target}').open === true", timeout=5_000)
    opened = page.locator(f"#{target}")
    assert "30 jaar" in opened.inner_text()
    assert opened.locator("mark").count() >= 1  # the supporting sentence is highlighted
    page.screenshot(path=str(SHOTS / "chat.png"), full_page=True)
    page.wait_for_function("document.querySelector('#model-state').innerText.includes('taalmodel is klaar')",
                           timeout=15_000)

    # Thumbs up is stored locally with the question, the answer and its sources.
    page.locator("#chatbot").get_by_role("button", name="Like").last.click()
    feedback = server["feedback"] / "feedback.jsonl"
    deadline = time.time() + 10
    while time.time() < deadline and not feedback.exists():
        time.sleep(0.2)
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["liked"] is True and "China" in record["question"] and "30" in record["answer"]
    assert set(record) == {"time", "liked", "question", "answer", "sources"}  # nothing about the visitor
    assert record["sources"] and record["sources"][0]["doc"] == "004_2ca47b64a9ad85fe.txt"


def test_a_who_wrote_it_citation_opens_the_document_byline(page):
    page.fill("#question textarea", "Wie schreef het artikel over sociaal werk in China?")
    page.click("#send")
    page.wait_for_function("document.querySelector('#chatbot a[href^=\"#bron-\"]') && "
                           "!document.querySelector('#status').innerText.trim()", timeout=240_000)
    assert "Marije van der Meij" in page.locator("#chatbot .message").last.inner_text()
    link = page.locator('#chatbot a[href^="#bron-"]').first
    target = link.get_attribute("href")[1:]
    link.click()
    page.wait_for_function(f"document.getElementById('{target}').open === true", timeout=5_000)
    byline = page.locator(f"#{target} .vb-byline mark")
    assert byline.count() == 1 and "Marije van der Meij" in byline.inner_text() and byline.is_visible()


def test_an_empty_question_gets_a_dutch_notice(page):
    page.fill("#question textarea", "   ")
    page.click("#send")
    notice = page.locator("[data-testid='toast-body']").first
    notice.wait_for(timeout=10_000)
    assert "Typ eerst een vraag" in notice.inner_text()
    title = page.locator(".toast-title").first
    shown = title.evaluate("e => getComputedStyle(e, '::before').content + ' ' + getComputedStyle(e).fontSize")
    assert shown == '"Let op" 0px'  # the Dutch title replaces Gradio's English "Warning", which is not shown
    assert not page.locator("#chatbot .message").count()  # nothing was asked


def test_quote_check_highlights_the_changed_word(page):
    page.get_by_role("tab", name="Citaat controleren").click()
    page.fill("#quote textarea", "“Totale inclusie is een utopie.”")
    page.click("#check")
    page.wait_for_selector("#verdict [data-verdict=altered]", timeout=60_000)
    assert "illusie" in page.locator("#verdict ins").first.inner_text()
    assert "utopie" in page.locator("#verdict del").first.inner_text()
    assert "Sociaal werk moet zorgen voor meer dan anderhalve meter solidariteit" in page.locator("#verdict").inner_text()
    page.screenshot(path=str(SHOTS / "quote.png"), full_page=True)


def test_text_check_marks_every_quotation_and_opens_its_source(page):
    page.get_by_role("tab", name="Tekst controleren").click()
    text = ("Kremer schrijft: „Totale inclusie is een illusie.” Ook schrijft ze: “Totale inclusie is een utopie.” "
            "En ’t is zo’n gedoe, zei ze: 'De gemeente betaalt alle sociaal werkers voortaan dubbel.'")
    page.fill("#check-text-input textarea", text)
    page.click("#check-text-button")
    page.wait_for_selector("#check-text-result a.vb-q", timeout=60_000)
    marks = page.locator("#check-text-result a.vb-q")
    assert [marks.nth(i).get_attribute("data-verdict") for i in range(marks.count())] == ["exact", "altered", "absent"]
    assert "3 citaten gevonden" in page.locator("#check-text-result .vb-summary").inner_text()
    marks.nth(1).click()
    item = page.locator("#vb-q2")
    assert item.evaluate("d => d.open") and "illusie" in " ".join(item.locator("ins").all_inner_texts())
    assert "Monique Kremer" in page.locator("#vb-q1").inner_text()
    page.screenshot(path=str(SHOTS / "check-text.png"), full_page=True)
    # The report: an HTML file that stands alone (opened with nothing else reachable) and its JSON.
    link = page.locator("#check-text-report a[href*='.html']").first
    link.wait_for(timeout=20_000)
    report = page.request.get(link.get_attribute("href")).text()
    viewer = page.context.new_page()
    viewer.route("**/*", lambda route: route.abort())
    viewer.set_content(report)
    assert "Totale inclusie is een illusie" in viewer.locator("body").inner_text()
    assert "Monique Kremer" in viewer.locator("body").inner_text()
    viewer.screenshot(path=str(SHOTS / "report.png"), full_page=True)
    viewer.close()


def test_sources_page_opens_a_document_with_paragraph_numbers(page):
    page.get_by_role("tab", name="Bronnen").click()
    page.wait_for_selector("#documents", timeout=10_000)
    assert "Marije van der Meij" in page.locator("#documents").inner_text()
    page.click("#doc-pick input")
    page.get_by_role("option", name="Sociaal werk met stokjes").click()
    page.wait_for_selector("#document #alinea-1", timeout=20_000)
    text = page.locator("#document").inner_text()
    assert "¶1" in text and "In China krijgen lokale overheden" in text
    page.screenshot(path=str(SHOTS / "sources.png"), full_page=True)


def test_page_loads_nothing_from_the_internet(page):
    page.wait_for_timeout(1000)
    external = [u for u in page.requests if not u.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:"))]
    assert not external, external


def test_listens_on_loopback_only_and_makes_no_share_link(server):
    import psutil

    listening = [c.laddr for c in psutil.Process(server["pid"]).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
    log = server["log"].read_text()
    assert "gradio.live" not in log and "public URL" not in log, log[-1000:]


def test_named_api_endpoints(server):
    from gradio_client import Client

    client = Client(server["url"], verbose=False)
    found = client.predict("Wie is Monique Kremer?", 2, api_name="/search")
    assert len(found["passages"]) == 2
    verdict = client.predict("Totale inclusie is een illusie", api_name="/quote")
    assert verdict["verdict"] == "exact"
    checked = client.predict("Zij zei: „Totale inclusie is een illusie.”", api_name="/check_text")
    assert checked["summary"]["exact"] == 1 and checked["quotations"][0]["start"] == 10
    answer = client.predict("Wat is de hoofdstad van Australië?", api_name="/ask")
    assert answer["refused"] is True and answer["answer"] == "Dat staat niet in de bronnen."
    # A follow-up through the API, with the conversation as the chat would keep it.
    history = [{"question": "Hoeveel sociaal werkers zijn er in Nederland?", "answer": "Er zijn 53.200 [1]."}]
    follow = client.predict("En hoeveel vrijwilligers?", history, api_name="/ask")
    assert "vrijwilliger" in follow["standalone_question"].lower() and "117.000" in follow["answer"]


def test_bad_input_over_the_api_gets_dutch_and_one_english_log_line(server):
    """An API caller gets the Dutch message; the log gets our English line and no traceback of Gradio's."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server["url"], verbose=False)
    before = server["log"].read_text()
    with pytest.raises(AppError, match="geen woorden"):
        client.predict("\U0001f600 <script></script>", api_name="/ask")
    with pytest.raises(AppError, match="te lang"):
        client.predict("waarom " * 1000, api_name="/ask")  # 6,999 characters once stripped
    log = server["log"].read_text()[len(before):]  # what these two questions wrote
    assert log.count("input rejected: query without a word") == 1, log[-2000:]
    assert log.count("input rejected: query of 6999 characters exceeds") == 1, log[-2000:]
    assert "Traceback" not in log, log[-2000:]


def test_a_failed_service_is_logged_with_its_traceback_bad_input_without(caplog):
    from errors import ServiceFailure, UserError
    from prompts import message
    from ui.web import _refuse

    try:
        raise ServiceFailure("model_failed", "language model failed: IndexError",
                             reason=message("model_failure.failed")) from IndexError("list index")
    except ServiceFailure as exc:
        failed = _refuse(exc)
    rejected = _refuse(UserError("no_words", "query without a word"))
    assert "taalmodel" in str(failed) and "geen woorden" in str(rejected)
    service, bad = caplog.records[-2:]
    assert service.message == "service failed: language model failed: IndexError" and service.exc_info
    assert bad.message == "input rejected: query without a word" and not bad.exc_info


def test_a_waiting_visitor_sees_its_place_and_a_kept_answer_does_not_wait(browser, page, server):
    """While the model works through other visitors' questions, a new question shows its sources and its place
    in line, and a question answered before gets its kept answer at once, ahead of the line."""
    from gradio_client import Client

    kept = "Hoeveel sociaal werkers zijn er in Nederland?"
    client = Client(server["url"], verbose=False)
    assert "53.200" in client.predict(kept, api_name="/ask")["answer"]  # answered once, so kept
    busy = [Client(server["url"], verbose=False).submit(q, api_name="/ask") for q in (
        "Wat zijn de pijlers onder solidariteit?", "Wat bedoelt Veldboer met hybriditeit?",
        "Welke rol spelen vrijwilligers in het sociaal werk?")]
    time.sleep(0.5)
    page.fill("#question textarea", "Waarom stoppen steeds meer sociaal werkers met hun werk?")
    page.click("#send")
    page.wait_for_selector("#sources details#bron-1", timeout=30_000)  # sources while it waits
    page.wait_for_function("document.querySelector('#status').innerText.includes('daarna is de uwe aan de beurt')",
                           timeout=30_000)
    page.screenshot(path=str(SHOTS / "waiting.png"), full_page=True)

    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(server["url"], wait_until="load")
    other.fill("#question textarea", kept)
    t0 = time.time()
    other.click("#send")
    other.wait_for_function("document.querySelector('#chatbot').innerText.includes('53.200') && "
                            "!document.querySelector('#status').innerText.trim()", timeout=30_000)
    kept_s = time.time() - t0
    still_waiting = "beurt" in page.locator("#status").inner_text()
    assert still_waiting, f"the line was empty before the kept answer came ({kept_s:.1f} s): the test proves nothing"
    assert kept_s < 10
    other.context.close()
    # A new visitor asks the same as the one waiting: it waits for that answer, and is told so.
    third = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    third.goto(server["url"], wait_until="load")
    third.fill("#question textarea", "Waarom stoppen steeds meer sociaal werkers met hun werk?")
    third.click("#send")
    same = Client(server["url"], verbose=False).submit("waarom stoppen steeds meer sociaal werkers met hun werk",
                                                       api_name="/ask")  # and a caller of the API
    third.wait_for_function("document.querySelector('#status').innerText.includes('Dezelfde vraag')",
                            timeout=30_000)
    third.context.close()

    page.wait_for_function("document.querySelector('#chatbot a[href^=\"#bron-\"]') && "
                           "!document.querySelector('#status').innerText.trim()", timeout=240_000)
    # Through the API too: the questions that waited for the model were told their place meanwhile.
    waited = [job for job in busy if job.result()["answer"] and "waited_ms" in job.result()["timings"]]
    assert len(waited) >= 2
    assert all([o["waiting"] for o in job.outputs() if "waiting" in o] in ([1], [2, 1]) for job in waited)
    assert same.result()["answer"] and {"same_question": True} in same.outputs()  # told why it waits


def test_upload_documents_from_the_sources_page(page, tmp_path):
    good = tmp_path / "moestuin.txt"
    good.write_text("Moestuin in Kampen\n\nIn Kampen onderhouden twintig buurtbewoners samen een moestuin achter "
                    "het buurthuis; de oogst gaat naar de voedselbank.\n", encoding="utf-8")
    bad = tmp_path / "leeg.txt"
    bad.write_text("")
    page.get_by_role("tab", name="Bronnen").click()
    page.set_input_files("#upload input[type=file]", [str(good), str(bad)])
    page.wait_for_timeout(1500)
    page.click("#add")
    page.wait_for_function("document.querySelector('#change-log').innerText.includes('moestuin.txt')",
                           timeout=120_000)
    log = page.locator("#change-log").inner_text()
    assert "Toegevoegd: moestuin.txt" in log and "leeg.txt bevat geen bruikbare tekst" in log
    page.wait_for_function("document.querySelector('#documents').innerText.includes('Moestuin in Kampen')",
                           timeout=20_000)
    page.screenshot(path=str(SHOTS / "add-documents.png"), full_page=True)


def test_demo_mode_has_large_text_and_nothing_to_break(browser, seed_index, cache_dir, tmp_path_factory):
    with running_app(cache_dir, tmp_path_factory, "--demo") as info:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.goto(info["url"], wait_until="load")
        pg.wait_for_selector("#question textarea", timeout=30_000)
        size = pg.evaluate("parseFloat(getComputedStyle(document.querySelector('#question textarea')).fontSize)")
        assert size >= 20
        assert pg.locator("#reset").is_visible() and pg.get_by_text("Voorbeeldvragen").is_visible()
        pg.get_by_role("tab", name="Bronnen").click()
        pg.wait_for_selector("#documents", timeout=10_000)
        assert pg.locator("#upload").count() == 0 and pg.locator("#remove").count() == 0
        pg.get_by_role("tab", name="Vragen").click()
        pg.screenshot(path=str(SHOTS / "demo.png"), full_page=True)
        context.close()


def test_event_mode_phones_join_visitors_change_nothing_and_the_kiosk_resets(browser, seed_index, cache_dir,
                                                                            tmp_path_factory, tmp_path):
    with running_app(cache_dir, tmp_path_factory, "--demo", "--host", "0.0.0.0", "--kiosk-reset-s", "3") as info:
        token_line = ""
        deadline = time.time() + 30
        while time.time() < deadline and "Beheerderstoken" not in token_line:
            token_line = next((line for line in info["log"].read_text().splitlines() if "Beheerderstoken" in line), "")
            time.sleep(0.2)
        token = token_line.rsplit(" ", 1)[-1]
        # A phone: the address and QR code at the top, sources under the answer, big buttons.
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        pg = phone.new_page()
        pg.goto(info["url"], wait_until="load")
        pg.wait_for_selector("#join svg", timeout=30_000)
        assert ":" in pg.locator("#join .vb-join-url").inner_text() and "0.0.0.0" not in pg.locator("#join").inner_text()
        chat_box, sources_box = pg.locator("#chatbot").bounding_box(), pg.locator("#sources").bounding_box()
        assert sources_box["y"] >= chat_box["y"] + chat_box["height"] - 1, "sources come under the chat"
        assert pg.locator("#send").bounding_box()["height"] >= 44
        pg.screenshot(path=str(SHOTS / "phone.png"), full_page=True)
        # The kiosk clears what a visitor left behind after 3 s without input.
        pg.fill("#question textarea", "Wat zijn de pijlers onder solidariteit?")
        pg.wait_for_function("document.querySelector('#question textarea').value === ''", timeout=15_000)
        # Nothing a visitor does changes the corpus without the token printed at start-up.
        # A phone's narrow tab bar folds the others away under "More tabs"; the reset's page update may still be
        # redrawing the tab bar and close the menu, so tap again as a person would.
        for _ in range(5):
            pg.get_by_role("button", name="More tabs").click()
            try:
                pg.locator(".overflow-dropdown button", has_text="Bronnen").click(timeout=3_000)
                break
            except PlaywrightTimeout:
                continue
        pg.wait_for_selector("#documents", timeout=10_000)
        assert not pg.locator("#upload").is_visible()
        pg.locator("#admin").get_by_text("Beheer").first.click()
        doc = tmp_path / "wijk.txt"
        doc.write_text("Wijkwerk\n\nIn de wijk Oost helpen 12 vrijwilligers bij de moestuin en de koffieochtend.\n",
                       encoding="utf-8")
        pg.set_input_files("#upload input[type=file]", str(doc))
        pg.fill("#admin-token input", "geraden")
        pg.click("#add")
        pg.wait_for_function("document.querySelector('#change-log').innerText.includes('beheerders')", timeout=30_000)
        assert not any(p.name == "wijk.txt" for p in Path(info["added"]).glob("*"))
        pg.set_input_files("#upload input[type=file]", str(doc))
        pg.fill("#admin-token input", token)
        pg.click("#add")
        pg.wait_for_function("document.querySelector('#change-log').innerText.includes('wijk')", timeout=60_000)
        phone.close()
