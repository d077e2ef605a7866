"""A language model that replays given text, for pinning the answer pipeline's branches in fast tests.

Like simonw/llm's MockModel: it has the LLM interface (stream, complete), records what it was asked, and
writes the replies it was given, in order. It does not know the grammar: the text it replays must already
have the form the real model is held to (see answer/prompt.py), or test what the code does when it has not.
"""
from __future__ import annotations

from answer.llm import LLM, Timing


class FakeLLM:
    def __init__(self, *replies: str, step_probs: list[dict[str, float]] | None = None):
        self.replies = list(replies)
        self.step_probs = step_probs
        self.calls: list[dict] = []
        self.llm = LLM(name="fake", backend="fake", _stream=self._stream)

    def _stream(self, messages, max_tokens, timing: Timing, grammar=None, prefill=""):
        self.calls.append({"messages": messages, "grammar": grammar, "prefill": prefill, "max_tokens": max_tokens})
        reply = self.replies.pop(0) if self.replies else ""
        if len(reply.split(" ")) > max_tokens:  # a word counts as a token: the limit cuts the reply off
            reply, timing.cut = " ".join(reply.split(" ")[:max_tokens]), True
        timing.prompt_tokens, timing.cached_tokens, timing.generated_tokens = 100, 0, len(reply.split())
        timing.prompt_ms = timing.generation_ms = 1.0
        timing.step_probs = self.step_probs
        for i in range(0, len(reply), 7):  # in pieces, as a real model streams
            yield reply[i:i + 7]
