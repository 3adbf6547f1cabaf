"""Database, pipeline and server commands of the ``endorse`` CLI (heavy imports stay inside handlers).

Over 500 lines until the command line moves to Typer command groups (issue 14 step 4), which splits
it by group (rater, exam, renewal, outbox, …).
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path


def _date(value: str) -> date:
    from endorse_cli.output import UsageError

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a date written YYYY-MM-DD") from None


def _sessions():
    from endorse.db import default_session_factory, upgrade_database

    upgrade_database()
    return default_session_factory()


def _lookup(fn):
    from endorse_cli.output import UsageError

    def wrapped(args):
        try:
            return fn(args)
        except (LookupError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    return wrapped


@_lookup
def cmd_record_transcript(args) -> int:
    from tasks.transcripts.transcripts import record_transcript

    name = record_transcript(_sessions(), args.application, institution=args.institution, official=not args.unofficial,
                             received_on=_date(args.received_on), credential=args.credential,
                             actor=f"coordinator:{args.by}")
    print(f"recorded {'official' if not args.unofficial else 'unofficial'} transcript from {name} for {args.application}")
    _after_event(args.application, args)
    return 0


@_lookup
def cmd_approve_exam(args) -> int:
    from tasks.exam.results import approve_for_exam

    approve_for_exam(_sessions(), args.application, approved_on=_date(args.on), actor=f"coordinator:{args.by}")
    print(f"{args.application} approved to sit the exam")
    _after_event(args.application, args)
    return 0


@_lookup
def cmd_record_exam(args) -> int:
    from tasks.exam.results import record_exam_result

    record_exam_result(_sessions(), args.application, multiple_choice_percent=args.multiple_choice,
                       essay_result=args.essay, taken_on=_date(args.taken_on), actor=f"coordinator:{args.by}")
    print(f"exam result recorded for {args.application}")
    _after_event(args.application, args)
    return 0


def _after_event(application_id: str, args) -> None:
    """An event triggers a reconcile: on the Prefect server when one is configured, else here. The
    action has committed already; if Prefect cannot take it, one line says so and the sweep catches up."""
    if getattr(args, "no_reconcile", False):
        return
    from endorse_cli.output import reconcile_line
    from flows.after_event import reconcile_after_event

    line, outcome = reconcile_after_event(application_id, getattr(args, "as_of", None))
    print(reconcile_line(application_id, outcome) if outcome is not None else line)


@_lookup
def cmd_reconcile(args) -> int:
    if args.as_of:
        _date(args.as_of)  # a bad date is refused before anything is submitted
    _sessions()
    _after_event(args.application, args)
    return 0


def cmd_sweep(args) -> int:
    _sessions()
    from endorse_cli.output import sweep_line
    from flows.sweep import sweep

    print(sweep_line(sweep(batch_size=args.batch_size, as_of=args.as_of, full=args.full), args.as_of))
    return 0


def cmd_deliver(args) -> int:
    from sqlalchemy import func, select

    from endorse.settings import get_settings
    from endorse_cli.output import delivery_line
    from flows.deliver_outbox import deliver_outbox
    from models import OutboxMessage
    from tasks.mail.outbox import SmtpConfig

    sessions = _sessions()
    report = deliver_outbox()
    with sessions() as s:
        waiting = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued"))
    line, ok = delivery_line(report, SmtpConfig.from_settings(get_settings()).where, waiting)
    print(line)
    return 0 if ok else 1


@_lookup
def cmd_serve(args) -> int:
    """The web app (rating links) on a thread, and the Prefect deployments in the foreground.

    Without PREFECT_API_URL a local Prefect server is started as a child process (and stopped on exit).
    """
    import contextlib
    import os
    import signal
    import threading

    import uvicorn

    from endorse.settings import SECRET_FILE, check_can_serve, get_settings
    from endorse_cli.output import UsageError
    from web.app import default_app
    from web.guard import uvicorn_config

    settings = get_settings()  # in development this makes the secret key file on first start
    try:
        check_can_serve(settings, args.host)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if (settings.data_dir / SECRET_FILE).is_file() and "ENDORSE_SECRET_KEY" not in os.environ:
        print(f"secret key: {settings.data_dir / SECRET_FILE} (set ENDORSE_SECRET_KEY to use your own)")
    _sessions()
    from flows.deployments import serve_deployments

    with contextlib.ExitStack() as stack:
        if not args.web_only and not os.environ.get("PREFECT_API_URL"):
            from endorse_cli.prefect_server import LocalPrefectServer

            local = stack.enter_context(LocalPrefectServer(settings.data_dir / "prefect-server"))
            os.environ.update(local.client_env())
        # Shutdown is prompt: open keep-alive connections get a few seconds, not uvicorn's unbounded wait.
        config = uvicorn_config(default_app(), host=args.host, port=args.port, trusted_proxies=settings.trusted_proxy_list)
        config.timeout_graceful_shutdown = 3
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        # SIGTERM (systemd, docker stop, kill) ends the command like Ctrl-C does, through the same clean-up.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if args.web_only:
                threading.Event().wait()
            serve_deployments(**({"prefect_yaml": Path(args.prefect_file)} if args.prefect_file else {}))
        except KeyboardInterrupt:
            print("stopping", flush=True)
        finally:
            server.should_exit = True
            thread.join(5)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_automations_apply(args) -> int:
    """Create or update (by name) the Prefect automations kept in automations.yaml."""
    from pathlib import Path

    from endorse_cli.output import UsageError
    from flows.after_event import prefect_api_url, prefect_problem, shown
    from flows.automations import AutomationsError, apply_automations

    api = prefect_api_url()
    if not api:
        raise UsageError("automations apply: set PREFECT_API_URL to the Prefect server's API (e.g. http://127.0.0.1:4200/api)")
    problem = prefect_problem(api)
    if problem is not None:
        print(f"Prefect at {shown(api)} is not reachable ({problem}): nothing applied")
        return 1
    try:
        results = apply_automations(api, Path(args.file)) if args.file else apply_automations(api)
    except AutomationsError as exc:
        raise UsageError(str(exc)) from None
    for name, what in results:
        print(f"{what:<9} {name}")
    return 0


def cmd_up(args) -> int:
    """The production stack on one host (endorse_cli/stack.py), until SIGTERM or Ctrl-C."""
    import os

    from endorse.settings import get_settings
    from endorse_cli.stack import StackConfig, StackError, run

    settings = get_settings()
    if not settings.database_url:
        from endorse_cli.output import UsageError

        raise UsageError("endorse up: set DATABASE_URL to the application's PostgreSQL database")
    config = StackConfig(home=Path(args.home) if args.home else settings.data_dir / "stack",
                         database_url=settings.sqlalchemy_url,
                         prefect_database_url=os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL", ""),
                         host=args.host, prefect_port=args.prefect_port, web_port=args.port, workers=args.workers,
                         web_workers=args.web_workers,
                         **({"prefect_file": Path(args.prefect_file)} if args.prefect_file else {}))
    try:
        config.check()
    except StackError as exc:
        from endorse_cli.output import UsageError

        raise UsageError(f"endorse up: {exc}") from None
    return run(config, say=lambda msg: print(f"[up] {msg}", flush=True))


def _backup_command(fn):
    def run(args) -> int:
        from endorse.settings import get_settings
        from endorse_cli.backup import BackupError
        from endorse_cli.output import UsageError

        try:
            print(fn(get_settings().sqlalchemy_url, Path(args.path), force=args.force))
        except BackupError as exc:
            raise UsageError(str(exc)) from None
        return 0
    return run


def cmd_backup(args) -> int:
    from endorse_cli.backup import backup

    return _backup_command(backup)(args)


def cmd_restore(args) -> int:
    from endorse_cli.backup import restore

    return _backup_command(restore)(args)


def _pipeline_config(actor: str):
    from endorse.clock import today
    from endorse.rulebook import default_library
    from endorse.settings import get_settings
    from tasks.config import PipelineConfig

    # The project's clock: today, or the day a simulated year has reached (endorse/clock.py).
    return PipelineConfig(library=default_library(), as_of=today(),
                          secret_key=get_settings().secret_key.get_secret_value(), actor=actor)


def _proposed(args):
    from tasks.references.raters import ProposedRater

    return ProposedRater(args.name, args.email, args.role, args.endorsement, args.waive)


@_lookup
def cmd_add_rater(args) -> int:
    from tasks.references.raters import add_rater

    sessions = _sessions()
    cfg = _pipeline_config(f"coordinator:{args.by}")
    req_id = add_rater(sessions, args.application, _proposed(args), cfg, actor=cfg.actor)
    print(f"asked {args.name} <{args.email}> as {args.role} (reference request {req_id})")
    return 0


@_lookup
def cmd_replace_rater(args) -> int:
    from tasks.references.raters import replace_rater

    cfg = _pipeline_config(f"coordinator:{args.by}")
    new_id = replace_rater(_sessions(), args.request, _proposed(args), cfg, actor=cfg.actor, reason=args.reason)
    print(f"reference request {args.request} cancelled (its link no longer works); {args.name} asked (request {new_id})")
    return 0


@_lookup
def cmd_link(args) -> int:
    from tasks.references.raters import regenerate_link, resend_link

    cfg = _pipeline_config(f"coordinator:{args.by}")
    (regenerate_link if args.regenerate else resend_link)(_sessions(), args.request, cfg, actor=cfg.actor)
    print(f"{'new link' if args.regenerate else 'same link'} queued for reference request {args.request}")
    return 0


def cmd_vetting_queue(args) -> int:
    from tasks.references.raters import vetting_queue

    with _sessions()() as s:
        items = vetting_queue(s, _pipeline_config("system"))
    for q in items:
        print(f"{q.request_id:>6}  {q.application_id:<14} {q.category:<8} {q.association:<9} {q.role:<28} "
              f"{q.rater_name} <{q.rater_email}>")
    from endorse_cli.output import vetting_count_line

    print(vetting_count_line(len(items)))
    return 0


@_lookup
def cmd_vet_rater(args) -> int:
    from tasks.references.raters import vet_rater

    vet_rater(_sessions(), args.request, coordinator=args.by, vetted_on=_date(args.on),
              accepted=args.decision == "accepted", note=args.note)
    print(f"vetting of reference request {args.request} recorded: {args.decision}")
    return 0


@_lookup
def cmd_determine(args) -> int:
    """Record a coordinator's determination, then reconcile so the requirement waiting on it moves."""
    from tasks.eligibility.determinations import record_determination
    from tasks.pipeline.reconcile import reconcile_one

    cfg = _pipeline_config(f"coordinator:{args.by}")
    sessions = _sessions()
    accepted = args.decision == "accepted"
    question = record_determination(sessions, cfg.library, args.application, question=args.question,
                                    decided_by=args.by, decided_on=_date(args.on), accepted=accepted,
                                    note=args.note, actor=cfg.actor)
    out = reconcile_one(sessions, args.application, cfg)
    print(f"{args.application}: {args.question} {args.decision} ({question}); stage {out.stage}")
    return 0


