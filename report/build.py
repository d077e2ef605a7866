"""A report anyone can verify: every quotation or citation with the exact source passage, where it sits
(document id, title, author, date, paragraph, character offsets), the sha256 of the cleaned document text,
the app version and the date of the check. Plain JSON; report/html.py renders the same data."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from answer.pipeline import AskResult
from config import APP_VERSION
from corpus.model import Document
from verify.quotes import Match
from verify.text_check import TextCheck

FORMAT = "vraagbaak-report/1"


def doc_sha256(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


def _header(kind: str) -> dict:
    return {"format": FORMAT, "kind": kind, "app": "Vraagbaak", "version": APP_VERSION,
            "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _place(doc: Document, paragraph: int, start: int, end: int) -> dict:
    return {"doc": doc.id, "title": doc.title, "author": doc.author, "date": doc.date, "paragraph": paragraph,
            "start": start, "end": end, "text": doc.text[start:end], "doc_sha256": doc_sha256(doc)}


def _match(m: Match) -> dict:
    return {**_place(m.doc, m.paragraph, m.start, m.end), "similarity": round(m.similarity, 3),
            "differences": m.differences}


def text_check_report(result: TextCheck) -> dict:
    """Every quotation of a checked text; the places it (nearly) occurs, for exact and altered ones."""
    items = []
    for c in result.quotations:
        q = c.quotation
        shown = c.matches if c.verdict in ("exact", "altered") else []
        items.append({"text": q.text, "start": q.start, "end": q.end, "verdict": c.verdict,
                      "sources": [_match(m) for m in shown]})
    return {**_header("text_check"), "source": result.source, "summary": result.summary(), "items": items,
            "checked_text": result.text}


def answer_report(result: AskResult, documents: dict[str, Document]) -> dict:
    """A chat answer: the question, the answer as shown, and per citation the evidence sentences verbatim."""
    items = []
    for c in result.citations():
        doc = documents[c["doc"]]
        sources = [_place(doc, c["paragraph"], e["start"], e["end"]) for e in c["evidence"] if "start" in e]
        items.append({"text": result.claim or result.answer, "citation": c["n"], "verdict": result.kind,
                      "sources": sources})
    return {**_header("answer"), "question": result.question, "answer": result.answer, "kind": result.kind,
            "items": items}


def recheck(report: dict, documents: dict[str, Document]) -> list[dict]:
    """Does each source of a report still hold in this corpus? Per source: holds (same text at the same place),
    moved (the same text elsewhere: another place or another document), or gone (a source changed or was
    removed and the text is nowhere)."""
    out = []
    for n, item in enumerate(report.get("items", []), start=1):
        for s in item.get("sources", []):
            doc = documents.get(s["doc"])
            text = s["text"]
            if doc is not None and doc.text[s["start"]:s["end"]] == text:
                status, where = "holds", {"doc": doc.id, "start": s["start"], "end": s["end"]}
            else:
                status, where = "gone", None
                candidates = ([doc] if doc is not None else []) + [d for d in documents.values() if d is not doc]
                for d in candidates:
                    i = d.text.find(text)
                    if i >= 0:
                        status, where = "moved", {"doc": d.id, "start": i, "end": i + len(text)}
                        break
            same_doc = doc is not None and doc_sha256(doc) == s.get("doc_sha256")
            out.append({"item": n, "quotation": item.get("text", "")[:200], "doc": s["doc"], "status": status,
                        "now": where, "document_unchanged": same_doc})
    return out
