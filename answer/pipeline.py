"""Answer a Dutch question from the corpus: retrieve -> gate -> generate -> decide. This module only
orchestrates; what is checked and what the user gets is decided in verify/.

1. Retrieve: the best passages (hybrid search), then the evidence lines the model will read
   (retrieval/evidence.py: sentences of those passages and their documents' bylines, best first).
2. Gate: refuse before the model runs when retrieval shows the sources cannot hold the answer
   (verify/gate.py).
3. Generate: wait for a turn at the model (its waiting line tells the question's place, answer/line.py);
   the model chooses the lines that answer (or "geen") and writes one short sentence; a grammar keeps it
   to line numbers that exist (answer/prompt.py).
4. Decide: a checked answer with its evidence verbatim, the evidence alone, or a refusal (verify/decide.py).
   While many visitors wait, the model stops after choosing its lines and those are the reply ("brief").

`ask_stream` yields events so a page can show the sources, the place in line, the model's choice, the
answer as it is written, then the checked result; `ask` runs it to the end for the CLI and the API.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from answer.followup import Turn, looks_like_follow_up, rewrite_messages, standalone_question
from answer.llm import LLM, Messages, Timing
from answer.prompt import PREFILL, build_messages, grammar, parse
from prompts import message
from retrieval.evidence import Evidence, Sentence, byline_of, sentences_of
from retrieval.search import Hit
from retrieval.service import Retriever, check_query
from verify.claims import same_words
from verify.decide import Decision, Signals, decide
from verify.gate import gate

SOURCES_K = 5  # passages whose sentences compete for the evidence lines
WAIT_POLL_S = 0.5  # how often a question waiting for the model reports its place in line

__all__ = ["AskResult", "Source", "Turn", "ask", "ask_stream", "result_of", "warm_prompts", "pre_embed"]
ModelSource = LLM | Callable[[], LLM]  # the model, or how to get it (loaded only when a question needs it)


@dataclass
class Source:
    """A numbered source as the user sees it: a retrieved passage and the sentences the model read from it,
    and its document's byline (title, author, date) when the model read that too."""

    n: int
    hit: Hit
    sentences: list[Sentence]
    bylines: list[Sentence] = field(default_factory=list)

    @property
    def passage(self):
        return self.hit.passage


def sources_for(hits: list[Hit], lines: list[Evidence]) -> list[Source]:
    sources = [Source(i + 1, h, []) for i, h in enumerate(hits)]
    for e in lines:
        source = sources[e.source]
        for s in e.sentences:
            (source.bylines if s.start < 0 else source.sentences).append(s)
    for s in sources:
        s.sentences.sort(key=lambda x: x.start)
    return sources


@dataclass
class AskResult:
    question: str
    standalone: str
    kind: str  # "answer" (checked claim + evidence), "quote" (evidence alone) or "refused"
    sources: list[Source]
    lines: list[Evidence] = field(default_factory=list)  # what the model read, best first
    evidence: list[Evidence] = field(default_factory=list)  # what the reply shows verbatim
    claim: str = ""
    support: list[int] = field(default_factory=list)  # evidence line ids the claim was checked against
    timings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    raw: str = ""  # what the model wrote, after the prefill
    signals: dict = field(default_factory=dict)  # what the decision weighed: retrieval and model probabilities
    brief: bool = False  # the model chose its lines and wrote no sentence: many visitors were waiting

    @property
    def refused(self) -> bool:
        return self.kind == "refused"

    @property
    def answer(self) -> str:
        return reply_text(self)

    @property
    def verbatim(self) -> bool:
        """A checked answer that only copies its evidence lines: shown once, as those lines, not twice."""
        return self.kind == "answer" and same_words(self.claim, [e.text for e in self.evidence
                                                                 if e.id in self.support])

    def cited(self) -> list[int]:
        """Source numbers the reply cites, in order of first use."""
        return list(dict.fromkeys(e.source + 1 for e in self.evidence))

    def claim_sources(self) -> list[int]:
        """Source numbers of the lines the claim was checked against (its citation marks)."""
        return list(dict.fromkeys(e.source + 1 for e in self.evidence if e.id in self.support))

    def citations(self) -> list[dict]:
        out = []
        for n in self.cited():
            p = self.sources[n - 1].passage
            shown = [e for e in self.evidence if e.source + 1 == n]
            out.append({"n": n, "doc": p.doc, "title": p.title, "paragraph": p.paragraph, "start": p.start,
                        "end": p.end, "text": p.text,
                        "evidence": [{"text": s.text, "start": s.start, "end": s.end} if s.start >= 0 else
                                     {"byline": s.text} for e in shown for s in e.sentences]})
        return out

    def shown_spans(self) -> list[tuple[str, int, int]]:
        """(doc, start, end) of every line the model read (a byline as start -1)."""
        return [span for e in self.lines for span in e.spans()]

    def evidence_spans(self) -> list[tuple[str, int, int]]:
        return [span for e in self.evidence for span in e.spans()]

    def to_dict(self) -> dict:
        out = {"question": self.question, "answer": self.answer, "kind": self.kind, "refused": self.refused,
               "citations": self.citations(), "timings": self.timings}
        if self.standalone != self.question:
            out["standalone_question"] = self.standalone
        if self.claim:
            out["claim"] = self.claim
        if self.notes:
            out["notes"] = self.notes
        if self.brief:
            out["brief"] = True
        return out


