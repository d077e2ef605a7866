"""The CLI contract: search/index, --json, --batch, and clean failures with exit code 2."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_app


def test_search_json(seed_index, cache_dir):
    out = run_app("search", "Wat is de kern van het terugwinnen van vertrouwen?", "--k", "3", "--json",
                  cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"] == "Wat is de kern van het terugwinnen van vertrouwen?"
    assert len(data["passages"]) == 3
    first = data["passages"][0]
    assert set(first) == {"doc", "title", "paragraph", "start", "end", "text", "score"}
    assert first["doc"] == "002_58525c23230dbfbf.txt" and "tijd nemen en in continuïteit" in first["text"]


def test_search_readable(seed_index, cache_dir):
    out = run_app("search", "Hoeveel vrijwilligers zijn er in Nederland?", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    assert "117.000 vrijwilligers" in out.stdout and "alinea" in out.stdout


def test_batch_echoes_ids_and_reports_bad_rows(seed_index, cache_dir, tmp_path):
    rows = [{"id": "q1", "query": "Wie is Monique Kremer?"}, {"id": 7, "query": ""},
            {"id": "q3", "question": "zuurdesem"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{kapot\n", encoding="utf-8")
    out = run_app("search", "--batch", str(path), "--k", "2", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in lines] == ["q1", 7, "q3", None]
    assert len(lines[0]["passages"]) == 2 and "error" in lines[1] and "error" in lines[3]
    assert "zuurdesem" in lines[2]["passages"][0]["text"]


@pytest.mark.parametrize("args, dutch", [
    (["search", ""], "Typ eerst een vraag"),
    (["search", "   "], "Typ eerst een vraag"),
    (["search", "x" * 5000], "te lang"),
    (["search", "vraag", "--corpus", "/bestaat/niet"], "bestaat niet"),
    (["search", "vraag", "--k", "0"], "tussen 1 en"),
    (["search", "--batch", "/bestaat/niet.jsonl"], "batchbestand"),
])
def test_bad_input_exit_code_2_without_traceback(seed_index, cache_dir, args, dutch):
    out = run_app(*args, cache_dir=cache_dir)
    assert out.returncode == 2
    assert dutch in out.stderr and "Traceback" not in out.stderr
    assert "ERROR" in out.stderr  # the English line for the logs


def test_empty_corpus_folder(tmp_path, cache_dir):
    (tmp_path / "leeg").mkdir()
    out = run_app("search", "vraag", "--corpus", str(tmp_path / "leeg"), cache_dir=cache_dir)
    assert out.returncode == 2 and "geen tekst" in out.stderr


def test_index_command(seed_index, cache_dir):
    out = run_app("index", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    assert "5 documenten" in out.stdout


def test_settings_flags_work_before_and_after_the_subcommand():
    from app import _settings, build_parser

    before = _settings(build_parser().parse_args(["--corpus", "/x", "--port", "9000", "search", "q"]))
    after = _settings(build_parser().parse_args(["search", "q", "--corpus", "/y", "--fusion", "rrf"]))
    plain = _settings(build_parser().parse_args(["search", "q"]))
    assert (before.corpus, before.port) == ("/x", 9000)
    assert (after.corpus, after.fusion) == ("/y", "rrf")
    assert plain.fusion == "mix" and plain.corpus.endswith("seeds")
