"""Growing the corpus: add and remove documents of every kind, refuse bad files, index stays exact."""
from __future__ import annotations

import io
import json
import os
import subprocess
import time

import numpy as np
import pytest

from corpus import library, ocr
from errors import UserError
from service import Vraagbaak, settings_from
from tests.conftest import PYTHON, ROOT

ARTICLE = ("Wijkteams in Enschede\n\nIn Enschede werken de wijkteams sinds 2021 met vaste contactpersonen voor "
           "elk gezin. Volgens de gemeente voelen bewoners zich daardoor beter gehoord.\n\nDe teams krijgen "
           "volgend jaar extra geld voor preventie en voor het werk in de buurthuizen.\n")


@pytest.fixture()
def lib(tmp_path, cache_dir):
    """Settings with the seed corpus and a fresh added-documents folder (the shared embedding cache)."""
    return settings_from({"cache_dir": str(cache_dir), "added_dir": str(tmp_path / "added")}, environ={})


def _pdf(text: str | None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if text:
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    else:
        pdf.rect(20, 20, 100, 60, style="F")  # a drawing, no text: like a scan
    return bytes(pdf.output())


def _docx(paragraphs: list[str]) -> bytes:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_every_supported_format_is_added_and_found(lib):
    files = {
        "wijkteams.txt": ARTICLE.encode(),
        "notitie.md": b"# Mantelzorg\n\nMantelzorgers in Deventer krijgen een jaarlijkse waardering van 150 euro.\n",
        "pagina.html": (b"<html><head><title>Voedselbank</title><script>track()</script></head><body>"
                        b"<nav>Home | Contact</nav><article><h1>Voedselbank Zwolle</h1><p>De voedselbank in Zwolle "
                        b"helpt elke week 400 huishoudens met een pakket.</p></article><footer>Cookies</footer>"
                        b"</body></html>"),
        "rapport.pdf": _pdf("Schuldhulp in Almelo. In Almelo wachten inwoners gemiddeld zes weken op "
                            "schuldhulpverlening, blijkt uit het rapport."),
        "verslag.docx": _docx(["Jongerenwerk in Hengelo", "Het jongerenwerk in Hengelo bereikt 300 jongeren "
                                                        "per maand via sport en muziek."]),
    }
    for name, data in files.items():
        added = library.add_file(lib, name, data)
        assert added.path.exists() and added.paragraphs >= 1
    assert sorted(p.name for p in (library.add_target(lib)).iterdir() if not p.name.startswith(".")) == \
        ["notitie.md", "pagina.txt", "rapport.txt", "verslag.txt", "wijkteams.txt"]
    html_text = (library.add_target(lib) / "pagina.txt").read_text()
    assert "400 huishoudens" in html_text and "track()" not in html_text and "Cookies" not in html_text
    for question, doc in [("Hoe lang wachten inwoners van Almelo op schuldhulp?", "rapport.txt"),
                          ("Hoeveel jongeren bereikt het jongerenwerk in Hengelo?", "verslag.txt"),
                          ("Hoeveel huishoudens helpt de voedselbank in Zwolle?", "pagina.txt"),
                          ("Wat krijgen mantelzorgers in Deventer?", "notitie.md")]:
        assert Vraagbaak(lib).search(question, 1)[0].passage.doc == doc


@pytest.mark.parametrize("name, data, key", [
    ("leeg.txt", b"", "empty_file"),
    ("spaties.txt", b"   \n\n  ", "empty_file"),
    ("binair.txt", b"\x00\x01\x02PNG\x00" * 50, "binary_file"),
    ("scan.pdf", None, "pdf_no_text"),
    ("kapot.pdf", b"%PDF-1.4 dit is geen pdf", "bad_pdf"),
    ("kapot.docx", b"PK\x03\x04 geen word", "bad_docx"),
    ("plaatje.png", b"\x89PNG\r\n", "unsupported_type"),
    ("../../etc/passwd.txt", ARTICLE.encode(), "bad_name"),
    ("..verstopt.txt", ARTICLE.encode(), "bad_name"),
    ("groot.txt", b"woord " * (4 * 1024 * 1024), "file_too_large"),
])
def test_bad_files_are_refused_and_nothing_changes(lib, name, data, key):
    data = _pdf(None) if data is None else data
    with pytest.raises(UserError) as err:
        library.add_file(lib, name, data)
    assert err.value.key == key and err.value.dutch and err.value.english
    target = library.add_target(lib)
    assert not target.exists() or not [p for p in target.iterdir() if not p.name.startswith(".")]


def test_duplicates_are_refused(lib):
    library.add_file(lib, "wijkteams.txt", ARTICLE.encode())
    with pytest.raises(UserError) as same_name:
        library.add_file(lib, "wijkteams.txt", b"Een ander stuk tekst over de wijk en de buurt in Enschede.")
    with pytest.raises(UserError) as same_text:
        library.add_file(lib, "kopie.txt", ARTICLE.replace("\n", "\r\n").encode())
    seed = (ROOT / "seeds" / "004_2ca47b64a9ad85fe.txt").read_bytes()
    with pytest.raises(UserError) as seed_copy:
        library.add_file(lib, "stokjes.txt", seed)
    assert (same_name.value.key, same_text.value.key, seed_copy.value.key) == \
        ("duplicate_name", "duplicate_content", "duplicate_content")


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_legacy_encodings_are_read_correctly(lib, encoding):
    text = "Café De Ontmoeting\n\nIn het café ontmoeten ouderen en jongeren elkaar; de één leert de ander.\n"
    added = library.add_file(lib, f"cafe-{encoding}.txt", text.encode(encoding))
    stored = added.path.read_text(encoding="utf-8")
    assert "café ontmoeten ouderen" in stored and "één" in stored


def test_incremental_index_equals_a_full_rebuild(tmp_path, cache_dir, small_corpus):
    """A corpus of its own (two short articles), so that the from-scratch build it is compared with is cheap."""
    lib = settings_from({"cache_dir": str(cache_dir), "corpus": str(small_corpus),
                         "added_dir": str(tmp_path / "added")}, environ={})
    before = Vraagbaak(lib).retriever.index
    stamp = str(time.time_ns())  # text no earlier test embedded
    unique = ARTICLE.replace("2021", stamp).replace("volgend jaar", f"in {stamp}")
    library.add_file(lib, "wijkteams.txt", unique.encode())
    after = Vraagbaak(lib).retriever.index
    manifest = json.loads((after.path / "manifest.json").read_text())
    assert manifest["embedded_now"] == len(after.passages) - len(before.passages)  # only the new passages
    fresh = settings_from({"cache_dir": str(tmp_path / "fresh"), "corpus": lib.corpus, "added_dir": lib.added_dir},
                          environ={})
    full = Vraagbaak(fresh).rebuild().index
    assert [p.to_dict() for p in full.passages] == [p.to_dict() for p in after.passages]
    assert np.allclose(full.vectors, after.vectors, atol=1e-5)

    library.remove(lib, "wijkteams.txt")
    removed = Vraagbaak(lib).retriever.index
    assert [p.to_dict() for p in removed.passages] == [p.to_dict() for p in before.passages]
    assert np.allclose(removed.vectors, before.vectors, atol=1e-5)


def test_seed_articles_cannot_be_removed(lib):
    with pytest.raises(UserError) as err:
        library.remove(lib, "000_5baeb642dc7a47c9.txt")
    assert err.value.key == "cannot_remove_seed"
    assert (ROOT / "seeds" / "000_5baeb642dc7a47c9.txt").exists()


def test_two_adds_at_once_do_not_corrupt_anything(lib, tmp_path, cache_dir):
    files = []
    for i in range(2):
        f = tmp_path / f"stuk{i}.txt"
        f.write_text(f"Stuk {i}\n\nIn wijk {i} helpen {10 + i} vrijwilligers bij de moestuin en de koffieochtend.\n",
                     encoding="utf-8")
        files.append(f)
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache_dir), "VRAAGBAAK_ADDED_DIR": lib.added_dir}
    procs = [subprocess.Popen([PYTHON, str(ROOT / "app.py"), "add", str(f), "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    stored = sorted(p.name for p in library.add_target(lib).iterdir() if not p.name.startswith("."))
    assert stored == ["stuk0.txt", "stuk1.txt"]
    index = Vraagbaak(lib).retriever.index
    assert {"stuk0.txt", "stuk1.txt"} <= {d.id for d in index.documents}
    assert index.dense.ntotal == len(index.passages)


def test_cli_add_and_remove(lib, tmp_path, cache_dir):
    f = tmp_path / "wijkteams.txt"
    f.write_text(ARTICLE, encoding="utf-8")
    bad = tmp_path / "leeg.txt"
    bad.write_text("")
    env = {**os.environ, "VRAAGBAAK_CACHE_DIR": str(cache_dir), "VRAAGBAAK_ADDED_DIR": lib.added_dir}
    out = subprocess.run([PYTHON, str(ROOT / "app.py"), "add", str(f), str(bad)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2 and "Toegevoegd: wijkteams.txt" in out.stdout and "leeg.txt" in out.stderr
    out = subprocess.run([PYTHON, str(ROOT / "app.py"), "remove", "wijkteams.txt"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "Verwijderd" in out.stdout
    out = subprocess.run([PYTHON, str(ROOT / "app.py"), "remove", "wijkteams.txt"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2 and "Er is geen toegevoegd document" in out.stderr


def test_remove_never_deletes_the_users_own_corpus_files(tmp_path, cache_dir):
    """With --corpus pointing at the user's folder, `add` writes there; `remove` may delete only what it added."""
    own = tmp_path / "mijn-corpus"
    own.mkdir()
    (own / "eigen.txt").write_text(ARTICLE, encoding="utf-8")
    settings = settings_from({"cache_dir": str(cache_dir), "corpus": str(own)}, environ={})
    with pytest.raises(UserError) as err:
        library.remove(settings, "eigen.txt")
    assert err.value.key == "not_added_here" and (own / "eigen.txt").exists()
    assert library.removable(settings) == []
    library.add_file(settings, "nieuw.txt", b"Nieuw stuk\n\nIn Zwolle helpen twintig vrijwilligers bij de tuin.\n")
    assert library.removable(settings) == ["nieuw.txt"]
    library.remove(settings, "nieuw.txt")
    assert not (own / "nieuw.txt").exists() and (own / "eigen.txt").exists()


def _scanned_pdf(text: str) -> bytes:
    """A page of `text` as an image only (no text layer), as a scanner makes it."""
    import textwrap

    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=36)
    lines = textwrap.wrap(text, 70)
    image = Image.new("L", (1700, 120 + 52 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((80, 60 + 52 * i), line, fill=0, font=font)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    return bytes(pdf.output())


@pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr with Dutch data is not installed (setup.sh does it)")
def test_a_scanned_pdf_is_read_with_ocr_and_its_quotation_found_exact(lib):
    from pypdf import PdfReader

    doc = Vraagbaak(lib).retriever.index.document("002_58525c23230dbfbf.txt")
    paragraph = next(p for p in doc.text.split("\n\n") if "Totale inclusie is een illusie" in p)
    scan = _scanned_pdf(paragraph)
    assert not (PdfReader(io.BytesIO(scan)).pages[0].extract_text() or "").strip()  # really no text layer
    library.add_file(lib, "scan-kremer.pdf", scan)
    app = Vraagbaak(lib)
    result = app.quote("Totale inclusie is een illusie")
    assert result.verdict == "exact"
    assert "scan-kremer.txt" in {m.doc.id for m in result.matches} or \
        any(m.doc.id.startswith("scan-kremer") for m in result.matches)
