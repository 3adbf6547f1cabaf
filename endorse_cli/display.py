"""How the command line shows things: Rich tables, JSON for scripts, progress bars on a terminal.

Rich is imported only when something is shown with it, so ``endorse evaluate --json`` (the contract)
never loads it. Every console prints data, never Rich markup: a note with ``[brackets]`` in it is
printed as written. Piped, a table is as wide as its content (no wrapping at 80 columns, so a
``grep`` finds a whole detail) and no bar is drawn.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

# Wide enough that no cell of a piped table is ever wrapped.
PIPED_WIDTH = 4000


def console(*, stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, markup=False, emoji=False, highlight=False,
                   width=None if stream.isatty() else PIPED_WIDTH)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    """One Rich table; ``None`` cells print empty. Nothing at all when there are no rows (the command's
    count line says why)."""
    from rich import box
    from rich.table import Table

    rows = list(rows)
    if not rows:
        return
    table = Table(*columns, title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, header_style="bold")
    for row in rows:
        table.add_row(*("" if c is None else str(c) for c in row))
    console().print(table)


def print_json(payload: Any) -> None:
    """What a listing prints with ``--json``: the same data, indented, dates as ISO strings."""
    import json

    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int, int | None], None]]:
    """A Rich progress bar on stderr while the block runs; yields ``advance(done, total)``. Off a
    terminal (piped, in a test, under systemd) nothing is drawn and ``advance`` does nothing."""
    if not on_terminal():
        yield lambda done, total=None: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int, new_total: int | None = None) -> None:
            bar.update(task, completed=done, **({"total": new_total} if new_total is not None else {}))
        yield advance


@contextlib.contextmanager
def watched(description: str, start: Callable[[], Callable[[], tuple[int, int | None]]],
            every: float = 0.5) -> Iterator[None]:
    """A progress bar for work that runs elsewhere (a Prefect flow in this process). On a terminal only,
    ``start()`` is called once before the work (to take its measure) and returns ``count()``, which
    gives (done, total) read from the database, polled on a thread while the block runs."""
    if not on_terminal():
        yield
        return
    count = start()
    with progress(description) as advance:
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(every):
                with contextlib.suppress(Exception):  # a poll that fails only skips one redraw
                    advance(*count())
        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(every * 2)
