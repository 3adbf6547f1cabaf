"""The ``endorse`` command line.

``endorse evaluate`` must start fast, so this module imports only the standard library at the top;
each command imports what it needs (the database, Prefect and the web stack are never loaded by
``evaluate``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from endorse_cli.output import EXIT_INVALID, EXIT_OK, UsageError, format_table


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value) if len(value) == 10 else _raise()
    except ValueError:
        raise UsageError(f"--as-of: {value!r} is not a date written YYYY-MM-DD") from None


def _raise() -> date:
    raise ValueError


# --- evaluate ------------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    from endorse.documents import document_paths
    from endorse.rulebook import default_library

    as_of = _as_of(args.as_of)
    paths = document_paths(args.path)
    if not paths:
        raise UsageError(f"{args.path}: no .json documents in this folder")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: {args.workers} is not a number of processes (1 or more)")
    library = default_library(args.rules)
    # Every document is validated before anything is printed: a bad file means no output at all.
    results = evaluate_paths(paths, library, as_of, args.workers)
    is_folder = Path(args.path).is_dir()
    if args.json:
        import orjson

        payload = results if is_folder else results[0]
        # orjson writes the same JSON as json.dumps(indent=2, ensure_ascii=False) at C speed (the
        # standard library's encoder falls back to pure Python whenever it indents).
        out = orjson.dumps(payload, option=0 if args.compact else orjson.OPT_INDENT_2)
        sys.stdout.write(out.decode() + "\n")
    else:
        sys.stdout.write("\n\n".join(format_table(r) for r in results) + "\n")
    return EXIT_OK


# Below this many documents a second process costs more than it saves.
PARALLEL_FROM = 400


def evaluate_paths(paths: list[Path], library, as_of: date, workers: int | None = None) -> list[dict]:
    """Parse, check and evaluate documents; a folder is spread over the machine's cores (each worker
    takes a contiguous share, so the results keep the files' order)."""
    import os

    n = workers if workers is not None else (os.cpu_count() or 1)
    n = min(n, max(1, len(paths) // (PARALLEL_FROM // 2)))
    if n <= 1:
        return _evaluate_share((paths, library, as_of))
    import multiprocessing

    size = -(-len(paths) // n)
    shares = [(paths[i:i + size], library, as_of) for i in range(0, len(paths), size)]
    # fork: the workers start with the rulebooks already loaded.
    with multiprocessing.get_context("fork").Pool(len(shares)) as pool:
        return [r for part in pool.map(_evaluate_share, shares) for r in part]


def _evaluate_share(job: tuple) -> list[dict]:
    from endorse.documents import load_document
    from tasks.eligibility.evaluation import evaluate

    paths, library, as_of = job
    docs = [load_document(p) for p in paths]
    for p, d in zip(paths, docs):
        library.check_document(d, str(p))
    return [evaluate(d, library, as_of).to_dict() for d in docs]


# --- import --------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from endorse.documents import document_paths, load_document
    from tasks.intake.importing import import_documents

    paths = document_paths(args.path)
    docs = [(p, load_document(p)) for p in paths]
    report = import_documents(docs, actor=args.actor, progress=_progress_bar if sys.stderr.isatty() else None)
    for line in report:
        print(line)
    return EXIT_OK


def _progress_bar(done: int, total: int) -> None:
    """On a terminal only: a bar on stderr, redrawn in place, ended when complete."""
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\rimporting [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_renewal(args: argparse.Namespace) -> int:
    from endorse.documents import document_paths
    from endorse.renewals import load_renewal
    from endorse.rulebook import default_library
    from tasks.renewal.evaluation import evaluate_renewal, renewal_to_dict

    library = default_library(args.rules)
    paths = document_paths(args.path)
    if not paths:
        raise UsageError(f"{args.path}: no .json documents in this folder")
    docs = [load_renewal(p) for p in paths]
    for p, d in zip(paths, docs):
        library.check_document(d, str(p))
    results = [renewal_to_dict(evaluate_renewal(d, library, args.year), args.year) for d in docs]
    if args.json:
        payload = results if Path(args.path).is_dir() else results[0]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write("\n\n".join(format_table({**r, "as_of": f"year {r['year']}"}) for r in results) + "\n")
    return EXIT_OK


def quiet_environment() -> None:
    """Coordinators read what a command prints: no Prefect INFO logs, no telemetry (and no error line
    when telemetry cannot get out). Set here, not only in the Makefile; an explicit setting wins."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _data_first(argv: list[str]) -> list[str]:
    """``--data DIR`` is a global option; people also type it after the command: move it first."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--data=") and i > 0:
            return [arg, *argv[:i], *argv[i + 1:]]
        if arg == "--data" and i > 0 and i + 1 < len(argv):
            return [arg, argv[i + 1], *argv[:i], *argv[i + 2:]]
    return argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="endorse", description="Infant Mental Health Endorsement® workflow")
    parser.add_argument("--data", metavar="DIR",
                        help="the data folder (SQLite database; default var/, or ENDORSE_DATA_DIR); "
                             "make demo's data is in var/demo")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("evaluate", help="check application documents against their rulebook")
    p.add_argument("path", help="an application .json file or a folder of them")
    p.add_argument("--as-of", help="evaluation date YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true", help="print the JSON contract instead of a table")
    p.add_argument("--compact", action="store_true", help="with --json: one line")
    p.add_argument("--rules", default=None, help="rules folder (default: the project's rules/)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes for a folder (default: one per core; 1: this process only)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("renewal", help="check renewal documents for one year against their rulebook")
    p.add_argument("path", help="a renewal .json file or a folder of them")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--rules", default=None)
    p.set_defaults(func=cmd_renewal)

    p = sub.add_parser("import", help="load application documents into the database (all or nothing per file)")
    p.add_argument("path", help="an application .json file or a folder of them")
    p.add_argument("--actor", default="system:import", help="who is importing (for the audit log)")
    p.set_defaults(func=cmd_import)

    try:
        from endorse_cli.commands import register  # the database, pipeline and web commands
    except ImportError as exc:  # pragma: no cover - only while a module is broken
        if exc.name != "endorse_cli.commands":
            raise
    else:
        register(sub)
    from endorse_cli.simulate import register as register_simulate  # its own package; one line to move to Typer

    register_simulate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from endorse.documents import DocumentError
    from endorse.rulebook import RulebookError

    quiet_environment()
    parser = build_parser()
    args = parser.parse_args(_data_first(sys.argv[1:] if argv is None else list(argv)))
    if args.data:
        from endorse.settings import get_settings

        os.environ["ENDORSE_DATA_DIR"] = str(Path(args.data).resolve())
        get_settings.cache_clear()
    try:
        return args.func(args)
    except (UsageError, DocumentError, RulebookError) as exc:
        print(f"endorse: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # e.g. `endorse evaluate … | head`
        return EXIT_OK


if __name__ == "__main__":
    # UsageError lives in endorse_cli.output, so under `python -m endorse_cli.main` the class this file
    # catches is the one the commands raise (exit 2, not 1).
    sys.exit(main())
