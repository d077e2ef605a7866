"""Every Dutch message in prompts/messages.toml is used by the code, and every key the code asks for exists."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("corpus", "retrieval", "verify", "answer", "report", "ui", "eval")


def _sources() -> str:
    files = [ROOT / f"{name}.py" for name in ("app", "service", "visitors", "config", "errors")]
    files += [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files if p.exists())


def _keys() -> list[tuple[str, str]]:
    data = tomllib.loads((ROOT / "prompts" / "messages.toml").read_text(encoding="utf-8"))
    return [(section, key) for section, table in data.items() for key in table]


def test_no_message_goes_unused():
    code = _sources()
    # message(f"verdict_short.{verdict}") uses every key of a section, message(f"report.status_{s}") those with
    # a prefix; message(f"ui.{key}") only forwards a key that is quoted elsewhere
    dynamic = set(re.findall(r"""f["']([a-z_]+)\.([a-z_]*)\{(?!key\})""", code))
    unused = [f"{s}.{k}" for s, k in _keys()
              if not any(s == ds and k.startswith(prefix) for ds, prefix in dynamic)
              and f'"{k}"' not in code and f'"{s}.{k}"' not in code and f"'{k}'" not in code]
    assert unused == []


def test_huge_input_gets_a_dutch_message_everywhere(vraagbaak):
    """120,000 characters pasted into each box: a message that says how long it may be, nothing crashes (a text
    check takes texts up to 500,000 characters: a long text is what it is for)."""
    import pytest

    from errors import UserError

    huge = "woord " * 20_000
    for call, text, key in [(vraagbaak.search, huge, "query_too_long"), (vraagbaak.quote, huge, "quote_too_long"),
                            (vraagbaak.ask, huge, "query_too_long"), (vraagbaak.check_text, huge * 5, "text_too_long")]:
        with pytest.raises(UserError) as err:
            call(text)
        assert err.value.key == key and "te lang" in err.value.dutch, err.value.dutch
    assert vraagbaak.check_text(huge).quotations == []
