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
