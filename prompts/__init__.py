"""Dutch user-facing text and prompt templates live in files in this folder; this module only reads them."""
from __future__ import annotations

import tomllib
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
