"""Markup pasted into a question or a quotation is not part of what the user asks or quotes.

`<script>alert(1)</script> Wat is sociaal werk?` asks what social work is: the element and its code go (script
and style hold code, never words), other tags leave their text (`<b>illusie</b>` -> `illusie`), comments go.
Only what looks like a tag is touched: "5 < 6" and "a <-> b" stay as typed.
"""
from __future__ import annotations

import html
import re

_CODE = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_TAG = re.compile(r"</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def strip_markup(text: str) -> str:
    """`text` without HTML elements of code, comments and tags; entities read as their characters."""
    if "<" not in text and "&" not in text:
        return text
    out = _TAG.sub(" ", _COMMENT.sub(" ", _CODE.sub(" ", text)))
    if _ENTITY.search(out):
        out = html.unescape(out)
    return re.sub(r"[ \t]{2,}", " ", out)
