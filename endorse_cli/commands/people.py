"""The records a coordinator keeps by hand: ``endorse transcript record``, ``endorse determination
record|queue``, ``endorse coordinator add|deactivate``, ``endorse person change|endorsement``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from endorse_cli.commands.common import (
    By,
    Json,
    NoReconcile,
    Note,
    On,
    OptionalBy,
    after_event,
    coordinator as actor_of,
    coordinators_association,
    parse_date,
    pipeline_config,
    refusals,
    sessions,
    sessions_with_associations,
)
from endorse_cli.output import EXIT_OK

transcript = typer.Typer(no_args_is_help=True, help="Transcripts: record one you received.")
determination = typer.Typer(no_args_is_help=True,
                            help="Determinations: the questions the rules leave to you, answered and awaited.")
coordinator = typer.Typer(no_args_is_help=True,
                          help="Coordinator accounts: create one, close one, grant or revoke the admin role.")
person = typer.Typer(no_args_is_help=True,
                     help="A person's own record: correct it, record an endorsement they hold (their association only).")

Application = Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's id")]


@transcript.command("record")
@refusals
def record_transcript(
    application: Application,
    institution: Annotated[str, typer.Option("--institution", help="as the applicant named it")],
    received_on: Annotated[str, typer.Option("--received-on", metavar="YYYY-MM-DD")],
    by: By,
    credential: Annotated[Optional[str], typer.Option(
        "--credential", help="which record, when the applicant claims two at one institution")] = None,
    unofficial: Annotated[bool, typer.Option("--unofficial", help="the copy received is not official")] = False,
    no_reconcile: NoReconcile = False,
) -> int:
    """Record a transcript that arrived (by mail or from the institution).

    The application moves on at once when it was the last one awaited.
    """
    from tasks.transcripts.transcripts import record_transcript as record

    name = record(sessions(), application, institution=institution, official=not unofficial,
                  received_on=parse_date(received_on, "--received-on"), credential=credential, actor=actor_of(by))
    print(f"recorded {'official' if not unofficial else 'unofficial'} transcript from {name} for {application}")
    after_event(application, no_reconcile=no_reconcile)
    return EXIT_OK


class Determined(str, Enum):
    accepted = "accepted"
    not_accepted = "not_accepted"


@determination.command("record")
@refusals
def record_determination(
    application: Application,
    question: Annotated[str, typer.Option(
        "--question", help="the question's key in the rulebook, e.g. ifa_volunteer_experience")],
    decision: Annotated[Determined, typer.Option("--decision", help="what you determined")],
    on: On, by: By, note: Note = None,
) -> int:
    """Record your determination of a question the rules leave to you.

    For example whether volunteer experience counts. The requirement waiting on it moves at once; the
    determination is audited and shown on the checklist with its source.
    """
    from tasks.eligibility.determinations import record_determination as record
    from tasks.pipeline.reconcile import reconcile_one

    cfg = pipeline_config(actor_of(by))
    factory = sessions()
    asked = record(factory, cfg.library, application, question=question, decided_by=by,
                   decided_on=parse_date(on, "--on"), accepted=decision is Determined.accepted, note=note,
                   actor=cfg.actor)
    out = reconcile_one(factory, application, cfg)
    print(f"{application}: {question} {decision.value} ({asked}); stage {out.stage}")
    return EXIT_OK


@determination.command("queue")
def determination_queue(
    association: Annotated[Optional[str], typer.Option("--association", help="only this association's")] = None,
    json: Json = False,
) -> int:
    """Open applications waiting on a determination nobody has recorded yet.

    Answer each with `endorse determination record`.
    """
    from endorse_cli.display import print_json, print_table
    from tasks.eligibility.determinations import awaited_determinations

    cfg = pipeline_config("system")
    with sessions()() as s:
        items = awaited_determinations(s, cfg.library, cfg.as_of, association)
    rows = [{"application": q.application_id, "category": q.category, "association": q.association,
             "requirement": q.requirement, "question": q.question} for q in items]
    if json:
        print_json(rows)
        return EXIT_OK
    print_table(("application", "category", "association", "requirement", "question"),
                (tuple(r.values()) for r in rows))
    print(f"{len(items)} determination(s) awaited")
    return EXIT_OK


@coordinator.command("add")
@refusals
def add_coordinator(
    association: Annotated[str, typer.Option("--association", help="the association they work for")],
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email", help="they sign in with it")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="an association admin: may add and close accounts on the web "
                                                        "(the association's first account always is)")] = False,
    by: OptionalBy = None,
) -> int:
    """Create a coordinator account (or reset its password).

    The password is asked twice, or read from standard input, never from the command line.
    """
    from endorse_cli.setup import new_password
    from tasks.coordination.accounts import set_coordinator

    password = new_password(password_stdin)
    account_id = set_coordinator(sessions_with_associations(), association=association, name=name, email=email,
                                 password=password, actor=actor_of(by) if by else "cli", admin=admin)
    print(f"coordinator account #{account_id}: {email} for {association}{' (admin)' if admin else ''}")
    return EXIT_OK


@coordinator.command("deactivate")
@refusals
def deactivate_coordinator(
    email: Annotated[str, typer.Option("--email", help="the account to close")],
    by: OptionalBy = None,
) -> int:
    """Close a coordinator account (someone left).

    Every session of theirs ends at once. The association's last admin is never closed: make another
    coordinator an admin first (endorse coordinator admin).
    """
    from tasks.coordination.accounts import deactivate_coordinator as deactivate

    deactivate(sessions(), email, actor=actor_of(by) if by else "cli")
    print(f"coordinator {email} deactivated; every session of theirs has ended")
    return EXIT_OK


@coordinator.command("admin")
@refusals
def coordinator_admin(
    email: Annotated[str, typer.Option("--email", help="the account to change, of your own association")],
    by: Annotated[str, typer.Option("--by", help="an admin of the account's association (your own email)")],
    revoke: Annotated[bool, typer.Option("--revoke", help="take the admin role back instead of granting it")] = False,
) -> int:
    """Grant (or with --revoke take back) the admin role on an account of your association.

    An admin may add and close accounts and change who is an admin. The last admin keeps the role.
    """
    from tasks.coordination.accounts import account_by_email, admin_account, set_admin

    _, association = admin_account(sessions(), by)
    account_id = account_by_email(sessions(), email, association)
    changed = set_admin(sessions(), account_id, association=association, admin=not revoke, actor=actor_of(by))
    state = "no longer an admin" if revoke else "an admin"
    print(f"{email} is {state} of {association}" if changed else f"{email} already was {state}: nothing changed")
    return EXIT_OK


OwnCoordinator = Annotated[str, typer.Option("--by", help="a coordinator of the person's own association")]
PersonEmail = Annotated[str, typer.Option("--email", help="the person's email")]


@person.command("change")
@refusals
def change_person(
    email: PersonEmail, by: OwnCoordinator,
    name: Annotated[Optional[str], typer.Option("--name")] = None,
    employer: Annotated[Optional[str], typer.Option("--employer")] = None,
) -> int:
    """Correct a person's own record (name, employer).

    Only their own association may; what an application says about them is a claim on it and is not changed
    here.
    """
    from tasks.intake.people import change_person as change

    association = coordinators_association(by)
    person_id = change(sessions(), email, association=association, actor=actor_of(by), name=name, employer=employer)
    print(f"person #{person_id} {email}: record updated by {association} (audited in every association that sees them)")
    return EXIT_OK


@person.command("endorsement")
@refusals
def record_endorsement(
    email: PersonEmail,
    category: Annotated[str, typer.Option("--category", help="e.g. IMHM-C")],
    by: OwnCoordinator,
    number: Annotated[Optional[str], typer.Option("--number", help="the endorsement's number")] = None,
    granted_on: Annotated[Optional[str], typer.Option("--granted-on", metavar="YYYY-MM-DD")] = None,
) -> int:
    """Record an endorsement a person holds, checked by their own association.

    It then counts as verified (reviewer eligibility uses nothing else).
    """
    from tasks.intake.people import record_endorsement as record

    association = coordinators_association(by)
    record(sessions(), email, category=category, association=association, actor=actor_of(by), number=number,
           granted_on=parse_date(granted_on, "--granted-on") if granted_on else None)
    print(f"{email}: {category} endorsement recorded by {association} (verified)")
    return EXIT_OK
