"""Compare the model backends from their benchmark results: figures and sample answers, as Markdown.

    .venv/bin/python -m eval.answers --limit 6 --xquad 0 --llm-backend transformers
    .venv/bin/python -m answer.serve_llm --port 8080 &   # then:
    .venv/bin/python -m eval.answers --limit 6 --xquad 0 --llm-url http://127.0.0.1:8080/v1
    .venv/bin/python -m eval.backends                     # writes eval/results/backends.md
"""
from __future__ import annotations

import json

from eval.common import RESULTS_DIR

FILES = {"llamacpp (in-process, default)": "answers.json", "transformers (GGUF dequantised)":
         "answers-transformers.json", "openai (llama.cpp server over HTTP)": "answers-openai.json"}


def main() -> None:
    loaded = {name: json.loads((RESULTS_DIR / f).read_text()) for name, f in FILES.items()
              if (RESULTS_DIR / f).exists()}
    lines = ["# Model backends compared", "",
             "Same model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M), same questions; 2 CPU cores; each row from the run "
             "dated in its last column.", "",
             "| backend | questions | load + warm-up s | median first token ms | median total ms | peak RSS MB | run |",
             "|---|---|---|---|---|---|---|"]
    for name, r in loaded.items():
        t = r["timings_ms"]
        lines.append(f"| {name} | {r['seeds']['n']} + {r['unanswerable']['n']} | {r['model_load_and_warm_up_s']} | "
                     f"{t['median_first_token']} | {t['median_total']} | {r['peak_rss_mb']:.0f} | {r['generated']} |")
    lines += ["", "Notes: transformers keeps no prompt cache between questions, so it re-reads the whole prompt "
              "(system, examples, sources: ~490 tokens) every time, dequantised to fp32 (9 GB); it is the path for "
              "GPU machines and safetensors models. For the openai backend the memory is the client's only: the "
              "server process holds the model (~2 GB), and its first-token time includes HTTP and a cold cache on "
              "its first question.", "", "## Sample answers", ""]
    ids = None
    for name, r in loaded.items():
        mine = {a["id"]: a for a in r["answers"]}
        ids = [i for i in mine if i in (ids or mine)]
    header = "| question | " + " | ".join(loaded) + " |"
    lines += [header, "|" + "---|" * (len(loaded) + 1)]
    for i in (ids or [])[:12]:
        row = [next(iter(loaded.values()))["answers"][[a["id"] for a in next(iter(loaded.values()))["answers"]].index(i)]["question"]]
        for r in loaded.values():
            a = {x["id"]: x for x in r["answers"]}[i]
            row.append(a["answer"].replace("\xa0", " ").replace("|", "/").replace("\n", " ")[:160])
        lines.append("| " + " | ".join(row) + " |")
    out = RESULTS_DIR / "backends.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
