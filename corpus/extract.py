"""Plain text out of the files users add: .txt, .md, .html, .pdf, .docx.

Each reader returns the text (cleaning and splitting happen in corpus.clean / corpus.split like for any
other document) or raises UserError with a Dutch message that says what is wrong with the file.
"""
from __future__ import annotations

import io
import logging
from typing import Callable

from corpus import ocr
from errors import UserError

log = logging.getLogger(__name__)
MIN_TEXT_CHARS = 20


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, else Latin-1.

    Statistical charset detection misreads short Dutch texts (é became ť in tests); for Western European
    text that is not UTF-8, cp1252 is by far the likeliest, and Latin-1 covers the few bytes it lacks."""
    if b"\x00" in data[:8192]:
        raise UserError("binary_file", f"{name}: looks binary (NUL bytes), not text", name=name)
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig":
            log.warning("%s is not UTF-8; decoded it as %s", name, encoding)
        return text
    raise AssertionError("latin-1 decodes any byte string")


def _html(data: bytes, name: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data, name), "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
                     "button", "template"]):
        tag.decompose()
    body = soup.find("article") or soup.find("main") or soup.body or soup
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks = []
    for el in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote", "pre", "td"]):
        if el.find(["p", "li", "blockquote"]):  # a container: its children are visited on their own
            continue
        text = " ".join(el.get_text(" ", strip=True).split())
        if text:
            quoted = el.name == "blockquote" or el.find_parent("blockquote") is not None
            blocks.append(("• " + text) if el.name == "li" else ("> " + text) if quoted else text)
    if not blocks:
        blocks = [line.strip() for line in body.get_text("\n").splitlines() if line.strip()]
    h1 = body.find("h1")
    if title and not (h1 and h1.get_text(strip=True)) and (not blocks or blocks[0] != title):
        blocks.insert(0, title)
    return "\n\n".join(blocks)


def _pdf(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(page.extract_text() or "") for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise UserError("bad_pdf", f"{name}: unreadable PDF ({exc})", name=name) from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if len(text.strip()) < MIN_TEXT_CHARS and any(page.images for page in reader.pages):
        text = ocr.ocr_pages(reader, name)  # a scan: read its page images
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise UserError("pdf_no_text", f"{name}: PDF has no text layer and OCR found no text", name=name)
    return text


def _docx(data: bytes, name: str) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several kinds for a broken file
        raise UserError("bad_docx", f"{name}: unreadable .docx ({exc})", name=name) from exc
    return "\n\n".join(("> " if _is_block_quote(p) else "") + p.text.strip()
                       for p in document.paragraphs if p.text.strip())


def _is_block_quote(paragraph) -> bool:
    """A .docx paragraph set off as a quotation: a quote style, an indent, or italic throughout."""
    style = (paragraph.style.name if paragraph.style is not None else "").lower()
    if "list" in style:
        return False
    if "quote" in style or "citaat" in style:
        return True
    indent = paragraph.paragraph_format.left_indent
    if indent is not None and indent > 0:
        return True
    runs = [r for r in paragraph.runs if r.text.strip()]
    return bool(runs) and all(r.italic or (r.style is not None and r.style.font.italic) for r in runs)


def _text(data: bytes, name: str) -> str:
    return decode_text(data, name)


# The file types documents can come in, by suffix: one reader each (bytes, file name -> text).
READERS: dict[str, Callable[[bytes, str], str]] = {".txt": _text, ".md": _text, ".html": _html, ".htm": _html,
                                                   ".pdf": _pdf, ".docx": _docx}


def suffix_of(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def extract(name: str, data: bytes) -> str:
    """Text of a file by its suffix; UserError for anything unusable."""
    suffix = suffix_of(name)
    if suffix not in READERS:
        raise UserError("unsupported_type", f"{name}: unsupported file type {suffix or '(none)'}", name=name,
                        types=", ".join(sorted(READERS)))
    if not data.strip():
        raise UserError("empty_file", f"{name}: empty file", name=name)
    text = READERS[suffix](data, name)
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise UserError("empty_file", f"{name}: no usable text", name=name)
    return text
