"""Batched decoding for the in-process engine: several answers written at once, prompts read in between.

Why: writing is bound by memory bandwidth (each step reads all the weights), so k answers advance one token
each for about the cost of one (eval/results/roofline.json: one step costs 37 ms for 1 row, 39 for 2, 59 for
4); a writing row added to a prompt chunk costs about what one more prompt token does (~9 ms). Prompt reading
is bound by arithmetic and is not shared: it is read in chunks, and every chunk carries a row for each answer
under way, so answers keep streaming while the next visitor's prompt is read.

One thread owns the llama.cpp context. It admits up to `parallel` jobs, oldest first, and places each on the
cached sequence (slot) that shares the longest prefix with its prompt; where a busy slot shares more, that
prefix is copied (`llama_kv_cache_seq_cp` shares the cache cells, nothing is recomputed or duplicated). Then
it runs one llama_decode per step: a row for every job that is writing and a chunk of the oldest unread
prompt. Greedy picking and the grammar stay with the engine (answer/llamacpp.py), per job.

Answers copy their evidence (the prompt asks them to use the sentences' own words), so a writing job also feeds
up to `draft` tokens guessed from its prompt: where the last tokens written occur in the prompt, the tokens that
follow them there (prompt-lookup decoding, as llama.cpp's `lookup` example and transformers'
`prompt_lookup_num_tokens` do). The same step's logits check every guess: tokens are still chosen one by one,
greedily and under the grammar, and a guess is kept only while it equals the token chosen, so the reply is the
one written without guessing; each kept guess saves a step. Rejected guesses leave the KV cache at once.
"""
from __future__ import annotations

import codecs
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from answer.llm import Timing

log = logging.getLogger(__name__)

SIMILARITY_MIN = 0.1  # share of a prompt a slot's cache must cover to be reused (llama.cpp's server default)
DRAFT_NGRAMS = (3, 2)  # lengths of the written tail looked up in the prompt, longest first
TRACED_STEPS = 2  # steps whose options are reported (under a grammar: "geen" or not, then the first line)
END = object()  # the last item a job's queue receives when it ends well


@dataclass
class Slot:
    """One KV-cache sequence and the tokens it holds."""

    seq: int
    tokens: list[int] = field(default_factory=list)
    last_used: float = 0.0
    busy: bool = False


@dataclass(eq=False)
class Job:
    """One generation: its prompt, where it stands, and the queue its text pieces go to."""

    tokens: list[int]
    max_tokens: int
    timing: Timing
    rules: object | None = None  # a llama.cpp grammar; the scheduler frees it when the job ends
    out: queue.Queue = field(default_factory=queue.Queue)
    slot: Slot | None = None
    next_token: int | None = None  # written, still to be fed
    source: np.ndarray | None = None  # the prompt as an array, where drafts are looked up
    generated: int = 0
    cancelled: bool = False  # set by the reader that stopped listening
    started: float | None = None  # first chunk read
    prompt_done: float | None = None
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))  # a character may span tokens


class Sampler(Protocol):
    """What the scheduler needs from the engine: the C API, the context, and how to choose and print a token."""

    C: object
    ctx: object
    model: object
    n_vocab: int

    def pick(self, logits: np.ndarray, rules, probs: dict | None = None) -> int: ...

    def piece(self, token: int) -> bytes: ...


