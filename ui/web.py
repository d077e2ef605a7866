"""The Gradio page: chat with sources, quote checking, the source documents, and named API endpoints.

A thin layer: every action is a method of service.Vraagbaak, the object the CLI uses too; each tab has its
own small builder. Offline by construction: system fonts only, no analytics, no share link, bound to
127.0.0.1 unless --host says otherwise.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Iterator

import gradio as gr

from answer.followup import Turn, history_from
from errors import ServiceFailure, UserError
from prompts import message
from retrieval.service import MAX_QUERY_CHARS
from report.export import write_report
from service import FILE_TYPES, Vraagbaak
from visitors import is_loopback, join_url, qr_svg
from ui import render
from ui.render import ui_text
from verify.quotes import MAX_CHARS as MAX_QUOTE_CHARS
from verify.text_check import MAX_TEXT_CHARS

log = logging.getLogger(__name__)

# Questions let past the web server's queue at once (chat and /ask together). Past it, a question is searched
# and its sources shown at once, a kept answer is given at once, and a question for the model waits in the
# model's own line with its place shown (answer/line.py); beyond this many, Gradio's queue holds them.
ASKING_AT_ONCE = 16

EXAMPLES = [
    "Waarom stoppen steeds meer sociaal werkers met hun werk?",
    "Wat zijn de pijlers onder solidariteit?",
    "Hoe lang bestaat formeel sociaal werk al in China?",
    "Wat bedoelt Veldboer met hybriditeit?",
]

CSS = """
.vb-muted { color: #666; }
.vb-source { border: 1px solid #ddd; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.vb-source.vb-cited { border-color: #2b6cb0; }
.vb-source.vb-flash { box-shadow: 0 0 0 3px #f6ad55; }
.vb-passage { margin: 6px 0; line-height: 1.5; }
.vb-byline { margin: 6px 0; font-style: italic; }
.vb-meta { font-size: 0.8em; color: #777; }
mark { background: #fde68a; padding: 0 2px; }
.vb-verdict { padding: 10px 14px; border-radius: 8px; margin-bottom: 10px; }
.vb-exact { background: #dcfce7; } .vb-altered { background: #fef3c7; } .vb-absent { background: #fee2e2; }
.vb-match { border-left: 4px solid #ccc; padding-left: 10px; margin: 10px 0; }
.vb-where { font-size: 0.9em; color: #444; }
del { background: #fecaca; text-decoration: line-through; } ins { background: #bbf7d0; text-decoration: none; }
.vb-para { margin: 8px 0; line-height: 1.55; } .vb-num { color: #888; margin-right: 8px; font-size: 0.85em; }
.vb-para.vb-highlight { background: #fef9c3; }
.vb-check { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
@media (max-width: 800px) { .vb-check { grid-template-columns: 1fr; } }
.vb-checked-text { white-space: pre-wrap; line-height: 1.6; max-height: 75vh; overflow-y: auto; }
.vb-check-list { max-height: 75vh; overflow-y: auto; }
a.vb-q { color: inherit; text-decoration: none; border-radius: 3px; padding: 0 2px; }
a.vb-q.vb-too_short { background: #e5e7eb; } .vb-verdict-tag.vb-too_short { background: #e5e7eb; }
.vb-verdict-tag { border-radius: 4px; padding: 0 6px; font-weight: 600; }
.vb-item { border: 1px solid #ddd; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.vb-item.vb-flash { box-shadow: 0 0 0 3px #f6ad55; }
.vb-summary { font-weight: 600; margin: 8px 0; }
"""
PHONE_CSS = """
@media (max-width: 700px) {
  .gradio-container button { min-height: 48px; font-size: 18px !important; }
  .gradio-container textarea { font-size: 18px !important; }
  .vb-join svg { width: 60vw; height: auto; }
}
.vb-join { display: flex; gap: 24px; align-items: center; flex-wrap: wrap; margin: 8px 0 12px 0; }
.vb-join-url { font-size: 2.2em; font-weight: 700; word-break: break-all; }
"""
DEMO_CSS = """
body, .gradio-container { font-size: 20px !important; }
.gradio-container textarea, .gradio-container input, .gradio-container button { font-size: 20px !important; }
"""
def kiosk_js(idle_s: int) -> str:
    """The page JS plus a kiosk reset: after idle_s seconds without input the conversation is cleared."""
    return JS.rstrip().removesuffix("}") + f"""
  let idle = null;
  const restart = () => {{
    clearTimeout(idle);
    idle = setTimeout(() => {{ const b = document.querySelector('#reset'); if (b) b.click(); }},
                      {int(idle_s) * 1000});
  }};
  ['keydown', 'pointerdown', 'input', 'wheel', 'touchstart'].forEach(t => document.addEventListener(t, restart, true));
  restart();
}}
"""


# Citation links [n] open source n in the panel next to the chat.
JS = """
() => {
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href^="#bron-"], a[href^="#vb-q"]');
    if (!a) return;
    e.preventDefault(); e.stopPropagation();
    const d = document.getElementById(a.getAttribute('href').slice(1));
    if (!d) return;
    d.open = true;
    d.scrollIntoView({behavior: 'smooth', block: 'center'});
    d.classList.add('vb-flash');
    setTimeout(() => d.classList.remove('vb-flash'), 1500);
  }, true);
}
"""

def notice_css() -> str:
    """Gradio 6 heads a notice with its type in English ("Warning") whatever title it is given; show the Dutch
    title from prompts/messages.toml in its place."""
    rules = []
    for kind, key in (("warning", "warning_title"), ("error", "error_title"), ("info", "info_title"),
                      ("success", "info_title")):
        title = ui_text(key).replace("\\", "\\\\").replace('"', '\\"')
        rules.append(f'.toast-title.{kind} {{ font-size: 0; }} '
                     f'.toast-title.{kind}::before {{ content: "{title}"; font-size: var(--text-md); }}')
    return "\n".join(rules) + "\n"


def _visitor(request: gr.Request | None) -> str:
    """Who asks: the visitor's network address (each phone at an event has its own)."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or getattr(request, "session_hash", None) or "local"


def asking_at_once(app: Vraagbaak) -> int:
    return max(ASKING_AT_ONCE, app.settings.llm_parallel)


def _refuse(exc: UserError) -> gr.Error:
    """The Dutch message for the visitor. The log gets our English line: for bad input that line alone (no
    crash, so no traceback of Gradio's queue beside it), for a failed service (the model, the disk) with the
    traceback of what failed."""
    if isinstance(exc, ServiceFailure):
        log.error("service failed: %s", exc.english, exc_info=exc)
    else:
        log.error("input rejected: %s", exc.english)
    return gr.Error(exc.dutch, title=ui_text("error_title"), print_exception=False)


def chat_tab(app: Vraagbaak) -> None:
    """Questions, answered as they are written, with the sources beside them; thumbs up/down are stored."""

    def chat(question: str, history: list, turns: list, request: gr.Request):
        question = (question or "").strip()
        if not question:
            gr.Warning(message("errors.empty_query"), title=ui_text("warning_title"))
            yield history, gr.skip(), question, gr.skip(), turns
            return
        history = history + [{"role": "user", "content": question},
                             {"role": "assistant", "content": ui_text("searching")}]
        yield history, gr.skip(), "", ui_text("searching"), turns
        prior = [Turn(t["question"], t["answer"]) for t in turns]
        documents = app.retriever.documents
        try:
            with app.visitors.visit(_visitor(request)):
                yield from _answer(question, prior, history, turns, documents)
        except UserError as exc:
            log.error("chat input rejected: %s", exc.english)
            history[-1]["content"] = exc.dutch
            yield history, gr.skip(), "", "", turns

    def _answer(question: str, prior: list, history: list, turns: list, documents):
        """The answer's events as page updates: sources, the place in line, the lines chosen, the words, the
        checked answer."""
        raw, result, told = "", None, None
        for kind, payload in app.ask_stream(question, prior):
            if kind == "sources":
                status = ui_text("reading") if app.model_state == "ready" else ui_text("model_loading")
                history[-1]["content"] = status
                yield history, render.sources_html(payload, documents=documents), "", status, turns
            elif kind in ("waiting", "shared"):
                if (kind, payload) == told:  # told again: nothing to change on the page
                    yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    continue
                told = (kind, payload)
                status = (ui_text("waiting_same") if kind == "shared" else ui_text("waiting_one") if payload == 1
                          else ui_text("waiting_many", ahead=payload))
                history[-1]["content"] = status
                yield history, gr.skip(), "", status, turns
            elif kind == "chosen":
                status = ui_text("chosen", lines=", ".join(map(str, payload))) if payload else ui_text("chosen_none")
                history[-1]["content"] = status
                yield history, gr.skip(), "", status, turns
            elif kind == "token":
                raw += payload
                history[-1]["content"] = render.md_escape(raw) + " …"
                yield history, gr.skip(), "", ui_text("writing"), turns
            elif kind == "done":
                result = payload
        d = result.to_dict()
        notes = []
        if result.standalone != result.question:
            notes.append(ui_text("rewritten", question=render.md_escape(result.standalone)))
        notes.append(ui_text("brief_note" if result.brief else
                             {"refused": "refused_note", "quote": "quote_note", "answer": "answer_note"}[result.kind]))
        history[-1]["content"] = render.answer_markdown(result) + "\n\n" + "\n".join(f"*{n}*" for n in notes)
        turns = turns + [{"question": question, "answer": d["answer"], "sources": d["citations"],
                          "refused": d["refused"], "report": app.report(result)}]
        yield history, render.sources_html(result.sources, set(result.cited()), documents), "", "", turns

    def reset():
        return [], render.sources_html([]), "", "", []

    def export(turns: list):
        if not turns:
            gr.Warning(ui_text("export_nothing"), title=ui_text("warning_title"))
            return gr.update(visible=False)
        return gr.update(value=list(_report_files(turns[-1]["report"], "antwoord")), visible=True)

    def feedback(data: gr.LikeData, turns: list):
        turn_no = data.index // 2 if isinstance(data.index, int) else (data.index[0] // 2 if data.index else 0)
        turn = turns[turn_no] if 0 <= turn_no < len(turns) else {}
        try:
            app.save_feedback({"liked": bool(data.liked), "question": turn.get("question"),
                               "answer": turn.get("answer"), "sources": turn.get("sources", [])})
        except UserError as exc:
            log.error("feedback not saved: %s", exc.english)
            gr.Warning(exc.dutch, title=ui_text("warning_title"))
            return
        gr.Info(ui_text("feedback_thanks"), title=ui_text("info_title"))

    with gr.Tab(ui_text("tab_chat"), id="chat"):
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(height=560 if app.settings.demo else 480, elem_id="chatbot",
                                     buttons=["copy"], layout="bubble", show_label=False)
                status = gr.Markdown("", elem_id="status")
                with gr.Row():
                    question = gr.Textbox(label=ui_text("question_label"), placeholder=ui_text("question_placeholder"),
                                          max_length=MAX_QUERY_CHARS, scale=5, elem_id="question",
                                          autofocus=True, lines=1)
                    send = gr.Button(ui_text("send"), variant="primary", scale=1, elem_id="send")
                gr.Examples(EXAMPLES, inputs=[question], label=ui_text("examples"))
                with gr.Row():
                    reset_btn = gr.Button(ui_text("reset"), elem_id="reset", size="sm")
                    export_btn = gr.Button(ui_text("export_answer"), elem_id="export-answer", size="sm")
                export_files = gr.File(label=ui_text("report_files"), file_count="multiple", interactive=False,
                                       elem_id="answer-report", visible=False)
            with gr.Column(scale=2):
                sources = gr.HTML(render.sources_html([]), elem_id="sources")
        turns = gr.State([])
        outputs = [chatbot, sources, question, status, turns]
        for trigger in (send.click, question.submit):
            trigger(chat, [question, chatbot, turns], outputs, api_visibility="private",
                    concurrency_limit=asking_at_once(app), concurrency_id="ask")
        reset_btn.click(reset, None, outputs, api_visibility="private", queue=False)
        export_btn.click(export, [turns], [export_files], api_visibility="private", queue=False)
        chatbot.like(feedback, [turns], None, api_visibility="private", queue=False)


def quote_tab(app: Vraagbaak) -> None:
    """Paste a quotation: exact, altered (with the differences marked) or not found, with where it is."""

    def check(quote: str) -> str:
        try:
            return render.quote_html(app.quote(quote))
        except UserError as exc:
            log.error("quote input rejected: %s", exc.english)
            return render.error_html(exc.dutch)

    with gr.Tab(ui_text("tab_quote"), id="quote"):
        quote_in = gr.Textbox(label=ui_text("quote_label"), placeholder=ui_text("quote_placeholder"), lines=4,
                              max_length=MAX_QUOTE_CHARS, elem_id="quote")
        quote_btn = gr.Button(ui_text("quote_button"), variant="primary", elem_id="check")
        quote_out = gr.HTML(elem_id="verdict")
        quote_btn.click(check, [quote_in], [quote_out], api_visibility="private", concurrency_limit=4)
        quote_in.submit(check, [quote_in], [quote_out], api_visibility="private", concurrency_limit=4)


def _report_files(report: dict, name: str) -> tuple[str, str]:
    """The report as .html and .json in a fresh temporary folder (Gradio serves files from there)."""
    json_path, html_path = write_report(report, Path(tempfile.mkdtemp(prefix="vraagbaak-report-")) / name)
    return str(html_path), str(json_path)


def check_tab(app: Vraagbaak) -> None:
    """Paste a whole text or pick a file: every quotation in it marked with its verdict, with its source."""

    def check(text: str, upload: str | None):
        try:
            if upload:
                path = Path(upload)
                result = app.check_file(path.name, path.read_bytes())
            else:
                result = app.check_text(text)
        except UserError as exc:
            log.error("text check input rejected: %s", exc.english)
            return render.error_html(exc.dutch), gr.update(visible=False)
        files = list(_report_files(app.report(result), f"citaten-{Path(result.source).stem}"))
        return render.text_check_html(result), gr.update(value=files, visible=True)

    with gr.Tab(ui_text("tab_check"), id="check-text"):
        with gr.Row():
            text_in = gr.Textbox(label=ui_text("check_label"), placeholder=ui_text("check_placeholder"), lines=8,
                                 max_lines=20, max_length=MAX_TEXT_CHARS, elem_id="check-text-input", scale=3)
            file_in = gr.File(label=ui_text("check_file"), file_types=FILE_TYPES, type="filepath",
                              elem_id="check-text-file", scale=1)
        check_btn = gr.Button(ui_text("check_button"), variant="primary", elem_id="check-text-button")
        report_files = gr.File(label=ui_text("report_files"), file_count="multiple", interactive=False,
                               elem_id="check-text-report", visible=False)
        check_out = gr.HTML(elem_id="check-text-result")
        outputs = [check_out, report_files]
        check_btn.click(check, [text_in, file_in], outputs, api_visibility="private", concurrency_limit=2)
        file_in.upload(check, [text_in, file_in], outputs, api_visibility="private", concurrency_limit=2)


def sources_tab(app: Vraagbaak) -> None:
    """The documents, each readable with its paragraph numbers; adding and removing (not in demo mode)."""

    def table():
        index = app.retriever.index
        return render.documents_rows(index.documents, index.passages)

    def show_document(doc_id: str, paragraph: float | None):
        index = app.retriever.index
        doc = index.document(doc_id) if doc_id else None
        return render.document_html(doc, index.passages, int(paragraph) if paragraph else None)

    def choices():
        return [(d.title, d.id) for d in app.documents()]

    def lists():
        """The documents as they are now: another page, replica or `app.py add` may have changed them."""
        return (table(), gr.Dropdown(choices=choices()),
                gr.Dropdown(choices=app.removable(), value=None))

    def after_change(lines: list[str]):
        return ("\n\n".join(lines), *lists(), None)

    def add_uploaded(files: list | None, token: str | None = None, progress=gr.Progress()):
        try:
            app.gate.check(token)
        except UserError as exc:
            log.error("upload refused: %s", exc.english)
            return after_change([exc.dutch])
        lines = []
        for f in files or []:
            path = Path(f if isinstance(f, str) else f.name)
            name = getattr(f, "orig_name", None) or path.name
            try:
                added = app.add(name, path.read_bytes())
                lines.append(ui_text("added_ok", name=added.doc_id, paragraphs=added.paragraphs))
            except UserError as exc:
                log.error("upload rejected: %s", exc.english)
                lines.append(ui_text("add_failed", name=name, reason=exc.dutch))
        # the index takes the new passages in now, with Gradio's bar: done/total, passages per second, time left
        app.load_index(sink=lambda snapshot: progress(snapshot.fraction, desc=snapshot.text()))
        return after_change(lines)

    def remove_document(doc_id: str | None, token: str | None = None):
        if not doc_id:
            return after_change([])
        try:
            app.gate.check(token)
            app.remove(doc_id)
            lines = [ui_text("removed_ok", name=doc_id)]
        except UserError as exc:
            log.error("remove rejected: %s", exc.english)
            lines = [ui_text("add_failed", name=doc_id, reason=exc.dutch)]
        return after_change(lines)

    with gr.Tab(ui_text("tab_sources"), id="sources-tab") as tab:
        ready = app.index_ready  # else the lists are filled when the tab is opened
        headers = [ui_text(k) for k in ("col_title", "col_author", "col_date", "col_id", "col_paragraphs")]
        documents_table = gr.Dataframe(value=table() if ready else None, headers=headers, interactive=False,
                                       elem_id="documents")
        with gr.Row():
            doc_pick = gr.Dropdown(choices() if ready else [],
                                   label=ui_text("document_pick"), elem_id="doc-pick", scale=4)
            para_pick = gr.Number(label=ui_text("paragraph").capitalize(), precision=0, minimum=0, elem_id="para-pick",
                                  scale=1)
        doc_view = gr.HTML(elem_id="document")
        doc_pick.change(show_document, [doc_pick, para_pick], [doc_view], api_visibility="private")
        para_pick.change(show_document, [doc_pick, para_pick], [doc_view], api_visibility="private")
        # On a shared page (demo, or reachable from the network) changes sit behind the admin token.
        with gr.Accordion(ui_text("admin_heading"), open=False, visible=True, elem_id="admin") if app.gate.locked \
                else gr.Column():
            token = gr.Textbox(label=ui_text("admin_token"), type="password", elem_id="admin-token",
                               visible=app.gate.locked)
            gr.Markdown(f"### {ui_text('add_heading')}")
            upload = gr.File(label=ui_text("add_files"), file_count="multiple", elem_id="upload",
                             file_types=FILE_TYPES)
            add_btn = gr.Button(ui_text("add_button"), elem_id="add")
            gr.Markdown(f"### {ui_text('remove_heading')}")
            with gr.Row():
                remove_pick = gr.Dropdown(app.removable(), label=ui_text("remove_pick"), elem_id="remove-pick",
                                          scale=4)
                remove_btn = gr.Button(ui_text("remove_button"), elem_id="remove", scale=1)
            change_log = gr.Markdown(elem_id="change-log")
        changed = [change_log, documents_table, doc_pick, remove_pick, upload]
        add_btn.click(add_uploaded, [upload, token], changed, api_visibility="private", concurrency_limit=1,
                      concurrency_id="corpus")
        remove_btn.click(remove_document, [remove_pick, token], changed, api_visibility="private",
                         concurrency_limit=1, concurrency_id="corpus")
        tab.select(lists, None, [documents_table, doc_pick, remove_pick], api_visibility="private", queue=False)


def api(app: Vraagbaak) -> None:
    """Named endpoints for gradio_client: plain data in, plain data out."""

    def ask(question: str, history: list | None = None, request: gr.Request = None) -> Iterator[dict]:
        """Answer a Dutch question, optionally as a follow-up: `history` is a list of {"question", "answer"}
        turns, used as the chat uses its conversation. Returns the answer text, its kind (answer, quote,
        refused), the checked claim and the citations with their evidence; while the question waits for the
        model, {"waiting": questions before it}, or {"same_question": true} while another visitor's identical
        question is being answered, whose answer it will get (`predict` returns only the answer)."""
        try:
            with app.visitors.visit(_visitor(request)):
                told = None
                for kind, payload in app.ask_stream(question, history_from(history)):
                    if kind in ("waiting", "shared") and (kind, payload) != told:
                        told = (kind, payload)
                        yield {"waiting": payload} if kind == "waiting" else {"same_question": True}
                    elif kind == "done":
                        yield payload.to_dict()
        except UserError as exc:
            raise _refuse(exc) from exc

    def quote(quote: str) -> dict:
        """Check a quotation: verdict exact / altered / absent with locations."""
        try:
            return app.quote(quote).to_dict()
        except UserError as exc:
            raise _refuse(exc) from exc

    def check_text(text: str) -> dict:
        """Check every quotation in a whole text: {"source", "quotations": [{"text", "start", "end", "style",
        "verdict", "matches"}], "summary"}, offsets into the text."""
        try:
            return app.check_text(text).to_dict()
        except UserError as exc:
            raise _refuse(exc) from exc

    def search(query: str, k: int = 5) -> dict:
        """Hybrid search: the k best passages."""
        try:
            return {"query": query, "passages": [h.to_dict() for h in app.retriever.search(query, int(k))]}
        except UserError as exc:
            raise _refuse(exc) from exc

    gr.api(ask, api_name="ask", concurrency_limit=asking_at_once(app), concurrency_id="ask")
    gr.api(quote, api_name="quote", concurrency_limit=4)
    gr.api(check_text, api_name="check_text", concurrency_limit=2)
    gr.api(search, api_name="search", concurrency_limit=4)


def build(app: Vraagbaak) -> gr.Blocks:
    """The page; it needs no index to be built, so that it is up while the index loads (launch starts that)."""

    def model_state():
        state, indexing, ready = app.model_state, app.indexing, app.index_ready
        text = ui_text("model_state_ready") if state == "ready" else (
            (app.model_error or ui_text("model_state_error")) if state == "error" else ui_text("model_state_loading"))
        if ready and (app.retriever.index.rebuilt_because or "").startswith("corrupt"):
            text = f"{ui_text('index_rebuilt')} {text}"  # the stored index was damaged and has been rebuilt
        if not ready:  # at start-up nothing works before the index: only its state (no "search works already")
            text = indexing.text() if indexing is not None else (app.index_error or ui_text("index_loading"))
        elif indexing is not None:  # an index build embeds while the page is up: its figures first
            text = f"{indexing.text()} {text}"
        return text, gr.Timer(active=state not in ("ready", "error") or indexing is not None or not ready)

    with gr.Blocks(title=ui_text("title"), analytics_enabled=False) as page:
        gr.Markdown(f"# {ui_text('title')}\n{ui_text('subtitle')}")
        if not is_loopback(app.settings.host):  # visitors join from their phones: the address, big, and a QR code
            url = join_url(app.settings.host, app.settings.port)
            gr.HTML(render.join_html(url, qr_svg(url)), elem_id="join")
        model_line = gr.Markdown(elem_id="model-state")
        ticker = gr.Timer(1.5)
        ticker.tick(model_state, None, [model_line, ticker], api_visibility="private", queue=False)
        page.load(model_state, None, [model_line, ticker], api_visibility="private", queue=False)
        with gr.Tabs():
            chat_tab(app)
            quote_tab(app)
            check_tab(app)
            sources_tab(app)
        api(app)
    return page


def theme() -> gr.themes.Base:
    """System fonts only: the default theme would fetch fonts from the internet."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


def launch(app: Vraagbaak, block: bool = True):
    app.start_index_loading()
    page = build(app)
    app.start_model_loading()
    page.queue(default_concurrency_limit=4, max_size=100)
    settings = app.settings
    return page.launch(server_name=settings.host, server_port=settings.port, share=False, inbrowser=False,
                       show_error=False, ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                       footer_links=["api"], theme=theme(),
                       css=CSS + PHONE_CSS + notice_css() + (DEMO_CSS if settings.demo else ""),
                       js=JS if not (settings.demo and settings.kiosk_reset_s) else kiosk_js(settings.kiosk_reset_s),
                       prevent_thread_lock=not block, quiet=False)


def serve(app: Vraagbaak) -> None:
    if app.gate.locked:
        print(ui_text("admin_token_chosen") if app.gate.chosen else
              ui_text("admin_token_printed", token=app.gate.token), flush=True)
    if not is_loopback(app.settings.host):
        print(ui_text("join_printed", url=join_url(app.settings.host, app.settings.port)), flush=True)
    launch(app, block=True)
