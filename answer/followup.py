"""Follow-up questions: "En hoeveel vrijwilligers?" after a question about sociaal werkers.

A question that leans on the conversation (opens with "En", "Maar", "Waarom", or uses a pronoun) is
rewritten by the model into one that stands alone, with the names and topics of the last two turns, and
that question is what retrieval and answering see. The rewrite prompt has its own cached prefix.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from answer.line import Ticket
from answer.llm import LLM
from errors import UserError
from prompts import fold, template, word_pattern
from retrieval.text import content_stems
from verify.dutch import looks_english

log = logging.getLogger(__name__)


@dataclass
class Turn:
    question: str
    answer: str


SHORT_QUESTION_WORDS = 6  # a question this short ("Kun je een voorbeeld geven?") rarely names its own topic


def looks_like_follow_up(question: str) -> bool:
    """Opens like a follow-up ("En ...", "Waarom?"), points back (a pronoun, "daar"), or is too short to
    name its own topic."""
    q = fold(question.strip())
    return bool(word_pattern("follow_up_openers", anchored=True).match(q) or word_pattern("follow_up_words").search(q)
                or len(q.split()) <= SHORT_QUESTION_WORDS)


HISTORY_ANSWER_CHARS = 250  # of each earlier answer: its first paragraph is the claim, the rest its evidence


def gist(answer: str) -> str:
    """The part of an earlier answer the rewrite needs: its first paragraph, shortened."""
    first = answer.strip().split("\n\n")[0].strip()
    return first if len(first) <= HISTORY_ANSWER_CHARS else first[:HISTORY_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"


def rewrite_messages(question: str, history: list[Turn]) -> list[dict]:
    """System prompt and worked example first (a fixed prefix, cached), then the last two turns."""
    convo = "\n".join(f"Vraag: {t.question}\nAntwoord: {gist(t.answer)}" for t in history[-2:])
    messages = [{"role": "system", "content": template("rewrite_system.txt").strip()}]
    for ex in json.loads(template("rewrite_examples.json")):
        messages += [{"role": "user", "content": ex["user"]}, {"role": "assistant", "content": ex["assistant"]}]
    messages.append({"role": "user", "content": f"Gesprek:\n{convo}\n\nLaatste vraag: {question}"})
    return messages


def standalone_question(llm: LLM, question: str, history: list[Turn], ticket: Ticket | None = None) -> str:
    """The follow-up rewritten to stand alone, or the question itself when it needs no rewriting; `ticket`: a
    turn at the model already taken (see LLM.stream)."""
    if not history or not looks_like_follow_up(question):
        return question
    try:
        lines = llm.complete(rewrite_messages(question, history), max_tokens=48, ticket=ticket).strip().splitlines()
        rewritten = lines[0].strip() if lines else ""
    except Exception as exc:  # a failed rewrite must not lose the question
        log.error("follow-up rewrite failed: %s", exc)
        rewritten = ""
    if 5 <= len(rewritten) <= 3 * len(question) + 80 and keeps_the_question(question, rewritten):
        return rewritten
    log.info("follow-up rewrite %r rejected for %r", rewritten, question)
    # The model's rewrite is unusable: search with the earlier question's words too, where they add any.
    earlier = history[-1].question
    if set(content_stems(earlier)) <= set(content_stems(question)):
        return question
    return f"{question} ({earlier})"


def keeps_the_question(question: str, rewritten: str) -> bool:
    """A rewrite must still ask what the follow-up asks: most of its own content words stay ("Waar werkt
    zij?" may not become the previous question again), and so does the word it asks with ("wie" may not
    become "waarom"). English follow-ups are translated, so not checked."""
    if looks_english(question):
        return True
    asks = word_pattern("question_words").search(fold(question))
    if asks and not re.search(rf"\b{re.escape(asks.group())}\b", fold(rewritten)):
        return False
    own = set(content_stems(question))
    return not own or len(own & set(content_stems(rewritten))) >= len(own) / 2


def history_from(rows: object) -> list[Turn]:
    """Turns from API or batch input: a list of {"question", "answer"} objects (anything else is an error)."""
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("question"), str)
                                             and isinstance(r.get("answer", ""), str) for r in rows):
        raise UserError("bad_history", "history must be a list of {\"question\": str, \"answer\": str} objects")
    return [Turn(r["question"], r.get("answer", "")) for r in rows]
