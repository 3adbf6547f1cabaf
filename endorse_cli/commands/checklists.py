"""``endorse evaluate`` and ``endorse renewal check``: a document's checklist against its rulebook.

Both are contracts of REQUIREMENTS.md (``endorse evaluate PATH --as-of DATE --json``, ``endorse renewal
PATH --year YEAR --json``) and must start fast: nothing here loads the database, Prefect, the web
stack or Rich on the ``--json`` path. Neither writes anything anywhere.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from endorse_cli.output import EXIT_OK, UsageError

Rules = Annotated[str | None, typer.Option("--rules", metavar="DIR",
                                              help="the rules folder (default: the project's rules/)")]


def evaluate(
    path: Annotated[str, typer.Argument(metavar="PATH", help="an application .json file or a folder of them")],
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="YYYY-MM-DD",
                                                 help="the evaluation date (default: today)")] = None,
    json: Annotated[bool, typer.Option("--json", help="print the JSON contract instead of a table")] = False,
    compact: Annotated[bool, typer.Option("--compact", help="with --json: one line")] = False,
    rules: Rules = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="processes for a folder (default: one per core; 1: this process only)")] = None,
) -> int:
    """Check application documents against their rulebook, without the database.

    What is met, what is missing and why, with each requirement's source. Use it before importing, or to
    answer an applicant who asks where they stand. A bad document names its file and field; nothing is
    printed.
    """
    from endorse.documents import document_paths
    from endorse.rulebook import default_library
    from endorse_cli.commands.common import as_of_date

    day = as_of_date(as_of)
    paths = document_paths(path)
    if not paths:
        raise UsageError(f"{path}: no .json documents in this folder")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: {workers} is not a number of processes (1 or more)")
    library = default_library(rules)
    # Every document is validated before anything is printed: a bad file means no output at all.
    if json:
        write_stdout([*evaluate_paths_json(paths, library, day, workers, as_array=Path(path).is_dir(),
                                           compact=compact), b"\n"])
    else:
        print_checklists(evaluate_paths(paths, library, day, workers))
    return EXIT_OK


def write_stdout(pieces: list[bytes]) -> None:
    """UTF-8 JSON straight to standard output's bytes, piece after piece (10,000 checklists are 35 MB:
    joining them into one string, or decoding them to text to have them encoded again, copied all
    of it each time); a text-only stream gets the text."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(b"".join(pieces).decode())
        return
    sys.stdout.flush()
    buffer.writelines(pieces)
    buffer.flush()


# Below this many documents a second process costs more than it saves.
PARALLEL_FROM = 400


def evaluate_paths(paths: list[Path], library, as_of: date, workers: int | None = None) -> list[dict]:
    """Parse, check and evaluate documents; a folder is spread over the machine's cores (each worker
    takes a contiguous share, so the results keep the files' order)."""
    return [r for part in _spread(_evaluate_share, paths, library, as_of, workers) for r in part]


def evaluate_paths_json(paths: list[Path], library, as_of: date, workers: int | None = None, *,
                        as_array: bool = True, compact: bool = False) -> list[bytes]:
    """The JSON contract of these documents, as pieces to write one after the other: an array (a
    folder) or the one object. Each worker writes its checklists' JSON itself, so that only bytes
    come back (sending the results back as objects cost the parent more than the second core saved);
    the pieces make exactly the bytes of writing the whole array at once."""
    import orjson

    if not as_array:
        return [_dumps(evaluate_paths(paths, library, as_of, 1)[0], compact)]
    # orjson writes the same JSON as json.dumps(indent=2, ensure_ascii=False) at C speed (the standard
    # library's encoder falls back to pure Python whenever it indents). An array's items are
    # separated by "," (compact) or ",\n" and framed by "[" "]" or "[\n" "\n]".
    items = [item for share in _spread(_evaluate_share_json, paths, library, as_of, workers, compact)
             for item in share]
    if not items:
        return [orjson.dumps([])]
    separator = b"," if compact else b",\n"
    pieces = [b"[" if compact else b"[\n"]
    for i, item in enumerate(items):
        if i:
            pieces.append(separator)
        pieces.append(item)
    pieces.append(b"]" if compact else b"\n]")
    return pieces


def _dumps(payload, compact: bool) -> bytes:
    import orjson

    return orjson.dumps(payload, option=0 if compact else orjson.OPT_INDENT_2)