def cmd_determinations_queue(args) -> int:
    from tasks.eligibility.determinations import awaited_determinations

    cfg = _pipeline_config("system")
    with _sessions()() as s:
        items = awaited_determinations(s, cfg.library, cfg.as_of, args.association)
    for q in items:
        print(f"{q.application_id:<14} {q.category:<8} {q.association:<12} {q.requirement:<18} {q.question}")
    print(f"{len(items)} determination(s) awaited")
    return 0


def cmd_outbox(args) -> int:
    from sqlalchemy import select

    from models import OutboxMessage

    with _sessions()() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.status.in_(args.status))
                         .order_by(OutboxMessage.id)).all()
    for m in rows:
        print(f"{m.id:>6} {m.status:<8} {m.role:<28} {m.recipient_email:<36} attempts={m.attempts} "
              f"{(m.last_error or '')[:80]}")
    from endorse_cli.output import outbox_count_line

    print(outbox_count_line(len(rows), args.status))
    return 0


@_lookup
def cmd_record_bounce(args) -> int:
    from pathlib import Path

    from tasks.mail.bounces import record_bounce

    sessions = _sessions()
    for f in args.files:
        print(record_bounce(sessions, Path(f).read_bytes(), actor=f"coordinator:{args.by}"))
    return 0


@_lookup
def cmd_show(args) -> int:
    """One application at a glance: checklist, raters (what is missing and why), emails, timeline."""
    from sqlalchemy import select

    from endorse.rulebook import default_library
    from endorse_cli.output import format_table
    from models import Application, AuditLog, OutboxMessage, Person, ReferenceRequest
    from tasks.eligibility.evaluation import evaluate
    from tasks.intake.records import load_documents

    as_of = _date(args.as_of) if args.as_of else date.today()
    with _sessions()() as s:
        app = s.get(Application, args.application)
        if app is None:
            raise LookupError(_no_application(args.application))
        doc = load_documents(s, [app.id])[app.id]
        print(format_table(evaluate(doc, default_library(), as_of).to_dict()))
        print(f"\nstage: {app.stage} since {app.stage_entered_at:%Y-%m-%d}")
        from tasks.eligibility.determinations import application_questions

        questions = application_questions(s, default_library(), app, as_of)
        if questions:
            print("\ncoordinator determinations:")
        for q in questions:
            d = q.latest
            said = "awaited" if d is None else \
                f"{'accepted' if d['accepted'] else 'not accepted'} by {d['by']} on {d['on']}" + \
                (f": {d['note']}" if d["note"] else "")
            print(f"  {q.key} ({q.requirement}): {said}  [{q.source}]")
        print("\nraters:")
        for req, person in s.execute(select(ReferenceRequest, Person).join(Person, Person.id == ReferenceRequest.rater_id)
                                     .where(ReferenceRequest.application_id == app.id).order_by(ReferenceRequest.position)):
            link = "link active" if req.token_hash else ("link expired or replaced" if req.token_nonce else "no link yet")
            notes = [link] if req.status == "requested" else []
            if req.due_on and req.status == "requested":
                notes.append(f"due {req.due_on}" + (" OVERDUE" if req.due_on < as_of else ""))
            if req.reminders_sent:
                notes.append(f"{req.reminders_sent} reminder(s)")
            if req.vetting is not None:
                notes.append(f"vetted {req.vetting.decision} on {req.vetting.vetted_on} by {req.vetting.coordinator}")
            if req.waived_access:
                notes.append("applicant waived access")
            print(f"  #{req.id:<5} {req.role:<28} {req.rater_name} <{person.email}>  {req.status}  " + "; ".join(notes))
        print("\nemails:")
        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.application_id == app.id).order_by(OutboxMessage.id)):
            print(f"  {m.created_at:%Y-%m-%d} {m.role:<30} {m.recipient_email:<34} {m.status}"
                  + (f" ({m.last_error[:60]})" if m.last_error else ""))
        print("\ntimeline:")
        for e in s.scalars(select(AuditLog).where(AuditLog.application_id == app.id).order_by(AuditLog.id)):
            what = e.action
            if e.action == "stage.changed":
                what = f"{e.details.get('from_stage')} → {e.details.get('to_stage')}: {e.details.get('reason')}"
            print(f"  {e.at:%Y-%m-%d %H:%M} {e.actor:<28} {what}")
    return 0


