"""What the model reads and the only form its reply can take.

The model sees numbered evidence lines and the question, and replies in a fixed form:

    Zinnen: 2, 5
    Antwoord: <one short Dutch sentence>

or `Zinnen: geen`. The assistant's turn starts with "Zinnen:" (a prefill), and with llama.cpp a GBNF grammar
allows only line numbers that exist (at most three) or "geen", so the model cannot cite what is not there.
Backends without grammar support get the same prompt; `parse` then reads what they wrote leniently, and
verify/decide.py ignores numbers that point nowhere.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from prompts import template
from retrieval.evidence import Evidence

PREFILL = "Zinnen:"
MAX_CHOSEN = 3


def build_messages(question: str, lines: list[Evidence]) -> list[dict]:
    """System prompt and worked examples first (identical every time, so llama.cpp keeps them cached)."""
    messages = [{"role": "system", "content": template("answer_system.txt").strip()}]
    for ex in json.loads(template("answer_examples.json")):
        messages += [{"role": "user", "content": ex["user"]}, {"role": "assistant", "content": ex["assistant"]}]
    block = "\n".join(f"[{e.id}] {e.text}" for e in lines)
    messages.append({"role": "user", "content": template("answer_user.txt").strip().format(lines=block,
                                                                                          question=question)})
    return messages


def grammar(n_lines: int) -> str:
    """GBNF for the reply after the prefill: ' geen', or up to three line numbers and one line of answer."""
    ids = " | ".join(f'"{i}"' for i in range(1, n_lines + 1)) or '"1"'
    return (f'root ::= " geen" | " " ids "\\nAntwoord: " answer\n'
            f'ids ::= id ("," " " id){{0,{MAX_CHOSEN - 1}}}\n'
            f"id ::= {ids}\n"
            f"answer ::= [^\\n]+\n")


@dataclass
class Reply:
    chosen: list[int]  # line numbers, in the model's order
    claim: str  # its answer sentence ("" when it chose none)


def parse(raw: str) -> Reply:
    """Read the reply (after the prefill): 'geen' or numbers on the first line, the answer after 'Antwoord:'."""
    head, _, rest = raw.strip().partition("\n")
    if re.match(r"^\W*geen\b", head, re.I):
        return Reply([], "")
    chosen = [int(n) for n in re.findall(r"\d+", head)][:MAX_CHOSEN]
    m = re.search(r"antwoord\s*:\s*(.+)", rest, re.I | re.S)
    claim = (m.group(1) if m else rest).strip().split("\n")[0].strip()
    return Reply(chosen, claim)
