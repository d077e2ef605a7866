"""Checking every quotation in a whole text: finding them (every style, not the apostrophes), checking each
against the real index, the JSON contract, the command line and the readers' block quotations."""
from __future__ import annotations

import io
import json
import subprocess

import pytest

from errors import UserError
from tests.conftest import PYTHON, ROOT, cli
from verify.quotations import find_quotations


def quoted(text: str) -> list[tuple[str, str]]:
    return [(q.text, q.style) for q in find_quotations(text)]


@pytest.mark.parametrize("text, style", [
    ("Zij zei: „Totale inclusie is een illusie.” Daarna niets.", "low-high"),
    ("Zij zei: „Totale inclusie is een illusie.“ Daarna niets.", "low-high"),
    ("Zij zei: “Totale inclusie is een illusie.” Daarna niets.", "curly-double"),
    ('Zij zei: "Totale inclusie is een illusie." Daarna niets.', "straight-double"),
    ("Zij zei: «Totale inclusie is een illusie.» Daarna niets.", "guillemets"),
    ("Zij zei: ‘Totale inclusie is een illusie.’ Daarna niets.", "curly-single"),
    ("Zij zei: 'Totale inclusie is een illusie.' Daarna niets.", "straight-single"),
])
def test_every_quoting_style(text, style):
    assert quoted(text) == [("Totale inclusie is een illusie.", style)]
    q = find_quotations(text)[0]
    assert text[q.start:q.end] == q.text


def test_apostrophes_and_measures_are_not_quotation_marks():
    text = ("In ’t begin was ’t zo’n gedoe: d’r kwamen foto’s en auto's van a’dam, en ’s avonds baby’s. "
            "Hij is 5'10\" lang. Het is m’n werk, zegt Hans' buurman.")
    assert quoted(text) == []
    assert quoted("Hij noemt ’t ‘een illusie van de politiek’ en zo’n ‘dweilen met de kraan open’.") == [
        ("een illusie van de politiek", "curly-single"), ("dweilen met de kraan open", "curly-single")]


def test_line_breaks_paragraphs_nesting_and_blocks():
    text = "Ze schreef: „Totale inclusie\nis een illusie.”\n\nEen „open haakje zonder einde.\n\nDan „dit”."
    assert quoted(text) == [("Totale inclusie\nis een illusie.", "low-high"), ("dit", "low-high")]
    nested = "„Zij noemde het ‘een illusie’ en ging door,” aldus de schrijver."
    assert quoted(nested) == [("Zij noemde het ‘een illusie’ en ging door,", "low-high")]
    block = "Inleiding.\n\n> Totale inclusie is een illusie.\n> Dat moeten we durven zeggen.\n\nSlot."
    (q,) = find_quotations(block)
    assert q.style == "block" and q.text == "Totale inclusie is een illusie. Dat moeten we durven zeggen."
    assert block[q.start:q.end].startswith("Totale") and block[q.start:q.end].endswith("zeggen.")


def test_a_whole_text_gets_a_verdict_per_quotation(vraagbaak):
    text = ("Kremer schrijft: „Totale inclusie is een illusie.” Ook stelt ze dat “totale inclusie een utopie is”. "
            "Ze zou gezegd hebben: 'De gemeente betaalt alle sociaal werkers voortaan dubbel.' Het gaat om "
            "„solidariteit”.")
    result = vraagbaak.check_text(text).to_dict()
    assert [q["verdict"] for q in result["quotations"]] == ["exact", "altered", "absent", "too_short"]
    assert result["summary"] == {"exact": 1, "altered": 1, "absent": 1, "too_short": 1}
    assert set(result) == {"source", "quotations", "summary"}
    for q in result["quotations"]:
        assert text[q["start"]:q["end"]] == q["text"]
        assert set(q) == {"text", "start", "end", "style", "verdict", "matches"}
    exact = result["quotations"][0]["matches"][0]
    assert exact["author"] == "Monique Kremer" and exact["doc"] == "002_58525c23230dbfbf.txt"
    assert result["quotations"][2]["matches"], "an absent quotation shows the closest passages"
    assert vraagbaak.check_text("Geen citaten hier.").to_dict()["quotations"] == []
    with pytest.raises(UserError) as err:
        vraagbaak.check_text("   ")
    assert err.value.key == "empty_text"


