"""Indexing progress as people read it: done/total passages, passages per second and time left, in Dutch.

`EmbeddingCache.embed` reports `progress(done, total)` (0 before the first batch, then after each batch); a
`Meter` turns those calls into `Snapshot`s with a rate and the time left and hands each to a sink: the command
line's bar (app.py), the page's progress bar and status line (ui/web.py, through service.Vraagbaak).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from prompts import message


@dataclass(frozen=True)
class Snapshot:
    """Where an embed stands: `rate` in passages per second and `left_s` are None until a batch is done."""

    done: int
    total: int
    elapsed_s: float
    rate: float | None
    left_s: float | None

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def text(self) -> str:
        """The Dutch line: 'Indexeren: 1200/5000 passages, 14,2/s, nog 4 min 27 s'."""
        if self.finished:
            return message("progress.done", total=self.total, took=duration(self.elapsed_s),
                           rate=decimal(self.rate or 0.0))
        if self.rate is None or self.left_s is None:
            return message("progress.starting", done=self.done, total=self.total)
        return message("progress.indexing", done=self.done, total=self.total, rate=decimal(self.rate),
                       left=duration(self.left_s))


class Meter:
    """A `progress(done, total)` callback that measures: the clock starts at the first call (done 0), the rate is
    the passages done since then over the time since then, the time left is what remains at that rate."""

    def __init__(self, sink: Callable[[Snapshot], None], clock: Callable[[], float] = time.monotonic):
        self.sink, self.clock = sink, clock
        self._start: float | None = None
        self._first = 0
        self.last: Snapshot | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self._start is None or done < (self.last.done if self.last else 0) or total != self.last.total:
            self._start, self._first = now, done  # a new embed (a rebuild after the first, another cache kind)
        elapsed = now - self._start
        rate = (done - self._first) / elapsed if done > self._first and elapsed > 0 else None
        left = (total - done) / rate if rate else None
        self.last = Snapshot(done, total, elapsed, rate, left)
        self.sink(self.last)


def decimal(x: float) -> str:
    """One decimal with a decimal comma, as Dutch writes it: 14,2."""
    return f"{x:.1f}".replace(".", ",")


def duration(seconds: float) -> str:
    """'3 s', '4 min 27 s', '2 u 5 min' (Dutch abbreviations, from prompts/messages.toml)."""
    s = max(0, round(seconds))
    if s < 60:
        return message("progress.seconds", s=s)
    if s < 3600:
        return message("progress.minutes", m=s // 60, s=s % 60)
    return message("progress.hours", h=s // 3600, m=s % 3600 // 60)
