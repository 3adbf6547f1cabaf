"""`make demo`: the sample cohort through the whole pipeline on embedded defaults.

SQLite under var/demo/, a local Prefect server started as a child process (endorse_cli/prefect_server.py:
no 20 s deadline to miss on a busy machine) and a local SMTP sink that keeps every email as an .eml
file. Simulated people act through the same paths as real ones: raters open the link in the
email they received and submit the rating form's data through the rating service the web form
uses; the coordinator records transcripts and exam results with the same functions as the CLI.

Why one module of ~520 lines: it is a script read top to bottom, one act of the year after another
(import, sweep, ratings, transcripts, exam, decisions, mail, the web tour); each act is a short
function and splitting them would only make a reader jump between files to follow the story.
"""

from __future__ import annotations

import contextlib
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
    from endorse.db import close_databases
    from endorse_cli.prefect_server import LocalPrefectServer
    from endorse_cli.smtp_sink import SmtpSink, read_eml

    sink = SmtpSink(DEMO_DIR / "mail")
    with sink:
        _prepare_environment(sink.port)
        from endorse.settings import get_settings

        get_settings.cache_clear()
        say("starting a local Prefect server (its first start builds its database: a minute on a busy machine)")
        with LocalPrefectServer(DEMO_DIR / "prefect", say=say) as prefect:
            prefect.use_in_this_process()
            try:
                return _run(sink, read_eml, started)
            finally:
                close_databases()  # the final state in endorse.sqlite3, not in its -wal file


def _run(sink, read_eml, started: float) -> int:
    from endorse.db import default_session_factory
    from endorse.documents import document_paths, load_document
    from endorse.rulebook import default_library
    from endorse_cli.output import sweep_line
    from flows.deliver_outbox import deliver_outbox
    from flows.reconcile import reconcile_in_process
    from flows.sweep import sweep
    from tasks.intake.importing import import_documents
    from tasks.pipeline import reconcile as pipeline

    as_of = AS_OF.isoformat()
    source = Path(os.environ.get("ENDORSE_DEMO_COHORT", PROJECT_ROOT / "cohort"))
    intake = _fresh_intake(document_paths(source), DEMO_DIR / "intake")
    lines = import_documents([(p, load_document(p)) for p in intake], actor="coordinator:demo")
    say(f"imported {len(lines)} applications ({source.name}/ as a fresh intake: raters named, ratings and exams to come)")
    sessions = default_session_factory()
    library = default_library()
    cfg = pipeline.PipelineConfig(library=library, as_of=AS_OF, secret_key=get_secret(), actor="coordinator:demo")

    say("sweep 1: every application enters the pipeline")
    say(f"  {sweep_line(sweep(batch_size=500, as_of=as_of), as_of)}")
    say(f"  outbox: {_delivered(deliver_outbox())}")

    say("the coordinator records the transcripts that were awaited")
    recorded = _record_awaited_transcripts(sessions)
    say(f"  {recorded} transcripts recorded")
    say(f"sweep 2: {sweep_line(sweep(batch_size=500, as_of=as_of), as_of)}")
    say(f"  outbox: {_delivered(deliver_outbox())}")

    say("raters open the links in their emails and answer")
    answered = _raters_answer(sink, read_eml, sessions, library)
    touched = sorted(answered.pop("applications"))
    say(f"  {answered['submitted']} ratings submitted, {answered['declined']} declined, "
        f"{answered['not_enough_information']} with too many 'not enough information' answers (over HTTP, for "
        f"{len(touched)} applications)")
    for app_id in touched[:3]:  # events trigger reconciles; the sweep picks up the rest in batches
        say(f"  event → reconcile flow application-{app_id}: {reconcile_in_process(app_id, as_of)['stage']}")
    say(f"sweep 3: {sweep_line(sweep(batch_size=500, as_of=as_of), as_of)}")

    say("written exam: approve, sitting, codes, essays (a signed one is held), optimal reviewers, reviews by link")
    exams = _exam_round(sessions, cfg, sink, read_eml)
    say(f"  {exams['approved']} approved, {exams['sittings']} sittings, {exams['essays']} essays ({exams['held']} held "
        f"until redacted), {exams['reviews']} reviews, {exams['third_reviewers']} third reviewer(s)")
    accounts = _demo_accounts(sessions)
    say("on the web, as people do (signed in or by their emailed link, every form with its CSRF token):")
    for line in _web_acts(sessions, library, accounts, sink, read_eml):
        say(f"  {line}")
    say(f"sweep 4: {sweep_line(sweep(batch_size=500, as_of=as_of), as_of)}")
    say(f"  outbox: {_delivered(deliver_outbox())}")

    report = _final_report(sessions)
    (DEMO_DIR / "report.md").write_text(report)
    print()
    print(report)
    if accounts:
        say(f"the coordinator's workbench on the web: {_workbench_tour(sessions, cfg.library, accounts[0])}")
    print(how_to_look_around(sink.folder, accounts, _first_email(sink.folder, read_eml, sessions)), flush=True)
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