def _no_application(application_id: str) -> str:
    """Say which data was searched, and where the demo's is when that is elsewhere."""
    from endorse.settings import get_settings
    from endorse_cli.demo import DEMO_DIR
    from endorse_cli.output import no_application

    settings = get_settings()
    if settings.database_url:
        from sqlalchemy.engine import make_url

        where = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    else:
        where = str(settings.data_dir)
    demo = (DEMO_DIR / "endorse.sqlite3").exists() and settings.data_dir.resolve() != DEMO_DIR.resolve()
    return no_application(application_id, where, os.path.relpath(DEMO_DIR) if demo else None)


def _secret() -> str:
    from endorse.settings import get_settings

    return get_settings().secret_key.get_secret_value()


@_lookup
def cmd_assign_essays(args) -> int:
    """The optimal reviewer assignment for a sitting: a dry run (table, CSV with --csv), or --apply."""
    from endorse.rulebook import default_library
    from tasks.exam.review import apply_sitting
    from tasks.exam.sitting_plan import plan_sitting

    as_of = _date(args.as_of) if args.as_of else date.today()
    if args.apply and not args.by:
        raise ValueError("--apply needs --by COORDINATOR_EMAIL (who applied it goes in the audit log)")
    if args.apply:
        rnd = apply_sitting(_sessions(), args.sitting, default_library(), as_of=as_of, secret_key=_secret(),
                            actor=f"coordinator:{args.by}")
    else:
        with _sessions()() as s:
            rnd = plan_sitting(s, args.sitting, default_library(), as_of)
    plan = rnd.plan
    print(("applied" if args.apply else "dry run (nothing written; add --apply --by EMAIL to send)") +
          f": sitting {rnd.sitting.id} {rnd.sitting.name}")
    for row in plan.to_rows():
        print(f"  {rnd.candidate_codes[row['essay_id']]:<12} {row['track']:<8} reviewer #{row['reviewer_id']:<6} "
              f"{row['reviewer_endorsement']:<8} {'preferred' if row['preferred'] else ''}")
    lo, mean, hi = plan.load_stats
    print(f"{len(plan.to_rows())} new assignments; total cost {plan.total_cost}; "
          f"reviewer load min/mean/max {lo}/{mean:.1f}/{hi}")
    for u in plan.uncovered:
        print(f"  not covered: {rnd.candidate_codes[u[0]]} needs {u[1]} more: {u[2]}")
    print(f"{len(plan.without_preferred)} essays without a preferred reviewer (of their own track)")
    for w in plan.without_preferred:
        print(f"  no preferred reviewer: {rnd.candidate_codes[w.essay_id]}: {w.reason}")
    for m in plan.short_of_minimum:
        print(f"  below minimum load: reviewer #{m.reviewer_id} gets {m.missing} fewer than their minimum: {m.reason}")
    for h in rnd.held:
        print(f"  held: essay {h.essay_id} ({h.candidate_code}): {h.reason}")
    if args.csv:
        plan.to_csv(args.csv)
        print(f"written to {args.csv}")
    return 0


