"""Where the time goes, against the machine's limit: the engine's prompt reading and writing speed next to
what the memory bandwidth and the cores' arithmetic allow, and what writing several answers at once costs.

    .venv/bin/python -m eval.roofline          # ~1 minute; writes eval/results/roofline.json

- Writing one token reads every weight once but the token embedding (a lookup reads one row): its floor is
  (those bytes) / (memory bandwidth). The bandwidth is the fastest of three numpy reads (a sum, a maximum, a
  count) over a buffer larger than any cache: a sum alone is bound by its additions on recent CPUs.
- Reading a prompt token costs about 2 operations per weight (a multiply and an add): its floor is
  (2 x parameters) / (the cores' arithmetic rate). The rate is measured as float32 matrix products (OpenBLAS);
  llama.cpp's quantised kernels multiply in 8-bit integers, which AVX2 does at up to twice that rate and
  AVX512-VNNI (the engine built for this CPU, answer/native.py) at up to four times (one vpdpbusd: 64
  multiply-adds, against 16 for a float32 FMA), so the estimate divides the float32 floor by 2 or by 4.
- Batched decoding: one llama_decode of k rows (k sequences writing a token each) is timed for k = 1 ... 16;
  the cost per row says how much several visitors gain from being written in one batch.
"""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import numpy as np

import config  # noqa: F401
from eval.common import write_result

ROWS = (1, 2, 4, 8, 12, 16)


