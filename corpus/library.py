"""Add and remove documents. The corpus folder on disk is the truth; the index follows it.

Files are checked (type, size, name, encoding, text, duplicates) before anything is written, written
atomically (temporary file, then rename) under an exclusive lock on the folder, so two adds at once cannot
corrupt it and a crash leaves either the old or the new file, never half of one.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from atomic import atomic_write
from config import ROOT, Settings
from corpus.extract import READERS, extract
from corpus.load import TEXT_SUFFIXES, document_from_text, load_corpus, split_document
from errors import UserError

MAX_BYTES = 20 * 1024 * 1024
_NAME_RE = re.compile(r"^[\w][\w .,()+&'-]{0,150}$", re.UNICODE)


def seeds_dir() -> Path:
    return (ROOT / "seeds").resolve()


def corpus_paths(settings: Settings) -> list[Path]:
    """What the corpus is: the configured source, plus the added-documents folder next to seeds/."""
    base = Path(settings.corpus)
    paths = [base]
    added = Path(settings.added_dir)
    if base.resolve() == seeds_dir() and added.is_dir() and any(added.iterdir()):
        paths.append(added)
    return paths


def corpus_state(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint of the corpus on disk: name, size and modification time of every document file in
    the corpus source and, for the default corpus, the added folder (nothing is read). A document added or
    removed by another process (a second app replica, `app.py add`) changes it, so a running app can see that
    its index is stale."""
    bases = [Path(settings.corpus)]
    if bases[0].resolve() == seeds_dir():
        bases.append(Path(settings.added_dir))
    entries: list[tuple[str, int, int]] = []
    for base in bases:
        files = [base] if base.is_file() else []
        for folder, dirs, names in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files += [Path(folder, n) for n in names if not n.startswith(".") and Path(n).suffix.lower() in READERS]
        for f in files:
            try:
                st = f.stat()
            except OSError:  # removed between listing and looking
                continue
            entries.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(sorted(entries))


def add_target(settings: Settings) -> Path:
    """Where added documents go: the added folder for the default corpus, else the corpus folder itself."""
    base = Path(settings.corpus)
    if base.resolve() == seeds_dir():
        return Path(settings.added_dir)
    if base.is_dir():
        return base
    raise UserError("cannot_add_here", f"cannot add documents to a file corpus ({base})", path=str(base))


@contextmanager
def locked(folder: Path):
    """An exclusive lock on the folder for the duration of a change (waits for a concurrent one)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stored_name(name: str) -> str:
    """The file name in the corpus (and so the document id): text formats keep theirs, others become .txt."""
    stem, _, suffix = name.rpartition(".")
    return name if "." + suffix.lower() in TEXT_SUFFIXES else f"{stem}.txt"


def check_name(name: str) -> str:
    if "/" in name or "\\" in name or ".." in name or name.startswith(".") or not _NAME_RE.match(name):
        raise UserError("bad_name", f"refusing file name {name!r}: path parts or odd characters", name=name)
    return name


def _fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).casefold().encode()).hexdigest()


@dataclass
class Added:
    doc_id: str
    title: str
    paragraphs: int
    path: Path


def add_file(settings: Settings, name: str, data: bytes) -> Added:
    """Check and store one document; raise UserError (corpus untouched) if it cannot be added."""
    name = check_name(name)
    if len(data) > MAX_BYTES:
        raise UserError("file_too_large", f"{name}: {len(data)} bytes exceeds {MAX_BYTES}", name=name,
                        limit_mb=MAX_BYTES // (1024 * 1024))
    text = extract(name, data)
    doc_id = _stored_name(name)
    doc = document_from_text(doc_id, text)
    paragraphs = len(split_document(doc, settings.max_passage_chars))
    if not paragraphs:
        raise UserError("empty_file", f"{name}: no text left after cleaning", name=name)
    target = add_target(settings)
    with locked(target):
        existing = load_corpus_or_empty(settings)
        if any(d.id == doc_id for d in existing):
            raise UserError("duplicate_name", f"{doc_id} already exists in the corpus", name=doc_id)
        fp = _fingerprint(doc.text)
        for d in existing:
            if _fingerprint(d.text) == fp:
                raise UserError("duplicate_content", f"{name} has the same text as {d.id}", name=name, other=d.id)
        path = target / doc_id
        # Recorded first: killed in between, the record names a file that is not there (harmless), never a
        # file of ours that the record does not name (which `remove` would then refuse as the user's own).
        _record(target, _recorded(target) | {doc_id})
        atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    return Added(doc_id=doc_id, title=doc.title, paragraphs=paragraphs, path=path)


MANIFEST = ".vraagbaak-added.json"  # the files this app added to a folder: only these may it remove


def _recorded(folder: Path) -> set[str]:
    try:
        return set(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def _record(folder: Path, names: set[str]) -> None:
    atomic_write(folder / MANIFEST, lambda fh: fh.write(json.dumps(sorted(names), ensure_ascii=False).encode()))


def removable(settings: Settings) -> list[str]:
    """Documents the user may remove: every file in the app's own added-documents folder, and in a corpus
    folder of the user's only the files this app added there (their own files are never touched)."""
    try:
        target = add_target(settings)
    except UserError:
        return []
    if not target.is_dir():
        return []
    files = {p.name for p in target.iterdir() if p.is_file() and not p.name.startswith(".")}
    owned = target.resolve() == Path(settings.added_dir).resolve()
    return sorted(files if owned else files & _recorded(target))


def load_corpus_or_empty(settings: Settings):
    """Documents currently in the corpus (an empty added folder is fine)."""
    try:
        return load_corpus(corpus_paths(settings), settings.max_passage_chars).documents
    except UserError as exc:
        if exc.key == "corpus_empty":
            return []
        raise


def remove(settings: Settings, doc_id: str) -> Path:
    """Delete a document this app added. Seed articles, and files of the user's own corpus folder that it
    did not add, are never deleted."""
    target = add_target(settings)
    check_name(doc_id)
    path = target / doc_id
    with locked(target):
        if not path.is_file():
            if (seeds_dir() / doc_id).is_file():
                raise UserError("cannot_remove_seed", f"{doc_id} is a seed article", name=doc_id)
            raise UserError("unknown_document", f"no added document {doc_id}", name=doc_id)
        if doc_id not in removable(settings):
            raise UserError("not_added_here", f"{doc_id} in {target} was not added by this app; not deleting it",
                            name=doc_id)
        path.unlink()
        _record(target, _recorded(target) - {doc_id})
    return path
