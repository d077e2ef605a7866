"""Does the model know more than its first tokens say? Two signals read from inside it, cross-validated on the
tuning half like `eval.doubt_cv`.

    .venv/bin/python -m eval.model_signals      # needs .cache/fit-observations.pkl (python -m eval.fit); ~25 min
    .venv/bin/python -m eval.model_signals --ablation    # leave-one-out instead; ~22 min

The doubt (verify/decide.py) reads the model's probability of "geen" and of the line it meant, and the lines'
retrieval scores. It does not separate near misses from answerable questions. Two more signals are tried here,
each a general way of asking "does this line answer this question" without a cross-encoder or NLI model
(none with weights on the reachable registries, ../shared/MODELS.md):
- **hidden state**: the model's internal state where it chooses (after the prefill "Zinnen:"), at a middle and
  the last layer; linear probes of such states often tell answerable from unanswerable better than the output
  probabilities do. The states are reduced to their top 8 principal components (fitted on all rows, no labels).
- **query likelihood**: how much the line the model meant (or its passage) raises the model's probability of
  the question, against no text at all (log p(question | line) - log p(question), per token), as in
  zero-shot passage re-ranking with language models.
With `--ablation`, leave-one-out instead: the rise of the model's "geen" when the line it meant (or every line
it named) is taken out of the prompt, and its "geen" beside one empty line (eval/results/model_signals_ablation.json).
Objective and folds as in `eval.doubt_cv`. Writes eval/results/model_signals.json.
"""
from __future__ import annotations

import argparse
import ctypes
import dataclasses
import pickle
import time

import numpy as np

from answer import native
from answer.llamacpp import Engine
from answer.pipeline import none_probability
from answer.prompt import PREFILL, build_messages, grammar, parse
from eval import doubt_cv as CV
from eval import fit as F
from eval.common import write_result
from config import Settings
from service import settings_from
from verify import decide as D

LAYERS = (14, 17, 27)  # Qwen2.5-1.5B has 28: two middle layers and the last
COMPONENTS = 8
QUESTION_PROMPT = ("<|im_start|>user\nLees deze tekst en schrijf een vraag die de tekst beantwoordt.\n\n"
                   "Tekst: {text}<|im_end|>\n<|im_start|>assistant\nVraag:")