@_lookup
def cmd_exam_sitting(args) -> int:
    from endorse.rulebook import default_library
    from tasks.exam.intake import open_sitting

    sitting_id = open_sitting(_sessions(), default_library(), association=args.association, name=args.name,
                              opens_on=_date(args.opens_on), closes_on=_date(args.closes_on),
                              actor=f"coordinator:{args.by}")
    print(f"exam sitting {sitting_id} opened: {args.name}")
    return 0


@_lookup
def cmd_exam_enrol(args) -> int:
    from endorse.rulebook import default_library
    from tasks.exam.intake import enrol_candidates

    as_of = _date(args.as_of) if args.as_of else date.today()
    out = enrol_candidates(_sessions(), args.sitting, default_library(), as_of=as_of, actor=f"coordinator:{args.by}")
    for app_id, code in out.enrolled:
        print(f"  {app_id:<24} candidate code {code}")
    for app_id, why in out.skipped:
        print(f"  {app_id:<24} not enrolled: {why}")
    from endorse_cli.output import enrolment_line

    print(enrolment_line(len(out.enrolled), out.nobody_because))
    return 0


@_lookup
def cmd_import_mc(args) -> int:
    from tasks.exam.intake import import_multiple_choice

    n = import_multiple_choice(_sessions(), args.sitting, args.file, actor=f"coordinator:{args.by}",
                               taken_on=_date(args.taken_on) if args.taken_on else None)
    print(f"{n} multiple-choice results recorded from {args.file}")
    return 0


