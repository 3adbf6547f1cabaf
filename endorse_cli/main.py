"""``endorse``: the entry point of the command line (the console script and ``python -m endorse_cli``).

It runs the Typer app of app.py and owns what every command shares at the edge: a quiet Prefect,
``--data`` wherever it was typed, and every refusal as one line on stderr with what to do next and
an exit code (output.py: 0 done, 1 failed, 2 bad input or usage, nothing written), never a traceback.
Only the standard library is imported here at the top, so ``endorse evaluate`` starts fast.
"""

from __future__ import annotations

import os
import sys

from endorse_cli.output import EXIT_FAILURE, EXIT_INVALID, EXIT_OK, UsageError

__all__ = ["EXIT_FAILURE", "EXIT_INVALID", "EXIT_OK", "main", "quiet_environment"]


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


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code."""
    from typer._click import exceptions as click_errors
    from typer.exceptions import Abort

    from endorse.documents import DocumentError
    from endorse.rulebook import RulebookError
    from endorse_cli.app import command

    quiet_environment()
    args = _data_first(sys.argv[1:] if argv is None else list(argv))
    try:
        code = command(args).main(args, prog_name="endorse", standalone_mode=False)
    except (UsageError, DocumentError, RulebookError) as exc:
        return _refused(str(exc))
    except click_errors.NoArgsIsHelpError as exc:  # `endorse exam`: the group's help, as a usage error
        print(exc.ctx.get_help())
        return EXIT_INVALID
    except click_errors.UsageError as exc:
        return _refused(_usage_line(exc, args))
    except click_errors.ClickException as exc:  # e.g. a file option that cannot be opened
        return _refused(exc.format_message())
    except Abort:  # end of input at a prompt
        print(file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # e.g. `endorse evaluate … | head`
        return EXIT_OK
    except SystemExit as exc:
        # Rich and Typer end a write to a closed pipe (`endorse evaluate … | head`) with exit 1 after
        # making the stream quiet; the reader had all it wanted, so it is exit 0, as it always was.
        if isinstance(exc.__context__, BrokenPipeError) or type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return EXIT_OK
        raise
    return EXIT_OK if code is None else code


def _refused(line: str) -> int:
    print(f"endorse: {line}", file=sys.stderr)
    return EXIT_INVALID


def _usage_line(exc, args: list[str]) -> str:
    """Click's message, and what to type next: the new name of an old command, or the command's help."""
    from endorse_cli.app import RENAMED

    words = [a for a in args if not a.startswith("-")]
    old = next((w for w in words if w in RENAMED), None)
    if old is not None and exc.ctx is not None and exc.ctx.command_path == "endorse":
        return f"'{old}' is now 'endorse {RENAMED[old]}' (endorse {RENAMED[old]} --help shows its options)"
    where = exc.ctx.command_path if exc.ctx is not None else "endorse"
    return f"{exc.format_message()} ({where} --help shows what it takes)"


if __name__ == "__main__":
    # UsageError lives in endorse_cli.output, so under `python -m endorse_cli.main` the class this file
    # catches is the one the commands raise (exit 2, not 1).
    sys.exit(main())
