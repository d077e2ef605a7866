"""Language models behind one interface: `stream(messages, max_tokens)` yields text pieces.

Backends (setting `llm_backend`, or `llm_url` for the last):
- `llamacpp`: llama.cpp in-process (answer/llamacpp.py, the ik_llama.cpp build). The default on CPU: the
  bundled 1.5B model reads a prompt at ~75 tokens/s and writes ~12 tokens/s on 2 cores, in under 2 GB.
- `transformers`: the design card's library; loads a safetensors folder, or a GGUF file (dequantised, so
  4x the memory). For GPU machines and for models llama.cpp does not run.
- `openai`: any OpenAI-compatible server (vLLM, llama.cpp server, ...) at `llm_url`, streamed over SSE.

All use temperature 0: answers must be reproducible and as literal as the model can make them.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from config import Settings

log = logging.getLogger(__name__)
Messages = list[dict]


@dataclass
class Timing:
    """Filled in while a stream runs; prompt/generation split where the backend reports it."""

    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    prompt_ms: float | None = None
    generated_tokens: int | None = None
    generation_ms: float | None = None
    step_probs: list[dict[str, float]] | None = None  # likeliest allowed tokens of the first steps (llama.cpp)


@dataclass
class LLM:
    name: str
    backend: str
    _stream: Callable[..., Iterator[str]]  # (messages, max_tokens, timing, grammar, prefill) -> pieces
    lock: threading.Lock = field(default_factory=threading.Lock)
    constrains: bool = False  # whether `grammar` is enforced (otherwise the caller parses leniently)

    def stream(self, messages: Messages, max_tokens: int = 256, timing: Timing | None = None,
               grammar: str | None = None, prefill: str = "") -> Iterator[str]:
        """Yield the reply in pieces. One generation at a time per model (the CPU has no room for two).
        `prefill` starts the assistant's turn (not yielded); `grammar` (GBNF) restricts what follows it."""
        with self.lock:
            yield from self._stream(messages, max_tokens, timing or Timing(), grammar, prefill)

    def complete(self, messages: Messages, max_tokens: int = 256, grammar: str | None = None,
                 prefill: str = "") -> str:
        return "".join(self.stream(messages, max_tokens, grammar=grammar, prefill=prefill))


def _thread_to_iterator(run: Callable[[Callable[[str], None]], None]) -> Iterator[str]:
    """Run a callback-style generator in a thread and yield what it emits, as it emits it."""
    q: queue.Queue = queue.Queue()
    done = object()

    def target() -> None:
        try:
            run(q.put)
        except BaseException as exc:  # surfaced in the consumer
            q.put(exc)
        finally:
            q.put(done)

    threading.Thread(target=target, daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


# ---- llama.cpp in-process -----------------------------------------------------------------------------

def _llamacpp(model_path: Path, settings: Settings) -> LLM:
    from answer.llamacpp import Engine

    # Two slots: answers and follow-up rewrites have different fixed prefixes; each keeps its own cache.
    engine = Engine(model_path, threads=settings.threads, ctx=settings.llm_ctx, slots=2)
    return LLM(name=model_path.name, backend="llamacpp", _stream=engine.generate, constrains=True)


# ---- transformers -------------------------------------------------------------------------------------

def _transformers(model_path: Path, settings: Settings) -> LLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    torch.set_num_threads(settings.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    kwargs: dict = {"local_files_only": True}
    if model_path.is_file() and model_path.suffix == ".gguf":
        folder, kwargs["gguf_file"] = str(model_path.parent), model_path.name
    else:
        folder = str(model_path)
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **kwargs).to(device).eval()

    def stream(messages: Messages, max_tokens: int, timing: Timing, grammar: str | None = None,
               prefill: str = "") -> Iterator[str]:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefill
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(device)
        timing.prompt_tokens = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        t0 = time.perf_counter()

        def run(emit: Callable[[str], None]) -> None:
            thread = threading.Thread(target=lambda: model.generate(
                **inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                pad_token_id=tokenizer.eos_token_id), daemon=True)
            thread.start()
            for piece in streamer:
                if piece:
                    emit(piece)
            thread.join()

        yield from _thread_to_iterator(run)
        timing.generation_ms = (time.perf_counter() - t0) * 1000

    return LLM(name=model_path.name, backend="transformers", _stream=stream)


# ---- OpenAI-compatible HTTP ---------------------------------------------------------------------------

def _openai(url: str, model: str) -> LLM:
    import httpx

    base = url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"

    def stream(messages: Messages, max_tokens: int, timing: Timing, grammar: str | None = None,
               prefill: str = "") -> Iterator[str]:
        body: dict = {"model": model or "default", "messages": messages, "max_tokens": max_tokens, "temperature": 0,
                      "stream": True}
        if prefill:  # continue a started assistant turn (llama.cpp server and vLLM both do with this message)
            body["messages"] = [*messages, {"role": "assistant", "content": prefill}]
            body["continue_final_message"], body["add_generation_prompt"] = True, False
        if grammar:
            body["grammar"] = grammar  # llama.cpp server; others ignore it and the reply is parsed leniently
        with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=httpx.Timeout(300, connect=10)) as r:
            if r.status_code != 200:
                raise RuntimeError(f"LLM server at {base} answered HTTP {r.status_code}: {r.read()[:300]!r}")
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                for choice in chunk.get("choices", []):
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
                if t := chunk.get("timings"):
                    timing.prompt_tokens, timing.cached_tokens = t.get("prompt_n"), t.get("cache_n")
                    timing.prompt_ms, timing.generation_ms = t.get("prompt_ms"), t.get("predicted_ms")

    return LLM(name=f"{model or 'default'}@{base}", backend="openai", _stream=stream)


# ---- loading ------------------------------------------------------------------------------------------

_LOADED: dict[tuple, LLM] = {}
_load_lock = threading.Lock()


def model_path(settings: Settings) -> Path:
    if settings.llm_model:
        return Path(settings.llm_model)
    from answer.model_files import bundled_gguf

    return bundled_gguf(settings.cache_dir)


def get_llm(settings: Settings) -> LLM:
    """Load (once per process) the model the settings name."""
    key = (settings.llm_backend, settings.llm_model, settings.llm_url, settings.threads, settings.llm_ctx)
    with _load_lock:
        if key not in _LOADED:
            t0 = time.perf_counter()
            if settings.llm_backend == "openai" or settings.llm_url:
                if not settings.llm_url:
                    raise ValueError("llm_backend=openai needs --llm-url")
                _LOADED[key] = _openai(settings.llm_url, settings.llm_model)
            elif settings.llm_backend == "transformers":
                _LOADED[key] = _transformers(model_path(settings), settings)
            elif settings.llm_backend == "llamacpp":
                _LOADED[key] = _llamacpp(model_path(settings), settings)
            else:
                raise ValueError(f"unknown llm_backend {settings.llm_backend!r}")
            log.info("loaded %s model %s in %.1fs", settings.llm_backend, _LOADED[key].name,
                     time.perf_counter() - t0)
        return _LOADED[key]