def cite(text: str, numbers: list[int]) -> str:
    """'Er zijn 53.200 sociaal werkers.' -> 'Er zijn 53.200 sociaal werkers [1].'"""
    marks = "".join(f"\u00a0[{n}]" for n in numbers)
    m = re.search(r"[.!?…]+$", text)
    return text[:m.start()] + marks + m.group() if m else text + marks + "."


def evidence_line(result: AskResult, e: Evidence) -> str:
    if e.byline:
        return f"[{e.source + 1}] {e.text}"
    return f"[{e.source + 1}] „{e.text}”"


def reply_text(result: AskResult) -> str:
    """The reply as plain text: the checked claim with its citations, then its evidence verbatim."""
    if result.kind == "refused":
        return message("answer.refused")
    lines = [evidence_line(result, e) for e in result.evidence]
    if result.kind == "answer" and not result.verbatim:
        return (cite(result.claim, result.claim_sources()) + "\n\n" + message("answer.evidence_intro") + "\n"
                + "\n".join(lines))
    return message("answer.quote_intro") + "\n" + "\n".join(lines)


Event = tuple[str, object]


class _ReplyStream:
    """Splits the model's reply as it arrives: the chosen line numbers first, then the answer's words."""

    def __init__(self):
        self.raw, self.chosen_sent, self.answer_from = "", False, None

    def feed(self, piece: str) -> list[Event]:
        self.raw += piece
        events: list[Event] = []
        if not self.chosen_sent and "\n" in self.raw:
            self.chosen_sent = True
            events.append(("chosen", parse(self.raw.split("\n")[0]).chosen))
        if self.answer_from is None and (m := re.search(r"Antwoord:\s?", self.raw)):
            self.answer_from = m.end()
            piece = self.raw[self.answer_from:]
        if self.answer_from is not None and piece:
            events.append(("token", piece))
        return events


def ask_stream(retriever: Retriever, model: ModelSource, question: str, history: list[Turn] | None = None,
               max_tokens: int = 96, measure_gate: bool = False, brief_when_waiting: int = 0) -> Iterator[Event]:
    """Events: ('waiting', questions before it) while it waits for its turn at the model, ('sources', [Source]),
    ('chosen', [line ids]), ('token', str), ('done', AskResult). `measure_gate` (benchmarks only) runs the
    model even where the gate refuses, so that the gate can be fitted against what the model would have done.
    `brief_when_waiting` (0: never): when the model has chosen its lines and at least this many questions wait
    behind this one, it stops there and the lines are the reply (about a second sooner for everyone behind)."""
    turn = _Turn(model)
    try:
        yield from _answer(retriever, turn, question, history or [], max_tokens, measure_gate, brief_when_waiting)
    finally:  # also when the visitor leaves: the next question in line may go
        turn.leave()


class _Turn:
    """The model, loaded when first needed, and this question's place in its waiting line (answer/line.py)."""

    def __init__(self, model: ModelSource):
        self.model, self.llm, self.ticket = model, model if isinstance(model, LLM) else None, None

    def take(self) -> Iterator[Event]:
        """Load the model if need be, join its line and wait for a turn, reporting the place meanwhile (every
        WAIT_POLL_S, so that a page can notice a visitor who left)."""
        self.llm = self.llm or self.model()  # type: ignore[operator]
        if self.ticket is None:
            self.ticket = self.llm.line.join()
        timeout = 0.0
        while not self.ticket.wait(timeout):
            yield "waiting", self.ticket.ahead()
            timeout = WAIT_POLL_S

    def leave(self) -> None:
        if self.ticket is not None:
            self.ticket.leave()


