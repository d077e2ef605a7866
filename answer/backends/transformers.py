"""transformers: the design card's library. Loads a safetensors folder, or a GGUF file (dequantised, so 4x the
memory); for GPU machines and for models llama.cpp does not run. No grammar: the reply is read leniently.
Answers copy their evidence, so the tokens after a match in the prompt are guessed and checked in one step
(transformers' prompt lookup, `llm_draft` tokens at a time), as the in-process llama.cpp engine does."""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

from answer.llm import LLM, Messages, Timing, model_path
from config import Settings


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


def load(settings: Settings) -> LLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    path = model_path(settings)
    torch.set_num_threads(settings.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    kwargs: dict = {"local_files_only": True}
    if path.is_file() and path.suffix == ".gguf":
        folder, kwargs["gguf_file"] = str(path.parent), path.name
    else:
        folder = str(path)
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
        written: list[str] = []

        def run(emit: Callable[[str], None]) -> None:
            thread = threading.Thread(target=lambda: model.generate(
                **inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                pad_token_id=tokenizer.eos_token_id, prompt_lookup_num_tokens=settings.llm_draft or None),
                daemon=True)
            thread.start()
            for piece in streamer:
                if piece:
                    written.append(piece)
                    emit(piece)
            thread.join()

        yield from _thread_to_iterator(run)
        timing.generation_ms = (time.perf_counter() - t0) * 1000
        timing.generated_tokens = len(tokenizer("".join(written), add_special_tokens=False)["input_ids"])
        timing.cut = timing.generated_tokens >= max_tokens

    return LLM(name=path.name, backend="transformers", _stream=stream)
