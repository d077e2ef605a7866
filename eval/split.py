"""Split the evaluation questions into a tuning half and a test half, once, by a fixed seed.

    .venv/bin/python -m eval.split          # writes eval/questions/split.json (ids per half)

Why: figures count only on questions nobody tuned on. Thresholds, prompts and rules may be fitted on the
tuning half; the test half is run to report. The split is stratified (within each question type, and for
XQuAD-NL by paragraph, so that no paragraph has questions in both halves) and never changes once written:
the script refuses to overwrite an existing split unless told to.

Data:
- eval/questions/set_a.jsonl, set_b.jsonl: Dutch questions about the seed articles, written by two writers
  who saw only the articles (not the code), answerable ones with verbatim evidence and key facts, and
  out-of-corpus and near-miss ones.
- eval/questions/set_c1.jsonl, set_c2.jsonl: set C, more questions of the same kinds by two more writers who
  saw only the articles, written on 2026-11-24 after all tuning: held out whole, never split and never tuned
  on. Of their 120, the 11 that repeat an earlier question nearly word for word (rapidfuzz ratio >= 90 against
  sets A and B, the first 48 + 20, or an earlier one of set C; "Wat is de hoofdstad van Australië?" twice)
  were left out: 109 remain, 67 answerable, 13 out-of-corpus, 29 near misses. With 16 unanswerable
  questions the test half alone decided a refusal rate by single questions.
- eval/questions/set_d.jsonl: set D, tuning data only: near misses (18) and out-of-corpus questions (6) by
  one more writer, because the tuning half held few hard near misses (refused 0.94 on tuning data, 0.64-0.69
  on test data). Of the writer's 40, the 16 that resemble a test question (rapidfuzz token-set ratio >= 75
  against the test half and set C, "the same asked-for thing in other words") or repeat an earlier one were
  left out, so that tuning on D tunes on no test question. Written 2026-11-24; the doubt weights in
  verify/decide.py were refitted with it on 2026-11-25 (python -m eval.fit).
- eval/questions/conversations.jsonl: two-turn conversations; all of them are test data (none is tuned on).
- XQuAD-NL (../shared/data/xquad-nl, CC BY-SA 4.0): the strict rows (answer verbatim in the paragraph),
  split by paragraph.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict

from eval.common import EVAL_DIR, XQUAD_DIR, read_jsonl

SEED = 20261123
QUESTIONS_DIR = EVAL_DIR / "questions"
SPLIT_PATH = QUESTIONS_DIR / "split.json"
QUESTION_FILES = ("set_a.jsonl", "set_b.jsonl")
HELDOUT_FILES = ("set_c1.jsonl", "set_c2.jsonl")  # test data whole: not part of the split
TUNING_FILES = ("set_d.jsonl",)  # tuning data whole: not part of the split


def _rows(files: tuple[str, ...]) -> list[dict]:
    return [r for name in files for r in read_jsonl(QUESTIONS_DIR / name)]


def seed_questions() -> list[dict]:
    """All rows of the independent seed-article question sets that the split divides."""
    return _rows(QUESTION_FILES)


def heldout_questions() -> list[dict]:
    """The held-out set C: test data only, never tuned on."""
    return _rows(HELDOUT_FILES)


def tuning_questions() -> list[dict]:
    """Set D: tuning data only."""
    return _rows(TUNING_FILES)


def halves(items: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    items = sorted(items)
    rng.shuffle(items)
    return sorted(items[0::2]), sorted(items[1::2])


def make_split() -> dict:
    rng = random.Random(SEED)
    by_type: dict[str, list[str]] = defaultdict(list)
    for r in seed_questions():
        by_type[r["type"]].append(r["id"])
    tune, test = [], []
    for kind in sorted(by_type):
        a, b = halves(by_type[kind], rng)
        tune += a
        test += b
    paragraphs = sorted({r["context_id"] for r in read_jsonl(XQUAD_DIR / "xquad_nl_strict.jsonl")})
    x_tune, x_test = halves(paragraphs, rng)
    return {"seed": SEED, "questions": {"tune": sorted(tune), "test": sorted(test)},
            "xquad_paragraphs": {"tune": x_tune, "test": x_test}}


def load_split() -> dict:
    return json.loads(SPLIT_PATH.read_text(encoding="utf-8"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--force", action="store_true", help="overwrite an existing split (never after tuning began)")
    args = ap.parse_args()
    if SPLIT_PATH.exists() and not args.force:
        raise SystemExit(f"{SPLIT_PATH} exists; the split is fixed. Use --force only before any tuning.")
    split = make_split()
    SPLIT_PATH.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    q = split["questions"]
    x = split["xquad_paragraphs"]
    print(f"questions: {len(q['tune'])} tuning, {len(q['test'])} test; "
          f"XQuAD-NL paragraphs: {len(x['tune'])} tuning, {len(x['test'])} test -> {SPLIT_PATH}")


if __name__ == "__main__":
    main()
