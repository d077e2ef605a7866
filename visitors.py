"""Visitors at an event: who may change the corpus, how often one visitor may ask, and how phones join.

The page calls these; they hold no Gradio code. When the app listens beyond this computer (`--host 0.0.0.0`)
or runs as a demonstration (`--demo`), the page is *shared*: a visitor cannot add or remove documents unless
they type the admin token printed at start-up, and each visitor (by network address) may have one question
in flight and a few per minute, so one phone cannot fill the queue for everyone else.
"""
from __future__ import annotations

import collections
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from config import SettingsError
from errors import UserError

WINDOW_S = 60.0


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_address() -> str:
    """This computer's address on the local network (no packet is sent: a UDP socket only picks a route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def join_url(host: str, port: int) -> str:
    """The address visitors type or scan: the LAN address when listening on all interfaces."""
    shown = lan_address() if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/"


def qr_svg(url: str) -> str:
    """A QR code of `url` as inline SVG, made here (segno), no internet."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=6, border=2, dark="#111", light="#fff")


# Setting `lock`: when the admin token is needed to add or remove documents.
LOCK_MODES = ("auto", "yes", "no")
MIN_TOKEN_CHARS = 16  # a token chosen by hand (setting admin_token) must be at least this long


def is_locked(mode: str, demo: bool, host: str) -> bool:
    """'auto': a demonstration, or a page reachable beyond this computer, is locked. Replicas behind a reverse
    proxy listen on 127.0.0.1 yet serve everyone, so they say 'yes'."""
    return mode == "yes" or (mode == "auto" and (demo or not is_loopback(host)))


class Gate:
    """The admin token and the rule of when it is needed. `token`: one chosen in the settings (every replica the
    same); without it each start makes its own (`chosen` tells which, so that a chosen one is never printed)."""

    def __init__(self, locked: bool, token: str | None = None):
        if token and len(token.strip()) < MIN_TOKEN_CHARS:
            raise SettingsError("admin_token", "<hidden>", f"at least {MIN_TOKEN_CHARS} characters",
                                f"minstens {MIN_TOKEN_CHARS} tekens")
        self.locked, self.chosen = locked, bool(token)
        self.token = token.strip() if token else secrets.token_urlsafe(12)

    def check(self, given: str | None) -> None:
        """UserError unless changes are open, or the right token is given."""
        if self.locked and not hmac.compare_digest((given or "").strip(), self.token):
            raise UserError("admin_only", "corpus change refused: locked page and no valid admin token")


class VisitorLimits:
    """At most `in_flight` questions at once and `per_minute` per visitor; thread-safe."""

    def __init__(self, per_minute: int, in_flight: int = 1, clock=time.monotonic, enabled: bool = True):
        self.per_minute, self.in_flight, self.clock, self.enabled = per_minute, in_flight, clock, enabled
        self._busy: collections.Counter[str] = collections.Counter()
        self._recent: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    @contextmanager
    def visit(self, visitor: str) -> Iterator[None]:
        if not self.enabled:  # a page only this computer reaches has one visitor: no limits
            yield
            return
        now = self.clock()
        with self._lock:
            recent = self._recent[visitor]
            while recent and now - recent[0] >= WINDOW_S:
                recent.popleft()
            if self._busy[visitor] >= self.in_flight:
                raise UserError("visitor_busy", f"visitor {visitor} already has a question in flight")
            if len(recent) >= self.per_minute:
                wait = int(WINDOW_S - (now - recent[0])) + 1
                raise UserError("visitor_too_many", f"visitor {visitor} asked {len(recent)} questions in a minute",
                                seconds=wait)
            recent.append(now)
            self._busy[visitor] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[visitor] -= 1