@_lookup
def cmd_import_essays(args) -> int:
    from endorse.rulebook import default_library
    from tasks.exam.intake import import_essays

    as_of = _date(args.as_of) if args.as_of else date.today()
    out = import_essays(_sessions(), args.sitting, args.file, default_library(), actor=f"coordinator:{args.by}",
                        as_of=as_of)
    print(f"{out.received} essays received from {args.file}")
    for code, reason in out.flagged:
        print(f"  held for you: {code}: {reason} (see endorse clear-essay-flag)")
    return 0


@_lookup
def cmd_clear_essay_flag(args) -> int:
    from pathlib import Path

    from endorse.rulebook import default_library
    from tasks.exam.intake import clear_essay_flag

    text = Path(args.redacted_file).read_text(encoding="utf-8") if args.redacted_file else None
    as_of = _date(args.as_of) if args.as_of else date.today()
    clear_essay_flag(_sessions(), args.essay, default_library(), actor=f"coordinator:{args.by}", as_of=as_of,
                     redacted_text=text)
    print(f"essay {args.essay} released for review" + (" with the redacted text" if text else ""))
    return 0


@_lookup
def cmd_add_reviewer(args) -> int:
    from sqlalchemy import select

    from endorse.db import transaction
    from endorse.text import single_line
    from models import CoordinatorAccount, ExamSitting, Person, ReviewerAvailability, ReviewerProfile, record_audit
    from tasks.intake.people import audit_person_change, claim_for
    from tasks.intake.records import person_for

    # Checked before anything is written (the database refuses it too, less readably).
    if args.max_load < 0:
        raise ValueError(f"--max-load must be 0 or more, got {args.max_load}")
    if not 0 <= args.min_load <= args.max_load:
        raise ValueError(f"--min-load must be from 0 to --max-load ({args.max_load}), got {args.min_load}")
    name, email = single_line(args.name, "--name"), single_line(args.email, "--email", max_length=254)
    employer = None if args.employer is None else single_line(args.employer, "--employer")
    with transaction(_sessions()) as s:
        sitting = s.get(ExamSitting, args.sitting) if args.sitting is not None else None
        if args.sitting is not None and sitting is None:
            raise LookupError(f"--sitting: no exam sitting {args.sitting}")
        association = sitting.association_code if sitting else s.scalars(
            select(CoordinatorAccount.association_code).join(Person, Person.id == CoordinatorAccount.person_id)
            .where(Person.email_normalized == args.by.strip().casefold())).first()
        person = person_for(s, name, email, association=association)
        changes = {k: [getattr(person, k), v] for k, v in (("name", name), ("employer", employer))
                   if v is not None and getattr(person, k) != v}
        if changes:  # a correction of the reviewer's own record: only by their own association
            if association is None:
                raise ValueError("--sitting: say which sitting (its association registers the reviewer)")
            claim_for(s, person, association)
            for k, (_, v) in changes.items():
                setattr(person, k, v)
            s.flush()
            audit_person_change(s, person, actor=f"coordinator:{args.by}", action="person.changed",
                                by_association=association, changes=changes)
        profile = s.scalars(select(ReviewerProfile).where(ReviewerProfile.person_id == person.id)).first()
        if profile is None:
            profile = ReviewerProfile(person_id=person.id)
            s.add(profile)
        profile.trained, profile.max_load, profile.min_load, profile.active = (args.trained, args.max_load,
                                                                               args.min_load, True)
        if args.sitting is not None:
            avail = s.scalars(select(ReviewerAvailability).where(ReviewerAvailability.person_id == person.id,
                                                                 ReviewerAvailability.sitting_id == args.sitting)).first()
            if avail is None:
                s.add(ReviewerAvailability(person_id=person.id, sitting_id=args.sitting, max_load=args.max_load,
                                           min_load=args.min_load))
            else:
                avail.max_load, avail.min_load = args.max_load, args.min_load
        s.flush()
        record_audit(s, actor=f"coordinator:{args.by}", action="exam.reviewer_registered", entity_type="person",
                     entity_id=person.id, trained=args.trained, max_load=args.max_load, min_load=args.min_load,
                     sitting_id=args.sitting)
        print(f"reviewer #{person.id} {person.name}: trained={args.trained}, max load {args.max_load}"
              + (f", min load {args.min_load}" if args.min_load else "")
              + (f", available for sitting {args.sitting}" if args.sitting is not None else ""))
    return 0


