"""Language models behind one interface: `stream(messages, max_tokens)` yields text pieces.

The backends (setting `llm_backend`) are registered in answer/backends: llama.cpp in-process (the default
on CPU), transformers (GPU machines, safetensors models), and any OpenAI-compatible server. All decode
greedily (temperature 0): answers must be reproducible and as literal as the model can make them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from answer.line import Ticket, WaitingLine
from config import Settings
from errors import ServiceFailure, UserError
from prompts import message

Messages = list[dict]


class ModelFault(Exception):
    """A backend's failure with its kind: 'unreachable', 'timeout', 'garbage' (LLM.stream words it for the user)."""

    def __init__(self, kind: str, english: str) -> None:
        self.kind = kind
        super().__init__(english)


@dataclass
class Timing:
    """Filled in while a stream runs; prompt/generation split where the backend reports it."""

    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    prompt_ms: float | None = None
    generated_tokens: int | None = None
    generation_ms: float | None = None
    step_probs: list[dict[str, float]] | None = None  # likeliest allowed tokens of the first steps (llama.cpp)
    cut: bool = False  # the reply stopped because it reached max_tokens, not because the model ended it
    drafted: int | None = None  # tokens guessed from the prompt (reported by llama.cpp in-process) ...
    accepted: int | None = None  # ... and of those, the ones the model wrote anyway (each saved a step)


def _no_warm(_prompts: list[tuple[Messages, str]]) -> None:
    """Backends without a prompt cache have nothing to read ahead."""


@dataclass
class LLM:
    name: str
    backend: str
    _stream: Callable[..., Iterator[str]]  # (messages, max_tokens, timing, grammar, prefill) -> pieces
    warm: Callable[[list[tuple[Messages, str]]], None] = _no_warm  # read fixed prompt prefixes ahead of use
    parallel: int = 1  # generations the backend runs at once; more callers wait in `line`
    line: WaitingLine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.line = WaitingLine(self.parallel)

    def stream(self, messages: Messages, max_tokens: int = 256, timing: Timing | None = None,
               grammar: str | None = None, prefill: str = "", ticket: Ticket | None = None) -> Iterator[str]:
        """Yield the reply in pieces. At most `parallel` generations at once per model (llama.cpp in-process
        writes that many in one batch, a model server gets that many requests; transformers takes one at a
        time): pass the `ticket` of a turn taken in `line` (answer/pipeline.py does, to show the visitor's
        place meanwhile), or none to wait here. `prefill` starts the assistant's turn (not yielded); `grammar`
        (GBNF) restricts what follows it where the backend supports it (others are read leniently)."""
        if ticket is None:
            with self.line.join() as own:
                own.wait()
                yield from self.stream(messages, max_tokens, timing, grammar, prefill, own)
            return
        if not ticket.has_turn():
            raise RuntimeError("stream() was given a ticket whose turn has not come")
        try:
            yield from self._stream(messages, max_tokens, timing or Timing(), grammar, prefill)
        except UserError:
            raise
        except Exception as exc:  # the model or its server failed: the caller says so, nothing else breaks
            kind = exc.kind if isinstance(exc, ModelFault) else "failed"
            raise ServiceFailure("model_failed", f"language model {self.name} failed: {type(exc).__name__}: "
                                 f"{exc}", reason=message(f"model_failure.{kind}")) from exc

    def complete(self, messages: Messages, max_tokens: int = 256, grammar: str | None = None,
                 prefill: str = "", ticket: Ticket | None = None) -> str:
        return "".join(self.stream(messages, max_tokens, grammar=grammar, prefill=prefill, ticket=ticket))


def model_path(settings: Settings) -> Path:
    """The weights the settings name: a file or folder, or the bundled GGUF (assembled on first use)."""
    if settings.llm_model:
        return Path(settings.llm_model)
    from answer.model_files import bundled_gguf

    return bundled_gguf(settings.cache_dir)
