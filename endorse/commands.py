"""Database, pipeline and server commands of the ``endorse`` CLI (heavy imports stay inside handlers)."""

from __future__ import annotations

import argparse
import json
from datetime import date


def _date(value: str) -> date:
    from endorse.cli import UsageError

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a date written YYYY-MM-DD") from None


def _sessions():
    from endorse.db import default_session_factory, upgrade_database

    upgrade_database()
    return default_session_factory()


def _lookup(fn):
    from endorse.cli import UsageError

    def wrapped(args):
        try:
            return fn(args)
        except (LookupError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    return wrapped


@_lookup
def cmd_record_transcript(args) -> int:
    from tasks.pipeline import record_transcript

    name = record_transcript(_sessions(), args.application, institution=args.institution, official=not args.unofficial,
                             received_on=_date(args.received_on), credential=args.credential,
                             actor=f"coordinator:{args.by}")
    print(f"recorded {'official' if not args.unofficial else 'unofficial'} transcript from {name} for {args.application}")
    _after_event(args.application, args)
    return 0


@_lookup
def cmd_approve_exam(args) -> int:
    from tasks.pipeline import approve_for_exam

    approve_for_exam(_sessions(), args.application, approved_on=_date(args.on), actor=f"coordinator:{args.by}")
    print(f"{args.application} approved to sit the exam")
    _after_event(args.application, args)
    return 0


@_lookup
def cmd_record_exam(args) -> int:
    from tasks.pipeline import record_exam_result

    record_exam_result(_sessions(), args.application, multiple_choice_percent=args.multiple_choice,
                       essay_result=args.essay, taken_on=_date(args.taken_on), actor=f"coordinator:{args.by}")
    print(f"exam result recorded for {args.application}")
    _after_event(args.application, args)
    return 0


def _after_event(application_id: str, args) -> None:
    """An event triggers a reconcile: on the Prefect server when one is configured, else here."""
    if getattr(args, "no_reconcile", False):
        return
    import os

    if os.environ.get("PREFECT_API_URL"):
        from flows.prefect_glue import trigger_reconcile

        trigger_reconcile(application_id)
        print(f"reconcile of {application_id} submitted to Prefect")
    else:
        from flows.reconcile import reconcile_in_process

        print(json.dumps(reconcile_in_process(application_id, getattr(args, "as_of", None))))


@_lookup
def cmd_reconcile(args) -> int:
    _sessions()
    _after_event(args.application, args)
    return 0


def cmd_sweep(args) -> int:
    _sessions()
    from flows.sweep import sweep

    print(json.dumps(sweep(batch_size=args.batch_size, as_of=args.as_of)))
    return 0


def cmd_deliver(args) -> int:
    _sessions()
    from flows.deliver_outbox import deliver_outbox

    print(json.dumps(deliver_outbox()))
    return 0


def cmd_serve(args) -> int:
    """The web app (rating links) on a thread, and the Prefect deployments in the foreground."""
    import threading

    import uvicorn

    _sessions()
    from flows.deployments import serve_deployments
    from web.app import default_app

    server = uvicorn.Server(uvicorn.Config(default_app(), host=args.host, port=args.port, log_level="info"))
    threading.Thread(target=server.run, daemon=True).start()
    if args.web_only:
        threading.Event().wait()
    serve_deployments()
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

    p = sub.add_parser("reconcile", help="reconcile one application now")
    p.add_argument("application")
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("sweep", help="run the sweep over every open application")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--as-of")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("deliver", help="deliver what is due in the outbox")
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser("serve", help="run the web app and serve the Prefect deployments against PREFECT_API_URL")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--web-only", action="store_true", help="only the web app (deployments served elsewhere)")
    p.set_defaults(func=cmd_serve)