class Reader:
    """A second llama.cpp context on the engine's model that keeps the hidden states of the last token read."""

    def __init__(self, settings: Settings | None = None) -> None:
        path, choice = native.engine_for(settings or settings_from())
        self.engine = Engine(path, threads=2, ctx=2048, slots=1, library=choice.library)
        C = self.C = self.engine.C
        lib = ctypes.CDLL(C._lib._name.replace("libllama.so", "libggml.so"))
        for name, args, res in [("ggml_get_name", [ctypes.c_void_p], ctypes.c_char_p),
                                ("ggml_nelements", [ctypes.c_void_p], ctypes.c_int64),
                                ("ggml_nrows", [ctypes.c_void_p], ctypes.c_int64),
                                ("ggml_backend_tensor_get", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                                             ctypes.c_size_t], None)]:
            getattr(lib, name).argtypes, getattr(lib, name).restype = args, res
        wanted = {f"l_out-{i}".encode(): i for i in LAYERS}
        self.states: dict[int, np.ndarray] = {}

        def keep(tensor, ask, _user):  # ggml asks first whether it may show a tensor, then shows it
            name = lib.ggml_get_name(tensor)
            if name not in wanted:
                return not ask
            rows = lib.ggml_nrows(tensor)
            if ask or rows == 0:
                return True
            width = lib.ggml_nelements(tensor) // rows
            row = np.empty(width, dtype=np.float32)
            lib.ggml_backend_tensor_get(tensor, row.ctypes.data, (rows - 1) * width * 4, width * 4)
            self.states[wanted[name]] = row
            return True

        self._keep = C.ggml_backend_sched_eval_callback(keep)  # held: ggml calls it while the context lives
        cp = C.llama_context_default_params()
        cp.n_ctx, cp.n_seq_max, cp.n_batch, cp.n_ubatch = 4096, 2, 512, 512
        cp.n_threads = cp.n_threads_batch = 2
        cp.flash_attn = False  # as in Engine: ik_llama.cpp's flash attention asserts on some builds
        cp.cb_eval = self._keep
        self.ctx = C.llama_init_from_model(self.engine.model, cp)
        self.batch = C.llama_batch_init(512, 0, 1)
        self.cached: dict[int, list[int]] = {0: [], 1: []}  # per sequence: 0 the answer prompt, 1 the question

    def read(self, tokens: list[int], logits_from: int, seq: int) -> list[np.ndarray]:
        """Read `tokens` on sequence `seq` (reusing its cached prefix); the logits from `logits_from` on."""
        k, cached = 0, self.cached[seq]
        while k < min(len(cached), len(tokens) - 1, logits_from) and cached[k] == tokens[k]:
            k += 1
        self.C.kv_cache_seq_rm(self.ctx, seq, k, -1)
        self.states.clear()
        out = []
        for start in range(k, len(tokens), 512):
            part = tokens[start:start + 512]
            b = self.batch
            for i, t in enumerate(part):
                b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = t, start + i, 1, start + i >= logits_from
                b.seq_id[i][0] = seq
            b.n_tokens = len(part)
            if self.C.llama_decode(self.ctx, b) != 0:
                raise RuntimeError("llama_decode failed")
            out += [np.ctypeslib.as_array(self.C.llama_get_logits_ith(self.ctx, i), shape=(self.engine.n_vocab,))
                    .copy() for i in range(len(part)) if start + i >= logits_from]
        self.cached[seq] = list(tokens)
        return out

    def close(self) -> None:
        self.C.llama_batch_free(self.batch)
        self.C.llama_free(self.ctx)
        self.engine.close()

    def hidden(self, messages: list[dict]) -> np.ndarray:
        tokens = self.engine.tokenize(self.engine.render(messages) + PREFILL)
        self.read(tokens, logits_from=len(tokens) - 1, seq=0)  # the last layer keeps only rows with logits
        return np.stack([self.states[i] for i in LAYERS])

    def p_none(self, question: str, lines: list) -> float:
        """The model's probability of "geen" for these lines, read as the engine reads it (grammar allowing)."""
        tokens = self.engine.tokenize(self.engine.render(build_messages(question, lines)) + PREFILL)
        logits = self.read(tokens, logits_from=len(tokens) - 1, seq=0)[0]
        rules, probs = self.engine._grammar(grammar(len(lines))), {}
        try:
            self.engine.pick(logits, rules, probs)
        finally:
            self.C.grammar_free(rules)
        return none_probability([probs]) or 0.0

    def question_logp(self, text: str, question: str) -> float:
        """Mean log-probability per token of `question` after a prompt holding `text`."""
        head = self.engine.tokenize(QUESTION_PROMPT.format(text=text))
        q = self.engine.tokenize(" " + question.strip())
        logits = self.read(head + q, logits_from=len(head) - 1, seq=1)[:len(q)]
        total = 0.0
        for lg, t in zip(logits, q):
            lg = lg.astype(np.float64)
            total += lg[t] - (lg.max() + np.log(np.exp(lg - lg.max()).sum()))
        return total / len(q)


def observe(obs: list[F.Observation], measure) -> list[dict | None]:
    """`measure(reader, result, reply, line)` for each observation where the model chose a line (`line`: the
    one it meant), else None."""
    reader, out, t0 = Reader(), [], time.time()
    for j, o in enumerate(obs):
        res, reply = o.result, parse(o.result.raw)
        if not res.lines or not reply.chosen or res.signals.get("p_none") is None:
            out.append(None)
            continue
        out.append(measure(reader, res, reply, D.meant(res.lines, reply.chosen, F.signals(o))))
        if j % 25 == 0:
            print(f"{j}/{len(obs)} {time.time() - t0:.0f} s", flush=True)
    reader.close()
    return out


def inside_model(reader: Reader, res, reply, line) -> dict:
    """The hidden state where it chooses, and query likelihood of the line and of its passage."""
    passage = " ".join(s.passage.text for s in res.sources if s.n - 1 == line.source)[:1500]
    prior = reader.question_logp("(geen tekst)", res.standalone)
    return {"hidden": reader.hidden(build_messages(res.standalone, res.lines)),
            "line": reader.question_logp(line.text, res.standalone) - prior,
            "passage": reader.question_logp(passage, res.standalone) - prior}


