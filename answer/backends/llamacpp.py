"""llama.cpp in-process (answer/llamacpp.py, the ik_llama.cpp build): the default on CPU. The bundled 1.5B
model reads a prompt at ~120-150 tokens/s (~250 with a build for a CPU with AVX512-VNNI, answer/native.py)
and writes ~20 tokens/s on 2 cores, in under 2.5 GB; it is the only backend that enforces the reply grammar
and reports the first tokens' probabilities. It writes up to `llm_parallel` answers in one batch
(answer/batching.py), for many visitors at once."""
from __future__ import annotations

import logging
from pathlib import Path

from answer.llm import LLM, Messages, model_path
from config import Settings

log = logging.getLogger(__name__)


def load(settings: Settings) -> LLM:
    from answer import native
    from answer.llamacpp import Engine

    path, choice = native.engine_for(settings)
    log.info("llama.cpp in-process: %s; %s", choice.why, path.name)

    def make(path: Path, library: Path | None) -> Engine:
        # Answers and follow-up rewrites have different fixed prefixes: one slot more than answers written at
        # once keeps the other one cached.
        return Engine(path, threads=settings.threads, ctx=settings.llm_ctx, slots=settings.llm_parallel + 1,
                      parallel=settings.llm_parallel, draft=settings.llm_draft, library=library)

    try:
        engine = make(path, choice.library)
    except OSError as exc:  # the build for this CPU does not load (damaged, or a system library changed)
        if choice.library is None or settings.engine_build == "native":
            raise
        log.error("the engine built for this CPU did not load (%s); using the prebuilt wheel instead", exc)
        path = model_path(settings)
        engine = make(path, None)
    llm = LLM(name=path.name, backend="llamacpp", _stream=engine.generate, parallel=settings.llm_parallel)

    def warm(prompts: list[tuple[Messages, str]]) -> None:
        for messages, prefill in prompts:
            llm.complete(messages, max_tokens=1, prefill=prefill)

    llm.warm = warm
    return llm
