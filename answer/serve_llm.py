"""Serve the bundled model over HTTP with llama.cpp's OpenAI-compatible server (for --llm-url elsewhere).

    python -m answer.serve_llm --port 8080 --parallel 2   # one slot per app replica (eval/replicas.py)
    VRAAGBAAK_LLM_API_KEY=... python -m answer.serve_llm --host 10.0.0.5   # on a network: requests need the key

Each app process sends its model at most `llm_parallel` questions at once (default one), so a server behind
N app replicas sees at most N × llm_parallel requests at once. `--parallel N` gives it N slots: llama.cpp decodes
them together in one batch (continuous batching) instead of queueing them. Each slot gets the whole context
(`llm_ctx`; the server's context is N times it, about 110 MB of KV cache per slot at 4096 tokens), and the
fixed system prompt a slot has read is kept in llama.cpp's prompt cache in RAM for the other slots to reuse.
With an API key (`--api-key` or the setting `llm_api_key`) every request must carry it; the replicas send the
same setting.
"""
from __future__ import annotations

import argparse
import signal
import threading

import config  # noqa: F401
from answer.llm import model_path
from config import load_settings


def server_params(model: str, ctx: int, threads: int, parallel: int = 1):
    """xllamacpp settings for the bundled model: `parallel` slots of `ctx` tokens each, threads, quiet (shared
    with eval/engine.py)."""
    import xllamacpp as xl

    params = xl.CommonParams()
    params.model.path = model
    params.n_parallel = parallel
    params.n_ctx = ctx * parallel  # split evenly among the slots: each holds a whole prompt and its reply
    params.cont_batching = True
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.verbosity = -1
    return params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--llm-model", dest="llm_model")
    ap.add_argument("--api-key", dest="llm_api_key",
                    help="require this key of every request (default: setting llm_api_key / VRAAGBAAK_LLM_API_KEY)")
    ap.add_argument("--parallel", type=int, default=1,
                    help="requests decoded at once (slots); one per app replica that uses this server")
    args = ap.parse_args(argv)
    if not 1 <= args.parallel <= 64:
        ap.error("--parallel must be from 1 to 64")
    settings = load_settings({"llm_model": args.llm_model, "llm_api_key": args.llm_api_key})
    import xllamacpp as xl

    params = server_params(str(model_path(settings)), settings.llm_ctx, settings.threads, args.parallel)
    params.hostnames = [args.host]
    params.port = args.port
    if settings.llm_api_key:
        params.api_keys = [settings.llm_api_key]  # then every request needs 'Authorization: Bearer <key>'
    server = xl.Server(params)
    print(f"llama.cpp server on {server.listening_address}/v1 ({args.parallel} slot"
          f"{'s' if args.parallel > 1 else ''} of {settings.llm_ctx} tokens"
          f"{', API key required' if settings.llm_api_key else ''})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