DEMO_ACCOUNT_FILE = "demo-account.txt"


def _demo_accounts(sessions) -> list[tuple[str, str, str]]:
    """One coordinator account per association of the demo (the profile's coordinator), one password
    for all, made up for this run: demo-only, printed, and kept beside the demo's data for make serve."""
    import secrets

    from sqlalchemy import select

    from models import Application, Association
    from tasks.coordination.accounts import set_coordinator

    password = "demo-" + secrets.token_urlsafe(9)
    with sessions() as s:
        rows = s.execute(select(Association.code, Association.coordinator_name, Association.coordinator_email)
                         .where(Association.code.in_(select(Application.association_code).distinct()),
                                Association.profile_digest.is_not(None))
                         .order_by(Association.code)).all()
    accounts = []
    for code, name, email in rows:
        set_coordinator(sessions, association=code, name=name, email=email, password=password, actor="coordinator:demo")
        accounts.append((code, email, password))
    lines = [f"demo coordinator accounts (demo only; password for each: {password}):"]
    lines += [f"  {code:<8} {email}" for code, email, _ in accounts]
    path = DEMO_DIR / DEMO_ACCOUNT_FILE
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return accounts


def _workbench_tour(sessions, library, account: tuple[str, str, str]) -> str:
    """A coordinator signs in over HTTP and reads what waits on them, finds the applications waiting on
    raters and previews a decision (reading only: the report above stays what the pipeline decided)."""
    import httpx

    code, email, password = account
    with _web_app(sessions, library) as base, httpx.Client(base_url=base, timeout=30, follow_redirects=True) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/coordinator/login").text).group(1)
        http.post("/coordinator/login", data={"csrf": csrf, "email": email, "password": password})
        waiting = re.search(r"Waiting on you \((\d+)\)", http.get("/coordinator/").text).group(1)
        found = http.get("/coordinator/applications", params={"waiting": "raters", "per_page": 100}).text
        listed = re.search(r'id="found-count">(\d+)', found).group(1)
        first = re.search(r'<td data-label="application"><a href="/coordinator/applications/([^"]+)"', found)
        preview = "no application waits on raters"
        if first:
            page = http.get(f"/coordinator/applications/{first.group(1)}/decision")
            outcome = re.search(r'id="decision-outcome">([^<]+)<', page.text)
            preview = f"{first.group(1)} would be {outcome.group(1)}" if outcome else \
                f"{first.group(1)}: no decision now (the checklist does not support one)"
    return (f"{code}: {waiting} things waiting on the coordinator, {listed} applications waiting on raters; "
            f"decision preview: {preview}")