def memory_bandwidth_gbs(threads: int, mb: int = 512, repeats: int = 5) -> float:
    """Read bandwidth: `threads` threads each reading their share of a buffer larger than any cache, with the
    fastest of a sum, a maximum and a count of non-zero bytes (a sum alone is bound by its additions)."""
    data = np.ones(mb * (1 << 20) // 8, dtype=np.float64)
    parts = np.array_split(data, threads)
    best = float("inf")
    for read in (np.sum, np.max, lambda part: np.count_nonzero(part.view(np.uint8))):
        for _ in range(repeats):
            workers = [threading.Thread(target=read, args=(p,)) for p in parts]
            t0 = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            best = min(best, time.perf_counter() - t0)
    return data.nbytes / best / 1e9


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """float32 matrix product rate of the cores (OpenBLAS, all threads)."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def model_figures(path: Path) -> dict:
    """Bytes of weights and parameters of a GGUF model. Per prompt token the products use every weight but the
    token embedding (a lookup) and the output layer (run for the last prompt token only)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    params = sum(int(t.n_elements) for t in reader.tensors)
    lookup = sum(int(t.n_elements) for t in reader.tensors if t.name in ("token_embd.weight", "output.weight"))
    weight_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    # Writing reads the output layer too; the token embedding only when it is the output layer as well (tied).
    has_output = any(t.name == "output.weight" for t in reader.tensors)
    embedding = sum(int(t.n_bytes) for t in reader.tensors if t.name == "token_embd.weight" and has_output)
    return {"file": path.name, "parameters": params, "matmul_parameters_per_prompt_token": params - lookup,
            "weight_bytes": weight_bytes, "weight_bytes_read_per_written_token": weight_bytes - embedding}


def engine_figures(path: Path, threads: int, prompt_tokens: int = 300, library: Path | None = None) -> dict:
    """The in-process engine: prompt reading and single-sequence writing speed, and the cost of one decode
    step of k rows on k sequences (what batched decoding of k visitors' answers pays per token). Decodes
    directly on the engine's slots, below its scheduler (which is not started)."""
    from answer.llamacpp import Engine

    engine = Engine(path, threads=threads, ctx=2048, slots=max(ROWS) + 1, library=library)
    slots = engine.scheduler.slots
    try:
        text = "Sociaal werkers helpen mensen in wijken en buurten om hun problemen op te lossen. " * 40
        tokens = engine.tokenize(text)[:prompt_tokens]
        _decode_rows(engine, [(slots[0], t) for t in tokens[:8]])  # warm the kernels
        engine.C.kv_cache_seq_rm(engine.ctx, 0, 0, -1)
        slots[0].tokens.clear()
        t0 = time.perf_counter()
        _decode_rows(engine, [(slots[0], t) for t in tokens])
        prompt_s = time.perf_counter() - t0
        writing = [_decode_rows(engine, [(slots[0], token)]) for token in tokens[:24]]
        steps = {}
        for k in ROWS:  # k sequences at the same length, one new token each per step
            times = []
            for s in slots[1:k + 1]:
                engine.C.kv_cache_seq_rm(engine.ctx, s.seq, 0, -1)
                s.tokens.clear()
            for j in range(6):
                times.append(_decode_rows(engine, [(s, tokens[j]) for s in slots[1:k + 1]]))
            steps[k] = statistics.median(times[1:]) * 1000
    finally:
        engine.close()
    return {"prompt_tokens": len(tokens), "prompt_tokens_per_s": round(len(tokens) / prompt_s, 1),
            "writing_tokens_per_s": round(1 / statistics.median(writing), 1),
            "batched_step_ms": {str(k): round(v, 1) for k, v in steps.items()},
            "batched_ms_per_answer_token": {str(k): round(v / k, 1) for k, v in steps.items()}}


def _decode_rows(engine, rows: list) -> float:
    """One llama_decode of (slot, token) rows, each appended to its slot's sequence: the seconds it took."""
    batch = []
    for i, (s, token) in enumerate(rows):
        batch.append((s.seq, len(s.tokens), token, i == len(rows) - 1))
        s.tokens.append(token)
    t0 = time.perf_counter()
    if not engine.scheduler._decode(batch):
        raise RuntimeError("llama_decode failed")
    return time.perf_counter() - t0


def queue_model(step_ms: dict[int, float], prompt_ms_per_token: float, visitors: int, admit: int,
                prompt_tokens: int = 280, answer_tokens: tuple[int, ...] = (17, 25, 38, 38, 45, 60, 79),
                seed: int = 1) -> tuple[float, float]:
    """(median, worst) seconds until `visitors` questions asked at once are answered, when the engine reads one
    prompt at a time and writes up to `admit` answers together (admit=1: one answer at a time, as today).
    A model, not a measurement: one decode step costs what `step_ms` measured for its rows, plus the prompt
    chunk at the measured reading rate; answer lengths are drawn from the test half's spread. It reproduces
    the load test's one-at-a-time figures (eval/results/load.json) to within about 15 % (it leaves out
    the query embedding and the web queue)."""
    import random

    rng = random.Random(seed)
    left = [[prompt_tokens, rng.choice(answer_tokens)] for _ in range(visitors)]
    done, t = [0.0] * visitors, 0.0
    while any(g for _, g in left):
        writing = [i for i, (p, g) in enumerate(left) if p == 0 and g > 0]
        cost = _step_cost(step_ms, len(writing)) if writing else 0.0
        waiting = [i for i, (p, g) in enumerate(left) if p > 0]
        if waiting and len(writing) < admit:
            cost += left[waiting[0]][0] * prompt_ms_per_token
            left[waiting[0]][0] = 0
        t += cost
        for i in writing:
            left[i][1] -= 1
            if left[i][1] == 0:
                done[i] = t / 1000
    return round(statistics.median(done), 1), round(max(done), 1)


def _step_cost(step_ms: dict[int, float], rows: int) -> float:
    ks = sorted(step_ms)
    if rows in step_ms:
        return step_ms[rows]
    lo = max([k for k in ks if k < rows], default=ks[0])
    hi = min([k for k in ks if k > rows], default=ks[-1])
    if hi == lo:
        return step_ms[lo] * rows / lo
    return step_ms[lo] + (step_ms[hi] - step_ms[lo]) * (rows - lo) / (hi - lo)


def batching_outlook(engine: dict) -> dict:
    """What writing several answers at once could do for 10 and 20 visitors asking at once (queue_model)."""
    steps = {int(k): v for k, v in engine["batched_step_ms"].items()}
    per_token = 1000 / engine["prompt_tokens_per_s"]
    return {f"{n}_visitors": {f"write_{m}_at_once": dict(zip(("median_s", "worst_s"), queue_model(steps, per_token, n, m)))
                              for m in (1, 2, 3, 4)} for n in (10, 20)}


def measure() -> dict:
    from answer.native import engine_for
    from config import load_settings

    settings = load_settings()
    path, choice = engine_for(settings)
    machine = {"memory_read_gb_s": round(memory_bandwidth_gbs(settings.threads), 1),
               "float32_gflop_s": round(matmul_gflops(), 1), "threads": settings.threads}
    model = model_figures(path)
    engine = engine_figures(path, settings.threads, library=choice.library)
    write_floor_ms = model["weight_bytes_read_per_written_token"] / (machine["memory_read_gb_s"] * 1e9) * 1000
    read_floor_ms = 2 * model["matmul_parameters_per_prompt_token"] / (machine["float32_gflop_s"] * 1e9) * 1000
    int8 = 4 if choice.int8 else 2  # 8-bit products per float32 FMA: AVX512-VNNI in the build for this CPU, AVX2
    bound = {
        "writing_floor_ms_per_token": round(write_floor_ms, 1),
        "writing_measured_ms_per_token": round(1000 / engine["writing_tokens_per_s"], 1),
        "writing_share_of_bound": round(write_floor_ms / (1000 / engine["writing_tokens_per_s"]), 2),
        "prompt_floor_ms_per_token_float32": round(read_floor_ms, 2),
        "prompt_measured_ms_per_token": round(1000 / engine["prompt_tokens_per_s"], 2),
        "prompt_share_of_float32_bound": round(read_floor_ms / (1000 / engine["prompt_tokens_per_s"]), 2),
        "int8_speed_over_float32": int8,
        "prompt_floor_ms_per_token_int8_estimate": round(read_floor_ms / int8, 2),
        "prompt_share_of_int8_bound": round(read_floor_ms / int8 / (1000 / engine["prompt_tokens_per_s"]), 2),
    }
    return {"machine": machine, "model": model, "engine": {**engine, "how": choice.why}, "bound": bound,
            "batching_model": batching_outlook(engine)}


def main() -> None:
    result = measure()
    path = write_result("roofline", result)
    b, e = result["bound"], result["engine"]
    print(f"writing: {b['writing_measured_ms_per_token']} ms/token, floor {b['writing_floor_ms_per_token']} ms "
          f"({b['writing_share_of_bound']:.0%} of the bound)")
    print(f"prompt reading: {b['prompt_measured_ms_per_token']} ms/token, float32 floor "
          f"{b['prompt_floor_ms_per_token_float32']} ms, 8-bit estimate {b['prompt_floor_ms_per_token_int8_estimate']} ms "
          f"({b['prompt_share_of_int8_bound']:.0%} of it)")
    print("batched writing, ms per answer token by rows:", e["batched_ms_per_answer_token"])
    print("queue model, (median, worst) s:", result["batching_model"])
    print(f"written to {path}")


if __name__ == "__main__":
    main()
