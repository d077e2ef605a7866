"""The peer baseline of the benchmark report: naive RAG, as most chat-with-your-documents tools do it.

The same model and engine as the product, the same hybrid search, but none of its mechanisms: the top-5
whole passages go into the prompt, and the model's reply, with the citations it writes, is shown as written.
No evidence lines, no grammar, no checks. Its prompt is in prompts/naive_system.txt and naive_user.txt.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from answer.llm import LLM, Timing
from prompts import fold, template, word_pattern
from retrieval.search import Hit
from retrieval.service import Retriever

K = 5
MAX_TOKENS = 160  # room for a few cited sentences; tools like this stop at a paragraph or so
CITATION_RE = re.compile(r"\[(\d+)\]")


@dataclass
class NaiveReply:
    question: str
    reply: str
    hits: list[Hit]
    timings: dict = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        """The model said, in its own words, that the sources do not say (or wrote nothing)."""
        return not self.reply.strip() or bool(word_pattern("refusal_phrases").search(fold(self.reply)))

    @property
    def citations(self) -> list[int]:
        """Every [n] the reply writes, in order, repeats included."""
        return [int(n) for n in CITATION_RE.findall(self.reply)]

    @property
    def phantom(self) -> list[int]:
        """Citations of sources the prompt did not hold."""
        return [n for n in self.citations if not 1 <= n <= len(self.hits)]

    def cited_hits(self) -> list[Hit]:
        return [self.hits[n - 1] for n in dict.fromkeys(self.citations) if 1 <= n <= len(self.hits)]


def messages(question: str, hits: list[Hit]) -> list[dict]:
    sources = "\n\n".join(f"[{i}] {h.passage.title}\n{h.passage.text}" for i, h in enumerate(hits, 1))
    return [{"role": "system", "content": template("naive_system.txt").strip()},
            {"role": "user", "content": template("naive_user.txt").strip().format(sources=sources,
                                                                                   question=question)}]


def ask(retriever: Retriever, llm: LLM, question: str, max_tokens: int = MAX_TOKENS) -> NaiveReply:
    """Search, put the top-K passages in the prompt, return what the model writes, timed like the product."""
    t0 = time.perf_counter()
    hits = retriever.search(question, K)
    timings: dict = {"retrieval_ms": round((time.perf_counter() - t0) * 1000, 1), "first_token_ms": None}
    timing, pieces = Timing(), []
    for piece in llm.stream(messages(question, hits), max_tokens=max_tokens, timing=timing):
        if not pieces:
            timings["first_token_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        pieces.append(piece)
    timings.update(total_ms=round((time.perf_counter() - t0) * 1000, 1), prompt_tokens=timing.prompt_tokens,
                   cached_tokens=timing.cached_tokens, prompt_ms=timing.prompt_ms and round(timing.prompt_ms, 1),
                   generated_tokens=timing.generated_tokens,
                   generation_ms=timing.generation_ms and round(timing.generation_ms, 1))
    return NaiveReply(question, "".join(pieces).strip(), hits, timings)