def _web_acts(sessions, library, accounts: list[tuple[str, str, str]], sink, read_eml, *, deliver_outbox=None,
              reconcile=None) -> list[str]:
    """Real acts over HTTP against the served app, through the routes a person uses: a coordinator signs
    in and asks another rater where one declined; that rater answers from the emailed link; the
    coordinator emails the third reviewer their console link again (the first email was lost) and the
    reviewer settles the essay from it. Returns what happened, a line each. ``deliver_outbox`` and
    ``reconcile`` are the demo's Prefect flows unless given (a test runs them in process)."""
    from sqlalchemy import select

    if deliver_outbox is None:
        from flows.deliver_outbox import deliver_outbox
    if reconcile is None:
        from flows.reconcile import reconcile_in_process as reconcile
    from models import Application, Essay, ExamAttempt, ExamSitting, Person, ReferenceRequest, ReviewAssignment

    password = {code: (email, pw) for code, email, pw in accounts}
    with sessions() as s:
        declined = s.execute(select(ReferenceRequest, Application.association_code)
                             .join(Application, Application.id == ReferenceRequest.application_id)
                             .where(ReferenceRequest.status == "declined", Application.stage == "references",
                                    Application.association_code.in_(list(password)))
                             .order_by(ReferenceRequest.application_id)).first()
        third = s.execute(select(ReviewAssignment, ExamSitting.association_code)
                          .join(Essay, Essay.id == ReviewAssignment.essay_id)
                          .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
                          .join(ExamSitting, ExamSitting.id == ExamAttempt.sitting_id)
                          .where(ReviewAssignment.status == "assigned", ReviewAssignment.round > 1,
                                 ExamSitting.association_code.in_(list(password)))
                          .order_by(ReviewAssignment.id)).first()
        third_email = s.get(Person, third[0].reviewer_id).email if third else None
    lines = []
    with _web_app(sessions, library) as base:
        if declined is not None:
            req, code = declined
            http = _signed_in(base, *password[code])
            url = f"/coordinator/applications/{req.application_id}"
            new_email = "jordan.ellis@raters.example.org"
            r = http.post(url + "/raters", data={"csrf": _csrf_of(http.get(url).text), "name": "Jordan Ellis",
                                                 "email": new_email, "role": req.role,
                                                 "endorsement": req.rater_endorsement_claimed or ""})
            asked = re.search(r"Jordan Ellis was asked for a rating[^<]*", r.text)
            lines.append(f"coordinator {password[code][0]}: {req.rater_name} declined on {req.application_id}; "
                         f"POST {url}/raters → {r.status_code}: {asked.group(0) if asked else 'refused'}")
            deliver_outbox()
            link = _emailed_link(sink, read_eml, new_email, "reference.request", LINK)
            if link:
                rated = _rate(http, f"{base}/rate/{link}", http.get(f"{base}/rate/{link}").text, random.Random(3), 0)
                stage = reconcile(req.application_id, AS_OF.isoformat())["stage"]
                lines.append(f"rater {new_email}: opened the emailed link and submitted the rating "
                             f"({rated.status_code}); {req.application_id} → {stage}")
            http.close()
        if third is not None:
            assignment, code = third
            http = _signed_in(base, *password[code])
            url = f"/coordinator/exam/reviewers/{assignment.reviewer_id}/console-link"
            r = http.post(url, data={"csrf": _csrf_of(http.get("/coordinator/exam").text)})
            said = re.search(r"The same console link emailed again\.|Console link emailed\.", r.text)
            lines.append(f"coordinator {password[code][0]}: the third reviewer lost their email; POST {url} → "
                         f"{r.status_code}: {said.group(0) if said else 'refused'}")
            deliver_outbox()
            token = _emailed_link(sink, read_eml, third_email, "review.console", re.compile(r"/review/([A-Za-z0-9_-]{43})"))
            if token:
                home = http.get(f"{base}/review/{token}").text
                progress = re.search(r"\d+ of \d+ reviewed", home)
                essay = f"{base}/review/{token}/essay/{assignment.id}"
                done = _review(http, essay, "pass")
                with sessions() as s:
                    result = s.get(ExamAttempt, s.get(Essay, assignment.essay_id).attempt_id).essay_result
                lines.append(f"reviewer {third_email}: opened the console link ({progress.group(0) if progress else ''}"
                             f"), reviewed the essay as third reviewer ({done} review); the essay is settled: "
                             f"{result or 'not yet'}")
            http.close()
    return lines or ["nothing to act on: no declined rater, no essay waiting for a third reviewer"]