def _answer(retriever: Retriever, turn: _Turn, question: str, history: list[Turn], max_tokens: int,
            measure_gate: bool, brief_when_waiting: int = 0) -> Iterator[Event]:
    t0 = time.perf_counter()
    question = check_query(question)
    documents = retriever.documents
    standalone = question
    timings: dict = {}

    if history and looks_like_follow_up(question):
        yield from turn.take()  # kept for the answer too: a follow-up does not wait in line twice
        t = time.perf_counter()
        standalone = standalone_question(turn.llm, question, history, turn.ticket)
        timings["rewrite_ms"] = round((time.perf_counter() - t) * 1000, 1)
    t = time.perf_counter()
    hits, lines = retriever.evidence(standalone, SOURCES_K)
    sources = sources_for(hits, lines)
    timings["retrieval_ms"] = round((time.perf_counter() - t) * 1000, 1)
    yield "sources", sources

    signals: dict = {"top_dense": round(hits[0].dense, 4) if hits else None}

    def done(decision: Decision, raw: str = "", brief: bool = False) -> AskResult:
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        kind = {"answer": "answer", "quote": "quote", "refuse": "refused"}[decision.kind]
        return AskResult(question, standalone, kind, sources, lines, decision.evidence, decision.claim,
                         decision.support, timings, decision.notes, raw, signals, brief and kind == "quote")

    reason = gate(standalone, hits, documents)
    if reason and not measure_gate:
        timings["first_token_ms"] = None
        yield "done", done(Decision("refuse", notes=[f"refused before generation: {reason}"]))
        return

    t = time.perf_counter()
    yield from turn.take()
    if (waited := time.perf_counter() - t) > 0.05:
        timings["waited_ms"] = round(waited * 1000, 1)
    timing, stream = Timing(), _ReplyStream()
    first, brief = None, False
    pieces = turn.llm.stream(build_messages(standalone, lines), max_tokens=max_tokens, timing=timing,
                             grammar=grammar(len(lines)), prefill=PREFILL, ticket=turn.ticket)
    for piece in pieces:
        if first is None:
            first = time.perf_counter()
            timings["first_token_ms"] = round((first - t0) * 1000, 1)
        chose = not stream.chosen_sent
        yield from stream.feed(piece)
        if chose and stream.chosen_sent and 0 < brief_when_waiting <= turn.ticket.behind():
            brief = True  # its lines are chosen and others wait: they are the reply, the sentence is not written
            break
    pieces.close()
    turn.leave()
    t = time.perf_counter()
    reply = parse(stream.raw)
    model = Signals(none_probability(timing.step_probs), line_probabilities(timing.step_probs))
    decision = decide(standalone, lines, reply.chosen, reply.claim, model, cut=timing.cut, brief=brief)
    if reason:
        decision = Decision("refuse", notes=[f"refused before generation: {reason}", *decision.notes])
    timings["check_ms"] = round((time.perf_counter() - t) * 1000, 1)
    timings.update(prompt_tokens=timing.prompt_tokens, cached_tokens=timing.cached_tokens,
                   prompt_ms=round(timing.prompt_ms, 1) if timing.prompt_ms else None,
                   generated_tokens=timing.generated_tokens,
                   generation_ms=round(timing.generation_ms, 1) if timing.generation_ms else None)
    timings.setdefault("first_token_ms", None)
    signals.update(p_none=model.p_none, p_lines=model.p_lines, doubt=decision.doubt, cut=timing.cut)
    yield "done", done(decision, stream.raw, brief)


def none_probability(step_probs: list[dict[str, float]] | None) -> float | None:
    """The model's probability of answering "geen" (no line answers), from its first token's options."""
    if not step_probs:
        return None
    return sum(p for piece, p in step_probs[0].items() if piece.strip() and "geen".startswith(piece.strip()))


def line_probabilities(step_probs: list[dict[str, float]] | None) -> dict[int, float]:
    """The model's probability of naming each line first (given that it names one)."""
    if not step_probs or len(step_probs) < 2:
        return {}
    return {int(piece): p for piece, p in step_probs[1].items() if piece.strip().isdigit()}


def result_of(events: Iterator[Event]) -> AskResult:
    """Run an answer's events to the end: its result (for the CLI, the API and benchmarks)."""
    result = None
    for kind, payload in events:
        if kind == "done":
            result = payload
    assert result is not None
    return result


def ask(retriever: Retriever, model: ModelSource, question: str, history: list[Turn] | None = None,
        max_tokens: int = 96, measure_gate: bool = False, brief_when_waiting: int = 0) -> AskResult:
    return result_of(ask_stream(retriever, model, question, history, max_tokens, measure_gate, brief_when_waiting))


def warm_prompts() -> list[tuple[Messages, str]]:
    """The fixed prompt prefixes (answers, follow-up rewrites), for a backend with a prompt cache to read once,
    so that the first visitor, and the first follow-up question, do not pay for them."""
    return [(build_messages("Wat is sociaal werk?", []), PREFILL),
            (rewrite_messages("En wat nog?", [Turn("Wat is sociaal werk?", "Hulp bij problemen.")]), "")]


def pre_embed(retriever: Retriever, limit: int = 3000) -> None:
    """Embed every sentence and byline of a small corpus ahead of time (then evidence costs no embedding)."""
    index = retriever.index
    if len(index.passages) <= limit:
        texts = [s.text for p in index.passages for s in sentences_of(p)]
        retriever.vectors.embed(texts + [byline_of(d).text for d in index.documents])  # and saved for the next start
