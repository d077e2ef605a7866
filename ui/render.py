"""HTML for the web page: answers with clickable citations, sources with highlights, quote verdicts, documents.

Pure functions from results to strings, so they are tested without a browser; every piece of corpus text
is escaped before it is marked up.
"""
from __future__ import annotations

import html
import re

from answer.pipeline import AskResult, Source
from corpus.model import Document, Passage
from prompts import message
from verify.quotes import Match, QuoteResult
from verify.text_check import TextCheck


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def ui_text(key: str, **kw) -> str:
    """A Dutch text of the page (prompts/messages.toml, section [ui])."""
    return message(f"ui.{key}", **kw)


def _byline(doc: Document | None) -> str:
    if doc is None:
        return ""
    parts = [x for x in (doc.author, doc.date) if x]
    return f" — {_e(', '.join(parts))}" if parts else ""


def _highlight(text: str, spans: list[tuple[int, int]]) -> str:
    """Escape text and wrap the (relative) spans in <mark>."""
    out, pos = [], 0
    for a, b in sorted(spans):
        a, b = max(a, pos), min(b, len(text))
        if a >= b:
            continue
        out += [_e(text[pos:a]), "<mark>", _e(text[a:b]), "</mark>"]
        pos = b
    out.append(_e(text[pos:]))
    return "".join(out).replace("\n\n", "<br><br>")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_escape(text: str) -> str:
    """Text shown as itself in Markdown: corpus text may hold "[1]" or "*" that must not become markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _link(n: int) -> str:
    return f"[[{n}]](#bron-{n})"


def answer_markdown(result: AskResult) -> str:
    """The chat bubble: the checked claim with citation links, then its evidence verbatim as quotations."""
    if result.kind == "refused":
        return md_escape(message("answer.refused"))
    quotes = []
    for e in result.evidence:
        body = md_escape(e.text) if e.byline else f"„{md_escape(e.text)}”"
        quotes.append(f"> {body} {_link(e.source + 1)}")
    if result.kind == "answer" and not result.verbatim:
        claim = md_escape(result.claim)
        m = re.search(r"[.!?…]+$", claim)
        marks = "".join("\u00a0" + _link(n) for n in result.claim_sources())
        head = claim[:m.start()] + marks + m.group() if m else claim + marks
        return head + "\n\n" + "\n>\n".join(quotes)
    return f"*{md_escape(message('answer.quote_intro'))}*\n\n" + "\n>\n".join(quotes)  # or a verbatim answer


def sources_html(sources: list[Source], cited: set[int] | None = None,
                 documents: dict[str, Document] | None = None, open_all: bool = False) -> str:
    """Numbered sources; the sentences the model was shown are highlighted, cited ones are marked."""
    if not sources:
        return f"<p class='vb-muted'>{_e(ui_text('sources_empty'))}</p>"
    parts = [f"<h3>{_e(ui_text('sources_heading'))}</h3>"]
    for s in sources:
        p: Passage = s.passage
        spans = [(x.start - p.start, x.end - p.start) for x in s.sentences]
        doc = (documents or {}).get(p.doc)
        is_cited = cited is not None and s.n in cited
        parts.append(
            f"<details class='vb-source{' vb-cited' if is_cited else ''}' id='bron-{s.n}'"
            f"{' open' if open_all or is_cited else ''}>"
            f"<summary><b>[{s.n}]</b> {_e(p.title)}{_byline(doc)} · {_e(ui_text('paragraph'))} {p.paragraph}</summary>"
            + "".join(f"<div class='vb-byline'><mark>{_e(b.text)}</mark></div>" for b in s.bylines)
            + f"<div class='vb-passage' data-doc='{_e(p.doc)}' data-paragraph='{p.paragraph}'>"
            f"{_highlight(p.text, spans)}</div>"
            f"<div class='vb-meta'>{_e(p.doc)} · {_e(ui_text('chars'))} {p.start}–{p.end}</div></details>")
    return "\n".join(parts)


def _diff_html(text: str, start: int, differences: list[dict]) -> str:
    """The source text with the words that differ from the quote highlighted."""
    spans = []
    for d in differences:
        if d["source"]:
            i = text.find(d["source"])
            if i >= 0:
                spans.append((i, i + len(d["source"])))
    return _highlight(text, spans)


def error_html(dutch: str) -> str:
    """A refused input in the quote and text-check panels (the message may repeat a file name: escaped)."""
    return f"<div class='vb-verdict vb-absent' data-verdict='error'>{_e(dutch)}</div>"


def quote_html(result: QuoteResult) -> str:
    verdict = result.verdict
    label = message(f"verdict_short.{verdict}")
    parts = [f"<div class='vb-verdict vb-{verdict}' data-verdict='{verdict}' title='{_e(label)}'>"
             f"<b>{_e(message(f'verdicts.{verdict}'))}</b></div>"]
    if verdict == "absent" and result.matches:
        parts.append(f"<p>{_e(ui_text('quote_closest'))}</p>")
    parts += [match_html(verdict, m) for m in result.matches]
    return "\n".join(parts)


def match_html(verdict: str, m: Match) -> str:
    """Where a quotation (nearly) occurs: document, paragraph, offsets, the source text, the differences."""
    d = m.to_dict()
    where = (f"{_e(d['title'])}{_byline(m.doc)} · {_e(d['doc'])} · {_e(ui_text('paragraph'))} {d['paragraph']}"
             f"{'–' + str(d['paragraph_end']) if 'paragraph_end' in d else ''} · {_e(ui_text('chars'))} "
             f"{d['start']}–{d['end']} · {_e(ui_text('similarity'))} {d['similarity']:.0%}")
    body = _diff_html(m.text, m.start, m.differences) if verdict == "altered" else _e(m.text)
    diffs = ""
    if verdict == "altered" and m.differences:
        items = []
        for x in m.differences:
            if x["type"] == "changed":
                items.append(f"<li>citaat <del>{_e(x['quote'])}</del> ↔ bron <ins>{_e(x['source'])}</ins></li>")
            elif x["type"] == "added":
                items.append(f"<li>toegevoegd in het citaat: <del>{_e(x['quote'])}</del></li>")
            else:
                items.append(f"<li>weggelaten uit de bron: <ins>{_e(x['source'])}</ins></li>")
        diffs = f"<div class='vb-diffs'><b>{_e(ui_text('quote_differences'))}</b><ul>{''.join(items)}</ul></div>"
    return (f"<div class='vb-match'><div class='vb-where'>{where}</div>"
            f"<blockquote class='vb-original'>{body}</blockquote>{diffs}</div>")



def text_check_html(result: TextCheck) -> str:
    """The checked text with every quotation marked in its verdict's colour (a click jumps to its source),
    and beside it the list of quotations with the source passages."""
    summary = result.summary()
    head = (f"<div class='vb-summary' data-quotations='{len(result.quotations)}'>"
            f"{_e(ui_text('check_summary', n=len(result.quotations), **summary))}</div>")
    if not result.quotations:
        return head
    text, pos, marked = result.text, 0, []
    for n, c in enumerate(result.quotations, start=1):
        q = c.quotation
        label = message(f"verdict_short.{c.verdict}")
        marked.append(_e(text[pos:q.start]))
        marked.append(f"<a class='vb-q vb-{c.verdict}' data-verdict='{c.verdict}' href='#vb-q{n}' title='{_e(label)}'>"
                      f"{_e(text[q.start:q.end])}<sup>{n}</sup></a>")
        pos = q.end
    marked.append(_e(text[pos:]))
    items = []
    for n, c in enumerate(result.quotations, start=1):
        label = message(f"verdict_short.{c.verdict}")
        matches = c.matches[:1] if c.verdict in ("exact", "altered") else c.matches
        closest = f"<p>{_e(ui_text('quote_closest'))}</p>" if c.verdict == "absent" and matches else ""
        body = closest + "".join(match_html(c.verdict, m) for m in matches)
        items.append(f"<details id='vb-q{n}' class='vb-item' data-verdict='{c.verdict}'{' open' if body else ''}>"
                     f"<summary><span class='vb-verdict-tag vb-{c.verdict}'>{n}. {_e(label)}</span> "
                     f"„{_e(_short(c.quotation.text))}”</summary>{body}</details>")
    return (f"{head}<div class='vb-check'><div class='vb-checked-text'>{''.join(marked)}</div>"
            f"<div class='vb-check-list'>{''.join(items)}</div></div>")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def join_html(url: str, qr: str) -> str:
    """The address visitors type or scan to join from their phones."""
    return (f"<div class='vb-join'>{qr}<div><div>{_e(ui_text('join_intro'))}</div>"
            f"<div class='vb-join-url'>{_e(url)}</div></div></div>")

def documents_rows(documents: list[Document], passages: list[Passage]) -> list[list]:
    counts: dict[str, int] = {}
    for p in passages:
        counts[p.doc] = counts.get(p.doc, 0) + 1
    unknown = ui_text("unknown")
    return [[d.title, d.author or unknown, d.date or unknown, d.id, counts.get(d.id, 0)] for d in documents]


def document_html(doc: Document | None, passages: list[Passage], highlight: int | None = None) -> str:
    """A whole document with its paragraph numbers, so a citation can be read in context."""
    if doc is None:
        return ""
    parts = [f"<h2>{_e(doc.title)}</h2><p class='vb-muted'>{_e(doc.id)}{_byline(doc)}</p>"]
    for p in passages:
        if p.doc != doc.id:
            continue
        cls = " vb-highlight" if highlight == p.paragraph else ""
        parts.append(f"<div class='vb-para{cls}' id='alinea-{p.paragraph}'><span class='vb-num'>¶{p.paragraph}</span>"
                     f"{_e(p.text).replace(chr(10) * 2, '<br><br>')}</div>")
    return "\n".join(parts)
