"""Read the text of a scanned (image-only) PDF with OCR: Debian's tesseract with its Dutch data.

The page images are taken out of the PDF as they are (pypdf), so no renderer is needed; tesseract runs as a
program (`tesseract-ocr`, `tesseract-ocr-nld`, installed by setup.sh). Where it is missing the caller gets
a UserError that says so in Dutch, instead of a silent empty document.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from errors import UserError

log = logging.getLogger(__name__)
LANGUAGES = "nld+eng"  # Dutch text; English for quoted titles
TIMEOUT_S = 120  # per page image


def available() -> bool:
    if not shutil.which("tesseract"):
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    return "nld" in langs


def ocr_pages(reader, name: str) -> str:
    """Text of every page image of an open pypdf reader, page by page."""
    if not available():
        raise UserError("ocr_missing", f"{name}: image-only PDF and tesseract (with nld data) is not installed",
                        name=name)
    pages = []
    with tempfile.TemporaryDirectory(prefix="vraagbaak-ocr-") as tmp:
        for p, page in enumerate(reader.pages):
            texts = []
            for i, image in enumerate(page.images):
                path = Path(tmp) / f"p{p}-{i}.png"
                image.image.save(path)
                out = subprocess.run(["tesseract", str(path), "stdout", "-l", LANGUAGES], capture_output=True,
                                     text=True, timeout=TIMEOUT_S)
                if out.returncode != 0:
                    log.warning("tesseract failed on %s page %d: %s", name, p + 1, out.stderr.strip()[:200])
                texts.append(out.stdout.strip())
            pages.append("\n\n".join(t for t in texts if t))
    return "\n\n".join(unwrap(t) for t in pages if t)


def unwrap(text: str) -> str:
    """OCR keeps the scan's line breaks: join the lines of each paragraph, and words hyphenated at a line end."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    out = []
    for p in paragraphs:
        lines = [line.strip() for line in p.splitlines() if line.strip()]
        joined = ""
        for line in lines:
            if joined.endswith("-") and line[:1].islower():
                joined = joined[:-1] + line
            else:
                joined = f"{joined} {line}" if joined else line
        out.append(joined)
    return "\n\n".join(out)
