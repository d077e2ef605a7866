"""llama.cpp in-process: the default engine on CPU, built on the ik_llama.cpp fork (`ik-llama-cpp-python`).

Why this build: on the same GGUF and 2 cores it reads prompts about twice as fast as mainline llama.cpp
(`xllamacpp`), thanks to its run-time weight repacking; prompt reading is nearly all of the time to first
token (`python -m eval.engine` measures both; eval/results/engine.json).

What it does, and nothing more:
- formats the chat with the model's own Jinja chat template (as llama.cpp's server does);
- hands the tokens to the scheduler (answer/batching.py), which writes up to `parallel` answers at once on
  cached sequences and reuses the longest prefix a new prompt shares with one, so the fixed system prompt and
  worked examples are read once, not per question;
- decodes greedily (temperature 0: reproducible answers), the grammar allowing, and yields text as it comes.

The package's ctypes module supplies the C structs; the few functions it leaves out are bound here.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from answer.batching import END, Job, Scheduler
from answer.llm import Timing

log = logging.getLogger(__name__)

_LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_GGML_LOG_LEVEL_ERROR = 4
_SHORTLIST = 64  # tokens offered to the grammar before the whole vocabulary is
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])  # llama_token_data


@_LOG_CALLBACK
def _log_errors_only(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    """llama.cpp prints hundreds of loader lines; keep only its errors, in our log."""
    if level == _GGML_LOG_LEVEL_ERROR and text:
        log.error("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())


def _api(library: str | None = None):
    """The C API of the wheel's library, or of `library` (a build for this CPU, answer/native.py). A process
    holds one library: asking for another once one is loaded is an error."""
    if library:
        os.environ["IK_LLAMA_CPP_LIB_PATH"] = library  # the package's loader reads it when first imported
    try:
        C = _loaded()
    except OSError:
        if library:  # a broken build: the caller may fall back to the wheel's library
            os.environ.pop("IK_LLAMA_CPP_LIB_PATH", None)
        raise
    if library and C._lib._name != library:
        raise RuntimeError(f"llama.cpp library {C._lib._name} is loaded already; cannot switch to {library}")
    return C


@functools.cache
def _loaded():
    """The C API, loaded and initialised once, on first use (importing the wheel loads a 26 MB library)."""
    from ik_llama_cpp import _ctypes_api as C

    def bind(name: str, argtypes: list, restype) -> Callable:
        fn = getattr(C._lib, name)
        fn.argtypes, fn.restype = argtypes, restype
        return fn

    c_void_p, c_int32 = ctypes.c_void_p, ctypes.c_int32
    C.kv_cache_seq_rm = bind("llama_kv_cache_seq_rm", [c_void_p, c_int32, c_int32, c_int32], ctypes.c_bool)
    C.kv_cache_seq_cp = bind("llama_kv_cache_seq_cp", [c_void_p, c_int32, c_int32, c_int32, c_int32], None)
    C.kv_cache_seq_pos_max = bind("llama_kv_cache_seq_pos_max", [c_void_p, c_int32], c_int32)
    C.kv_cache_defrag = bind("llama_kv_cache_defrag", [c_void_p], None)
    C.kv_cache_update = bind("llama_kv_cache_update", [c_void_p], None)
    C.meta_val_str = bind("llama_model_meta_val_str",
                          [c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t], c_int32)
    C.n_vocab = bind("llama_n_vocab", [c_void_p], c_int32)
    C.log_set = bind("llama_log_set", [_LOG_CALLBACK, c_void_p], None)
    C.model_get_vocab = bind("llama_model_get_vocab", [c_void_p], c_void_p)
    C.grammar_init = bind("llama_sampler_init_grammar", [c_void_p, ctypes.c_char_p, ctypes.c_char_p], c_void_p)
    C.grammar_free = bind("llama_grammar_free", [c_void_p], None)
    C.grammar_apply = bind("llama_sample_grammar", [c_void_p, ctypes.POINTER(C.llama_token_data_array), c_void_p],
                           None)
    C.grammar_accept = bind("llama_grammar_accept_token", [c_void_p, c_void_p, c_int32], None)
    C.log_set(_log_errors_only, None)
    C.llama_backend_init()
    return C


class Engine:
    """A loaded GGUF model writing up to `parallel` answers at once on `slots` cached sequences of up to `ctx`
    tokens each (the cache holds `ctx` * 2 tokens in all: prefixes are shared between sequences). Safe to call
    from several threads: one scheduler thread does all the decoding."""

    def __init__(self, path: Path, threads: int, ctx: int, slots: int = 2, batch: int = 512, parallel: int = 1,
                 chunk: int = 128, draft: int = 0, library: Path | None = None):
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        C = self.C = _api(str(library) if library else None)
        slots = max(slots, parallel + 1)  # a free slot keeps the other fixed prefix (follow-up rewrites) cached
        mp = C.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.repack_tensors = True  # interleave weight rows for the AVX2 kernels: ~2x faster prompt reading
        self.model = C.llama_model_load_from_file(str(path).encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load model {path}")
        cp = C.llama_context_default_params()
        cp.n_ctx, cp.n_seq_max = ctx * 2, slots
        cp.n_batch = cp.n_ubatch = batch
        cp.n_threads = cp.n_threads_batch = threads
        # Off: ik_llama.cpp's flash attention asserts on long prompts without VNNI, and with it (the build for
        # an AVX512-VNNI CPU) a second sequence's prompt read after others were freed gave "\n\n\n" instead of its
        # answer (tests/test_llamacpp.py::test_two_slots_keep_two_prefixes), though it read prompts ~1.15x faster.
        cp.flash_attn = False
        cp.defrag_thold = 0.1  # slots grow and shrink; keep free cells contiguous
        self.ctx = C.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.ctx_per_slot = ctx
        self.n_vocab = C.n_vocab(self.model)
        self.scheduler = Scheduler(self, slots=slots, parallel=parallel, batch=batch, chunk=chunk, draft=draft)
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        self._template = env.from_string(self._meta("tokenizer.chat_template"))

    def _meta(self, key: str) -> str:
        buf = ctypes.create_string_buffer(1 << 16)
        n = self.C.meta_val_str(self.model, key.encode(), buf, len(buf))
        if n < 0:
            raise RuntimeError(f"model has no {key}")
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            self.C.meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8")

    def render(self, messages: list[dict]) -> str:
        return self._template.render(messages=messages, add_generation_prompt=True, tools=None)

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        n = len(data) + 8
        while True:
            buf = (ctypes.c_int32 * n)()
            got = self.C.llama_tokenize(self.model, data, len(data), buf, n, True, True)
            if got >= 0:
                return list(buf[:got])
            n = -got

    def piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self.C.llama_token_to_piece(self.model, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.C.llama_token_to_piece(self.model, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def generate(self, messages: list[dict], max_tokens: int, timing: Timing | None = None,
                 grammar: str | None = None, prefill: str = "") -> Iterator[str]:
        """Greedy continuation of the chat, as text pieces, until an end-of-generation token or max_tokens.

        `prefill` starts the assistant's turn (it is read as prompt and not yielded); `grammar` (GBNF, root rule
        `root`) restricts what may follow it, so the reply cannot leave the format. `timing` is filled in as it
        goes: tokens read and taken from the cache, tokens written, and times."""
        timing = timing if timing is not None else Timing()
        tokens = self.tokenize(self.render(messages) + prefill)
        if len(tokens) + max_tokens > self.ctx_per_slot:
            raise ValueError(f"prompt of {len(tokens)} tokens plus {max_tokens} to generate exceeds the "
                             f"context of {self.ctx_per_slot} tokens")
        job = Job(tokens, max_tokens, timing, self._grammar(grammar) if grammar else None)
        try:
            self.scheduler.submit(job)  # from here on the scheduler owns the grammar and frees it
        except RuntimeError:
            if job.rules:
                self.C.grammar_free(job.rules)
            raise
        try:
            while (item := job.out.get()) is not END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancelled = True  # a reader that stops early (a visitor who left) frees its place

    def _grammar(self, gbnf: str):
        rules = self.C.grammar_init(self.C.model_get_vocab(self.model), gbnf.encode(), b"root")
        if not rules:
            raise ValueError(f"llama.cpp rejected the grammar: {gbnf[:200]!r}")
        return rules

    def _allowed(self, logits: np.ndarray, rules) -> np.ndarray:
        """Candidate tokens with their logits, those the grammar forbids at -inf. The grammar is asked about
        the best `_SHORTLIST` tokens first (checking all 150k costs ~20 ms a token), then about all."""
        for ids in (np.argpartition(-logits, _SHORTLIST)[:_SHORTLIST], np.arange(len(logits))):
            cand = np.zeros(len(ids), dtype=_TOKEN_DATA)
            cand["id"], cand["logit"] = ids, logits[ids]
            arr = self.C.llama_token_data_array(cand.ctypes.data_as(ctypes.POINTER(self.C.llama_token_data)),
                                                len(cand), -1, False)
            self.C.grammar_apply(self.ctx, ctypes.byref(arr), rules)
            if np.isfinite(cand["logit"]).any():
                return cand
        raise RuntimeError("the grammar allows no token here")

    def pick(self, logits: np.ndarray, rules, probs: dict | None = None) -> int:
        """The most likely token (the grammar allowing); fills `probs` with the likeliest allowed options."""
        if rules is None:
            return int(np.argmax(logits))
        cand = self._allowed(logits, rules)
        ok = cand[np.isfinite(cand["logit"])]
        if probs is not None:
            p = np.exp(ok["logit"] - ok["logit"].max())
            p /= p.sum()
            for i in np.argsort(-p)[:12]:
                probs[self.piece(int(ok["id"][i])).decode("utf-8", "replace")] = round(float(p[i]), 4)
        return int(ok["id"][np.argmax(ok["logit"])])

    def close(self) -> None:
        if self.ctx:
            self.scheduler.close()
            self.C.llama_free(self.ctx)
            self.C.llama_free_model(self.model)
            self.ctx = self.model = None


def _raise(message: str) -> None:
    raise ValueError(f"chat template: {message}")
