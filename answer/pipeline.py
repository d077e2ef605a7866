"""Answer a Dutch question from the corpus: retrieve -> gate -> select sentences -> generate -> verify.

`ask_stream` yields events so a UI can show the sources before the first token and the tokens as they
come; `ask` runs it to the end for the CLI and the API. Whatever the model writes, the final answer holds
only sentences that verify/citations.py could check against the sources, or an honest refusal, or a
verbatim quotation, labelled as such: of the excerpt the model's unverifiable answer drew on ("the model
points, the code quotes"), or else of the best-ranked excerpt when it matches the question strongly.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Iterator

from answer.context import Excerpt, Source, prompt_block, select, sentence_vectors, sentences_of
from answer.llm import LLM, Timing, get_llm
from config import Settings
from prompts import message, template
from retrieval.search import Hit, search
from retrieval.service import check_query, get_index
from retrieval.text import content_stems, strip_accents
from verify.citations import Checked, check_answer
from verify.service import get_quote_index

log = logging.getLogger(__name__)

SOURCES_K = 5  # passages whose sentences compete for the prompt (the prompt budget is in sentences)
MIN_DENSE = 0.79  # below this the best passage is about something else (calibrated, see eval/answers.py)
MIN_DENSE_NO_TERMS = 0.85  # when no question word occurs in the corpus at all
FALLBACK_MIN = 0.90  # sentence score (e5 similarity + word overlap) the quoted fallback needs
FALLBACK_AFTER_REFUSAL_MIN = 0.92  # stricter when the model itself said the sources do not hold it
POINTED_MIN = 0.6  # share of an answer's own content words that must come from one excerpt to quote it
MIN_ANSWER_WORDS = 4  # a verified answer shorter than this gets the sentence it came from quoted with it
_YES_NO_RE = re.compile(r"^(is|zijn|kan|kunnen|moet|moeten|heeft|hebben|doet|doen|wordt|worden|was|waren|"
                        r"bestaat|klopt|mag|mogen|zal|zullen|gaat|gaan)\b", re.I)
_YES_NO_ANSWER_RE = re.compile(r"^\s*(ja|nee)\b", re.I)
# An answer opening on a pronoun ("Het is een belangrijk motief ...") leans on something it does not say.
_DANGLING_RE = re.compile(r"^(dit|dat|deze|die|hierdoor|daardoor|daarom|hij|zij|ze|"
                          r"het (is|was|zijn|wordt|werd|gaat|komt))\b", re.I)
_FOLLOW_UP_RE = re.compile(r"^(en|maar|ook|dus|daarnaast|en wat|wat nog)\b|\b(zij|hij|ze|hem|haar|hun|dit|dat|"
                           r"deze|die|daar|daarover|erover|het artikel|de auteur)\b", re.I)


@dataclass
class Turn:
    question: str
    answer: str


@dataclass
class AskResult:
    question: str
    standalone: str
    answer: str
    refused: bool
    fallback: bool
    sources: list[Source]
    checked: Checked | None
    timings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    raw: str = ""  # what the model wrote, before verification
    excerpts: list[Excerpt] = field(default_factory=list)  # what the model was shown, best first

    def citations(self) -> list[dict]:
        if self.fallback:
            cited = {int(n) for n in re.findall(r"\[(\d+)\]", self.answer)}
        else:
            cited = set(self.checked.cited_numbers) if self.checked and not self.refused else set()
        out = []
        for s in self.sources:
            if s.n in cited:
                p = s.passage
                out.append({"n": s.n, "doc": p.doc, "title": p.title, "paragraph": p.paragraph, "start": p.start,
                            "end": p.end, "text": p.text, "supported": True})
        return out

    def shown_spans(self) -> list[tuple[str, int, int]]:
        """(doc, start, end) of every sentence the model was shown."""
        return [(self.sources[e.n - 1].passage.doc, s.start, s.end) for e in self.excerpts for s in e.sentences]

    def evidence_spans(self) -> list[tuple[str, int, int]]:
        """(doc, start, end) of the highlighted sentences of the cited sources."""
        cited = {c["n"] for c in self.citations()}
        return [(s.passage.doc, x.start, x.end) for s in self.sources if s.n in cited for x in s.sentences]

    def to_dict(self) -> dict:
        out = {"question": self.question, "answer": self.answer, "refused": self.refused,
               "citations": self.citations(), "timings": self.timings}
        if self.standalone != self.question:
            out["standalone_question"] = self.standalone
        if self.fallback:
            out["fallback"] = True
        if self.notes:
            out["notes"] = self.notes
        return out


# ---- follow-up questions ------------------------------------------------------------------------------

def looks_like_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP_RE.search(question.strip()))


def rewrite_messages(question: str, history: list[Turn]) -> list[dict]:
    """System prompt and worked example first (a fixed prefix, cached), then the last two turns."""
    convo = "\n".join(f"Vraag: {t.question}\nAntwoord: {t.answer}" for t in history[-2:])
    messages = [{"role": "system", "content": template("rewrite_system.txt").strip()}]
    for ex in json.loads(template("rewrite_examples.json")):
        messages += [{"role": "user", "content": ex["user"]}, {"role": "assistant", "content": ex["assistant"]}]
    messages.append({"role": "user", "content": f"Gesprek:\n{convo}\n\nLaatste vraag: {question}"})
    return messages


def standalone_question(llm: LLM, question: str, history: list[Turn]) -> str:
    """Rewrite a follow-up into a question that stands alone, using the conversation so far."""
    if not history or not looks_like_follow_up(question):
        return question
    try:
        rewritten = llm.complete(rewrite_messages(question, history), max_tokens=48).strip().splitlines()[0].strip()
    except Exception as exc:  # a failed rewrite must not lose the question
        log.error("follow-up rewrite failed: %s", exc)
        rewritten = ""
    if 5 <= len(rewritten) <= 3 * len(question) + 80:
        return rewritten
    # The model's rewrite is unusable: search with the earlier question's words too.
    return f"{question} ({history[-1].question})"


# ---- the gate before generation ----------------------------------------------------------------------

_NUMBER_QUESTION_RE = re.compile(r"\b(hoeveel|hoe vaak|hoe lang|hoe oud|hoe groot|wanneer|welk jaar|welke datum|"
                                 r"welk percentage|welk bedrag)\b", re.I)
_QUANTITY_RE = re.compile(r"\d|\b(twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|dertien|veertien|vijftien|"
                        r"twintig|dertig|veertig|vijftig|zestig|zeventig|tachtig|negentig|honderd|duizend|miljoen|"
                        r"miljard|helft|kwart|procent|eeuw|eeuwen|jaar|jaren|maand|maanden|week|weken|dag|dagen|"
                        r"januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december)\b",
                        re.I)
_ENTITY_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-ZÀ-Ý][\wÀ-ÿ'’-]+|\d[\d.,]*)")


def missing_specifics(question: str, texts: list[str]) -> list[str]:
    """Names and numbers in the question that none of `texts` mention."""
    text = strip_accents(" ".join(texts)).lower()
    missing = []
    for m in _ENTITY_RE.finditer(question.strip()):
        word = strip_accents(m.group(1)).lower().rstrip(".,")
        # Names inflect ("Chinese", "Chinezen" for "China"): compare the first half, at least 4 letters.
        probe = word if word[0].isdigit() else word[:max(4, (len(word) + 1) // 2)]
        if probe and probe not in text:
            missing.append(m.group(1))
    return missing


def expects_number(question: str) -> bool:
    """'Hoeveel ...?', 'Wanneer ...?', 'In welk jaar ...?': an answer without a number or date is no answer."""
    return bool(_NUMBER_QUESTION_RE.search(question))


def has_number(text: str) -> bool:
    return bool(_QUANTITY_RE.search(text))


def gate(question: str, hits: list[Hit]) -> str | None:
    """Why the sources cannot hold the answer, or None when generation is worth trying."""
    if not hits:
        return "no passages"
    top = hits[0]
    if top.dense < MIN_DENSE:
        return f"best passage similarity {top.dense:.3f} < {MIN_DENSE}"
    if max(h.bm25 for h in hits) == 0 and top.dense < MIN_DENSE_NO_TERMS:
        return f"no question word in the best passages and similarity {top.dense:.3f} < {MIN_DENSE_NO_TERMS}"
    if missing := missing_specifics(question, [h.passage.text + " " + h.passage.title for h in hits]):
        return f"question names {missing} that the passages do not mention"
    return None


# ---- answering ----------------------------------------------------------------------------------------

def build_messages(question: str, excerpts: list[Excerpt]) -> list[dict]:
    """System prompt and worked examples first (identical every time, so llama.cpp reuses its cache)."""
    messages = [{"role": "system", "content": template("answer_system.txt").strip()}]
    for ex in json.loads(template("answer_examples.json")):
        messages += [{"role": "user", "content": ex["user"]}, {"role": "assistant", "content": ex["assistant"]}]
    user = template("answer_user.txt").strip().format(passages=prompt_block(excerpts), question=question)
    messages.append({"role": "user", "content": user})
    return messages


def can_quote(question: str, sources: list[Source], excerpt: Excerpt) -> bool:
    """Whether an excerpt could answer the question at all: its document (as far as retrieved) names what
    the question names, and it holds a number when the question asks for one."""
    doc = sources[excerpt.n - 1].passage.doc
    texts = [s.passage.text + " " + s.passage.title for s in sources if s.passage.doc == doc]
    return (not missing_specifics(question, texts)
            and (not expects_number(question) or has_number(excerpt.text)))


def quote(sources: list[Source], excerpt: Excerpt, intro: str) -> str:
    """The excerpt verbatim from its passage, cited and labelled as a quotation."""
    p = sources[excerpt.n - 1].passage
    text = p.text[excerpt.sentences[0].start - p.start:excerpt.sentences[-1].end - p.start].strip()
    return f"{message(intro)} „{text}” [{excerpt.n}] {message('answer.fallback_note')}"


def pointed_excerpt(question: str, raw: str, sources: list[Source], excerpts: list[Excerpt]) -> Excerpt | None:
    """The excerpt an answer was drawn from: the model chose it, the code quotes it.

    The answer's own information is the content words it does not share with the question ("Het herwinnen
    van vertrouwen draait om tijd en continuïteit": tijd, continuïteit); the excerpt that holds most of
    them, if it holds enough, a cited one preferred."""
    stems = set(content_stems(re.sub(r"\[\d+\]|^\s*(ja|nee)\b", "", raw, flags=re.I)))
    stems = (stems - set(content_stems(question))) or stems
    if not stems:
        return None
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", raw)}
    quotable = [e for e in excerpts if can_quote(question, sources, e)]
    share = {id(e): len(stems & set(content_stems(e.text))) / len(stems) for e in quotable}
    # The cited excerpts first; the model's citation number may be wrong, like its wording.
    for candidates in ([e for e in quotable if e.n in cited], quotable):
        if candidates:
            best = max(candidates, key=lambda e: share[id(e)])  # ties go to the better-ranked excerpt
            if share[id(best)] >= POINTED_MIN:
                return best
    return None


def extractive_answer(question: str, sources: list[Source], excerpts: list[Excerpt], raw: str,
                      model_refused: bool) -> str | None:
    """A verbatim quotation when the model's own words could not be verified, or None to refuse.

    The excerpt the model drew on when there is one; otherwise the best-ranked excerpt if it matches the
    question strongly (more strongly still when the model said the sources do not hold the answer)."""
    if not model_refused and (pointed := pointed_excerpt(question, raw, sources, excerpts)):
        return quote(sources, pointed, "answer.pointed_intro")
    minimum = FALLBACK_AFTER_REFUSAL_MIN if model_refused else FALLBACK_MIN
    if excerpts and excerpts[0].score >= minimum and can_quote(question, sources, excerpts[0]):
        return quote(sources, excerpts[0], "answer.fallback_intro")
    return None


Event = tuple[str, object]


def ask_stream(settings: Settings, question: str, history: list[Turn] | None = None,
               llm: LLM | None = None) -> Iterator[Event]:
    """Events: ('status', str), ('sources', [Source]), ('token', str), ('done', AskResult)."""
    t0 = time.perf_counter()
    question = check_query(question)
    history = history or []
    index, embedder = get_index(settings)
    standalone = question
    if history and looks_like_follow_up(question):
        yield "status", "vraag herschrijven"
        llm = llm or get_llm(settings)
        standalone = standalone_question(llm, question, history)
    t_retrieval = time.perf_counter()
    query_vec = embedder.embed_query(standalone)
    hits = search(index, embedder, standalone, k=SOURCES_K, fusion=settings.fusion,
                  dense_weight=settings.dense_weight, query_vec=query_vec)
    sources, excerpts = select(standalone, query_vec, hits, embedder)
    timings = {"retrieval_ms": round((time.perf_counter() - t_retrieval) * 1000, 1)}
    yield "sources", sources

    reason = gate(standalone, hits)
    if reason:
        log.info("refusing before generation: %s", reason)
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        timings["first_token_ms"] = None
        yield "done", AskResult(question, standalone, message("answer.refused"), True, False, sources, None,
                                timings, notes=[reason], excerpts=excerpts)
        return

    llm = llm or get_llm(settings)
    messages = build_messages(standalone, excerpts)
    timing = Timing()
    raw = ""
    first = None
    for piece in llm.stream(messages, max_tokens=settings.max_tokens, timing=timing):
        if first is None:
            first = time.perf_counter()
        raw += piece
        yield "token", piece
    timings["first_token_ms"] = round((first - t0) * 1000, 1) if first else None
    checked = check_answer(raw, sources, get_quote_index(settings))
    notes = [f"{s.reason}: {s.text}" for s in checked.sentences if s.reason]
    rejected = None
    if _YES_NO_RE.match(standalone) and _YES_NO_ANSWER_RE.match(raw):
        rejected = "yes/no claim cannot be verified"  # word overlap cannot check a yes or a no
    elif expects_number(standalone) and checked.kept and not has_number(" ".join(x.text for x in checked.kept)):
        rejected = "the question asks for a number or date; the answer has none"
    if rejected:
        for s in checked.sentences:
            s.supported, s.cited, s.reason = False, [], rejected
        notes.append(f"{rejected}; the source may speak for itself instead")
    fallback = False
    answer_words = sum(len(x.text.split()) for x in checked.kept)
    says_little = 0 < answer_words < MIN_ANSWER_WORDS or (checked.kept and _DANGLING_RE.match(checked.kept[0].text))
    if (says_little and (pointed := pointed_excerpt(standalone, raw, sources, excerpts))
            and pointed.n in checked.cited_numbers):
        # "Het geldbedrag [1]." or "Het is een belangrijk motief ... [1]." is verified but says little on its
        # own: add the excerpt it came from, which holds what "het" stands for.
        answer, refused = f"{checked.answer_text()} {quote(sources, pointed, 'answer.short_context')}", False
        notes.append("short or dangling answer: its source excerpt is quoted with it")
    elif checked.kept:
        answer, refused = checked.answer_text(), False
    else:
        quoted = extractive_answer(standalone, sources, excerpts, raw, checked.refused)
        if quoted:
            answer, refused, fallback = quoted, False, True
        else:
            answer, refused = message("answer.refused"), True
    timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    timings["prompt_tokens"] = timing.prompt_tokens
    timings["cached_tokens"] = timing.cached_tokens
    timings["prompt_ms"] = round(timing.prompt_ms, 1) if timing.prompt_ms else None
    timings["generated_tokens"] = timing.generated_tokens
    timings["generation_ms"] = round(timing.generation_ms, 1) if timing.generation_ms else None
    yield "done", AskResult(question, standalone, answer, refused, fallback, sources, checked, timings, notes,
                            raw=raw, excerpts=excerpts)


def warm_up(settings: Settings) -> LLM:
    """Load the model and read both fixed prompt prefixes (answers, follow-up rewrites) once, so the first
    visitor, and the first follow-up question, do not pay for them."""
    llm = get_llm(settings)
    if llm.backend == "llamacpp":
        llm.complete(build_messages("Wat is sociaal werk?", []), max_tokens=1)
        llm.complete(rewrite_messages("En wat nog?", [Turn("Wat is sociaal werk?", "Hulp bij problemen.")]),
                     max_tokens=1)
    return llm


def pre_embed_sentences(settings: Settings, limit: int = 3000) -> None:
    """Embed every sentence of a small corpus ahead of time (sentence selection then costs no embedding)."""
    index, embedder = get_index(settings)
    if len(index.passages) <= limit:
        sentence_vectors(embedder, [s.text for p in index.passages for s in sentences_of(p, 0)])


def ask(settings: Settings, question: str, history: list[Turn] | None = None, llm: LLM | None = None) -> AskResult:
    result = None
    for kind, payload in ask_stream(settings, question, history, llm):
        if kind == "done":
            result = payload
    assert result is not None
    return result