@_lookup
def cmd_retake(args) -> int:
    from endorse.rulebook import default_library
    from tasks.exam.intake import start_retake

    as_of = _date(args.as_of) if args.as_of else date.today()
    start_retake(_sessions(), args.application, default_library(), as_of=as_of, actor=f"coordinator:{args.by}")
    print(f"{args.application} reopened for a retake; enrol it in the next sitting (endorse exam-enrol)")
    return 0


@_lookup
def cmd_review_link(args) -> int:
    from endorse.rulebook import default_library
    from tasks.exam.review import regenerate_review_link

    as_of = _date(args.as_of) if args.as_of else date.today()
    regenerate_review_link(_sessions(), args.sitting, args.reviewer, default_library(), as_of=as_of,
                           secret_key=_secret(), actor=f"coordinator:{args.by}")
    print(f"new link queued for reviewer #{args.reviewer}; the old one no longer works")
    return 0


def _coordinators_association(by: str) -> str:
    """The association of the active coordinator account ``--by`` names (people change only through one)."""
    from sqlalchemy import select

    from models import CoordinatorAccount, Person

    with _sessions()() as s:
        code = s.scalars(select(CoordinatorAccount.association_code)
                         .join(Person, Person.id == CoordinatorAccount.person_id)
                         .where(Person.email_normalized == by.strip().casefold(),
                                CoordinatorAccount.active.is_(True))).first()
    if code is None:
        raise LookupError(f"--by: {by} is not an active coordinator account")
    return code


@_lookup
def cmd_change_person(args) -> int:
    from tasks.intake.people import change_person

    association = _coordinators_association(args.by)
    person_id = change_person(_sessions(), args.email, association=association, actor=f"coordinator:{args.by}",
                              name=args.name, employer=args.employer)
    print(f"person #{person_id} {args.email}: record updated by {association} (audited in every association that sees them)")
    return 0


@_lookup
def cmd_record_endorsement(args) -> int:
    from tasks.intake.people import record_endorsement

    association = _coordinators_association(args.by)
    record_endorsement(_sessions(), args.email, category=args.category, association=association,
                       actor=f"coordinator:{args.by}", number=args.number,
                       granted_on=_date(args.granted_on) if args.granted_on else None)
    print(f"{args.email}: {args.category} endorsement recorded by {association} (verified)")
    return 0


@_lookup
def cmd_deactivate_coordinator(args) -> int:
    from tasks.coordination.accounts import deactivate_coordinator

    deactivate_coordinator(_sessions(), args.email, actor=f"coordinator:{args.by}" if args.by else "cli")
    print(f"coordinator {args.email} deactivated; every session of theirs has ended")
    return 0


def _sessions_with_associations():
    """The database with every association of the rulebooks in it (and its profile applied, audited)."""
    from endorse.db import transaction
    from endorse.rulebook import default_library
    from tasks.intake.records import ensure_associations

    sessions = _sessions()
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    return sessions


@_lookup
def cmd_add_coordinator(args) -> int:
    """A coordinator account; the password comes from stdin or a prompt, never from the command line."""
    from endorse_cli.setup import new_password
    from tasks.coordination.accounts import set_coordinator

    password = new_password(args.password_stdin)
    sessions = _sessions_with_associations()
    account_id = set_coordinator(sessions, association=args.association, name=args.name, email=args.email,
                                 password=password, actor=f"coordinator:{args.by}" if args.by else "cli")
    print(f"coordinator account #{account_id}: {args.email} for {args.association}")
    return 0


