"""``endorse portfolio …``: the coordinator's side of the applicants' web portfolios, as on
/coordinator/portfolios: list them, start a paper application or renewal on someone's behalf, import a
workbook of paper applications, reopen a submitted one (a renewal recorded by mistake too), and save an
uploaded description. Every verb acts for the association of the ``--by`` coordinator only."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from endorse_cli.commands.common import (
    AsOf,
    Json,
    NoReconcile,
    after_event,
    as_of_date,
    coordinator,
    coordinators_association,
    pipeline_config,
    refusals,
    sessions,
)
from endorse_cli.output import EXIT_OK

app = typer.Typer(no_args_is_help=True,
                  help="Applicants' web portfolios: list, start on someone's behalf, import a workbook, reopen.")

By = Annotated[str, typer.Option("--by", help="your email as a coordinator: your association's portfolios only")]


class Kind(str, Enum):
    application = "application"
    renewal = "renewal"


@app.command("list")
@refusals
def list_portfolios(by: By, json: Json = False) -> int:
    """Your association's portfolios, the most recently changed first, with the descriptions uploaded."""
    from endorse_cli.display import print_json, print_table
    from tasks import portal

    association = coordinators_association(by)
    with sessions()() as s:
        lines = portal.portfolios_of(s, association)
    rows = [{"portfolio": p.portfolio_id, "kind": p.kind, "status": p.status, "application": p.application_id,
             "name": p.name, "email": p.email, "category": p.category, "started_by": p.started_by,
             "uploads": [{"upload": u, "question": q, "file": f} for u, q, f in p.uploads]} for p in lines]
    if json:
        print_json(rows)
        return EXIT_OK
    print_table(("portfolio", "kind", "status", "application", "name", "email", "category", "uploads"),
                ((r["portfolio"], r["kind"], r["status"], r["application"], r["name"], r["email"], r["category"],
                  ", ".join(f"#{u['upload']} {u['question']} ({u['file']})" for u in r["uploads"])) for r in rows))
    print(f"{len(rows)} portfolio(s) of {association}")
    return EXIT_OK


@app.command("start")
@refusals
def start(email: Annotated[str, typer.Option("--email", help="the applicant's email: the link goes to them")],
          by: By, kind: Annotated[Kind, typer.Option("--kind")] = Kind.application, as_of: AsOf = None) -> int:
    """Start a paper application (or renewal) on an applicant's behalf: they are emailed the link.

    Fill it in on the web (/coordinator/portfolios/<number>) or import a workbook.
    """
    from endorse.rulebook import default_library
    from endorse_cli.commands.common import secret
    from tasks import portal

    association = coordinators_association(by)
    portfolio_id = portal.request_link(sessions(), default_library(), email=email, association=association,
                                       kind=kind.value, as_of=as_of_date(as_of), secret_key=secret(),
                                       started_by=coordinator(by))
    if portfolio_id is None:
        raise LookupError(f"--email: no endorsement of {association} renews under {email}")
    print(f"portfolio #{portfolio_id} ({kind.value}) for {email}: their link is in the outbox; "
          f"fill it in at /coordinator/portfolios/{portfolio_id}")
    return EXIT_OK


@app.command("import")
@refusals
def import_workbook(file: Annotated[str, typer.Argument(metavar="FILE", help="an XLSX workbook, one sheet per section")],
                    by: By, no_reconcile: NoReconcile = False) -> int:
    """Import a workbook of paper applications, all or nothing.

    Every error is named by sheet, row and field; on any error nothing is written.
    """
    from pathlib import Path

    from tasks import portal

    association = coordinators_association(by)
    path = Path(file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror})") from None
    cfg = pipeline_config(coordinator(by))
    report = portal.import_workbook(sessions(), path.name, data, cfg.library, association=association,
                                    as_of=cfg.as_of, actor=cfg.actor)
    if report.errors:
        raise ValueError(f"{path.name}: {len(report.errors)} problem(s), nothing imported\n  "
                         + "\n  ".join(report.errors))
    for document in report.documents:
        print(f"imported {document.id} ({document.category}, {document.applicant.name})")
        after_event(document.id, None, no_reconcile)
    print(f"{len(report.documents)} application(s) imported into {association}")
    return EXIT_OK


@app.command("reopen")
@refusals
def reopen(application: Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's (or renewal's) id")],
           by: By, reason: Annotated[str, typer.Option("--reason", help="why: kept in the audit log (needed for a "
                                                                          "renewal: your determination)")] = "") -> int:
    """Reopen a submitted portfolio for changes; a renewal recorded by mistake is undone until filed again."""
    from tasks import portal

    kind = portal.reopen(sessions(), application, association=coordinators_association(by), actor=coordinator(by),
                         reason=reason)
    undone = "; its recorded renewal is undone until it is filed again" if kind == "renewal" else ""
    print(f"{application} is open for changes again{undone}")
    return EXIT_OK


@app.command("description")
@refusals
def description(upload: Annotated[int, typer.Argument(metavar="UPLOAD", help="the upload's number (portfolio list)")],
                out: Annotated[str, typer.Option("--out", help="the file to write it to")], by: By) -> int:
    """Save a description an applicant uploaded for one of your questions.

    It is written to a file, never opened here.
    """
    from pathlib import Path

    from tasks import portal

    with sessions()() as s:
        u = portal.description_for(s, coordinators_association(by), upload)
        data, name, question = u.data, u.filename, u.question
    target = Path(out)
    if target.exists():
        raise ValueError(f"--out: {target} exists already; choose another name")
    target.write_bytes(data)
    print(f"upload #{upload} ({question}, {name}, {len(data)} bytes) saved to {target}")
    return EXIT_OK
