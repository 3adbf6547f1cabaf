"""Two units of work at the same moment, in a fixed order: the first does its work and holds its
transaction open; the second starts then (in a thread) and must wait for the first to commit, not
finish on its own or fail. For the insert-if-absent races a plain SELECT … FOR UPDATE does not close
(there is no row to lock yet)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from endorse.db import transaction


def one_after_the_other_at_once(sessions, first: Callable[[Any], Any], second: Callable[[Any], Any]) -> tuple[Any, Any]:
    """(first's result, second's result); each callable gets its own session inside ``transaction``."""
    started, finished, results, errors = threading.Event(), threading.Event(), {}, []

    def run_second() -> None:
        started.wait(10)
        try:
            with transaction(sessions) as s:
                results["second"] = second(s)
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
            errors.append(e)
        finished.set()

    other = threading.Thread(target=run_second)
    other.start()
    try:
        with transaction(sessions) as s:
            results["first"] = first(s)
            started.set()
            waited = not finished.wait(1.5)  # the second is blocked on this open transaction
    finally:
        started.set()
        other.join(30)
    if errors:
        raise errors[0]
    assert waited, "the second unit of work finished while the first still held its transaction"
    return results["first"], results["second"]
