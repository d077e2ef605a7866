"""The waiting line at the model: `size` questions are answered at once, the others wait in order of arrival
and can each say how many questions are before them.

A semaphore would do the ordering's job but cannot tell a visitor where they stand. With the line in our code
rather than in the web server's queue, everything that does not need the model (kept answers, sources,
quote checks) is served at once while the model is busy, and the page shows each visitor's place.
"""
from __future__ import annotations

import threading


class WaitingLine:
    """Turns at the model for up to `size` holders at once, first come, first served; thread-safe."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a waiting line needs room for at least one holder, not {size}")
        self.size = size
        self._cv = threading.Condition()
        self._order: list[Ticket] = []  # joined and not yet left, in order of arrival

    def join(self) -> Ticket:
        """A place at the end of the line (leave it with `leave()`, or use the ticket as a context manager)."""
        ticket = Ticket(self)
        with self._cv:
            self._order.append(ticket)
        return ticket

    def __len__(self) -> int:
        with self._cv:
            return len(self._order)


class Ticket:
    """One caller's place in a WaitingLine."""

    def __init__(self, line: WaitingLine):
        self._line = line

    def ahead(self) -> int:
        """Questions before this one: being answered, or waiting longer (0 once it has left the line)."""
        with self._line._cv:
            order = self._line._order
            return order.index(self) if self in order else 0

    def behind(self) -> int:
        """Questions that joined after this one and still wait for a turn (0 once it has left). Those that
        joined later but hold a turn beside it (a line of size > 1) are being answered, not waiting."""
        with self._line._cv:
            order = self._line._order
            if self not in order:
                return 0
            return len(order[max(order.index(self) + 1, self._line.size):])

    def has_turn(self) -> bool:
        with self._line._cv:
            return self._has_turn()

    def _has_turn(self) -> bool:
        order = self._line._order
        return self in order and order.index(self) < self._line.size

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it is this ticket's turn (True) or `timeout` seconds have passed (False)."""
        with self._line._cv:
            if self not in self._line._order:
                raise RuntimeError("this ticket has left the line")
            return self._line._cv.wait_for(self._has_turn, timeout)

    def leave(self) -> None:
        """Give up the turn or the place; whoever waits next may go. Leaving twice is harmless."""
        with self._line._cv:
            if self in self._line._order:
                self._line._order.remove(self)
                self._line._cv.notify_all()

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()
