"""`make demo`: the sample cohort through the whole pipeline on embedded defaults.

SQLite under var/demo/, an ephemeral Prefect, and a local SMTP sink that keeps every email as an
.eml file. Simulated people act through the same paths as real ones: raters open the link in the
email they received and submit the rating form's data through the rating service the web form
uses; the coordinator records transcripts and exam results with the same functions as the CLI.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from endorse.settings import PROJECT_ROOT

AS_OF = date(2026, 11, 22)  # the cohort's evaluation date: the demo is reproducible
DEMO_DIR = PROJECT_ROOT / "var" / "demo"
LINK = re.compile(r"https?://\S+/rate/([A-Za-z0-9_-]{43})")


def _prepare_environment(smtp_port: int) -> None:
    os.environ["ENDORSE_DATA_DIR"] = str(DEMO_DIR)
    os.environ.pop("DATABASE_URL", None)
    os.environ["PREFECT_HOME"] = str(DEMO_DIR / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["ENDORSE_SMTP_HOST"] = "127.0.0.1"
    os.environ["ENDORSE_SMTP_PORT"] = str(smtp_port)
    os.environ.setdefault("ENDORSE_SECRET_KEY", "demo-secret-" + os.urandom(8).hex())


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def main() -> int:
    started = time.monotonic()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    from endorse.smtp_sink import SmtpSink, read_eml

    sink = SmtpSink(DEMO_DIR / "mail")
    with sink:
        _prepare_environment(sink.port)
        from endorse.settings import get_settings

        get_settings.cache_clear()
        return _run(sink, read_eml, started)


def _run(sink, read_eml, started: float) -> int:
    from endorse.db import default_session_factory
    from endorse.documents import document_paths, load_document
    from endorse.rulebook import default_library
    from flows.deliver_outbox import deliver_outbox
    from flows.reconcile import reconcile_in_process
    from flows.sweep import sweep
    from tasks import pipeline
    from tasks.importing import import_documents

    as_of = AS_OF.isoformat()
    paths = document_paths(os.environ.get("ENDORSE_DEMO_COHORT", PROJECT_ROOT / "cohort"))
    lines = import_documents([(p, load_document(p)) for p in paths], actor="coordinator:demo")
    say(f"imported {len(lines)} applications from cohort/")
    sessions = default_session_factory()
    library = default_library()
    cfg = pipeline.PipelineConfig(library=library, as_of=AS_OF, secret_key=get_secret(), actor="coordinator:demo")

    say("sweep 1: every application enters the pipeline (ephemeral Prefect starts: ~15 s the first time)")
    say(f"  {sweep(batch_size=500, as_of=as_of)}")
    say(f"  outbox: {deliver_outbox()}")

    say("the coordinator records the transcripts that were awaited")
    recorded = _record_awaited_transcripts(sessions)
    say(f"  {recorded} transcripts recorded")
    say(f"sweep 2: {sweep(batch_size=500, as_of=as_of)}")
    say(f"  outbox: {deliver_outbox()}")

    say("raters open the links in their emails and answer")
    answered = _raters_answer(sink, read_eml, sessions, library)
    say(f"  {answered}")
    touched = sorted(answered["applications"])
    for app_id in touched[:3]:  # events trigger reconciles; the sweep picks up the rest in batches
        say(f"  event → reconcile flow application-{app_id}: {reconcile_in_process(app_id, as_of)['stage']}")
    say(f"sweep 3: {sweep(batch_size=500, as_of=as_of)}")

    say("the coordinator approves eligible IMHS/IMHM applicants to sit the exam; reviewers' results come in")
    exams = _exam_round(sessions, cfg)
    say(f"  {exams}")
    say(f"sweep 4: {sweep(batch_size=500, as_of=as_of)}")
    say(f"  outbox: {deliver_outbox()}")

    report = _final_report(sessions)
    (DEMO_DIR / "report.md").write_text(report)
    print()
    print(report)
    say(f"emails:   {sink.folder} ({len(list(sink.folder.glob('*.eml')))} .eml files)")
    say(f"database: {DEMO_DIR / 'endorse.sqlite3'}")
    say(f"report:   {DEMO_DIR / 'report.md'}")
    say(f"Prefect:  {DEMO_DIR / 'prefect'} (ephemeral; flow runs, artifacts and logs are in its database)")
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


def get_secret() -> str:
    from endorse.settings import get_settings

    return get_settings().secret_key.get_secret_value()


def _record_awaited_transcripts(sessions) -> int:
    from sqlalchemy import select

    from models import Application, EducationRecord, Transcript
    from tasks.pipeline import record_transcript

    with sessions() as s:
        rows = s.execute(select(EducationRecord.application_id, EducationRecord.institution, EducationRecord.credential)
                         .join(Transcript, Transcript.education_record_id == EducationRecord.id)
                         .join(Application, Application.id == EducationRecord.application_id)
                         .where(Transcript.received_on.is_(None), Transcript.official.is_(True),
                                Application.stage == "transcripts")).all()
    for app_id, institution, credential in rows:
        record_transcript(sessions, app_id, institution=institution, credential=credential, official=True,
                          received_on=AS_OF, actor="coordinator:demo")
    return len(rows)


def _raters_answer(sink, read_eml, sessions, library) -> dict:
    """Each rater reads their email, follows the link and answers (a few decline or cannot rate)."""
    from tasks.ratings import AlreadySubmitted, LinkNotFound, RatingInput, decline_rating, form_spec, find_request, save_rating

    rng = random.Random(7)
    counts = {"submitted": 0, "declined": 0, "not_enough_information": 0, "applications": set()}
    for path in sorted(sink.folder.glob("*.eml")):
        msg = read_eml(path)
        if msg["X-Endorse-Role"] != "reference.request":
            continue
        m = LINK.search(msg.get_body(preferencelist=("plain",)).get_content())
        if not m:
            continue
        token = m.group(1)
        try:
            with sessions() as s:
                req = find_request(s, token)
                spec = form_spec(s, req, library, AS_OF)
                counts["applications"].add(spec.application_id)
        except LinkNotFound:
            continue
        roll = rng.random()
        try:
            if roll < 0.06:
                decline_rating(sessions, token, "I have not worked with the applicant recently enough to rate.",
                               library=library, as_of=AS_OF)
                counts["declined"] += 1
                continue
            areas = [a.key for d in spec.domains for a in d.areas]
            na = 7 if roll > 0.95 else rng.randint(0, 3)
            answers = {k: ("na" if i < na else str(rng.randint(3, 4))) for i, k in enumerate(areas)}
            draft = RatingInput(answers=dict(list(answers.items())[:5]), known_for_months=rng.randint(12, 96))
            save_rating(sessions, token, draft, library=library, as_of=AS_OF, submit=False)  # comes back later
            final = RatingInput(answers=answers, known_for_months=draft.known_for_months,
                                relationship=spec.role.replace("_", " "), recommendation="recommend",
                                comments="Thoughtful, reflective practitioner.", attested=True)
            save_rating(sessions, token, final, library=library, as_of=AS_OF, submit=True)
            counts["not_enough_information" if na > spec.max_insufficient else "submitted"] += 1
        except AlreadySubmitted:
            pass
    return counts


def _exam_round(sessions, cfg) -> dict:
    from sqlalchemy import select

    from models import Application
    from tasks.pipeline import approve_for_exam, reconcile_one, record_exam_result

    with sessions() as s:
        ready = list(s.scalars(select(Application.id).where(Application.stage == "eligibility_review")
                               .order_by(Application.id)))
    results = {"approved": 0, "passed": 0, "failed": 0}
    for i, app_id in enumerate(ready):
        approve_for_exam(sessions, app_id, approved_on=AS_OF, actor="coordinator:demo")
        reconcile_one(sessions, app_id, cfg)
        results["approved"] += 1
        failed = i % 5 == 4  # one candidate in five does not pass this round
        record_exam_result(sessions, app_id, multiple_choice_percent=72.0 if failed else 88.0,
                           essay_result="pass", taken_on=AS_OF, actor="coordinator:demo")
        results["failed" if failed else "passed"] += 1
    return results


def _final_report(sessions) -> str:
    from sqlalchemy import select

    from models import Application, Decision

    with sessions() as s:
        apps = s.scalars(select(Application).order_by(Application.association_code, Application.category,
                                                      Application.id)).all()
        decisions = {d.application_id: d for d in s.scalars(select(Decision).order_by(Decision.id))}
        rows = []
        for a in apps:
            d = decisions.get(a.id)
            if d is not None:
                outcome, reasons = d.outcome, "; ".join(d.reasons) or "every requirement met"
            else:
                waiting = [r for r in (a.last_checklist or []) if r["status"] in ("unmet", "pending")]
                outcome = f"in {a.stage}"
                reasons = "; ".join(f"{r['id']} {r['status']}" for r in waiting) or "—"
            rows.append((a.id, a.category, a.association_code, outcome, reasons))
    out = ["# Demo: final state of the cohort", "", "| application | category | association | decision | reasons |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append("| " + " | ".join(str(x).replace("|", "/") for x in r) + " |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
