"""The root of the ``endorse`` command line (Typer): the global ``--data`` option, the top-level commands
and one group per thing a coordinator works on (``endorse <group> <verb>``, as ``prefect work-pool
create``). main.py runs it and turns every error into one line and an exit code.

Building it imports only Typer and the command modules, whose heavy imports wait inside each command:
``endorse evaluate`` and ``endorse renewal`` start without the database, Prefect, the web stack or Rich.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from endorse_cli.commands import (appreview, checklists, exam, intake, operations, outbox, people, pipeline, portfolio,
                                   rater, renewal)
from endorse_cli.simulate import simulate_command

app = typer.Typer(
    name="endorse", no_args_is_help=True, rich_markup_mode="rich",
    help="The Infant Mental Health Endorsement® workflow: applications from document to decision, raters, "
         "the exam, renewals and the outbox. `endorse COMMAND --help` says what each command is for.")


@app.callback()
def root(
    data: Annotated[Optional[str], typer.Option(
        "--data", metavar="DIR", help="the data folder (SQLite database; default var/, or ENDORSE_DATA_DIR); "
                                      "make demo's data is in var/demo")] = None,
) -> None:
    if data:
        from endorse.settings import get_settings

        os.environ["ENDORSE_DATA_DIR"] = str(Path(data).resolve())
        get_settings.cache_clear()


# Applications: check, load, look at, move.
app.command("evaluate")(checklists.evaluate)
app.command("import")(intake.import_documents)
app.command("show")(intake.show)
app.command("reconcile")(pipeline.reconcile)
app.command("sweep")(pipeline.sweep)
# The groups, in the order of the card.
app.add_typer(people.transcript, name="transcript")
app.add_typer(rater.app, name="rater")
app.add_typer(people.determination, name="determination")
app.add_typer(exam.app, name="exam")
app.add_typer(appreview.app, name="appreview")
app.add_typer(portfolio.app, name="portfolio")
app.add_typer(renewal.app, name="renewal")
app.add_typer(outbox.app, name="outbox")
app.add_typer(people.person, name="person")
app.add_typer(people.coordinator, name="coordinator")
# Running it.
app.command("setup")(operations.setup)
app.command("serve")(operations.serve)
app.command("up")(operations.up)
app.command("backup")(operations.backup)
app.command("restore")(operations.restore)
app.command("simulate")(simulate_command)
app.add_typer(operations.automations, name="automations")

# The flat names of the argparse command line (until issue 14): a coordinator who types one is told
# the new name instead of "no such command".
RENAMED = {
    "add-rater": "rater add", "replace-rater": "rater replace", "resend-link": "rater resend",
    "vet-rater": "rater vet", "vetting-queue": "rater queue",
    "exam-sitting": "exam sitting", "exam-enrol": "exam enrol", "import-essays": "exam essays",
    "assign-essays": "exam assign", "import-mc": "exam mc", "retake": "exam retake", "approve-exam": "exam approve",
    "record-exam": "exam record", "clear-essay-flag": "exam release", "add-reviewer": "exam reviewer",
    "review-link": "exam review-link",
    "record-renewal": "renewal record", "deliver": "outbox deliver", "record-bounce": "outbox bounce",
    "determine": "determination record", "determinations-queue": "determination queue",
    "record-transcript": "transcript record", "add-coordinator": "coordinator add",
    "deactivate-coordinator": "coordinator deactivate", "change-person": "person change",
    "record-endorsement": "person endorsement",
}


# The two contracts of REQUIREMENTS.md on a root of their own: building every group's commands (Typer
# reads each signature) costs more than an `endorse evaluate` of one file, and the contracts start fast.
contracts = typer.Typer(name="endorse", no_args_is_help=True, rich_markup_mode="rich", help=app.info.help)
contracts.callback()(root)
contracts.command("evaluate")(checklists.evaluate)
contracts.add_typer(renewal.app, name="renewal")


def command(args: list[str] | None = None):
    """The Click command Typer builds for these arguments (what main.py runs): the contracts' own root
    when the command is `evaluate` or `renewal` (the same commands, options and help), else the whole."""
    return typer.main.get_command(contracts if _first_word(args or []) in ("evaluate", "renewal") else app)


def _first_word(args: list[str]) -> str | None:
    words = iter(args)
    for arg in words:
        if arg == "--data":
            next(words, None)
        elif not arg.startswith("-"):
            return arg
    return None
