"""The two records everything else passes around: a cleaned document and a citable passage."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Document:
    """A cleaned document. `text` is the cleaned text that passage offsets point into."""

    id: str
    title: str
    text: str
    author: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd where the text gives one
    source: str | None = None  # path of the file it came from, if any

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Passage:
    """A paragraph a reader would cite: doc.text[start:end] == text."""

    doc: str
    paragraph: int  # 1-based within the document
    start: int
    end: int
    text: str
    title: str

    def to_dict(self) -> dict:
        return asdict(self)