def _signed_in(base: str, email: str, password: str):
    import httpx

    http = httpx.Client(base_url=base, timeout=30, follow_redirects=True)
    http.post("/coordinator/login", data={"csrf": _csrf_of(http.get("/coordinator/login").text), "email": email,
                                          "password": password})
    return http


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _emailed_link(sink, read_eml, to: str, role: str, pattern) -> str | None:
    """The token of the newest email of ``role`` to ``to`` that the SMTP sink received."""
    for path in sorted(sink.folder.glob("*.eml"), reverse=True):
        msg = read_eml(path)
        if msg["X-Endorse-Role"] == role and to in msg["To"]:
            m = pattern.search(msg.get_body(preferencelist=("plain",)).get_content())
            if m:
                return m.group(1)
    return None


def _first_email(folder: Path, read_eml, sessions) -> tuple[Path, str] | None:
    """A rating request whose link still opens the rater's form (else the first decision letter)."""
    from sqlalchemy import select

    from endorse.links import hash_token
    from models import ReferenceRequest

    with sessions() as s:
        open_hashes = set(s.scalars(select(ReferenceRequest.token_hash).where(ReferenceRequest.status == "requested",
                                                                              ReferenceRequest.token_hash.is_not(None))))
    letter = None
    for path in sorted(folder.glob("*.eml")):
        msg = read_eml(path)
        if msg["X-Endorse-Role"] == "reference.request":
            m = LINK.search(msg.get_body(preferencelist=("plain",)).get_content())
            if m and hash_token(m.group(1)) in open_hashes:
                return path, "a rating request still unanswered: its link opens the rater's form while make serve runs"
        elif letter is None and msg["X-Endorse-Role"] == "decision.endorsed":
            letter = (path, "a decision letter: an applicant endorsed, with the endorsement number")
    return letter


def how_to_look_around(mail: Path, accounts: list[tuple[str, str, str]], first: tuple[Path, str] | None) -> str:
    """The demo's last words: exactly what to type and open next."""
    rel = os.path.relpath
    lines = ["", "How to look around:",
             "  make serve                      the dashboard on the demo's data: open http://127.0.0.1:8000/coordinator/"]
    if accounts:
        code, email, password = accounts[0]
        lines.append(f"                                  sign in as {email} ({code}), password {password} (demo only;")
        lines.append(f"                                  the other associations' accounts: {rel(DEMO_DIR / DEMO_ACCOUNT_FILE)})")
    if first is not None:
        lines.append(f"  open {rel(first[0])} first: {first[1]}")
    lines += [f"  every email sent is an .eml file in {rel(mail)}/ (any mail program opens them)",
              f"  .venv/bin/endorse --data {rel(DEMO_DIR)} show CT-2026-137    one application: checklist, raters, emails, timeline",
              f"  report: {rel(DEMO_DIR / 'report.md')}; database: {rel(DEMO_DIR / 'endorse.sqlite3')}; "
              f"Prefect: {rel(DEMO_DIR / 'prefect')}",
              "  make shell                      a shell where endorse is on the PATH and looks at the demo's data"]
    return "\n".join(lines)


def _delivered(report: dict) -> str:
    from endorse_cli.output import delivery_line

    return delivery_line(report, f"the SMTP sink on 127.0.0.1:{os.environ['ENDORSE_SMTP_PORT']}", 0)[0]