def without(lines: list, drop: set[int]) -> list:
    """The lines less those numbered in `drop`, renumbered 1.. in the same order."""
    kept = [e for e in lines if e.id not in drop]
    return [dataclasses.replace(e, id=i) for i, e in enumerate(kept, 1)]


def leave_one_out(reader: Reader, res, reply, line) -> dict:
    """Does the model's "geen" rise when the line it meant (or every line it named) is taken away? An answer
    that rests on a line should; a loose pick on a near miss need not. And the question's own pull towards
    "geen", beside one empty line (contextual calibration)."""
    q, empty = res.standalone, [dataclasses.replace(res.lines[0], id=1, sentences=())]
    return {"full": reader.p_none(q, res.lines), "stored": res.signals["p_none"],
            "meant_out": reader.p_none(q, without(res.lines, {line.id})),
            "named_out": reader.p_none(q, without(res.lines, {line.id, *reply.chosen})),
            "empty": reader.p_none(q, empty)}


def components(states: np.ndarray, k: int = COMPONENTS) -> np.ndarray:
    """The top-k principal components of standardised states (fitted without labels)."""
    z = (states - states.mean(0)) / (states.std(0) + 1e-6)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    return z @ vt[:k].T


def cross_validate(rows: list, seen: list, extra_of) -> dict:
    """The doubt alone, then with each extra signal (`extra_of(seen)`: name -> one row of values per usable
    observation), cross-validated as in eval.doubt_cv."""
    for r, s in zip(rows, seen):
        if s is None:
            r["x"] = None
    usable = [i for i, r in enumerate(rows) if r["x"] is not None]
    extra: dict[str, np.ndarray] = extra_of([seen[i] for i in usable])
    base = [0, 1, 2, 3]
    result = {"base (the doubt as it is)": CV.cross_validated(rows, base)}
    for name, x in extra.items():
        for j, i in enumerate(usable):
            rows[i]["x"] = rows[i]["x"][:4] + [float(v) for v in x[j]]
        result[f"+ {name}"] = CV.cross_validated(rows, base + list(range(4, 4 + x.shape[1])))
    for name, r in result.items():
        print(f"{r['objective']:.3f}  {name}  {r}")
    return {"n": len(usable), "folds": 5, "shuffles": 3, "results": result}


def inside(seen: list[dict]) -> dict[str, np.ndarray]:
    extra = {"query likelihood of the line": np.array([[s["line"]] for s in seen]),
             "query likelihood of its passage": np.array([[s["passage"]] for s in seen])}
    for n, layer in enumerate(LAYERS):
        extra[f"hidden state, layer {layer} ({COMPONENTS} components)"] = components(
            np.array([s["hidden"][n] for s in seen]))
    return extra


def ablated(seen: list[dict]) -> dict[str, np.ndarray]:
    log = lambda key: np.log(np.maximum([s[key] for s in seen], 1e-6))  # noqa: E731
    rise_meant, rise_named, prior = log("meant_out") - log("full"), log("named_out") - log("full"), log("empty")
    return {"rise of geen without the line meant": rise_meant[:, None],
            "rise of geen without every line named": rise_named[:, None],
            "geen with one empty line (the question's own pull)": prior[:, None],
            "all three": np.stack([rise_meant, rise_named, prior], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ablation", action="store_true",
                    help="leave-one-out signals instead of the hidden state and query likelihood (~30 min)")
    args = ap.parse_args()
    obs = [F.Observation(*o) for o in pickle.loads(F.CACHE.read_bytes())]
    rows = CV.observation_rows(obs)
    if args.ablation:
        seen = observe(obs, leave_one_out)
        stored = [s for s in seen if s is not None]
        gap = max(abs(s["full"] - s["stored"]) for s in stored)
        print(f"p_none read again against stored: largest difference {gap:.4f}")
        write_result("model_signals_ablation", {**cross_validate(rows, seen, ablated), "p_none_gap": round(gap, 4),
                                                "signals": seen})
    else:
        seen = observe(obs, inside_model)
        write_result("model_signals", {**cross_validate(rows, seen, inside), "layers": LAYERS})

if __name__ == "__main__":
    main()
