"""``endorse appreview …``: application reviewers and advisors (issue 19): the pool, the optimal
assignment (dry run, then --apply), the coordinator's outcome after a disagreement, the next round after a
"not yet", a reviewer's new link, an advisor paired and the pairing ended."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from endorse_cli.commands.common import (
    AsOf,
    By,
    NoReconcile,
    On,
    after_event,
    as_of_date,
    coordinator,
    parse_date,
    pipeline_config,
    refusals,
    sessions,
)
from endorse_cli.output import EXIT_OK

app = typer.Typer(no_args_is_help=True, help="Application reviewers and advisors: pool, assignment, outcome, advisor.")

Application = Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's id")]
Association = Annotated[str, typer.Option("--association", help="the association's code, e.g. MI-AIMH")]


class Outcome(str, Enum):
    recommend = "recommend"
    recommend_with_conditions = "recommend_with_conditions"
    not_yet = "not_yet"


@app.command("reviewer")
@refusals
def add_reviewer(association: Association, name: Annotated[str, typer.Option("--name")],
                 email: Annotated[str, typer.Option("--email")], by: By,
                 employer: Annotated[Optional[str], typer.Option("--employer")] = None,
                 max_load: Annotated[int, typer.Option("--max-load", help="applications at a time")] = 4,
                 trained: Annotated[bool, typer.Option("--trained/--not-trained")] = True,
                 available: Annotated[bool, typer.Option("--available/--unavailable")] = True) -> int:
    """Put a volunteer in the association's pool of application reviewers (or change their load)."""
    from tasks.application_review.rounds import add_application_reviewer

    person_id = add_application_reviewer(sessions(), association, name=name, email=email, employer=employer,
                                         max_load=max_load, trained=trained, available=available,
                                         actor=coordinator(by))
    print(f"application reviewer #{person_id} {name}: {association}, up to {max_load} at a time"
          f"{'' if trained else ', not trained yet (not assigned)'}{'' if available else ', unavailable'}")
    return EXIT_OK


@app.command("assign")
@refusals
def assign(association: Association,
           apply: Annotated[bool, typer.Option("--apply", help="create the assignments and email the reviewers")] = False,
           by: Annotated[Optional[str], typer.Option("--by", help="your email (needed with --apply)")] = None,
           as_of: AsOf = None) -> int:
    """The optimal application-reviewer assignment: a dry run first, then --apply --by EMAIL."""
    from tasks.application_review.rounds import apply_association, plan_reviews, reviewers_wanted

    if apply and not by:
        raise ValueError("--apply needs --by COORDINATOR_EMAIL (who applied it goes in the audit log)")
    cfg = pipeline_config(coordinator(by or "dry-run"))
    day = as_of_date(as_of)
    if apply:
        rnd = apply_association(sessions(), association, cfg.library, as_of=day, secret_key=cfg.secret_key,
                                actor=cfg.actor)
    else:
        with sessions()() as s:
            rnd = plan_reviews(s, association, cfg.library, day)
    plan = rnd.plan
    print(("applied" if apply else "dry run (nothing written; add --apply --by EMAIL to send)") +
          f": application reviews of {association}")
    for row in plan.to_rows():
        print(f"  {row['essay_id']:<14} {row['track']:<8} reviewer #{row['reviewer_id']:<6} "
              f"{row['reviewer_endorsement']:<8} {'preferred' if row['preferred'] else ''}")
    print(f"{len(plan.to_rows())} new assignments; total cost {plan.total_cost}")
    for u in plan.uncovered:
        print(f"  not covered: {u[0]} needs {u[1]} more: {u[2]}")
    if not plan.assignments and not plan.uncovered:
        why = ("its rulebook has no application review (application_review.reviewers is 0)"
               if reviewers_wanted(cfg.library, association, day) == 0 else "none is waiting for reviewers")
        print(f"  no application of {association} to assign: {why}")
    return EXIT_OK


