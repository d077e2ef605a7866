"""The language model backends: setting `llm_backend` names one. Adding one is a module with a `load(settings)`
that returns an answer.llm.LLM, plus a line here."""
from __future__ import annotations

import logging
import time
from typing import Callable

from answer.backends import llamacpp, openai, transformers
from answer.llm import LLM
from config import Settings

log = logging.getLogger(__name__)

BACKENDS: dict[str, Callable[[Settings], LLM]] = {
    "llamacpp": llamacpp.load,
    "transformers": transformers.load,
    "openai": openai.load,
}


def load_llm(settings: Settings) -> LLM:
    """Load the model the settings name (the caller keeps it: service.Vraagbaak loads it once)."""
    if settings.llm_backend not in BACKENDS:
        raise ValueError(f"unknown llm_backend {settings.llm_backend!r}; choose from {sorted(BACKENDS)}")
    t0 = time.perf_counter()
    llm = BACKENDS[settings.llm_backend](settings)
    log.info("loaded %s model %s in %.1fs", settings.llm_backend, llm.name, time.perf_counter() - t0)
    return llm