@_lookup
def cmd_record_renewal(args) -> int:
    """Record a renewal document against the endorsement (met, unmet, or reinstated)."""
    from endorse.renewals import load_renewal
    from endorse.rulebook import default_library
    from tasks.renewal.renewals import record_renewal

    doc = load_renewal(args.path)
    sessions = _sessions_with_associations()
    as_of = _date(args.as_of) if args.as_of else date.today()
    out = record_renewal(sessions, doc, default_library(), as_of=as_of, actor=f"coordinator:{args.by}")
    print(f"{out.endorsement_number} {out.year}: {out.status}; next renewal due {out.renewal_due_on}")
    for u in out.unmet:
        print(f"  missing: {u}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record-transcript", help="a coordinator records a transcript received")
    p.add_argument("application")
    p.add_argument("--institution", required=True)
    p.add_argument("--credential", help="when the applicant claims two records at one institution")
    p.add_argument("--received-on", required=True)
    p.add_argument("--unofficial", action="store_true", help="the copy received is not official")
    p.add_argument("--by", required=True, help="coordinator email")
    p.add_argument("--no-reconcile", action="store_true")
    p.set_defaults(func=cmd_record_transcript)

    p = sub.add_parser("approve-exam", help="approve an applicant in eligibility review to sit the exam")
    p.add_argument("application")
    p.add_argument("--on", required=True)
    p.add_argument("--by", required=True)
    p.add_argument("--no-reconcile", action="store_true")
    p.set_defaults(func=cmd_approve_exam)

    p = sub.add_parser("record-exam", help="record exam results (multiple choice percent, essay result)")
    p.add_argument("application")
    p.add_argument("--multiple-choice", type=float)
    p.add_argument("--essay", choices=["pass", "fail", "pending"])
    p.add_argument("--taken-on", required=True)
    p.add_argument("--by", required=True)
    p.add_argument("--no-reconcile", action="store_true")
    p.set_defaults(func=cmd_record_exam)

    def rater_args(p):
        p.add_argument("--name", required=True)
        p.add_argument("--email", required=True)
        p.add_argument("--role", required=True)
        p.add_argument("--endorsement", default=None)
        p.add_argument("--waive", action="store_true", help="the applicant waives access to this rating")
        p.add_argument("--by", required=True, help="coordinator email")

    p = sub.add_parser("add-rater", help="ask one more rater for an application (link and email at once)")
    p.add_argument("application")
    rater_args(p)
    p.set_defaults(func=cmd_add_rater)

    p = sub.add_parser("replace-rater", help="cancel a reference request (its link dies) and ask someone else")
    p.add_argument("request", type=int)
    p.add_argument("--reason", required=True)
    rater_args(p)
    p.set_defaults(func=cmd_replace_rater)

    p = sub.add_parser("resend-link", help="email a rater's link again (or --regenerate: a new link, the old one dies)")
    p.add_argument("request", type=int)
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--by", required=True)
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("vetting-queue", help="non-endorsed raters waiting for a coordinator's vetting call")
    p.set_defaults(func=cmd_vetting_queue)

    p = sub.add_parser("vet-rater", help="record the vetting call with a proposed rater")
    p.add_argument("request", type=int)
    p.add_argument("--decision", choices=["accepted", "rejected"], required=True)
    p.add_argument("--on", required=True)
    p.add_argument("--note")
    p.add_argument("--by", required=True)
    p.set_defaults(func=cmd_vet_rater)

    p = sub.add_parser("determine", help="record a coordinator's determination of a question the rules leave to them")
    p.add_argument("application")
    p.add_argument("--question", required=True, help="the question's key in the rulebook, e.g. ifa_volunteer_experience")
    p.add_argument("--decision", choices=["accepted", "not_accepted"], required=True)
    p.add_argument("--on", required=True, help="the day it was determined, YYYY-MM-DD")
    p.add_argument("--note")
    p.add_argument("--by", required=True, help="the coordinator's email")
    p.set_defaults(func=cmd_determine)

    p = sub.add_parser("determinations-queue", help="open applications waiting on a coordinator's determination")
    p.add_argument("--association")
    p.set_defaults(func=cmd_determinations_queue)

    p = sub.add_parser("outbox", help="emails by status (default: failed and queued)")
    p.add_argument("--status", nargs="+", default=["failed", "queued"],
                   choices=["queued", "sending", "sent", "failed", "bounced", "cancelled"])
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("record-bounce", help="mark emails bounced from delivery status notifications (.eml files)")
    p.add_argument("files", nargs="+")
    p.add_argument("--by", required=True)
    p.set_defaults(func=cmd_record_bounce)

    p = sub.add_parser("show", help="one application at a glance: checklist, raters, emails, timeline")
    p.add_argument("application")
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("assign-essays", help="the optimal essay-reviewer assignment for a sitting (dry run, or --apply)")
    p.add_argument("sitting", type=int)
    p.add_argument("--csv", help="also write the plan to this CSV file")
    p.add_argument("--apply", action="store_true", help="create the assignments and email the reviewers")
    p.add_argument("--by", help="coordinator email (needed with --apply)")
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_assign_essays)

    p = sub.add_parser("exam-sitting", help="open an exam sitting")
    p.add_argument("--association", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--opens-on", required=True)
    p.add_argument("--closes-on", required=True)
    p.add_argument("--by", required=True)
    p.set_defaults(func=cmd_exam_sitting)

    p = sub.add_parser("exam-enrol", help="enrol every approved candidate of the association in a sitting")
    p.add_argument("sitting", type=int)
    p.add_argument("--by", required=True)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_exam_enrol)

    p = sub.add_parser("import-mc", help="multiple-choice results (CSV: candidate_code,percent)")
    p.add_argument("sitting", type=int)
    p.add_argument("file")
    p.add_argument("--taken-on")
    p.add_argument("--by", required=True)
    p.set_defaults(func=cmd_import_mc)

    p = sub.add_parser("import-essays", help="essays (CSV: candidate_code,essay); revealing ones are held")
    p.add_argument("sitting", type=int)
    p.add_argument("file")
    p.add_argument("--by", required=True)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_import_essays)

    p = sub.add_parser("clear-essay-flag", help="release a held essay, optionally with a redacted text")
    p.add_argument("essay", type=int)
    p.add_argument("--redacted-file")
    p.add_argument("--by", required=True)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_clear_essay_flag)

    p = sub.add_parser("add-reviewer", help="register an essay reviewer (and their availability for a sitting)")
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--employer")
    p.add_argument("--max-load", type=int, default=10)
    p.add_argument("--min-load", type=int, default=0,
                   help="essays the reviewer should get at least, when a round allows (default 0: none)")
    p.add_argument("--trained", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--sitting", type=int)
    p.add_argument("--by", required=True)
    p.set_defaults(func=cmd_add_reviewer)

    p = sub.add_parser("retake", help="reopen a failed candidate for a retake after the waiting period")
    p.add_argument("application")
    p.add_argument("--by", required=True)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_retake)

    p = sub.add_parser("review-link", help="regenerate a reviewer's link for a sitting and email it")
    p.add_argument("sitting", type=int)
    p.add_argument("reviewer", type=int)
    p.add_argument("--by", required=True)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_review_link)

    p = sub.add_parser("record-renewal", help="record a renewal document against its endorsement")
    p.add_argument("path")
    p.add_argument("--by", required=True)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_record_renewal)

    p = sub.add_parser("add-coordinator", help="create a coordinator account (or reset its password)")
    p.add_argument("--association", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--by", help="who creates it (audit log)")
    p.set_defaults(func=cmd_add_coordinator)

    p = sub.add_parser("deactivate-coordinator", help="close a coordinator account; its sessions end at once")
    p.add_argument("--email", required=True)
    p.add_argument("--by", help="who closes it (audit log)")
    p.set_defaults(func=cmd_deactivate_coordinator)

    p = sub.add_parser("change-person", help="correct a person's own record (their association's coordinator only)")
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--employer")
    p.add_argument("--by", required=True, help="a coordinator of the person's own association")
    p.set_defaults(func=cmd_change_person)

    p = sub.add_parser("record-endorsement",
                       help="record an endorsement a person holds, checked by their own association (verified)")
    p.add_argument("--email", required=True)
    p.add_argument("--category", required=True)
    p.add_argument("--number")
    p.add_argument("--granted-on")
    p.add_argument("--by", required=True, help="a coordinator of the person's own association")
    p.set_defaults(func=cmd_record_endorsement)

    from endorse_cli.setup import register as register_setup

    register_setup(sub)

    p = sub.add_parser("reconcile", help="reconcile one application now")
    p.add_argument("application")
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("sweep", help="run the sweep over the applications that are due or marked")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--as-of")
    p.add_argument("--full", action="store_true",
                   help="re-evaluate every open application (done by itself when the rule files change)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("deliver", help="deliver what is due in the outbox")
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser("automations", help="Prefect automations that alert the coordinators (automations.yaml)")
    auto = p.add_subparsers(dest="automations_command", required=True)
    p = auto.add_parser("apply", help="create or update (by name) the automations on the Prefect server at PREFECT_API_URL")
    p.add_argument("--file", default=None, help="default: the project's automations.yaml")
    p.set_defaults(func=cmd_automations_apply)

    p = sub.add_parser("serve", help="run the web app and serve the Prefect deployments against PREFECT_API_URL")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--web-only", action="store_true", help="only the web app (deployments served elsewhere)")
    p.add_argument("--prefect-file", default=None,
                   help="the deployments and their schedules (default: the project's prefect.yaml)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("backup", help="back up the application database to a file (SQLite online backup; "
                                      "PostgreSQL: pg_dump custom format)")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore the application database from a backup file (refuses a database "
                                       "that holds rows unless --force)")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="replace what the database holds")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("up", help="the production stack on this host: Prefect server and workers, the web app "
                                  "(PostgreSQL for both databases; stops cleanly on SIGTERM / Ctrl-C)")
    p.add_argument("--host", default="127.0.0.1", help="address the web app and the Prefect server listen on")
    p.add_argument("--port", type=int, default=8000, help="the web app's port")
    p.add_argument("--prefect-port", type=int, default=4200)
    p.add_argument("--workers", type=int, default=2, help="Prefect workers on the process work pool 'endorse'")
    p.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes of the web app")
    p.add_argument("--prefect-file", default=None, help="the deployments (default: the project's prefect.yaml)")
    p.add_argument("--home", default=None, help="logs and state (default: ENDORSE_DATA_DIR/stack)")
    p.set_defaults(func=cmd_up)