@app.command("settle")
@refusals
def settle(application: Application, outcome: Annotated[Outcome, typer.Option("--outcome")],
           note: Annotated[str, typer.Option("--note", help="why: your determination")], on: On, by: By,
           conditions: Annotated[Optional[str], typer.Option("--conditions")] = None,
           no_reconcile: NoReconcile = False) -> int:
    """Record your determination and the outcome when the application reviewers disagree."""
    from tasks.application_review.rounds import record_coordinator_outcome

    record_coordinator_outcome(sessions(), application, outcome=outcome.value, note=note, conditions=conditions or "",
                               on=parse_date(on, "--on"), actor=coordinator(by))
    print(f"{application}: application review settled: {outcome.value.replace('_', ' ')}")
    after_event(application, None, no_reconcile)
    return EXIT_OK


@app.command("advisor")
@refusals
def advisor(application: Application, name: Annotated[str, typer.Option("--name")],
            email: Annotated[str, typer.Option("--email")], by: By) -> int:
    """Pair the application with an application advisor, who is emailed a read-only link.

    The advisor reads the portfolio and live checklist (never ratings); their notes reach the applicant.
    """
    from tasks.application_review.advisors import pair_advisor

    cfg = pipeline_config(coordinator(by))
    pairing = pair_advisor(sessions(), cfg.library, application, name=name, email=email, as_of=cfg.as_of,
                           secret_key=cfg.secret_key, actor=cfg.actor)
    print(f"{application}: paired with advisor {name} (pairing {pairing}); their link is in the outbox")
    return EXIT_OK


@app.command("round")
@refusals
def next_round(application: Application,
               reason: Annotated[str, typer.Option("--reason", help="what changed since the reviewers' \"not yet\"")],
               on: On, by: By, no_reconcile: NoReconcile = False) -> int:
    """Open the next review round after a round ended "not yet" and the applicant changed the portfolio.

    Then assign its reviewers (endorse appreview assign): the same ones again or new ones, as the
    association's rulebook says (application_review.later_round_reviewers).
    """
    from tasks.application_review.coordinator_acts import start_next_round

    cfg = pipeline_config(coordinator(by))
    n = start_next_round(sessions(), cfg.library, application, reason=reason, on=parse_date(on, "--on"),
                         actor=cfg.actor)
    print(f"{application}: review round {n} opened; assign its reviewers with endorse appreview assign")
    after_event(application, None, no_reconcile)
    return EXIT_OK


@app.command("new-link")
@refusals
def new_link(reviewer: Annotated[int, typer.Argument(metavar="REVIEWER", help="the reviewer's number")],
             association: Association, by: By, as_of: AsOf = None) -> int:
    """Email an application reviewer a new link; the old one stops working (lost or forwarded)."""
    from tasks.application_review.coordinator_acts import regenerate_review_link

    cfg = pipeline_config(coordinator(by))
    regenerate_review_link(sessions(), cfg.library, association, reviewer, as_of=as_of_date(as_of),
                           secret_key=cfg.secret_key, actor=cfg.actor)
    print(f"new application-review link queued for reviewer #{reviewer}; the old one no longer works")
    return EXIT_OK


@app.command("end-advisor")
@refusals
def end_advisor(application: Application,
                email: Annotated[str, typer.Option("--email", help="the advisor's email")],
                reason: Annotated[str, typer.Option("--reason", help="why the pairing ends")],
                on: On, by: By) -> int:
    """End an advisor's pairing with an application: their link stops working; their notes stay."""
    from sqlalchemy import select

    from models import Person
    from tasks.application_review.advisors import end_pairing

    with sessions()() as s:
        advisor_id = s.scalar(select(Person.id).where(Person.email_normalized == email.strip().casefold()))
    if advisor_id is None:
        raise LookupError(f"--email: nobody with the address {email}")
    name = end_pairing(sessions(), application, advisor_id, reason=reason, on=parse_date(on, "--on"),
                       actor=coordinator(by))
    print(f"{application}: the pairing with advisor {name} has ended; their link no longer opens it")
    return EXIT_OK
