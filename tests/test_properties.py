"""Generated input (hypothesis) thrown at every function that takes user text: nothing raises but our own
UserError, and the invariants hold (offsets point at the text they name, verdicts are one of the allowed,
rendered HTML holds no tag the input smuggled in)."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errors import UserError
from ui import render
from verify.claims import check_claim
from verify.quotations import find_quotations
from verify.text_check import VERDICTS

PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
QUOTES = "„”“‘’'\"«»"
# Text that looks like what people paste: Dutch words, quotation marks, apostrophes, markup, control and
# zero-width characters, emoji and other scripts.
PIECES = st.sampled_from(["Totale inclusie is een illusie", "sociaal werk", "’t", "zo’n", "5'10\"", "<script>",
                          "</b>", "[1](http://x.nl)", "**vet**", "\n", "\n\n", "> ", "…", "[…]", "\u200b", "\x00",
                          "😀", "Σωκράτης", "сотрудник", " ", "."] + list(QUOTES))
TEXTS = st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=40).map("".join))


# The only tags the renderers write; any other (<script>, an input's </b> outside <b>...) was smuggled in.
OWN_TAGS = {"div", "a", "sup", "details", "summary", "span", "blockquote", "b", "ul", "li", "del", "ins", "p", "mark",
            "br"}
VOID = {"br"}


def own_tags_only(page: str) -> bool:
    tags = re.findall(r"<\s*/?\s*([a-zA-Z][\w-]*)", page)
    opened = [t for t in re.findall(r"<\s*([a-zA-Z][\w-]*)", page) if t not in VOID]
    closed = re.findall(r"<\s*/\s*([a-zA-Z][\w-]*)", page)
    return set(tags) <= OWN_TAGS and sorted(opened) == sorted(closed)  # nothing unbalanced slipped in


@PROFILE
@given(TEXTS)
def test_found_quotations_point_at_their_text(text):
    found = find_quotations(text)
    for q in found:
        assert 0 <= q.start <= q.end <= len(text)
        if q.style != "block":
            assert text[q.start:q.end] == q.text
    spans = sorted((q.start, q.end) for q in found)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "quotations do not overlap"


@PROFILE
@given(TEXTS)
def test_text_check_verdicts_and_locations(vraagbaak, text):
    try:
        result = vraagbaak.check_text(text)
    except UserError as exc:
        assert exc.dutch and exc.english
        return
    for c in result.quotations:
        assert c.verdict in VERDICTS
        for m in c.matches:
            assert m.doc.text[m.start:m.end] == m.text
    assert own_tags_only(render.text_check_html(result))


@PROFILE
@given(TEXTS)
def test_quote_check_and_search_never_crash(vraagbaak, text):
    try:
        result = vraagbaak.quote(text)
        assert result.verdict in ("exact", "altered", "absent")
        assert all(m.doc.text[m.start:m.end] == m.text for m in result.matches)
        assert own_tags_only(render.quote_html(result))
    except UserError as exc:
        assert exc.dutch
    try:
        hits = vraagbaak.search(text, 3)
        assert len(hits) <= 3 and all(h.passage.text for h in hits)
    except UserError as exc:
        assert exc.dutch


@PROFILE
@given(TEXTS, TEXTS)
def test_claim_check_always_decides(claim, evidence):
    check = check_claim(claim, [evidence], "Wat is sociaal werk?")
    assert isinstance(check.ok, bool) and (check.ok or check.reason)


@PROFILE
@given(TEXTS)
def test_escaped_markdown_shows_text_not_markup(text):
    escaped = render.md_escape(text)
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", escaped), "no Markdown link survives"
    assert "<" not in escaped.replace("\\<", ""), "every < is escaped, so no tag can form"
