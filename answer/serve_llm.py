"""Serve the bundled model over HTTP with llama.cpp's OpenAI-compatible server (for --llm-url elsewhere).

    python -m answer.serve_llm --port 8080        # then: python app.py --llm-url http://127.0.0.1:8080/v1
"""
from __future__ import annotations

import argparse
import signal
import threading

import config  # noqa: F401
from answer.llm import model_path
from config import load_settings


def server_params(model: str, ctx: int, threads: int):
    """xllamacpp settings for the bundled model: context, threads, quiet (shared with eval/engine.py)."""
    import xllamacpp as xl

    params = xl.CommonParams()
    params.model.path = model
    params.n_ctx = ctx
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.verbosity = -1
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--llm-model", dest="llm_model")
    args = ap.parse_args()
    settings = load_settings({"llm_model": args.llm_model})
    import xllamacpp as xl

    params = server_params(str(model_path(settings)), settings.llm_ctx, settings.threads)
    params.hostnames = [args.host]
    params.port = args.port
    server = xl.Server(params)
    print(f"llama.cpp server on {server.listening_address}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
