"""Answers kept for questions asked again, and one answer for visitors who ask the same thing at once.

At an event many visitors tap the same example questions. Answers are greedy (temperature 0) and depend only
on the question, the corpus and the settings, so the second visitor can get the first one's checked answer at
once instead of a place in the model's waiting line; a visitor who asks while the same question is being
answered waits for that answer instead of asking the model again (single flight), and is told so (event
'shared'). The key holds the index key, so a changed corpus never serves an old answer. Follow-ups that lean
on the conversation are not kept (their answer depends on it). A failed or abandoned answer is not kept, and
whoever waited for it asks the model itself. A brief answer (the lines alone, given while many visitors wait)
goes to those who waited for it but is not kept: asked again when it is calm, the question gets the full one.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, Iterator

from answer.pipeline import AskResult, Event

WAIT_S = 600.0  # the longest a visitor waits for the same question being answered before asking it themselves
POLL_S = 0.5  # how often such a visitor is told ('shared', None) that it waits for that answer


def question_key(index_key: str, question: str) -> tuple[str, str]:
    """Questions that differ only in case, spacing and the marks that end them are the same question."""
    return index_key, " ".join(question.casefold().split()).rstrip(" ?!.")


class _Flight:
    """A question being answered: set when it ends, with the result for those who waited (None: failed)."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.result: AskResult | None = None


class AnswerCache:
    """Up to `size` answers, least recently asked dropped first; thread-safe. `size` 0 keeps none."""

    def __init__(self, size: int):
        self.size = size
        self._done: OrderedDict[Hashable, AskResult] = OrderedDict()
        self._flight: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._done)

    def _claim(self, key: Hashable) -> tuple[AskResult | None, _Flight | None]:
        """(kept answer, None), (None, the flight to wait for), or (None, None): the caller answers it."""
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key], None
            if key in self._flight:
                return None, self._flight[key]
            self._flight[key] = _Flight()
            return None, None

    def _finish(self, key: Hashable, result: AskResult | None) -> None:
        with self._lock:
            if result is not None and not result.brief:
                self._done[key] = result
                while len(self._done) > self.size:
                    self._done.popitem(last=False)
            flight = self._flight.pop(key)
            flight.result = result
            flight.ended.set()

    @staticmethod
    def _served(kept: AskResult) -> Iterator[Event]:
        yield "sources", kept.sources
        yield "done", dataclasses.replace(kept, timings={"retrieval_ms": 0.0, "first_token_ms": None,
                                                         "total_ms": 0.0, "from_cache": True})

    def stream(self, key: Hashable | None, run: Callable[[], Iterator[Event]]) -> Iterator[Event]:
        """The events of `run()`, or of the kept answer for `key` (None: not to be kept)."""
        if key is None or self.size <= 0:
            yield from run()
            return
        while True:
            kept, flight = self._claim(key)
            if kept is not None:
                yield from self._served(kept)
                return
            if flight is None:
                break
            deadline = time.monotonic() + WAIT_S
            while not flight.ended.wait(POLL_S):  # told again and again, so that a page can notice who left
                yield "shared", None
                if time.monotonic() > deadline:
                    yield from run()  # the first asker is taking too long: ask alongside, keep nothing
                    return
            if flight.result is not None and flight.result.brief:
                yield from self._served(flight.result)  # not kept, but what this visitor waited for
                return
        result = None
        try:
            for kind, payload in run():
                if kind == "done":
                    result = payload
                yield kind, payload
        finally:  # also when the visitor leaves or the model fails: the waiting ones must not wait forever
            self._finish(key, result)
