"""Write a report as REPORT.json (re-checkable) and REPORT.html (self-contained) side by side."""
from __future__ import annotations

import json
from pathlib import Path

from report.html import report_html


def write_report(report: dict, target: str | Path) -> tuple[Path, Path]:
    base = Path(target).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    json_path, html_path = base.with_suffix(".json"), base.with_suffix(".html")
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    html_path.write_text(report_html(report), encoding="utf-8")
    return json_path, html_path
