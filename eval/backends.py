"""Compare the model backends from their benchmark results: figures and sample answers, as Markdown.

    .venv/bin/python -m eval.answers --half test --parts seeds --limit 12 --out answers-backend-llamacpp
    .venv/bin/python -m eval.answers --half test --parts seeds --limit 12 --llm-backend transformers \
        --out answers-backend-transformers
    .venv/bin/python -m answer.serve_llm --port 8080 &   # then:
    .venv/bin/python -m eval.answers --half test --parts seeds --limit 12 --llm-url http://127.0.0.1:8080/v1 \
        --out answers-backend-openai
    .venv/bin/python -m eval.backends                     # writes eval/results/backends.md
"""
from __future__ import annotations

import json

from eval.common import RESULTS_DIR

FILES = {"llamacpp (in-process, default)": "answers-backend-llamacpp.json", "transformers (GGUF dequantised)":
         "answers-backend-transformers.json", "openai (llama.cpp server over HTTP)": "answers-backend-openai.json"}


def main() -> None:
    loaded = {name: json.loads((RESULTS_DIR / f).read_text()) for name, f in FILES.items()
              if (RESULTS_DIR / f).exists()}
    lines = ["# Model backends compared", "",
             "Same model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M), same questions; 2 CPU cores; each row from the run "
             "dated in its last column.", "",
             "| backend | questions | key facts | load + warm-up s | median first token ms | median total ms | "
             "peak RSS MB | run |", "|---|---|---|---|---|---|---|---|"]
    for name, r in loaded.items():
        t, a = r["timings_seed_questions"], r["seeds"]["answerable"]
        lines.append(f"| {name} | {r['timings_seed_questions']['n']} | {a['answer_correctness']} | "
                     f"{r['model_load_and_warm_up_s']} | {t.get('first_token_ms', {}).get('median')} | "
                     f"{t['total_ms']['median']} | {r['peak_rss_mb']:.0f} | {r['generated']} |")
    lines += ["", "Notes: only llama.cpp (in-process, and its server) enforces the reply grammar and reports the "
              "probabilities the refusal weighs; transformers gets the same prompt and its reply is read leniently. "
              "transformers keeps no prompt cache between questions, so it re-reads the whole prompt every time, "
              "dequantised to fp32 (9 GB); it is the path for GPU machines and safetensors models. For the openai "
              "backend the memory is the client's only: the server process holds the model (~2 GB).", "",
              "## Sample answers", ""]
    rows = {name: {x["id"]: x for x in r["seeds"]["rows"]} for name, r in loaded.items()}
    ids = [i for i in next(iter(rows.values()), {}) if all(i in m for m in rows.values())]
    lines += ["| question | " + " | ".join(loaded) + " |", "|" + "---|" * (len(loaded) + 1)]
    for i in ids[:12]:
        row = [next(iter(rows.values()))[i]["question"]]
        row += [m[i]["reply"].replace("\xa0", " ").replace("|", "/").replace("\n", " ")[:160] for m in rows.values()]
        lines.append("| " + " | ".join(row) + " |")
    out = RESULTS_DIR / "backends.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