def draft(source: np.ndarray, tail: list[int], n: int) -> list[int]:
    """Up to `n` tokens that followed the last occurrence in `source` of the longest of `tail`'s last
    DRAFT_NGRAMS tokens (the evidence and the question come last in the prompt, so they are found first)."""
    if n <= 0:
        return []
    for size in DRAFT_NGRAMS:
        if len(tail) < size or len(source) <= size:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(source[:-1], size)
        hits = np.flatnonzero((windows == np.asarray(tail[-size:])).all(axis=1))
        if len(hits):
            start = int(hits[-1]) + size
            return source[start:start + n].tolist()
    return []


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class Scheduler:
    """Runs jobs on `slots` cached sequences, up to `parallel` at once, in steps of at most `batch` rows of which
    at most `chunk` are prompt tokens, each writing job guessing up to `draft` tokens ahead."""

    def __init__(self, engine: Sampler, slots: int, parallel: int, batch: int, chunk: int, draft: int = 0):
        self.e, self.C = engine, engine.C
        self.slots = [Slot(seq=i) for i in range(slots)]
        self.draft = max(0, min(draft, batch // max(parallel, 1) - 1))
        self.parallel, self.batch_size = parallel, batch
        self.chunk = max(1, min(chunk, batch - parallel * (1 + self.draft)))
        self._batch = self.C.llama_batch_init(batch, 0, 1)
        self._waiting: deque[Job] = deque()
        self._active: list[Job] = []
        self._cv = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- the callers' side ---------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._cv:
            if self._closed:
                raise RuntimeError("the language model was closed")
            self._waiting.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llama-scheduler", daemon=True)
                self._thread.start()
            self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join()
        for job in [*self._active, *self._waiting]:
            self._retire(job, RuntimeError("the language model was closed"))
        self._waiting.clear()
        self.C.llama_batch_free(self._batch)

    # -- the scheduler thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._waiting and not self._active:
                    self._cv.wait()
                if self._closed:
                    return
                self._admit()
            try:
                self._step()
            except Exception as exc:  # never leave a reader waiting on a thread that stopped
                log.exception("batched decoding failed; the answers under way end with this error")
                for job in list(self._active):
                    self._retire(job, exc, forget=True)

    def _admit(self) -> None:
        while self._waiting and len(self._active) < self.parallel:
            job = self._waiting.popleft()
            if job.cancelled:
                self._retire(job)
                continue
            self._place(job)
            self._active.append(job)

    def _place(self, job: Job) -> None:
        """Put a job on the free slot that shares most of its prompt (or, sharing little, on an empty or the
        least recently used one, so it does not evict a prefix still in use), copying a longer shared prefix
        from any other slot."""
        shared = {s.seq: common_prefix(s.tokens, job.tokens) for s in self.slots}
        free = [s for s in self.slots if not s.busy]
        slot = max(free, key=lambda s: shared[s.seq])
        if shared[slot.seq] < SIMILARITY_MIN * len(job.tokens):
            slot = min(free, key=lambda s: (bool(s.tokens), s.last_used))
        donor = max(self.slots, key=lambda s: shared[s.seq])  # the slot itself where none shares more
        if shared[donor.seq] > shared[slot.seq]:
            self.C.kv_cache_seq_rm(self.e.ctx, slot.seq, 0, -1)
            self.C.kv_cache_seq_cp(self.e.ctx, donor.seq, slot.seq, 0, shared[donor.seq])
            slot.tokens = donor.tokens[:shared[donor.seq]]
        cached = min(shared[donor.seq], len(job.tokens) - 1)  # the last prompt token is read: its logits start
        self.C.kv_cache_seq_rm(self.e.ctx, slot.seq, cached, -1)
        del slot.tokens[cached:]
        slot.busy, slot.last_used = True, time.monotonic()
        job.slot = slot
        job.timing.prompt_tokens, job.timing.cached_tokens = len(job.tokens) - cached, cached
        job.timing.drafted = job.timing.accepted = 0
        job.source = np.asarray(job.tokens, dtype=np.int32)
        job.timing.step_probs = [] if job.rules else None

    def _step(self) -> None:
        for job in [j for j in self._active if j.cancelled]:
            self._retire(job)
        writers = [j for j in self._active if j.next_token is not None]
        # A job's slot holds only prompt tokens until its prompt is read, then its answer's too.
        reader = next((j for j in self._active if len(j.slot.tokens) < len(j.tokens)), None)
        rows: list[tuple[int, int, int, bool]] = []
        fed: dict[int, list[int]] = {}  # writer index -> its tokens in this step: the chosen one, then guesses
        for i, job in enumerate(writers):
            room = min(self.draft, job.max_tokens - job.generated - 1)
            tail = job.slot.tokens[-DRAFT_NGRAMS[0]:] + [job.next_token]
            fed[i] = [job.next_token] + draft(job.source, tail, room)
            rows += [(job.slot.seq, len(job.slot.tokens) + k, t, True) for k, t in enumerate(fed[i])]
            job.timing.drafted += len(fed[i]) - 1
        chunk: list[int] = []
        if reader is not None:
            base = len(reader.slot.tokens)
            chunk = reader.tokens[base:base + min(self.chunk, self.batch_size - len(rows))]
            last = base + len(chunk) == len(reader.tokens)
            rows += [(reader.slot.seq, base + i, t, last and i == len(chunk) - 1) for i, t in enumerate(chunk)]
            reader.started = reader.started or time.perf_counter()
        if not rows:
            return
        if not self._decode(rows):
            if reader is None:
                raise RuntimeError("llama_decode found no room in the KV cache for the answers under way")
            self._retire(reader, RuntimeError(f"no room in the KV cache for a prompt of {len(reader.tokens)} "
                                              f"tokens"), forget=True)
            return
        row = 0
        for i, job in enumerate(writers):
            self._take(job, fed[i], row)
            row += len(fed[i])
        if reader is not None:
            reader.slot.tokens.extend(chunk)
            if last:
                reader.prompt_done = time.perf_counter()
                reader.timing.prompt_ms = (reader.prompt_done - reader.started) * 1000
                reader.timing.generated_tokens = 0
                self._advance(reader, self._logits(len(rows) - 1))

    def _take(self, job: Job, fed: list[int], row: int) -> None:
        """Choose a writer's tokens from the logits of its rows: after the token it had chosen, each guess is
        kept while it is the token chosen next. The cells of the guesses not kept are removed."""
        slot = job.slot
        for k, token in enumerate(fed):
            job.next_token = None  # fed: the token chosen, or a guess equal to the one chosen after it
            job.timing.accepted += int(k > 0)
            slot.tokens.append(token)
            self._advance(job, self._logits(row + k))
            if job.next_token is None or k + 1 == len(fed) or job.next_token != fed[k + 1]:
                break
        if len(fed) > k + 1:
            self.C.kv_cache_seq_rm(self.e.ctx, slot.seq, len(slot.tokens), -1)

    def _decode(self, rows: list[tuple[int, int, int, bool]]) -> bool:
        """One llama_decode of the rows (seq, pos, token, logits?). Where the cache has no room, compact it,
        then drop the idle slots' caches, and try again; False if it still does not fit."""
        b = self._batch
        for i, (seq, pos, token, logits) in enumerate(rows):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
            b.seq_id[i][0] = seq
        b.n_tokens = len(rows)
        if self.C.llama_decode(self.e.ctx, b) == 0:
            return True
        log.warning("KV cache full for %d rows: compacting it", len(rows))
        self.C.kv_cache_defrag(self.e.ctx)
        self.C.kv_cache_update(self.e.ctx)
        if self.C.llama_decode(self.e.ctx, b) == 0:
            return True
        for s in self.slots:
            if not s.busy:
                self.C.kv_cache_seq_rm(self.e.ctx, s.seq, 0, -1)
                s.tokens.clear()
        return self.C.llama_decode(self.e.ctx, b) == 0

    def _logits(self, row: int) -> np.ndarray:
        ptr = self.C.llama_get_logits_ith(self.e.ctx, row)
        return np.ctypeslib.as_array(ptr, shape=(self.e.n_vocab,))

    def _advance(self, job: Job, logits: np.ndarray) -> None:
        """Choose the job's next token from its logits: send its text on, or end the job. A failure here (the
        grammar allowing nothing) ends this job only."""
        try:
            self._choose(job, logits)
        except Exception as exc:
            log.exception("choosing a token failed; that answer ends with this error")
            self._retire(job, exc, forget=True)

    def _choose(self, job: Job, logits: np.ndarray) -> None:
        if job.generated >= job.max_tokens:
            self._finish(job)
            return
        probs = None
        if job.rules is not None and job.generated < TRACED_STEPS:
            probs = {}
            job.timing.step_probs.append(probs)
        token = self.e.pick(logits, job.rules, probs)
        if self.C.llama_token_is_eog(self.e.model, token):
            self._finish(job)
            return
        if job.rules is not None:
            self.C.grammar_accept(job.rules, self.e.ctx, token)
        job.generated += 1
        job.timing.generated_tokens = job.generated
        text = job.decoder.decode(self.e.piece(token))
        if text:
            job.out.put(text)
        if job.generated >= job.max_tokens:
            job.timing.cut = True
            self._finish(job)
        else:
            job.next_token = token

    def _finish(self, job: Job) -> None:
        tail = job.decoder.decode(b"", final=True)
        if tail:
            job.out.put(tail)
        job.timing.generation_ms = (time.perf_counter() - (job.prompt_done or time.perf_counter())) * 1000
        self._retire(job)

    def _retire(self, job: Job, error: BaseException | None = None, forget: bool = False) -> None:
        """End a job: free its slot (keeping its cache for the next prompt that shares it, unless `forget`)."""
        if job in self._active:
            self._active.remove(job)
        if job.slot is not None:
            if forget:
                self.C.kv_cache_seq_rm(self.e.ctx, job.slot.seq, 0, -1)
                job.slot.tokens.clear()
            job.slot.busy, job.slot.last_used = False, time.monotonic()
            job.slot = None
        if job.rules is not None:
            self.C.grammar_free(job.rules)
            job.rules = None
        job.out.put(error if error is not None else END)

