"""``endorse import`` (documents into the database) and ``endorse show`` (one application at a glance)."""

from __future__ import annotations

from typing import Annotated

import typer

from endorse_cli.commands.common import AsOf, Json, as_of_date, no_application, refusals, sessions
from endorse_cli.output import EXIT_OK


def import_documents(
    path: Annotated[str, typer.Argument(metavar="PATH", help="an application .json file or a folder of them")],
    actor: Annotated[str, typer.Option("--actor", help="who is importing (for the audit log)")] = "system:import",
) -> int:
    """Load application documents into the database, each file all or nothing.

    New applications are created, changed ones updated, the same ones left alone. Run it when an association
    sends its applications; the next sweep (or `endorse sweep`) moves them along. Every file is checked
    before anything is written: a bad one names its file and field.
    """
    from endorse.collector import cycle_collector_paused
    from endorse.documents import document_paths, load_document
    from endorse_cli.display import progress
    from tasks.intake.importing import import_documents as import_all

    paths = document_paths(path)
    # Every document is held until all are checked (a bad file writes nothing), as in evaluate: the
    # cycle collector walking them as they pile up cost 10,000 files 2.4 s of parsing (0.5 s without)
    # and the import another 1.2 s.
    with cycle_collector_paused(freeze_survivors=True):
        docs = [(p, load_document(p)) for p in paths]
        with progress("importing", total=len(docs)) as advance:
            report = import_all(docs, actor=actor, progress=advance)
    for line in report:
        print(line)
    return EXIT_OK


@refusals
def show(
    application: Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's id, e.g. CT-2026-137")],
    as_of: AsOf = None,
    json: Json = False,
) -> int:
    """One application at a glance.

    Its checklist, the determinations its rules leave to you, its raters (what is missing and why), its
    emails and its timeline. Start here when an applicant or a rater calls.
    """
    from sqlalchemy import select

    from endorse.rulebook import default_library
    from models import Application, AuditLog, OutboxMessage, Person, ReferenceRequest
    from tasks.eligibility.determinations import application_questions
    from tasks.eligibility.evaluation import evaluate
    from tasks.intake.records import load_documents

    day = as_of_date(as_of)
    library = default_library()
    with sessions()() as s:
        app = s.get(Application, application)
        if app is None:
            raise LookupError(no_application(application))
        checklist = evaluate(load_documents(s, [app.id])[app.id], library, day).to_dict()
        questions = [{"question": q.key, "requirement": q.requirement, "source": q.source,
                      "latest": q.latest} for q in application_questions(s, library, app, day)]
        raters = [_rater(req, person, day) for req, person in s.execute(
            select(ReferenceRequest, Person).join(Person, Person.id == ReferenceRequest.rater_id)
            .where(ReferenceRequest.application_id == app.id).order_by(ReferenceRequest.position))]
        emails = [{"created": f"{m.created_at:%Y-%m-%d}", "role": m.role, "to": m.recipient_email, "status": m.status,
                   "error": m.last_error} for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.application_id == app.id).order_by(OutboxMessage.id))]
        timeline = [{"at": f"{e.at:%Y-%m-%d %H:%M}", "actor": e.actor, "what": _what(e)} for e in s.scalars(
            select(AuditLog).where(AuditLog.application_id == app.id).order_by(AuditLog.id))]
        stage = {"stage": app.stage, "since": f"{app.stage_entered_at:%Y-%m-%d}"}
    if json:
        from endorse_cli.display import print_json

        print_json({"checklist": checklist, **stage, "determinations": questions, "raters": raters,
                    "emails": emails, "timeline": timeline})
        return EXIT_OK
    _print_show(checklist, stage, questions, raters, emails, timeline)
    return EXIT_OK


def _rater(req, person, day) -> dict:
    link = "link active" if req.token_hash else ("link expired or replaced" if req.token_nonce else "no link yet")
    notes = [link] if req.status == "requested" else []
    if req.due_on and req.status == "requested":
        notes.append(f"due {req.due_on}" + (" OVERDUE" if req.due_on < day else ""))
    if req.reminders_sent:
        notes.append(f"{req.reminders_sent} reminder(s)")
    if req.vetting is not None:
        notes.append(f"vetted {req.vetting.decision} on {req.vetting.vetted_on} by {req.vetting.coordinator}")
    if req.waived_access:
        notes.append("applicant waived access")
    return {"request": req.id, "role": req.role, "name": req.rater_name, "email": person.email,
            "status": req.status, "notes": "; ".join(notes)}


def _what(entry) -> str:
    if entry.action == "stage.changed":
        d = entry.details
        return f"{d.get('from_stage')} → {d.get('to_stage')}: {d.get('reason')}"
    return entry.action


def _print_show(checklist, stage, questions, raters, emails, timeline) -> None:
    from endorse_cli.commands.checklists import print_checklists
    from endorse_cli.display import print_table

    print_checklists([checklist])
    print(f"\nstage: {stage['stage']} since {stage['since']}")
    if questions:
        print("\ncoordinator determinations:")
    for q in questions:
        d = q["latest"]
        said = "awaited" if d is None else \
            f"{'accepted' if d['accepted'] else 'not accepted'} by {d['by']} on {d['on']}" + \
            (f": {d['note']}" if d["note"] else "")
        print(f"  {q['question']} ({q['requirement']}): {said}  [{q['source']}]")
    print("\nraters:" + ("" if raters else " none yet"))
    print_table(("request", "role", "rater", "status", "notes"),
                ((f"#{r['request']}", r["role"], f"{r['name']} <{r['email']}>", r["status"], r["notes"]) for r in raters))
    print("\nemails:" + ("" if emails else " none yet"))
    print_table(("queued", "email", "to", "status", "server's answer"),
                ((m["created"], m["role"], m["to"], m["status"], (m["error"] or "")[:60]) for m in emails))
    print("\ntimeline:")
    print_table(("when", "who", "what"), ((e["at"], e["actor"], e["what"]) for e in timeline))