def _fresh_intake(paths: list[Path], folder: Path) -> list[Path]:
    """The cohort as it arrives: raters named but not yet asked, no exam taken yet."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in paths:
        doc = json.loads(p.read_text())
        for ref in doc.get("references", []):
            if ref.get("status") == "submitted":
                ref["status"] = "requested"
                for k in ("submitted_on", "insufficient_information_count", "recommendation"):
                    ref.pop(k, None)
        doc.pop("exam", None)
        target = folder / p.name
        target.write_text(json.dumps(doc, indent=2))
        out.append(target)
    return out


def get_secret() -> str:
    from endorse.settings import get_settings

    return get_settings().secret_key.get_secret_value()


def _record_awaited_transcripts(sessions) -> int:
    from sqlalchemy import select

    from models import Application, EducationRecord, Transcript
    from tasks.transcripts.transcripts import record_transcript

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
    """Each rater reads their email, opens the link in the web app and answers over HTTP, as a person
    would with a browser without JavaScript (a few decline; one answers 'not enough information' too often)."""
    import httpx

    rng = random.Random(7)
    counts = {"submitted": 0, "declined": 0, "not_enough_information": 0, "applications": set()}
    with _web_app(sessions, library) as base:
        with httpx.Client(timeout=30) as http:
            for path in sorted(sink.folder.glob("*.eml")):
                msg = read_eml(path)
                if msg["X-Endorse-Role"] != "reference.request":
                    continue
                m = LINK.search(msg.get_body(preferencelist=("plain",)).get_content())
                if not m:
                    continue
                url = f"{base}/rate/{m.group(1)}"  # the link as emailed, served here
                page = http.get(url)
                if page.status_code != 200 or 'name="csrf"' not in page.text:
                    continue
                app_id = _application_of(sessions, m.group(1))
                counts["applications"].add(app_id)
                roll = rng.random()
                if roll < 0.06:
                    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
                    http.post(url + "/decline", data={"csrf": csrf, "declined_reason":
                                                      "I have not worked with the applicant recently enough to rate."})
                    counts["declined"] += 1
                    continue
                na = 7 if roll > 0.95 else rng.randint(0, 3)
                if _rate(http, url, page.text, rng, na).status_code == 200:
                    counts["not_enough_information" if na > 5 else "submitted"] += 1
    return counts


def _rate(http, url: str, page: str, rng, na: int):
    """A rater fills in the form the link opened (``na`` answers "not enough information"): a draft
    first, as someone who comes back later does, then the rating (confirmed if the form warns)."""
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    areas = sorted(set(re.findall(r'name="answer:([^"]+)"', page)))
    answers = {f"answer:{k}": ("na" if i < na else str(rng.randint(3, 4))) for i, k in enumerate(areas)}
    months = str(rng.randint(12, 96))
    http.post(url, data={"csrf": csrf, "action": "save", "known_for_months": months,
                         **dict(list(answers.items())[:5])})
    final = {"csrf": csrf, "action": "submit", "known_for_months": months,
             "relationship": "colleague and supervisor", "recommendation": "recommend",
             "comments": "Thoughtful, reflective practitioner.", "attested": "yes", **answers}
    r = http.post(url, data=final)
    if "This rating would not count" in r.text:  # the form's warning: this rater submits anyway
        r = http.post(url, data={**final, "confirm_not_counted": "yes"})
    return r


@contextlib.contextmanager
def _web_app(sessions, library):
    """The web app on a loopback port, as `endorse serve` runs it; yields its base address."""
    import threading

    import uvicorn

    from endorse_cli.smtp_sink import _free_port
    from web.app import WebContext, create_app

    port = _free_port()
    ctx = WebContext(sessions=sessions, library=library, secret_key=get_secret(), today=lambda: AS_OF)
    # Every simulated rater and reviewer comes from 127.0.0.1: lift the per-address limit for the demo.
    app = create_app(ctx, str(PROJECT_ROOT / "templates"), requests_per_minute=1_000_000)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _application_of(sessions, token: str) -> str:
    from tasks.references.ratings import find_request

    with sessions() as s:
        return find_request(s, token, AS_OF).application_id


DEMO_REVIEWERS = [  # (name, endorsement, employer): volunteers endorsed at the track's level or above
    ("Grace Okafor", "IMHS", "Kent County Early Childhood"), ("Daniel Brooks", "IMHS", "Bay Family Services"),
    ("Helen Marsh", "IMHM-C", "Upper Peninsula Infant Clinic"), ("Samuel Ortiz", "IMHM-C", "Lakeshore Counseling"),
    ("Priya Raman", "IMHM-C", "Ann Arbor Parent-Infant Program"), ("Tom Becker", "IMHM-P", "State Policy Office"),
    ("Alice Wong", "IMHM-RF", "Great Lakes University"), ("Rosa Jimenez", "IMHM-P", "Children's Trust Fund"),
]


def _exam_round(sessions, cfg, sink, read_eml) -> dict:
    """The written exam as a coordinator runs it: approve, open a sitting, enrol candidates under codes,
    take in essays (one names its writer and is held until redacted), assign reviewers optimally,
    reviewers answer by email link (one pair disagrees: a third reviewer settles it), then the
    multiple-choice results from the exam platform's CSV."""
    import csv

    from sqlalchemy import select

    from endorse.db import transaction
    from models import Application, Endorsement, Essay, ExamAttempt, ReviewerAvailability, ReviewerProfile
    from tasks.exam.intake import (
        clear_essay_flag,
        enrol_candidates,
        import_essays,
        import_multiple_choice,
        open_sitting,
    )
    from tasks.exam.results import approve_for_exam
    from tasks.exam.review import apply_sitting
    from tasks.intake.records import person_for
    from tasks.pipeline.reconcile import reconcile_one

    lib = cfg.library
    with sessions() as s:
        # The coordinator approves those whose every requirement but the exam is met.
        ready = [(a.id, a.association_code) for a in s.scalars(
            select(Application).where(Application.stage == "eligibility_review").order_by(Application.id))
                 if all(r["status"] in ("met", "not_applicable") for r in a.last_checklist or [] if r["id"] != "exam")]
    for app_id, _ in ready:
        approve_for_exam(sessions, app_id, approved_on=AS_OF, actor="coordinator:demo")
        reconcile_one(sessions, app_id, cfg)
    out = {"approved": len(ready), "sittings": 0, "essays": 0, "held": 0, "reviews": 0, "third_reviewers": 0}
    folder = DEMO_DIR / "exam"
    folder.mkdir(exist_ok=True)
    rng = random.Random(11)
    for assoc in sorted({a for _, a in ready}):
        sitting_id = open_sitting(sessions, lib, association=assoc, name=f"{assoc} autumn {AS_OF.year}",
                                  opens_on=AS_OF, closes_on=AS_OF, actor="coordinator:demo")
        out["sittings"] += 1
        enrolled = enrol_candidates(sessions, sitting_id, lib, as_of=AS_OF, actor="coordinator:demo").enrolled
        if not enrolled:
            continue
        with transaction(sessions) as s:
            for name, endorsement, employer in DEMO_REVIEWERS:
                p = person_for(s, name, name.lower().replace(" ", ".") + "@reviewers.example.org", association=assoc)
                if p.home_association == assoc:  # the demo's coordinator registers its own reviewers
                    p.employer = employer
                if s.scalars(select(Endorsement).where(Endorsement.person_id == p.id)).first() is None:
                    # Recorded by the coordinator of the reviewer's own association: a verified endorsement.
                    s.add(Endorsement(person_id=p.id, category=endorsement, origin="recorded", status="active",
                                      association_code=assoc, recorded_by="coordinator:demo", number=f"DEMO-{p.id}"))
                if s.scalars(select(ReviewerProfile).where(ReviewerProfile.person_id == p.id)).first() is None:
                    s.add(ReviewerProfile(person_id=p.id, trained=True, max_load=12))
                s.add(ReviewerAvailability(sitting_id=sitting_id, person_id=p.id, max_load=12))
            names = {a.id: a.applicant_name for a in s.scalars(select(Application).where(
                Application.id.in_([i for i, _ in enrolled])))}
        essays_csv = folder / f"essays-{assoc}.csv"
        with essays_csv.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["candidate_code", "essay"])
            for i, (app_id, code) in enumerate(enrolled):
                sign = f"\n\n{names[app_id]}" if i == 0 else ""  # one candidate signs their essay
                w.writerow([code, "The vignette: a young mother and her seven-month-old after a hospital stay. "
                                  "I would begin by observing their interaction and wondering with the mother about "
                                  "what her baby feels, then plan visits with reflective supervision." + sign])
        intake = import_essays(sessions, sitting_id, essays_csv, lib, actor="coordinator:demo", as_of=AS_OF)
        out["essays"] += intake.received
        out["held"] += len(intake.flagged)
        with sessions() as s:
            held = s.scalars(select(Essay).join(ExamAttempt).where(ExamAttempt.sitting_id == sitting_id,
                                                                  Essay.flagged_reason.is_not(None))).all()
        for essay in held:  # the coordinator redacts the signature and releases the essay
            text = essay.text.rsplit("\n\n", 1)[0]
            clear_essay_flag(sessions, essay.id, lib, actor="coordinator:demo", as_of=AS_OF, redacted_text=text)
        rnd = apply_sitting(sessions, sitting_id, lib, as_of=AS_OF, secret_key=cfg.secret_key, actor="coordinator:demo")
        lo, mean, hi = rnd.plan.load_stats
        say(f"  {assoc}: {len(enrolled)} candidates; {len(rnd.plan.to_rows())} reviewer assignments, cost "
            f"{rnd.plan.total_cost}, load {lo}/{mean:.1f}/{hi}; uncovered: {len(rnd.plan.uncovered)}")
        mc_csv = folder / f"multiple-choice-{assoc}.csv"
        with mc_csv.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["candidate_code", "percent"])
            for i, (_, code) in enumerate(enrolled):
                w.writerow([code, 72 if i % 5 == 4 else rng.randint(81, 96)])  # one in five below the mark
        import_multiple_choice(sessions, sitting_id, mc_csv, actor="coordinator:demo")
    from flows.deliver_outbox import deliver_outbox

    deliver_outbox()
    reviewed = _reviewers_answer(sink, read_eml, sessions, lib)
    out["reviews"], out["third_reviewers"] = reviewed["reviews"], reviewed["third_reviewers"]
    return out


