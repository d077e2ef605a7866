"""Dutch user-facing text and prompt templates live in files in this folder; this module only reads them."""
from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _messages() -> dict:
    with open(HERE / "messages.toml", "rb") as fh:
        return tomllib.load(fh)


def message(key: str, **params: object) -> str:
    """The Dutch message for `key` ("section.name"), formatted with params."""
    node: object = _messages()
    for part in key.split("."):
        node = node[part]  # type: ignore[index]
    return str(node).format(**params)


@lru_cache(maxsize=None)
def template(name: str) -> str:
    """A prompt template file from this folder, e.g. template('answer_system.txt')."""
    return (HERE / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _language() -> dict:
    with open(HERE / "language.toml", "rb") as fh:
        return tomllib.load(fh)


def words(name: str) -> tuple[str, ...]:
    """A Dutch word list from language.toml (e.g. words('negations'))."""
    return tuple(_language()[name])


def fold(text: str) -> str:
    """Lower case without accents, with one kind of apostrophe: how word lists are matched."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


@lru_cache(maxsize=None)
def word_pattern(name: str, anchored: bool = False) -> re.Pattern:
    """A regex matching any entry of a word list as whole words ('hier*' matches hierdoor, hiermee ...).
    Match it against fold(text); `anchored` matches at the start only (after opening quotes)."""
    # "*" stands for letters within a word ("auteur*") or for any few words between two ("wie heeft * geschreven")
    alternatives = sorted((re.escape(fold(w)).replace(r"\ \*\ ", r"(?:\ \S+){1,6}\ ").replace(r"\*", r"\w*")
                           for w in words(name)), key=len, reverse=True)
    body = r"\b(?:" + "|".join(alternatives) + r")\b"
    return re.compile(r"^[\s\"'„“‘(«]*" + body if anchored else body)
