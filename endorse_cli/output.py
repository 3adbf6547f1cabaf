"""What every command shares: the exit codes, the usage error (exit 2, nothing written), and the
checklist table of ``endorse evaluate``. Both main.py and commands.py import it, so neither imports
the other's internals (main.py registers commands.py's commands; commands.py never imports main.py)."""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad input from the command line or a file: exit 2 with the message, write nothing."""


_MARK = {"met": "ok ", "unmet": "NO ", "pending": "...", "not_applicable": " - "}


def format_table(result: dict) -> str:
    lines = [
        f"{result['id']} · {result['category']} · {result['association']} · as of {result['as_of']} · "
        + ("ELIGIBLE" if result["eligible"] else "not eligible"),
    ]
    width = max(len(r["id"]) for r in result["requirements"])
    for r in result["requirements"]:
        lines.append(f"  {_MARK[r['status']]} {r['id']:<{width}}  {r['status']:<14}  {r['detail']}")
        lines.append(f"      {'':<{width}}  {'':<14}  source: {r['source']}")
    for w in result["warnings"]:
        lines.append(f"  note {w['id']}: {w['detail']}")
    return "\n".join(lines)