def _reviewers_answer(sink, read_eml, sessions, library) -> dict:
    """Reviewers open the link in their email, read each essay and score it with the rubric; the
    first essay's two reviewers disagree, so a third reviewer is emailed and settles it."""
    import httpx

    from flows.deliver_outbox import deliver_outbox

    counts = {"reviews": 0, "third_reviewers": 0}
    done: set[str] = set()
    first_essay_split = True
    with _web_app(sessions, library) as base, httpx.Client(timeout=30) as http:
        for _ in range(3):  # the third reviewers' emails arrive after the first round
            for path in sorted(sink.folder.glob("*.eml")):
                msg = read_eml(path)
                if msg["X-Endorse-Role"] != "review.assigned" or path.name in done:
                    continue
                done.add(path.name)
                text = msg.get_body(preferencelist=("plain",)).get_content()
                if "third reviewer" in text:
                    # Left for the web acts: this reviewer lost the email, the coordinator sends the link again.
                    counts["third_reviewers"] += 1
                    continue
                m = re.search(r"/review/([A-Za-z0-9_-]{43})", text)
                home = http.get(f"{base}/review/{m.group(1)}")
                for essay_path in re.findall(r'href="(/review/[^"]+/essay/\d+)"', home.text):
                    if _third_review(sessions, int(essay_path.rsplit("/", 1)[1])):
                        continue  # on the same console link, but the web acts settle it
                    verdict = "pass"
                    if first_essay_split:
                        verdict, first_essay_split = "fail", False
                    counts["reviews"] += _review(http, base + essay_path, verdict)
            deliver_outbox()
    return counts


def _third_review(sessions, assignment_id: int) -> bool:
    from models import ReviewAssignment

    with sessions() as s:
        return s.get(ReviewAssignment, assignment_id).round > 1


def _review(http, url: str, verdict: str) -> int:
    """A reviewer reads an essay and scores it with the rubric (a draft first, as someone interrupted
    does); 0 when it is reviewed already (a submitted review stays editable until the due date)."""
    page = http.get(url)
    if 'name="csrf"' not in page.text or "Your review (submitted" in page.text:
        return 0
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    http.post(url, data={"csrf": csrf, "action": "save", "comments": "First notes"})
    scores = {k: "3" for k in set(re.findall(r'name="(score:[a-z_]+)"', page.text))}
    http.post(url, data={**scores, "csrf": csrf, "recommendation": verdict,
                         "comments": "Observes the dyad with care; the plan for reflective supervision could be "
                                     "more specific."})
    return 1


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
