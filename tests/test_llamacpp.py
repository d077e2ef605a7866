"""The in-process llama.cpp engine on the bundled model: chat template, prefix cache, slots, streaming, and
several answers written at once (answer/batching.py)."""
from __future__ import annotations

import pytest

from answer.llamacpp import Engine
from answer.llm import Timing
from answer.native import engine_for

pytestmark = pytest.mark.llm

SYSTEM = {"role": "system", "content": "Je antwoordt in het Nederlands, in één woord."}


def make_engine(settings, **kw) -> Engine:
    """The engine as the app builds it: the build for this CPU and its weights when setup.sh made one."""
    path, choice = engine_for(settings)
    return Engine(path, threads=settings.threads, library=choice.library, **kw)


@pytest.fixture(scope="module")
def engine(settings):
    e = make_engine(settings, ctx=1024, slots=2, parallel=3)
    yield e
    e.close()


def run(engine: Engine, messages: list[dict], max_tokens: int = 8) -> tuple[str, Timing]:
    stats = Timing()
    return "".join(engine.generate(messages, max_tokens, stats)), stats


def test_a_reply_that_reaches_the_token_limit_is_marked_cut(engine):
    _, short = run(engine, [SYSTEM, {"role": "user", "content": "Wat is de hoofdstad van Nederland?"}])
    _, long = run(engine, [{"role": "user", "content": "Schrijf een lang verhaal over Amsterdam."}], max_tokens=4)
    assert not short.cut and long.cut and long.generated_tokens == 4


def test_prompt_uses_the_models_chat_template(engine):
    text = engine.render([SYSTEM, {"role": "user", "content": "Hoi"}])
    assert text == ("<|im_start|>system\nJe antwoordt in het Nederlands, in één woord.<|im_end|>\n"
                    "<|im_start|>user\nHoi<|im_end|>\n<|im_start|>assistant\n")
    im_start = engine.tokenize("<|im_start|>")
    assert len(im_start) == 1  # a special token, not the text "<|im_start|>" in pieces
    assert engine.tokenize(text).count(im_start[0]) == 3


def test_answers_greedily_and_reads_a_shared_prefix_once(engine):
    question = [SYSTEM, {"role": "user", "content": "Wat is de hoofdstad van Nederland?"}]
    first, s1 = run(engine, question)
    assert "Amsterdam" in first and s1.generated_tokens > 0 and s1.prompt_ms > 0
    again, s2 = run(engine, question)
    assert again == first  # temperature 0: the same answer
    assert s2.prompt_tokens == 1 and s2.cached_tokens == s1.prompt_tokens + s1.cached_tokens - 1
    other, s3 = run(engine, [SYSTEM, {"role": "user", "content": "Wat is de hoofdstad van België?"}])
    assert "Brussel" in other
    assert s3.cached_tokens >= len(engine.tokenize(engine.render([SYSTEM]))) - 3  # the system turn is reused


def test_two_slots_keep_two_prefixes(engine):
    # Like the answers and the follow-up rewrites: two prompts with different system turns, taking turns.
    a = [{"role": "system", "content": "Je bent een rekenmachine voor eenvoudige sommen. Antwoord uitsluitend "
                                       "met één getal, zonder uitleg en zonder eenheden."},
         {"role": "user", "content": "Hoeveel is 2+2?"}]
    b = [{"role": "system", "content": "Noem bij elke vraag over de natuur alleen de kleur waar het om gaat, in "
                                       "één Nederlands woord, zonder verdere uitleg."},
         {"role": "user", "content": "Welke kleur heeft gras?"}]
    run(engine, a)
    run(engine, b)
    answer_a, stats_a = run(engine, a)
    answer_b, stats_b = run(engine, b)
    assert "4" in answer_a and stats_a.prompt_tokens == 1  # b did not evict a
    assert "groen" in answer_b.lower() and stats_b.prompt_tokens == 1


def test_an_abandoned_stream_leaves_the_cache_consistent(engine):
    story = [SYSTEM, {"role": "user", "content": "Tel van één tot tien, met komma's."}]
    full, _ = run(engine, story, 40)
    assert "10" in full or "tien" in full.lower()
    pieces = engine.generate(story, 40)
    next(pieces), next(pieces)
    pieces.close()  # a visitor leaves mid-answer: the cache holds a half-written answer
    again, stats = run(engine, story, 40)
    assert again == full and stats.cached_tokens > 0


