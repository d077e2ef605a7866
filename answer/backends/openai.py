"""Any OpenAI-compatible server (vLLM, llama.cpp's server, ...) at `llm_url`, streamed over SSE. llama.cpp's
server enforces the grammar (`grammar`) and continues a started assistant turn; others are read leniently."""
from __future__ import annotations

import json
import logging
from typing import Iterator

from answer.llm import LLM, Messages, ModelFault, Timing
from config import Settings

log = logging.getLogger(__name__)


def load(settings: Settings) -> LLM:
    return _client(settings.llm_url, settings.llm_model, settings.llm_timeout_s, settings.llm_parallel,
                   settings.llm_api_key)


def _client(url: str, model: str, timeout_s: float, parallel: int = 1, api_key: str = "") -> LLM:
    """A server that is down, silent for `timeout_s`, refuses `api_key`, or answers something other than an SSE
    chat stream raises ModelFault; the pipeline shows the user why and search and quotes go on."""
    import httpx

    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
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
        try:
            yield from _read(body, timing)
        except httpx.ConnectError as exc:
            raise ModelFault("unreachable", f"no LLM server at {base}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise ModelFault("timeout", f"LLM server at {base} silent for {timeout_s}s ({type(exc).__name__})") from exc
        except (ValueError, TypeError, AttributeError, httpx.HTTPError) as exc:  # not JSON chunks, a broken stream
            raise ModelFault("garbage", f"LLM server at {base} sent an unreadable reply: {exc}") from exc

    def _read(body: dict, timing: Timing) -> Iterator[str]:
        wrote = False
        with httpx.stream("POST", f"{base}/chat/completions", json=body, headers=headers,
                          timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10))) as r:
            if r.status_code in (401, 403):
                raise ModelFault("unauthorized", f"LLM server at {base} refused the request (HTTP {r.status_code}): "
                                 f"{'wrong' if api_key else 'no'} API key (setting llm_api_key)")
            if r.status_code != 200:
                raise ModelFault("garbage", f"LLM server at {base} answered HTTP {r.status_code}: {r.read()[:300]!r}")
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
                        wrote = True
                        yield piece
                    if choice.get("finish_reason") == "length":
                        timing.cut = True
                if t := chunk.get("timings"):
                    timing.prompt_tokens, timing.cached_tokens = t.get("prompt_n"), t.get("cache_n")
                    timing.prompt_ms, timing.generation_ms = t.get("prompt_ms"), t.get("predicted_ms")
        if not wrote:
            raise ModelFault("garbage", f"LLM server at {base} sent no text (HTTP 200 without an SSE chat stream)")

    llm = LLM(name=f"{model or 'default'}@{base}", backend="openai", _stream=stream, parallel=parallel)

    def warm(prompts: list[tuple[Messages, str]]) -> None:
        """Have the server read the fixed prompt prefixes, so that no visitor waits ~7 s for them: the first (the
        answers') on every slot at once, so that each slot holds it, then the others (a slot that switches to
        one keeps its answer prefix in llama.cpp's prompt cache in RAM). Best effort: a server that is not up
        yet is reported by the first question, as before."""
        from concurrent.futures import ThreadPoolExecutor

        def read(prompt: tuple[Messages, str]) -> None:  # past LLM's waiting line: one request per slot at once
            "".join(stream(prompt[0], 1, Timing(), None, prompt[1]))

        try:
            slots = int(httpx.get(f"{base.removesuffix('/v1')}/props", headers=headers, timeout=10)
                        .json().get("total_slots") or 1)
        except (httpx.HTTPError, ValueError, AttributeError):
            slots = 1  # not a llama.cpp server, or not up yet
        try:
            with ThreadPoolExecutor(max(1, min(slots, 64))) as pool:
                list(pool.map(read, [prompts[0]] * slots))
            for prompt in prompts[1:]:
                read(prompt)
        except Exception as exc:
            log.warning("could not warm the model server's prompt cache: %s", exc)

    llm.warm = warm
    return llm
