"""Vraagbaak: ask Dutch questions about a Dutch corpus, offline, with citations checked by code.

    python app.py                      start the web app on http://127.0.0.1:7860
    python app.py search "vraag"       hybrid search (--k, --json, --batch FILE)
    python app.py quote "citaat"       check a quotation against the whole corpus
    python app.py ask "vraag"          answer with a local model, citations verified
    python app.py check-text FILE      check every quotation in a text (.txt .md .docx .pdf .html, - for stdin)
                                       (--report PATH: PATH.json + PATH.html, a report anyone can verify)
    python app.py verify-report R.json re-check an exported report against the corpus as it is now
    python app.py index [--rebuild]    build or verify the index

Every subcommand is a thin layer over functions the web app uses too.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, Iterable

import config  # noqa: F401  (sets the offline environment before anything else is imported)
from config import add_arguments
from errors import UserError
from prompts import message
from retrieval.progress import Snapshot
from service import CHOICES, FILE_TYPES, Vraagbaak, settings_from

log = logging.getLogger("vraagbaak")


# ---- argument parsing -----------------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser) -> None:
    """Every setting as a flag (generated from config.Settings), and --verbose."""
    g = p.add_argument_group("settings (also VRAAGBAAK_<NAME> environment variables)")
    add_arguments(g, CHOICES)
    g.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log progress (INFO) to stderr")


def _io(p: argparse.ArgumentParser, positional: str, help_text: str) -> None:
    p.add_argument(positional, nargs="?", help=help_text)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--batch", metavar="FILE", help="JSONL input rows {id, ...}; one JSON line out per row")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Vraagbaak: Dutch questions, checked citations.")
    _common(parser)
    sub = parser.add_subparsers(dest="command")

    s = sub.add_parser("serve", help="start the web app (the default)")
    _common(s)

    s = sub.add_parser("search", help="find passages")
    _common(s)
    _io(s, "query", "the search question")

    s = sub.add_parser("quote", help="check a quotation against the whole corpus")
    _common(s)
    _io(s, "quote", "the quotation to check")

    s = sub.add_parser("check-text", help="check every quotation in a whole text against the corpus")
    _common(s)
    s.add_argument("file", metavar="FILE", help=f"the text ({' '.join(FILE_TYPES)}), or - for standard input")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--report", metavar="PATH", help="also write PATH.json and PATH.html, a report anyone can verify")

    s = sub.add_parser("verify-report", help="re-check an exported report against the corpus as it is now")
    _common(s)
    s.add_argument("file", metavar="FILE.json")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("ask", help="answer a question with the local model; citations verified")
    _common(s)
    _io(s, "question", "the question")
    s.add_argument("--report", metavar="PATH", help="also write PATH.json and PATH.html, a report anyone can verify")

    s = sub.add_parser("add", help=f"add documents ({' '.join(FILE_TYPES)}) to the corpus")
    _common(s)
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("remove", help="remove an added document from the corpus")
    _common(s)
    s.add_argument("doc", metavar="DOC", help="document id (its file name)")

    s = sub.add_parser("index", help="build (or verify) the index")
    _common(s)
    s.add_argument("--rebuild", action="store_true", help="rebuild even if a sound index exists")
    return parser


# ---- indexing progress ----------------------------------------------------------------------------------

class ProgressBar:
    """Indexing progress on stderr (any command that has to build the index): on a terminal a bar redrawn in
    place, 'Indexeren: 1200/5000 passages, 14,2/s, nog 4 min 27 s'; otherwise (a log file, a pipe) that line
    when it starts, every `every_s` seconds and when it is done."""

    WIDTH = 24

    def __init__(self, every_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.every_s, self.clock = every_s, clock
        self._shown: float | None = None

    def __call__(self, snapshot: Snapshot) -> None:
        stream, now = sys.stderr, self.clock()  # looked up now: tests and callers redirect stderr
        if stream.isatty():
            if snapshot.finished or self._shown is None or now - self._shown >= 0.2:
                filled = round(self.WIDTH * snapshot.fraction)
                stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {snapshot.text()}\033[K"
                             + ("\n" if snapshot.finished else ""))
                stream.flush()
                self._shown = now
        elif snapshot.finished or self._shown is None or now - self._shown >= self.every_s:
            print(snapshot.text(), file=stream, flush=True)
            self._shown = now
        if snapshot.finished:
            self._shown = None  # a next build starts its own line


# ---- subcommands ----------------------------------------------------------------------------------------

def _search_row(app: Vraagbaak, query: str) -> dict:
    return {"query": query, "passages": [h.to_dict() for h in app.search(query)]}


def _print_search(result: dict) -> None:
    if not result["passages"]:
        print("Geen passages gevonden.")
    for i, p in enumerate(result["passages"], start=1):
        print(f"{i}. {p['title']} — {p['doc']}, alinea {p['paragraph']} (score {p['score']:.3f})")
        print(textwrap.fill(p["text"].replace("\n\n", " / "), width=100, initial_indent="   ",
                            subsequent_indent="   "))
        print()


def _run_batch(path: str, field: str, handle: Callable[[str, dict], dict]) -> int:
    """Read JSONL rows {id, field, ...}; write one JSON line per row, echoing its id. Bad rows get an error.
    `handle` gets the row's text and the whole row (for optional fields such as an answer's `history`)."""
    try:
        lines: Iterable[str] = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError("batch_missing", f"cannot read batch file {path}: {exc}", path=path) from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row_id = None
        try:
            row = json.loads(line)
            row_id = row.get("id") if isinstance(row, dict) else None
            if not isinstance(row, dict):
                raise ValueError("row is not a JSON object")
            value = row.get(field)
            if value is None and field == "query":
                value = row.get("question")
        except (ValueError, json.JSONDecodeError) as exc:
            log.error("batch line %d is not valid JSON: %s", n, exc)
            print(json.dumps({"id": row_id, "error": f"Regel {n} is geen geldig JSON-object."}, ensure_ascii=False),
                  flush=True)
            continue
        try:
            out = {"id": row_id, **handle(value or "", row)}
        except UserError as exc:
            log.error("batch line %d: %s", n, exc.english)
            out = {"id": row_id, "error": exc.dutch}
        except Exception as exc:  # one failing row must not lose the others
            log.exception("batch line %d failed: %s", n, exc)
            out = {"id": row_id, "error": message("errors.row_failed", line=n)}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def cmd_search(app: Vraagbaak, args: argparse.Namespace) -> int:
    if args.batch:
        return _run_batch(args.batch, "query", lambda q, _row: _search_row(app, q))
    result = _search_row(app, args.query or "")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        _print_search(result)
    return 0


def _print_quote(result: dict) -> None:
    print(message(f"verdicts.{result['verdict']}"))
    _print_matches(result["verdict"], result["matches"])


def _print_matches(verdict: str, matches: list[dict]) -> None:
    if verdict == "absent" and matches:
        print(message("quote_cli.closest"))
    for m in matches:
        byline = "".join(f", {x}" for x in (m.get("author"), m.get("date")) if x)
        print()
        print(message("quote_cli.source", title=m["title"], byline=byline, doc=m["doc"], paragraph=m["paragraph"],
                      start=m["start"], end=m["end"], similarity=m["similarity"]))
        print(f"  {message('quote_cli.original')}: “{m['text']}”")
        if m["differences"] and verdict == "altered":
            print(f"  {message('quote_cli.differences')}:")
            for d in m["differences"]:
                print("   - " + message(f"quote_cli.{d['type']}", quote=d["quote"], source=d["source"]))


def cmd_quote(app: Vraagbaak, args: argparse.Namespace) -> int:
    if args.batch:
        return _run_batch(args.batch, "quote", lambda q, _row: app.quote(q).to_dict())
    result = app.quote(args.quote or "").to_dict()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        _print_quote(result)
    return 0


def cmd_check_text(app: Vraagbaak, args: argparse.Namespace) -> int:
    if args.file == "-":
        result = app.check_text(sys.stdin.read(), "stdin")
    else:
        path = Path(args.file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError("file_missing", f"cannot read {path}: {exc}", path=str(path)) from exc
        result = app.check_file(path.name, data)
    data = result.to_dict()
    if args.report:
        _write_report(app.report(result), args.report)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    print(message("check_cli.summary", source=data["source"], n=len(data["quotations"]), **data["summary"]))
    for n, q in enumerate(data["quotations"], start=1):
        line = result.text.count("\n", 0, q["start"]) + 1
        print()
        print(message("check_cli.quotation", n=n, line=line, text=textwrap.shorten(q["text"], 120, placeholder=" …"),
                      verdict=message(f"verdict_short.{q['verdict']}")))
        _print_matches(q["verdict"], q["matches"][:1])
    return 0


def _write_report(report: dict, target: str) -> None:
    from report.export import write_report

    json_path, html_path = write_report(report, target)
    print(message("check_cli.report_written", json=json_path, html=html_path), file=sys.stderr)


def cmd_verify_report(app: Vraagbaak, args: argparse.Namespace) -> int:
    """Re-check an exported report: exit 0 when every source still holds where it was, 1 when not."""
    path = Path(args.file)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError("file_missing", f"cannot read {path}: {exc}", path=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise UserError("bad_report", f"{path} is not JSON: {exc}") from exc
    rows = app.recheck(report)
    if args.json:
        print(json.dumps({"report": str(path), "sources": rows}, ensure_ascii=False, indent=1))
    else:
        for r in rows:
            print(message("report.recheck_line", item=r["item"], quotation=textwrap.shorten(r["quotation"], 80),
                          doc=r["doc"], status=message(f"report.status_{r['status']}")))
        counts = {k: sum(r["status"] == k for r in rows) for k in ("holds", "moved", "gone")}
        print(message("report.recheck_summary", **counts))
    return 0 if all(r["status"] == "holds" for r in rows) else 1


def cmd_ask(app: Vraagbaak, args: argparse.Namespace) -> int:
    from answer.followup import history_from

    if args.batch:
        return _run_batch(args.batch, "question",
                          lambda q, row: app.ask(q, history_from(row.get("history"))).to_dict())
    if args.json:
        result = app.ask(args.question or "")
        if args.report:
            _write_report(app.report(result), args.report)
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return 0
    result = None
    for kind, payload in app.ask_stream(args.question or ""):
        if kind == "sources":
            print("Bronnen:", file=sys.stderr)
            for s in payload:
                print(f"  [{s.n}] {s.passage.title} — {s.passage.doc}, alinea {s.passage.paragraph}", file=sys.stderr)
        elif kind == "chosen":
            print(f"Model kiest zin {', '.join(map(str, payload)) or 'geen'}.", file=sys.stderr)
        elif kind == "token":
            print(payload, end="", file=sys.stderr, flush=True)
        elif kind == "done":
            result = payload
    print(file=sys.stderr)
    print()
    print(result.answer)
    for c in result.citations():
        print(f"  [{c['n']}] {c['title']} — {c['doc']}, alinea {c['paragraph']}")
    if args.report:
        _write_report(app.report(result), args.report)
    return 0


def cmd_add(app: Vraagbaak, args: argparse.Namespace) -> int:
    """Add each file; report each; exit 2 if any could not be added (3 if the disk failed; the others are kept)."""
    results, failed = [], 0
    for f in args.files:
        path = Path(f)
        try:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise UserError("corpus_unreadable", f"cannot read {path}: {exc}", path=str(path)) from exc
            added = app.add(path.name, data)
            results.append({"file": f, "doc": added.doc_id, "title": added.title, "paragraphs": added.paragraphs})
            if not args.json:
                print(message("ui.added_ok", name=added.doc_id, paragraphs=added.paragraphs))
        except UserError as exc:
            failed = max(failed, exc.exit_code)
            log.error("%s", exc.english)
            results.append({"file": f, "error": exc.dutch})
            if not args.json:
                print(message("ui.add_failed", name=path.name, reason=exc.dutch), file=sys.stderr)
    t0 = time.perf_counter()
    index = app.retriever.index
    if args.json:
        print(json.dumps({"results": results, "index_seconds": round(time.perf_counter() - t0, 2),
                          "passages": len(index.passages)}, ensure_ascii=False, indent=1))
    else:
        print(f"Index bijgewerkt: {len(index.documents)} documenten, {len(index.passages)} passages "
              f"({time.perf_counter() - t0:.1f} s)")
    return failed


def cmd_remove(app: Vraagbaak, args: argparse.Namespace) -> int:
    app.remove(args.doc)
    print(message("ui.removed_ok", name=args.doc))
    index = app.retriever.index
    print(f"Index bijgewerkt: {len(index.documents)} documenten, {len(index.passages)} passages")
    return 0


def cmd_index(app: Vraagbaak, args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    index = (app.rebuild() if args.rebuild else app.retriever).index
    if index.rebuilt_because and index.rebuilt_because.startswith("corrupt"):
        print(message("ui.index_rebuilt"), file=sys.stderr)
    print(f"Index {index.key}: {len(index.documents)} documenten, {len(index.passages)} passages "
          f"({time.perf_counter() - t0:.1f} s) in {index.path}")
    app.pre_embed()  # a small corpus's sentences too, so that the first question does not wait for them
    return 0


def cmd_serve(app: Vraagbaak, args: argparse.Namespace) -> int:
    from ui.web import serve

    serve(app)
    return 0


COMMANDS: dict[str, Callable[[Vraagbaak, argparse.Namespace], int]] = {
    "search": cmd_search, "quote": cmd_quote, "check-text": cmd_check_text, "verify-report": cmd_verify_report, "ask": cmd_ask, "add": cmd_add, "remove": cmd_remove,
    "index": cmd_index, "serve": cmd_serve,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself: "Building index from tokens"
    command = args.command or "serve"
    try:
        settings = settings_from({k: v for k, v in vars(args).items()})
        app = Vraagbaak(settings)
        app.progress_sink = ProgressBar()
        return COMMANDS[command](app, args)
    except UserError as exc:
        log.error("%s", exc.english)
        print(f"Fout: {exc.dutch}", file=sys.stderr)
        return exc.exit_code  # 2: bad input; 3: a service failed (the model, the disk)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
