"""Errors as people read them: one line, no traceback (the CLI, the health checks and the flows' logs)."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """An exception as one short line (no traceback) for a coordinator or a log."""
    return (" ".join(str(exc).split()) or type(exc).__name__)[:200]
