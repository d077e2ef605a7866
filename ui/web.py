"""The Gradio page: chat with sources, quote checking, the source documents, and named API endpoints.

A thin layer: every action calls the same functions as the CLI (answer.pipeline, verify.service,
retrieval.service). Offline by construction: system fonts only, no analytics, no share link, bound to
127.0.0.1 unless --host says otherwise.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import gradio as gr

from answer.followup import Turn, history_from
from answer.pipeline import ask, ask_stream, pre_embed_sentences, warm_up
from config import Settings
from errors import UserError
from prompts import message
from corpus import library
from retrieval.service import forget, get_index, run_search
from ui import render
from verify.service import run_quote

log = logging.getLogger(__name__)

EXAMPLES = [
    "Waarom stoppen steeds meer sociaal werkers met hun werk?",
    "Wat zijn de pijlers onder solidariteit?",
    "Hoe lang bestaat formeel sociaal werk al in China?",
    "Wat bedoelt Veldboer met hybriditeit?",
]
MAX_QUESTION_CHARS = 1000
MAX_QUOTE_CHARS = 5000

CSS = """
.vb-muted { color: #666; }
.vb-source { border: 1px solid #ddd; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.vb-source.vb-cited { border-color: #2b6cb0; }
.vb-source.vb-flash { box-shadow: 0 0 0 3px #f6ad55; }
.vb-passage { margin: 6px 0; line-height: 1.5; }
.vb-meta { font-size: 0.8em; color: #777; }
mark { background: #fde68a; padding: 0 2px; }
.vb-verdict { padding: 10px 14px; border-radius: 8px; margin-bottom: 10px; }
.vb-exact { background: #dcfce7; } .vb-altered { background: #fef3c7; } .vb-absent { background: #fee2e2; }
.vb-match { border-left: 4px solid #ccc; padding-left: 10px; margin: 10px 0; }
.vb-where { font-size: 0.9em; color: #444; }
del { background: #fecaca; text-decoration: line-through; } ins { background: #bbf7d0; text-decoration: none; }
.vb-para { margin: 8px 0; line-height: 1.55; } .vb-num { color: #888; margin-right: 8px; font-size: 0.85em; }
.vb-para.vb-highlight { background: #fef9c3; }
"""
DEMO_CSS = """
body, .gradio-container { font-size: 20px !important; }
.gradio-container textarea, .gradio-container input, .gradio-container button { font-size: 20px !important; }
"""
# Citation links [n] open source n in the panel next to the chat.
JS = """
() => {
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href^="#bron-"]');
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

_model = {"state": "idle", "error": None}
_feedback_lock = threading.Lock()


def _ui(key: str, **kw) -> str:
    return message(f"ui.{key}", **kw)


def notice_css() -> str:
    """Gradio 6 heads a notice with its type in English ("Warning") whatever title it is given; show the Dutch
    title from prompts/messages.toml in its place."""
    rules = []
    for kind, key in (("warning", "warning_title"), ("error", "error_title"), ("info", "info_title"),
                      ("success", "info_title")):
        title = _ui(key).replace("\\", "\\\\").replace('"', '\\"')
        rules.append(f'.toast-title.{kind} {{ font-size: 0; }} '
                     f'.toast-title.{kind}::before {{ content: "{title}"; font-size: var(--text-md); }}')
    return "\n".join(rules) + "\n"


def start_model_loading(settings: Settings) -> None:
    """Load and warm the language model in the background so search and quotes work at once."""
    if _model["state"] != "idle":
        return
    _model["state"] = "loading"

    def run() -> None:
        try:
            warm_up(settings)
            _model["state"] = "ready"
            pre_embed_sentences(settings)
        except Exception as exc:
            log.exception("language model failed to load")
            _model["state"], _model["error"] = "error", str(exc)

    threading.Thread(target=run, daemon=True, name="model-loader").start()


def save_feedback(settings: Settings, record: dict) -> Path:
    """Append one feedback record to <feedback_dir>/feedback.jsonl (one line, one write)."""
    folder = Path(settings.feedback_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedback.jsonl"
    line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}, ensure_ascii=False) + "\n"
    with _feedback_lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
    return path


def build(settings: Settings) -> gr.Blocks:
    index, _ = get_index(settings)
    documents = {d.id: d for d in index.documents}

    def chat(question: str, history: list, turns: list):
        question = (question or "").strip()
        if not question:
            gr.Warning(message("errors.empty_query"), title=_ui("warning_title"))
            yield history, gr.skip(), question, gr.skip(), turns
            return
        history = history + [{"role": "user", "content": question},
                             {"role": "assistant", "content": _ui("searching")}]
        yield history, gr.skip(), "", _ui("searching"), turns
        prior = [Turn(t["question"], t["answer"]) for t in turns]
        raw = ""
        try:
            for kind, payload in ask_stream(settings, question, prior):
                if kind == "sources":
                    status = _ui("reading") if _model["state"] == "ready" else _ui("model_loading")
                    history[-1]["content"] = status
                    yield history, render.sources_html(payload, documents=documents), "", status, turns
                elif kind == "chosen":
                    status = _ui("chosen", lines=", ".join(map(str, payload))) if payload else _ui("chosen_none")
                    history[-1]["content"] = status
                    yield history, gr.skip(), "", status, turns
                elif kind == "token":
                    raw += payload
                    history[-1]["content"] = render.md_escape(raw) + " …"
                    yield history, gr.skip(), "", _ui("writing"), turns
                elif kind == "done":
                    result = payload
        except UserError as exc:
            log.error("chat input rejected: %s", exc.english)
            history[-1]["content"] = exc.dutch
            yield history, gr.skip(), "", "", turns
            return
        d = result.to_dict()
        notes = []
        if result.standalone != result.question:
            notes.append(_ui("rewritten", question=render.md_escape(result.standalone)))
        notes.append(_ui({"refused": "refused_note", "quote": "quote_note", "answer": "answer_note"}[result.kind]))
        answer_md = render.answer_markdown(result) + "\n\n" + "\n".join(f"*{n}*" for n in notes)
        history[-1]["content"] = answer_md
        cited = {c["n"] for c in d["citations"]}
        turns = turns + [{"question": question, "answer": d["answer"],
                          "sources": [c for c in d["citations"]], "refused": d["refused"]}]
        yield history, render.sources_html(result.sources, cited, documents), "", "", turns

    def reset():
        return [], render.sources_html([]), "", "", []

    def feedback(data: gr.LikeData, turns: list):
        turn_no = data.index // 2 if isinstance(data.index, int) else (data.index[0] // 2 if data.index else 0)
        turn = turns[turn_no] if 0 <= turn_no < len(turns) else {}
        save_feedback(settings, {"liked": bool(data.liked), "question": turn.get("question"),
                                 "answer": turn.get("answer"), "sources": turn.get("sources", [])})
        gr.Info(_ui("feedback_thanks"), title=_ui("info_title"))

    def check(quote: str) -> str:
        try:
            return render.quote_html(run_quote(settings, quote))
        except UserError as exc:
            log.error("quote input rejected: %s", exc.english)
            return f"<div class='vb-verdict vb-absent' data-verdict='error'>{exc.dutch}</div>"

    def show_document(doc_id: str, paragraph: float | None):
        idx, _ = get_index(settings)
        doc = idx.document(doc_id) if doc_id else None
        return render.document_html(doc, idx.passages, int(paragraph) if paragraph else None)

    def added_choices() -> list[str]:
        try:
            folder = library.add_target(settings)
        except UserError:
            return []
        return sorted(p.name for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")) \
            if folder.is_dir() else []

    def after_change(lines: list[str]):
        forget(settings)
        idx, _ = get_index(settings)
        documents.clear()
        documents.update({d.id: d for d in idx.documents})
        return ("\n\n".join(lines), render.documents_rows(idx.documents, idx.passages),
                gr.Dropdown(choices=[(d.title, d.id) for d in idx.documents]),
                gr.Dropdown(choices=added_choices(), value=None), None)

    def add_uploaded(files: list | None):
        lines = []
        for f in files or []:
            path = Path(f if isinstance(f, str) else f.name)
            name = getattr(f, "orig_name", None) or path.name
            try:
                added = library.add_file(settings, name, path.read_bytes())
                lines.append(_ui("added_ok", name=added.doc_id, paragraphs=added.paragraphs))
            except UserError as exc:
                log.error("upload rejected: %s", exc.english)
                lines.append(_ui("add_failed", name=name, reason=exc.dutch))
        return after_change(lines)

    def remove_document(doc_id: str | None):
        if not doc_id:
            return after_change([])
        try:
            library.remove(settings, doc_id)
            lines = [_ui("removed_ok", name=doc_id)]
        except UserError as exc:
            log.error("remove rejected: %s", exc.english)
            lines = [_ui("add_failed", name=doc_id, reason=exc.dutch)]
        return after_change(lines)

    # API endpoints for gradio_client: plain data in, plain data out.
    def api_ask(question: str, history: list | None = None) -> dict:
        """Answer a Dutch question, optionally as a follow-up: `history` is a list of {"question", "answer"}
        turns, used as the chat uses its conversation. Returns the answer text, its kind (answer, quote,
        refused), the checked claim and the citations with their evidence."""
        try:
            return ask(settings, question, history_from(history)).to_dict()
        except UserError as exc:
            raise gr.Error(exc.dutch, title=_ui("error_title")) from exc

    def api_quote(quote: str) -> dict:
        """Check a quotation: verdict exact / altered / absent with locations."""
        try:
            return run_quote(settings, quote).to_dict()
        except UserError as exc:
            raise gr.Error(exc.dutch, title=_ui("error_title")) from exc

    def api_search(query: str, k: int = 5) -> dict:
        """Hybrid search: the k best passages."""
        try:
            return {"query": query, "passages": [h.to_dict() for h in run_search(settings, query, int(k))]}
        except UserError as exc:
            raise gr.Error(exc.dutch, title=_ui("error_title")) from exc

    def model_state():
        state = _model["state"]
        text = _ui("model_state_ready") if state == "ready" else (
            _ui("model_state_error") if state == "error" else _ui("model_state_loading"))
        return text, gr.Timer(active=state not in ("ready", "error"))

    with gr.Blocks(title=_ui("title"), analytics_enabled=False) as app:
        gr.Markdown(f"# {_ui('title')}\n{_ui('subtitle')}")
        model_line = gr.Markdown(elem_id="model-state")
        ticker = gr.Timer(1.5)
        ticker.tick(model_state, None, [model_line, ticker], api_visibility="private", queue=False)
        app.load(model_state, None, [model_line, ticker], api_visibility="private", queue=False)
        with gr.Tabs():
            with gr.Tab(_ui("tab_chat"), id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(height=560 if settings.demo else 480, elem_id="chatbot",
                                             buttons=["copy"], layout="bubble", show_label=False)
                        status = gr.Markdown("", elem_id="status")
                        with gr.Row():
                            question = gr.Textbox(label=_ui("question_label"), placeholder=_ui("question_placeholder"),
                                                  max_length=MAX_QUESTION_CHARS, scale=5, elem_id="question",
                                                  autofocus=True, lines=1)
                            send = gr.Button(_ui("send"), variant="primary", scale=1, elem_id="send")
                        gr.Examples(EXAMPLES, inputs=[question], label=_ui("examples"))
                        reset_btn = gr.Button(_ui("reset"), elem_id="reset", size="sm")
                    with gr.Column(scale=2):
                        sources = gr.HTML(render.sources_html([]), elem_id="sources")
                turns = gr.State([])
                outputs = [chatbot, sources, question, status, turns]
                for trigger in (send.click, question.submit):
                    trigger(chat, [question, chatbot, turns], outputs, api_visibility="private",
                            concurrency_limit=1, concurrency_id="llm")
                reset_btn.click(reset, None, outputs, api_visibility="private", queue=False)
                chatbot.like(feedback, [turns], None, api_visibility="private", queue=False)

            with gr.Tab(_ui("tab_quote"), id="quote"):
                quote_in = gr.Textbox(label=_ui("quote_label"), placeholder=_ui("quote_placeholder"), lines=4,
                                      max_length=MAX_QUOTE_CHARS, elem_id="quote")
                quote_btn = gr.Button(_ui("quote_button"), variant="primary", elem_id="check")
                quote_out = gr.HTML(elem_id="verdict")
                quote_btn.click(check, [quote_in], [quote_out], api_visibility="private", concurrency_limit=4)
                quote_in.submit(check, [quote_in], [quote_out], api_visibility="private", concurrency_limit=4)

            with gr.Tab(_ui("tab_sources"), id="sources-tab"):
                documents_table = gr.Dataframe(value=render.documents_rows(index.documents, index.passages),
                             headers=[_ui("col_title"), _ui("col_author"), _ui("col_date"), _ui("col_id"),
                                      _ui("col_paragraphs")], interactive=False, elem_id="documents")
                with gr.Row():
                    doc_pick = gr.Dropdown([(d.title, d.id) for d in index.documents], label=_ui("document_pick"),
                                           elem_id="doc-pick", scale=4)
                    para_pick = gr.Number(label=_ui("paragraph").capitalize(), precision=0, minimum=0,
                                          elem_id="para-pick", scale=1)
                doc_view = gr.HTML(elem_id="document")
                doc_pick.change(show_document, [doc_pick, para_pick], [doc_view], api_visibility="private")
                para_pick.change(show_document, [doc_pick, para_pick], [doc_view], api_visibility="private")
                if not settings.demo:  # visitors at a demonstration cannot change the corpus
                    gr.Markdown(f"### {_ui('add_heading')}")
                    upload = gr.File(label=_ui("add_files"), file_count="multiple", elem_id="upload",
                                     file_types=[".txt", ".md", ".html", ".htm", ".pdf", ".docx"])
                    add_btn = gr.Button(_ui("add_button"), elem_id="add")
                    gr.Markdown(f"### {_ui('remove_heading')}")
                    with gr.Row():
                        remove_pick = gr.Dropdown(added_choices(), label=_ui("remove_pick"), elem_id="remove-pick",
                                                  scale=4)
                        remove_btn = gr.Button(_ui("remove_button"), elem_id="remove", scale=1)
                    change_log = gr.Markdown(elem_id="change-log")
                    changed = [change_log, documents_table, doc_pick, remove_pick, upload]
                    add_btn.click(add_uploaded, [upload], changed, api_visibility="private",
                                  concurrency_limit=1, concurrency_id="corpus")
                    remove_btn.click(remove_document, [remove_pick], changed, api_visibility="private",
                                     concurrency_limit=1, concurrency_id="corpus")

        gr.api(api_ask, api_name="ask", concurrency_limit=1, concurrency_id="llm")
        gr.api(api_quote, api_name="quote", concurrency_limit=4)
        gr.api(api_search, api_name="search", concurrency_limit=4)
    return app


def theme() -> gr.themes.Base:
    """System fonts only: the default theme would fetch fonts from the internet."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


def launch(settings: Settings, block: bool = True):
    app = build(settings)
    start_model_loading(settings)
    app.queue(default_concurrency_limit=4, max_size=100)
    return app.launch(server_name=settings.host, server_port=settings.port, share=False, inbrowser=False,
                      show_error=False, ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                      footer_links=["api"], theme=theme(), css=CSS + notice_css() + (DEMO_CSS if settings.demo else ""),
                      js=JS, prevent_thread_lock=not block, quiet=False)


def serve(settings: Settings) -> None:
    print(f"Vraagbaak: index laden ({settings.corpus})…", flush=True)
    launch(settings, block=True)