def test_answers_are_written_together_each_with_its_own_grammar(engine):
    count = [SYSTEM, {"role": "user", "content": "Tel van één tot tien, met komma's."}]
    yes_no = [SYSTEM, {"role": "user", "content": "Is Amsterdam de hoofdstad van Nederland? Ja of nee."}]
    digits = [SYSTEM, {"role": "user", "content": "Hoeveel is 2+2?"}]
    alone = {name: run(engine, m, 30)[0] for name, m in (("count", count), ("digits", digits))}
    timings = {name: Timing() for name in ("count", "yes_no", "digits")}
    streams = {"count": engine.generate(count, 30, timings["count"]),
               "yes_no": engine.generate(yes_no, 30, timings["yes_no"], grammar='root ::= "ja" | "nee"'),
               "digits": engine.generate(digits, 30, timings["digits"], grammar="root ::= [0-9]+")}
    texts = {name: next(s) for name, s in streams.items()}  # each has started writing...
    assert timings["count"].generation_ms is None  # ...while the first is still under way: written together
    for name, s in streams.items():
        texts[name] += "".join(s)
    assert texts["yes_no"] in ("ja", "nee") and texts["digits"] == "4"  # each job keeps its own grammar
    assert texts["count"] == alone["count"] and alone["digits"].strip().startswith("4")
    assert timings["yes_no"].cached_tokens >= len(engine.tokenize(engine.render([SYSTEM]))) - 3  # prefix shared
    assert not any(s.busy for s in engine.scheduler.slots)  # every place is free again


def test_one_at_a_time_when_parallel_is_one(settings):
    e = make_engine(settings, ctx=512, parallel=1)
    try:
        first, second = Timing(), Timing()
        a = e.generate([SYSTEM, {"role": "user", "content": "Tel van één tot tien, met komma's."}], 30, first)
        next(a)
        b = e.generate([SYSTEM, {"role": "user", "content": "Hoeveel is 2+2?"}], 5, second)
        assert "4" in "".join(b)
        assert first.generation_ms is not None  # the second waited until the first was written
        assert "".join(a)
    finally:
        e.close()


def test_a_full_cache_fails_the_newcomer_and_keeps_the_answers_under_way(settings):
    e = make_engine(settings, ctx=256, parallel=3)  # 512 cells in all
    try:
        long = [[SYSTEM, {"role": "user", "content": f"Herhaal deze tekst ({i}): " + "de wijk en de buurt, " * 24}]
                for i in range(3)]
        streams = [e.generate(m, 40) for m in long]
        firsts = [next(s) for s in streams[:2]]  # two prompts of ~200 tokens, and their answers, fill the cache
        with pytest.raises(RuntimeError, match="no room in the KV cache"):
            "".join(streams[2])
        assert all(f + "".join(s) for f, s in zip(firsts, streams[:2]))  # the answers under way end well
        assert "".join(e.generate([SYSTEM, {"role": "user", "content": "Hoeveel is 2+2?"}], 5))  # the engine goes on
    finally:
        e.close()


def test_a_prompt_longer_than_the_context_is_refused_with_a_clear_error(engine):
    with pytest.raises(ValueError, match="exceeds the context of 1024 tokens"):
        run(engine, [{"role": "user", "content": "woord " * 1200}])


COPY = [{"role": "system", "content": "Je herhaalt de zin van de gebruiker letterlijk, zonder iets toe te voegen."},
        {"role": "user", "content": "Sociaal werkers versterken de eigen kracht van bewoners in hun buurt, samen "
                                    "met vrijwilligers en de gemeente."}]


def cache_matches_slots(e: Engine) -> bool:
    """Every sequence in the KV cache ends where its slot's tokens end (no cells of guesses not taken)."""
    return all(e.C.kv_cache_seq_pos_max(e.ctx, s.seq) == max(len(s.tokens) - 1, 0)  # an empty one says 0
               for s in e.scheduler.slots)


def test_guesses_from_the_prompt_write_the_same_reply_in_fewer_steps(engine, settings):
    plain = {"free": run(engine, COPY, 40), "grammar": None}
    e = make_engine(settings, ctx=1024, slots=2, parallel=2, draft=4)
    try:
        guessed, stats = run(e, COPY, 40)
        assert guessed == plain["free"][0] and "eigen kracht van bewoners" in guessed
        assert stats.generated_tokens == plain["free"][1].generated_tokens
        assert stats.accepted >= stats.generated_tokens // 2 and stats.accepted <= stats.drafted  # steps saved
        # Under a grammar every guess is still checked token by token: the grammar cuts the copy short.
        rule = 'root ::= "Sociaal werkers versterken de eigen kracht" [.]'
        plain["grammar"] = "".join(engine.generate(COPY, 40, grammar=rule))
        cut = Timing()
        assert "".join(e.generate(COPY, 40, cut, grammar=rule)) == plain["grammar"]
        assert plain["grammar"] == "Sociaal werkers versterken de eigen kracht."
        assert cut.drafted > cut.accepted and cache_matches_slots(e)  # " van" was guessed, "." written
        # Guesses the model did not take left no cells behind: the same prompt on the cached slot, and two
        # at once, write what was written alone.
        again, stats2 = run(e, COPY, 40)
        assert again == guessed and stats2.cached_tokens > 0
        streams = [e.generate(COPY, 40), e.generate([SYSTEM, {"role": "user", "content": "Tel van één tot tien, "
                                                                                            "met komma's."}], 30)]
        firsts = [next(s) for s in streams]  # the second starts while the first is written
        texts = [f + "".join(s) for f, s in zip(firsts, streams)]
        assert cache_matches_slots(e)
        assert texts[0] == guessed and texts[1] == run(engine, [SYSTEM, {"role": "user", "content": "Tel van één "
                                                                         "tot tien, met komma's."}], 30)[0]
    finally:
        e.close()
