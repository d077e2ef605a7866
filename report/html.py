"""A report as one self-contained HTML file: inline CSS, no scripts, no external resources; it opens offline
in any browser and prints well (one item never split over two pages)."""
from __future__ import annotations

import html

from prompts import message

CSS = """
body { font-family: Georgia, 'DejaVu Serif', serif; max-width: 52em; margin: 2em auto; padding: 0 1em; color: #111;
       line-height: 1.5; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } .meta { color: #555; font-size: 0.9em; }
.item { border: 1px solid #ccc; border-radius: 6px; padding: 0.6em 0.9em; margin: 0.9em 0; break-inside: avoid; }
.tag { border-radius: 4px; padding: 0 0.4em; font-weight: bold; font-family: sans-serif; font-size: 0.85em; }
.exact, .answer { background: #dcfce7; } .altered, .quote { background: #fef3c7; }
.absent, .refused { background: #fee2e2; } .too_short { background: #e5e7eb; }
blockquote { margin: 0.5em 0 0.3em 0; padding-left: 0.8em; border-left: 4px solid #999; }
.where { font-family: sans-serif; font-size: 0.8em; color: #444; word-break: break-all; }
.text { white-space: pre-wrap; border-top: 1px solid #ccc; margin-top: 2em; padding-top: 1em; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text if text is not None else ""), quote=True)


def _t(key: str, **kw) -> str:
    return _e(message(f"report.{key}", **kw))


def _source(s: dict) -> str:
    byline = ", ".join(x for x in (s.get("author"), s.get("date")) if x)
    where = (f"{_e(s['title'])}{' — ' + _e(byline) if byline else ''} · {_e(s['doc'])} · "
             f"{_t('paragraph')} {s['paragraph']} · {_t('chars')} {s['start']}–{s['end']} · "
             f"sha256 {_e(s['doc_sha256'])}")
    diffs = ""
    if s.get("differences"):
        parts = [f"„{_e(d['quote'])}” ↔ „{_e(d['source'])}”" for d in s["differences"]]
        diffs = f"<div class='where'>{_t('differences')}: {'; '.join(parts)}</div>"
    return f"<blockquote>{_e(s['text'])}</blockquote><div class='where'>{where}</div>{diffs}"


def report_html(report: dict) -> str:
    kind = report["kind"]
    title = _t("title_text") if kind == "text_check" else _t("title_answer")
    meta = _t("meta", version=report["version"], checked_at=report["checked_at"])
    head = [f"<h1>{title}</h1><p class='meta'>{meta}</p>"]
    if kind == "text_check":
        head.append(f"<p><b>{_e(report['source'])}</b>: {_t('summary', n=len(report['items']), **report['summary'])}</p>")
    else:
        head.append(f"<p><b>{_t('question')}</b> {_e(report['question'])}</p>"
                    f"<p><b>{_t('answer')}</b> {_e(report['answer'])}</p>")
    items = []
    for n, item in enumerate(report["items"], start=1):
        label = message(f"verdict_short.{item['verdict']}") if kind == "text_check" else f"[{item['citation']}]"
        sources = "".join(_source(s) for s in item["sources"]) or f"<p class='where'>{_t('no_source')}</p>"
        items.append(f"<div class='item'><span class='tag {_e(item['verdict'])}'>{n}. {_e(label)}</span> "
                     f"„{_e(item['text'])}”{sources}</div>")
    text = f"<div class='text'>{_e(report['checked_text'])}</div>" if report.get("checked_text") else ""
    return (f"<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{CSS}</style></head><body>{''.join(head)}{''.join(items)}"
            f"<p class='meta'>{_t('how_to_verify')}</p>{text}</body></html>")
