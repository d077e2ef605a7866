"""Everything the CLI and the web page use, in one object: what is loaded, and every action on it.

`Vraagbaak(settings)` holds the embedder, the Retriever (index of the current corpus), its QuoteChecker, the
language model and its loading state. Nothing else in the code keeps loaded state: after documents are
added or removed, `reload()` replaces the Retriever and its quote index in one step. Thread-safe: the page
calls it from several request threads at once.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from answer import pipeline
from answer.backends import BACKENDS, load_llm
from answer.cache import AnswerCache, question_key
from answer.followup import Turn, looks_like_follow_up
from answer.llm import LLM
from answer.native import BUILDS
from answer.pipeline import AskResult
from atomic import append_whole
from config import Settings, load_settings
from corpus import library
from corpus.extract import READERS, extract
from corpus.model import Document
from errors import ServiceFailure, UserError, storage_failure
from prompts import message
from report.build import FORMAT, answer_report, recheck, text_check_report
from retrieval.embed import DEVICES, EMBEDDERS, Embedder, load_embedder
from retrieval.progress import Meter, Snapshot
from retrieval.search import FUSIONS, Hit
from retrieval.service import Retriever
from verify.quotes import QuoteResult
from verify.service import QuoteChecker
from verify.text_check import TextCheck, check_text
from visitors import LOCK_MODES, Gate, VisitorLimits, is_locked

log = logging.getLogger(__name__)

# What each registry knows: the names settings may use (and the CLI offers).
CHOICES = {"fusion": sorted(FUSIONS), "embedder": sorted(EMBEDDERS), "embed_device": DEVICES,
           "llm_backend": sorted(BACKENDS), "engine_build": BUILDS,
           "lock": LOCK_MODES}
FILE_TYPES = sorted(READERS)  # what documents can be added as (.txt .md .html .htm .pdf .docx)
CORPUS_CHECK_S = 2.0  # how often, at most, a running app looks whether another process changed the corpus


def settings_from(overrides: dict | None = None, environ: dict | None = None) -> Settings:
    """Settings checked against the registries (a wrong name is a SettingsError naming the allowed ones)."""
    return load_settings(overrides, environ, choices=CHOICES)


class Vraagbaak:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._retriever: Retriever | None = None
        self._quotes: QuoteChecker | None = None
        self._corpus_state: tuple = ()  # library.corpus_state when the Retriever was made
        self._checked_at = 0.0
        self.indexing: Snapshot | None = None  # while an index build embeds: where it stands (the page's status)
        self.index_error: str | None = None  # why the background load failed (Dutch), shown on the page
        self.progress_sink: Callable[[Snapshot], None] | None = None  # told of every build's progress (CLI bar)
        self._llm: LLM | None = None
        self.model_state = "idle"  # idle -> loading -> ready | error
        self.model_error: str | None = None
        self._model_lock = threading.Lock()
        self._feedback_lock = threading.Lock()
        self.answers = AnswerCache(settings.answer_cache)
        # Events and replicas: a shared page is locked for corpus changes (setting `lock`).
        self.gate = Gate(is_locked(settings.lock, settings.demo, settings.host), settings.admin_token or None)
        self.visitors = VisitorLimits(settings.visitor_questions_per_minute, enabled=self.gate.locked)

    # ---- the corpus ------------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings.embedder, self.settings.threads,
                                               self.settings.embed_device)
            return self._embedder

    @property
    def retriever(self) -> Retriever:
        return self.load_index()

    def load_index(self, sink: Callable[[Snapshot], None] | None = None) -> Retriever:
        """The Retriever, built first when there is none yet or the corpus changed; while it embeds, `sink` and
        `progress_sink` get each Snapshot (done/total, passages per second, time left)."""
        with self._lock:
            self._notice_corpus_change()
            if self._retriever is None:
                self._corpus_state, self._checked_at = library.corpus_state(self.settings), time.monotonic()
                self._retriever = self._build(False, sink)
            return self._retriever

    @property
    def index_ready(self) -> bool:
        """Whether the index is loaded (asked without waiting for it)."""
        return self._retriever is not None

    def start_index_loading(self) -> None:
        """Load or build the index in the background, so that a page is up at once and shows the build's progress
        (`indexing`); whatever needs the index meanwhile waits for it."""

        def run() -> None:
            try:
                self.load_index()
            except UserError as exc:
                self.index_error = exc.dutch
                log.error("index failed to load: %s", exc.english)
            except Exception as exc:
                self.index_error = str(exc)
                log.exception("index failed to load")

        threading.Thread(target=run, daemon=True, name="index-loader").start()

    def _build(self, rebuild: bool, sink: Callable[[Snapshot], None] | None) -> Retriever:
        def report(snapshot: Snapshot) -> None:
            self.indexing = None if snapshot.finished else snapshot
            for listener in (sink, self.progress_sink):
                if listener:
                    listener(snapshot)

        try:
            retriever = Retriever(self.settings, self.embedder, rebuild=rebuild, progress=Meter(report))
        finally:
            self.indexing = None
        self._quotes = QuoteChecker(retriever)
        return retriever

    def _notice_corpus_change(self) -> None:
        """Another process (a second replica on the same folders, `app.py add`) added or removed a document:
        reload, at most one look (names, sizes, times of the files) per CORPUS_CHECK_S."""
        if self._retriever is None or time.monotonic() - self._checked_at < CORPUS_CHECK_S:
            return
        state, self._checked_at = library.corpus_state(self.settings), time.monotonic()
        if state != self._corpus_state:
            log.info("the corpus changed on disk; reloading it")
            self._retriever = self._quotes = None

    def rebuild(self, sink: Callable[[Snapshot], None] | None = None) -> Retriever:
        """Build the index afresh even if a sound one is stored (`app.py index --rebuild`)."""
        with self._lock:
            self._corpus_state, self._checked_at = library.corpus_state(self.settings), time.monotonic()
            self._retriever = self._build(True, sink)
            return self._retriever

    def reload(self) -> None:
        """The corpus changed: the next use reads it again (only new passages are embedded)."""
        with self._lock:
            self._retriever = self._quotes = None

    def documents(self) -> list[Document]:
        return self.retriever.index.documents

    def add(self, name: str, data: bytes) -> library.Added:
        try:
            added = library.add_file(self.settings, name, data)
        except OSError as exc:  # disk full, read-only folder: the file is not there, the corpus as before
            raise storage_failure(exc, "document") from exc
        self.reload()
        return added

    def remove(self, doc_id: str) -> Path:
        try:
            path = library.remove(self.settings, doc_id)
        except OSError as exc:
            raise storage_failure(exc, "document") from exc
        self.reload()
        return path

    def removable(self) -> list[str]:
        return library.removable(self.settings)

    # ---- search and quotes ---------------------------------------------------------------------------

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        return self.retriever.search(query, k)

    @property
    def quotes(self) -> QuoteChecker:
        with self._lock:
            self.retriever  # loads the index and its checker together
            assert self._quotes is not None
            return self._quotes

    def quote(self, text: str) -> QuoteResult:
        return self.quotes.check(text)

    def check_text(self, text: str, source: str = "tekst") -> TextCheck:
        """Every quotation in a whole text, checked."""
        return check_text(self.quotes, text, source)

    def report(self, result: TextCheck | AskResult) -> dict:
        """A report anyone can verify (report/build.py), of a text check or an answer."""
        if isinstance(result, TextCheck):
            return text_check_report(result)
        return answer_report(result, self.retriever.documents)

    def recheck(self, report: dict) -> list[dict]:
        """Does each source of an exported report still hold in the corpus as it is now?"""
        if not isinstance(report, dict) or report.get("format") != FORMAT:
            raise UserError("bad_report", f"not a {FORMAT} report")
        return recheck(report, self.retriever.documents)

    def check_file(self, name: str, data: bytes) -> TextCheck:
        """Every quotation in a file (any type the corpus reads: .txt, .md, .docx, .pdf, .html)."""
        return check_text(self.quotes, extract(name, data), name)

    # ---- the language model --------------------------------------------------------------------------

    def llm(self) -> LLM:
        """The model, loaded (and its prompt prefixes read) on first use."""
        with self._model_lock:  # not the corpus lock: search and quotes go on while the model loads
            if self._llm is None:
                self.model_state = "loading"
                try:
                    llm = load_llm(self.settings)
                    llm.warm(pipeline.warm_prompts())
                except Exception as exc:  # the page says why; search and quotes do not need the model
                    failure = exc if isinstance(exc, UserError) else ServiceFailure(
                        "model_failed", f"language model failed to load: {exc}",
                        reason=message("model_failure.failed"))
                    self.model_state, self.model_error = "error", failure.dutch
                    if failure is exc:
                        raise
                    raise failure from exc
                self._llm, self.model_state = llm, "ready"
            return self._llm

    def start_model_loading(self) -> None:
        """Load the model in the background, so that search and quotes work at once."""
        if self.model_state != "idle":
            return
        self.model_state = "loading"

        def run() -> None:
            try:
                self.llm()
                self.pre_embed()
            except UserError as exc:
                log.error("language model failed to load: %s", exc.english)
            except Exception:
                log.exception("language model failed to load")

        threading.Thread(target=run, daemon=True, name="model-loader").start()

    def pre_embed(self) -> None:
        """Embed (and save) the sentences of a small corpus ahead of time, so that no question waits for it."""
        pipeline.pre_embed(self.retriever)

    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   measure_gate: bool = False) -> Iterator[pipeline.Event]:
        """The pipeline's events; a question asked before on this corpus (not a follow-up that leans on the
        conversation) gets the kept answer, and one being answered right now is waited for, with events
        ('shared', None) meanwhile (answer/cache.py)."""
        retriever = self.retriever
        keep = not measure_gate and not (history and looks_like_follow_up(question))
        key = question_key(retriever.index.key, question) if keep else None
        return self.answers.stream(key, lambda: pipeline.ask_stream(
            retriever, self.llm, question, history, self.settings.max_tokens, measure_gate,
            self.settings.brief_when_waiting))

    def ask(self, question: str, history: list[Turn] | None = None, measure_gate: bool = False) -> pipeline.AskResult:
        return pipeline.result_of(self.ask_stream(question, history, measure_gate))

    # ---- feedback ------------------------------------------------------------------------------------

    def save_feedback(self, record: dict) -> Path:
        """Append one feedback record to <feedback_dir>/feedback.jsonl: the whole line or, when the disk is full
        or the folder read-only, nothing (the file is cut back to where it was) and a ServiceFailure."""
        folder = Path(self.settings.feedback_dir)
        path = folder / "feedback.jsonl"
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}, ensure_ascii=False) + "\n"
        with self._feedback_lock:
            try:
                append_whole(path, line.encode("utf-8"))
            except OSError as exc:
                raise storage_failure(exc, "feedback") from exc
        return path
