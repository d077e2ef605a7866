"""The language model backends: setting `llm_backend` names one. Adding one is a module with a `load(settings)`
that returns an answer.llm.LLM, plus a line here."""
from __future__ import annotations

import logging
import time
from typing import Callable

from answer.backends import llamacpp, openai, transformers
from answer.llm import LLM
from config import ROOT, Settings
from errors import ServiceFailure

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
    try:
        llm = BACKENDS[settings.llm_backend](settings)
    except Exception as exc:
        if missing := _missing_module(exc):
            raise ServiceFailure("model_package_missing", f"cannot load the {settings.llm_backend} model: Python "
                                 f"package {missing!r} is not installed ({exc})", package=missing,
                                 requirement=requirement_for(missing)) from exc
        raise
    log.info("loaded %s model %s in %.1fs", settings.llm_backend, llm.name, time.perf_counter() - t0)
    return llm


def _missing_module(exc: BaseException | None) -> str | None:
    """The module a failed load could not import, anywhere in the exception's chain."""
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name
        exc = exc.__cause__ or exc.__context__
    return None


def requirement_for(module: str) -> str:
    """The pinned line of requirements.txt that provides `module` (ik_llama_cpp -> ik-llama-cpp-python==...),
    so that the message names exactly what to install; else the module's own name."""
    top = module.split(".")[0].replace("_", "-").lower()
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip().lower()
        if line.strip() and not line.startswith("#") and (name == top or name.startswith(top + "-")):
            return line.strip()
    return top
