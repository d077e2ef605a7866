"""Read a corpus from disk: a folder of .txt/.md files or a .jsonl file of {"id","title","text"} rows."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from corpus.clean import clean
from corpus.extract import READERS, decode_text, extract
from corpus.model import Document, Passage
from corpus.split import passages, units
from errors import UserError

log = logging.getLogger(__name__)
TEXT_SUFFIXES = {".txt", ".md"}  # read as they are; other registered types go through their reader


@dataclass
class Corpus:
    documents: list[Document]
    passages: list[Passage]

    def document(self, doc_id: str) -> Document | None:
        return self._by_id().get(doc_id)

    def _by_id(self) -> dict[str, Document]:
        if not hasattr(self, "_index"):
            self._index = {d.id: d for d in self.documents}
        return self._index


def _read_text(path: Path) -> str:
    return decode_text(path.read_bytes(), path.name)


def document_from_text(doc_id: str, raw: str, title: str | None = None, source: str | None = None) -> Document:
    """Clean raw page text into a Document (title from the text unless given)."""
    cleaned = clean(raw)
    text, _ = units(cleaned.lines)
    return Document(id=doc_id, title=(title or cleaned.title or doc_id), text=text,
                    author=cleaned.author, date=cleaned.date, source=source)


def split_document(doc: Document, max_chars: int) -> list[Passage]:
    """Passages of a cleaned document (re-derives the paragraph units from its text)."""
    # Re-splitting on the blank lines `units` wrote reproduces the units exactly, hard-wrapped ones included.
    spans = []
    pos = 0
    for piece in doc.text.split("\n\n"):
        spans.append((pos, pos + len(piece)))
        pos += len(piece) + 2
    spans = [(a, b) for a, b in spans if b > a]
    return passages(doc.id, doc.title, doc.text, spans, max_chars)


def _load_folder(path: Path) -> list[Document]:
    """Every file of a registered type below the folder; one that cannot be read is skipped, with a warning."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READERS
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    docs = []
    for f in files:
        rel = f.relative_to(path).as_posix()
        try:
            docs.append(document_from_text(rel, extract(f.name, f.read_bytes()), source=str(f)))
        except UserError as exc:
            log.warning("skipping %s: %s", f, exc.english)
    return docs


def _load_jsonl(path: Path) -> list[Document]:
    docs = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            doc_id, text = str(row["id"]), str(row["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError("bad_jsonl", f"{path}: line {n} is not a JSON object with 'id' and 'text' ({exc})",
                            path=str(path), line=n) from exc
        docs.append(document_from_text(doc_id, text, title=row.get("title") or None, source=str(path)))
    return docs


def _load_one(p: Path) -> list[Document]:
    if not p.exists():
        raise UserError("corpus_missing", f"corpus path does not exist: {p}", path=str(p))
    try:
        if p.is_dir():
            return _load_folder(p)
        if p.suffix.lower() == ".jsonl":
            return _load_jsonl(p)
        if p.suffix.lower() in READERS:
            return [document_from_text(p.name, extract(p.name, p.read_bytes()), source=str(p))]
        raise UserError("corpus_kind", f"unsupported corpus file type: {p}", path=str(p))
    except PermissionError as exc:
        raise UserError("corpus_unreadable", f"cannot read corpus at {p}: {exc}", path=str(p)) from exc


def load_corpus(path: str | Path | list, max_chars: int = 1200) -> Corpus:
    """Load and clean every document under `path` (or several paths); UserError when nothing is usable."""
    paths = [Path(x) for x in path] if isinstance(path, list) else [Path(path)]
    p = paths[0]
    docs = [d for q in paths for d in _load_one(q)]
    docs = [d for d in docs if d.text.strip()]
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise UserError("duplicate_ids", f"duplicate document ids in {p}: {dupes}", ids=", ".join(dupes))
    all_passages = [ps for d in docs for ps in split_document(d, max_chars)]
    if not all_passages:
        raise UserError("corpus_empty", f"corpus at {p} contains no text", path=str(p))
    return Corpus(documents=docs, passages=all_passages)
