"""``endorse rater add|replace|resend|vet|queue``: the people who rate an applicant, and their links."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from endorse_cli.commands.common import (
    By,
    Json,
    NoReconcile,
    Note,
    On,
    after_event,
    coordinator,
    parse_date,
    pipeline_config,
    refusals,
    sessions,
)
from endorse_cli.output import EXIT_OK

app = typer.Typer(no_args_is_help=True, help="Raters: ask one, replace one, send a link again, record a vetting call.")

Request = Annotated[int, typer.Argument(metavar="REQUEST", help="the reference request's number (endorse show lists them)")]
Name = Annotated[str, typer.Option("--name", help="the rater's name")]
Email = Annotated[str, typer.Option("--email", help="where the rating link is sent")]
Role = Annotated[str, typer.Option("--role", help="the rater's role, as the rulebook names it (e.g. colleague)")]
Endorsement = Annotated[str | None, typer.Option("--endorsement", help="the rater's own endorsement, if any (e.g. IFS)")]
Waive = Annotated[bool, typer.Option("--waive", help="the applicant waives access to this rating")]


def _proposed(name: str, email: str, role: str, endorsement: str | None, waive: bool):
    from tasks.references.raters import ProposedRater

    return ProposedRater(name, email, role, endorsement, waive)


def _application_of(request_id: int) -> str:
    from models import ReferenceRequest

    with sessions()() as s:
        return s.get(ReferenceRequest, request_id).application_id


@app.command("add")
@refusals
def add(
    application: Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's id")],
    name: Name, email: Email, role: Role, by: By, endorsement: Endorsement = None, waive: Waive = False,
    no_reconcile: NoReconcile = False,
) -> int:
    """Ask one more rater for an application.

    The application is reconciled at once: the link is made and the email queued. Use it when the
    applicant names another rater.
    """
    from tasks.references.raters import add_rater

    cfg = pipeline_config(coordinator(by))
    req_id = add_rater(sessions(), application, _proposed(name, email, role, endorsement, waive), cfg, actor=cfg.actor)
    print(f"asked {name} <{email}> as {role} (reference request {req_id})")
    after_event(application, no_reconcile=no_reconcile)
    return EXIT_OK


@app.command("replace")
@refusals
def replace(
    request: Request,
    reason: Annotated[str, typer.Option("--reason", help="why (e.g. left the agency); kept in the audit log")],
    name: Name, email: Email, role: Role, by: By, endorsement: Endorsement = None, waive: Waive = False,
    no_reconcile: NoReconcile = False,
) -> int:
    """Cancel a reference request (its link stops working at once) and ask someone else.

    Use it when a rater cannot or will not rate. The application is reconciled at once: the new
    rater's email is queued.
    """
    from tasks.references.raters import replace_rater

    cfg = pipeline_config(coordinator(by))
    new_id = replace_rater(sessions(), request, _proposed(name, email, role, endorsement, waive), cfg, actor=cfg.actor,
                           reason=reason)
    print(f"reference request {request} cancelled (its link no longer works); {name} asked (request {new_id})")
    after_event(_application_of(new_id), no_reconcile=no_reconcile)
    return EXIT_OK


@app.command("resend")
@refusals
def resend(
    request: Request, by: By,
    regenerate: Annotated[bool, typer.Option("--regenerate", help="a new link; the old one stops working")] = False,
) -> int:
    """Email a rater's link again.

    Use it when a rater lost the email; with --regenerate a new link goes out instead and the old one stops
    working (it was forwarded or leaked).
    """
    from tasks.references.raters import regenerate_link, resend_link

    cfg = pipeline_config(coordinator(by))
    (regenerate_link if regenerate else resend_link)(sessions(), request, cfg, actor=cfg.actor)
    print(f"{'new link' if regenerate else 'same link'} queued for reference request {request}")
    return EXIT_OK


class Vetting(str, Enum):
    accepted = "accepted"
    rejected = "rejected"


@app.command("vet")
@refusals
def vet(
    request: Request,
    decision: Annotated[Vetting, typer.Option("--decision", help="what the call decided")],
    on: On, by: By, note: Note = None, no_reconcile: NoReconcile = False,
) -> int:
    """Record your vetting call with a rater who is not endorsed (endorse rater queue lists them).

    An accepted rater's rating counts; a rejected one needs a replacement. The application is
    reconciled at once.
    """
    from tasks.references.raters import vet_rater

    vet_rater(sessions(), request, coordinator=by, vetted_on=parse_date(on, "--on"),
              accepted=decision is Vetting.accepted, note=note)
    print(f"vetting of reference request {request} recorded: {decision.value}")
    after_event(_application_of(request), no_reconcile=no_reconcile)
    return EXIT_OK


@app.command("queue")
def queue(json: Json = False) -> int:
    """The raters who are not endorsed and wait for your vetting call.

    Call them, then record it with `endorse rater vet`.
    """
    from endorse_cli.display import print_json, print_table
    from endorse_cli.output import vetting_count_line
    from tasks.references.raters import vetting_queue

    with sessions()() as s:
        items = vetting_queue(s, pipeline_config("system"))
    rows = [{"request": q.request_id, "application": q.application_id, "category": q.category,
             "association": q.association, "role": q.role, "rater": q.rater_name, "email": q.rater_email}
            for q in items]
    if json:
        print_json(rows)
        return EXIT_OK
    print_table(("request", "application", "category", "association", "role", "rater"),
                ((r["request"], r["application"], r["category"], r["association"], r["role"],
                  f"{r['rater']} <{r['email']}>") for r in rows))
    print(vetting_count_line(len(items)))
    return EXIT_OK