def test_block_quotations_in_docx_and_html_files(vraagbaak):
    import docx

    d = docx.Document()
    d.add_paragraph("Een verslag van de lezing.")
    d.add_paragraph("Totale inclusie is een illusie. Dat moeten we als samenleving durven zeggen.", style="Quote")
    d.add_paragraph("Verder „dweilen met de kraan open” zei iemand.")
    buf = io.BytesIO()
    d.save(buf)
    result = vraagbaak.check_file("verslag.docx", buf.getvalue())
    assert [q.quotation.style for q in result.quotations] == ["block", "low-high"]
    page = ("<html><body><article><p>Uit de lezing:</p><blockquote><p>Totale inclusie is een illusie.</p>"
            "</blockquote><p>Einde van het verslag, met genoeg tekst om te lezen.</p></article></body></html>")
    result = vraagbaak.check_file("verslag.html", page.encode())
    assert [(q.quotation.style, q.verdict) for q in result.quotations] == [("block", "exact")]


def test_cli_check_text_json_stdin_and_missing_file(cache_dir, tmp_path):
    path = tmp_path / "stuk.md"
    path.write_text("# Stuk\n\nKremer: „Totale inclusie is een illusie.” En ’t is zo’n „gedoe”.\n", encoding="utf-8")
    out = cli("check-text", str(path), "--json", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["source"] == "stuk.md" and data["summary"]["exact"] == 1 and data["summary"]["too_short"] == 1
    readable = cli("check-text", str(path), cache_dir=cache_dir)
    assert "1 exact" in readable.stdout and "Monique Kremer" in readable.stdout
    piped = subprocess.run([PYTHON, str(ROOT / "app.py"), "check-text", "-", "--json"], input=path.read_text(),
                           capture_output=True, text=True, cwd=ROOT, timeout=120,
                           env={**__import__("os").environ, "VRAAGBAAK_CACHE_DIR": str(cache_dir)})
    assert json.loads(piped.stdout)["summary"] == data["summary"]
    missing = cli("check-text", str(tmp_path / "weg.txt"), cache_dir=cache_dir)
    assert missing.returncode == 2 and "bestaat niet" in missing.stderr


def test_a_report_carries_everything_to_verify_it_and_rechecks(vraagbaak):
    from report.html import report_html

    text = "Kremer: „Totale inclusie is een illusie.” Ook: „De gemeente betaalt alles dubbel, zegt ze.”"
    report = vraagbaak.report(vraagbaak.check_text(text, "stuk.txt"))
    source = report["items"][0]["sources"][0]
    assert {"doc", "title", "author", "date", "paragraph", "start", "end", "text", "doc_sha256"} <= set(source)
    assert report["version"] and report["checked_at"] and report["items"][1]["sources"] == []
    assert [r["status"] for r in vraagbaak.recheck(report)] == ["holds"]
    # The source moved within its document, then its text changed: the re-check says so.
    moved = json.loads(json.dumps(report))
    moved["items"][0]["sources"][0]["start"] += 7
    moved["items"][0]["sources"][0]["end"] += 7
    assert vraagbaak.recheck(moved)[0]["status"] == "moved"
    gone = json.loads(json.dumps(report))
    gone["items"][0]["sources"][0]["text"] = "Totale inclusie is een werkelijkheid"
    gone["items"][0]["sources"][0]["doc"] = "verwijderd.txt"
    assert vraagbaak.recheck(gone)[0]["status"] == "gone"
    with pytest.raises(UserError):
        vraagbaak.recheck({"items": []})
    page = report_html(report)
    assert "<script" not in page and "src=" not in page and "http" not in page.replace("https://", "")
    assert "Totale inclusie is een illusie" in page and source["doc_sha256"] in page
    assert "&lt;" in report_html({**report, "checked_text": "<b>vet</b>"})  # the text is escaped, not markup


def test_cli_report_files_and_verify_report(cache_dir, tmp_path):
    path = tmp_path / "stuk.txt"
    path.write_text("Kremer: „Totale inclusie is een illusie.” En verder niets.\n", encoding="utf-8")
    out = cli("check-text", str(path), "--report", str(tmp_path / "rapport"), cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rapport.html").exists()
    ok = cli("verify-report", str(tmp_path / "rapport.json"), cache_dir=cache_dir)
    assert ok.returncode == 0 and "klopt nog" in ok.stdout
    report = json.loads((tmp_path / "rapport.json").read_text(encoding="utf-8"))
    report["items"][0]["sources"][0]["text"] = "Een zin die nergens staat"
    (tmp_path / "oud.json").write_text(json.dumps(report), encoding="utf-8")
    bad = cli("verify-report", str(tmp_path / "oud.json"), cache_dir=cache_dir)
    assert bad.returncode == 1 and "klopt niet meer" in bad.stdout
    (tmp_path / "geen.json").write_text("[1, 2]", encoding="utf-8")
    wrong = cli("verify-report", str(tmp_path / "geen.json"), cache_dir=cache_dir)
    assert wrong.returncode == 2 and "geen rapport" in wrong.stderr
