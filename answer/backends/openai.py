"""Any OpenAI-compatible server (vLLM, llama.cpp's server, ...) at `llm_url`, streamed over SSE. llama.cpp's
server enforces the grammar (`grammar`) and continues a started assistant turn; others are read leniently."""
from __future__ import annotations

import json
from typing import Iterator

from answer.llm import LLM, Messages, Timing
from config import Settings


def load(settings: Settings) -> LLM:
    return _client(settings.llm_url, settings.llm_model)


def _client(url: str, model: str) -> LLM:
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