def _spread(fn, paths: list[Path], library, as_of: date, workers: int | None, *extra) -> list:
    """``fn`` over contiguous shares of ``paths``, one per process (this one alone for a few files)."""
    import os

    n = workers if workers is not None else (os.cpu_count() or 1)
    n = min(n, max(1, len(paths) // (PARALLEL_FROM // 2)))
    if n <= 1:
        return [fn((paths, library, as_of, *extra))]
    import multiprocessing

    size = -(-len(paths) // n)
    shares = [(paths[i:i + size], library, as_of, *extra) for i in range(0, len(paths), size)]
    # fork: the workers start with the rulebooks already loaded. This process takes the first share
    # itself rather than wait: one process fewer to start, one share fewer to send back.
    with multiprocessing.get_context("fork").Pool(len(shares) - 1) as pool:
        others = pool.map_async(fn, shares[1:])
        first = fn(shares[0])
        return [first, *others.get()]


def _evaluate_share(job: tuple) -> list[dict]:
    return _each_checklist(job[:3], lambda checklist: checklist)


def _each_checklist(job: tuple, keep) -> list:
    """``keep`` of each document's checklist, made as soon as the document is read and checked: only
    what ``keep`` returns is held until the last file is checked (nothing is printed before), not
    every document too (410 MB for 10,000)."""
    from endorse.collector import cycle_collector_paused
    from endorse.documents import load_document
    from tasks.eligibility.evaluation import evaluate as evaluate_document

    paths, library, as_of = job
    kept = []
    with cycle_collector_paused(freeze_survivors=True):  # the documents pile up (endorse/collector.py)
        for p in paths:
            document = load_document(p)
            library.check_document(document, str(p))
            kept.append(keep(evaluate_document(document, library, as_of).to_dict()))
    return kept


def _evaluate_share_json(job: tuple) -> list[bytes]:
    """A share's checklists as the JSON items of an array, each written as soon as it is made (bytes
    are held, not dictionaries). Indented, an item is written as the one item of an array, whose
    "[\n" and "\n]" are cut off: orjson has indented it as an item of the whole array (twice as fast
    as indenting it alone and shifting every line two spaces)."""
    import orjson

    if job[3]:
        return _each_checklist(job[:3], orjson.dumps)
    return _each_checklist(job[:3], lambda checklist: orjson.dumps(
        [checklist], option=orjson.OPT_INDENT_2)[2:-2])


def renewal_check(
    path: Annotated[str, typer.Argument(metavar="PATH", help="a renewal .json file or a folder of them")],
    year: Annotated[int, typer.Option("--year", help="the renewal year to check (e.g. 2027)")],
    json: Annotated[bool, typer.Option("--json", help="print the JSON contract instead of a table")] = False,
    rules: Rules = None,
) -> int:
    """Check renewal documents for one year against their rulebook.

    Nothing is written (the contract `endorse renewal PATH --year YEAR --json`). Use it before recording a
    renewal, or to tell an endorsed professional what their renewal still lacks.
    """
    from endorse.documents import document_paths
    from endorse.renewals import load_renewal
    from endorse.rulebook import default_library
    from tasks.renewal.evaluation import evaluate_renewal, renewal_to_dict

    library = default_library(rules)
    paths = document_paths(path)
    if not paths:
        raise UsageError(f"{path}: no .json documents in this folder")
    docs = [load_renewal(p) for p in paths]
    for p, d in zip(paths, docs):
        library.check_document(d, str(p))
    results = [renewal_to_dict(evaluate_renewal(d, library, year), year) for d in docs]
    if json:
        import json as json_module

        payload = results if Path(path).is_dir() else results[0]
        sys.stdout.write(json_module.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        print_checklists([{**r, "as_of": f"year {r['year']}"} for r in results])
    return EXIT_OK


def print_checklists(results: list[dict]) -> None:
    """Each checklist: its heading line, then a table of requirements with their status and source."""
    from endorse_cli.display import print_table
    from endorse_cli.output import checklist_heading, checklist_rows

    for i, result in enumerate(results):
        if i:
            print()
        print(checklist_heading(result))
        print_table(("", "requirement", "status", "detail and source"), checklist_rows(result))
        for w in result["warnings"]:
            print(f"  note {w['id']}: {w['detail']}")
