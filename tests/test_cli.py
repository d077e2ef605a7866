"""The CLI contract: search/index, --json, --batch, and clean failures with exit code 2."""
from __future__ import annotations

import json

import pytest

import app
from tests.conftest import cli, run_app


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
    out = cli("search", "Hoeveel vrijwilligers zijn er in Nederland?", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    assert "117.000 vrijwilligers" in out.stdout and "alinea" in out.stdout


def test_batch_echoes_ids_and_reports_bad_rows(seed_index, cache_dir, tmp_path):
    rows = [{"id": "q1", "query": "Wie is Monique Kremer?"}, {"id": 7, "query": ""},
            {"id": "q3", "question": "zuurdesem"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{kapot\n", encoding="utf-8")
    out = cli("search", "--batch", str(path), "--k", "2", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in lines] == ["q1", 7, "q3", None]
    assert len(lines[0]["passages"]) == 2 and "error" in lines[1] and "error" in lines[3]
    assert "zuurdesem" in lines[2]["passages"][0]["text"]


@pytest.mark.parametrize("args, dutch", [
    (["search", ""], "Typ eerst een vraag"),
    (["search", "   "], "Typ eerst een vraag"),
    (["search", "x" * 5000], "te lang"),
    (["ask", "?!?!"], "geen woorden"),  # only punctuation: not read as a follow-up to anything
    (["search", "\u200b\u200b …"], "geen woorden"),
    (["search", "vraag", "--corpus", "/bestaat/niet"], "bestaat niet"),
    (["search", "vraag", "--k", "0"], "instelling k"),
    (["search", "vraag", "--fusion", "mixx"], "een van: bm25, dense, mix, rrf"),
    (["search", "vraag", "--dense-weight", "veel"], "een getal"),
    (["ask", "vraag", "--llm-backend", "openai"], "het adres van de server"),
    (["search", "--batch", "/bestaat/niet.jsonl"], "batchbestand"),
])
def test_bad_input_exit_code_2_without_traceback(seed_index, cache_dir, args, dutch, monkeypatch, capsys, caplog):
    """In-process (the same main() the script calls), so that eleven cases cost no eleven interpreter starts;
    the test below runs one of them as a real process."""
    monkeypatch.setenv("VRAAGBAAK_CACHE_DIR", str(cache_dir))
    assert app.main(list(args)) == 2
    assert dutch in capsys.readouterr().err
    assert any(r.levelname == "ERROR" and r.name == "vraagbaak" for r in caplog.records)  # the English log line


def test_bad_input_as_a_real_process(seed_index, cache_dir):
    out = run_app("search", "x" * 5000, cache_dir=cache_dir)
    assert out.returncode == 2
    assert "te lang" in out.stderr and "Traceback" not in out.stderr
    assert "ERROR" in out.stderr  # the English line for the logs


def test_empty_corpus_folder(tmp_path, cache_dir):
    (tmp_path / "leeg").mkdir()
    out = cli("search", "vraag", "--corpus", str(tmp_path / "leeg"), cache_dir=cache_dir)
    assert out.returncode == 2 and "geen tekst" in out.stderr


def test_index_command(seed_index, cache_dir):
    out = cli("index", cache_dir=cache_dir)
    assert out.returncode == 0, out.stderr
    assert "5 documenten" in out.stdout


def _parsed(*argv: str):
    from app import build_parser
    from service import settings_from

    return settings_from(vars(build_parser().parse_args(list(argv))), environ={})


def test_settings_flags_work_before_and_after_the_subcommand():
    before = _parsed("--corpus", "/x", "--port", "9000", "search", "q")
    after = _parsed("search", "q", "--corpus", "/y", "--fusion", "rrf")
    plain = _parsed("search", "q")
    assert (before.corpus, before.port) == ("/x", 9000)
    assert (after.corpus, after.fusion) == ("/y", "rrf")
    assert plain.fusion == "mix" and plain.corpus.endswith("seeds")


def test_every_setting_has_its_flag_and_its_variable():
    import dataclasses

    from config import Settings
    from service import settings_from

    special = {"fusion": "rrf", "llm_backend": "transformers", "embedder": "st:/een/map", "embed_device": "cpu",
               "engine_build": "wheel",
               "dense_weight": "0.5",
               "llm_url": "http://127.0.0.1:1/v1", "lock": "yes", "admin_token": "een-token-van-genoeg-tekens"}
    for f in dataclasses.fields(Settings):
        value = special.get(f.name) or {"int": str(max(7, f.metadata["min"] or 0) + 1), "bool": "true"}.get(f.type, "x")
        flag = ["--" + f.name.replace("_", "-")] + ([] if f.type == "bool" else [value])
        from_flag = getattr(_parsed(*flag, "search", "q"), f.name)
        from_env = getattr(settings_from(environ={f"VRAAGBAAK_{f.name.upper()}": value}), f.name)
        assert from_flag == from_env != getattr(Settings(), f.name), f.name


def test_a_wrong_environment_variable_names_the_setting(cache_dir):
    out = run_app("search", "vraag", cache_dir=cache_dir, env={"VRAAGBAAK_FUSION": "mixx"})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "fusion" in out.stderr and "een van: bm25, dense, mix, rrf" in out.stderr
    assert "setting fusion='mixx' is not valid" in out.stderr  # the English line for the logs


def test_a_failing_batch_row_is_not_reported_as_bad_json(cache_dir, tmp_path):
    """A row that fails for another reason than its JSON gets its own error; the other rows go on."""
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1, "query": "Wie is Monique Kremer?"}\n{"id": 2, "query": ["geen", "tekst"]}\n',
                    encoding="utf-8")
    out = cli("search", "--batch", str(path), cache_dir=cache_dir)
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["passages"] and "geen geldig JSON" not in second["error"]
