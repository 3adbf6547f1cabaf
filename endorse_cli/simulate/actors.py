"""The one adapter through which simulated people act on the stack.

Which way each act goes (to switch to the coordinator's web workbench when it lands):

- raters: over HTTP, from the link in the email the SMTP sink received (`/rate/<token>`: draft, then
  submit; or decline);
- essay reviewers: over HTTP, from the link in their email (`/review/<token>`: score with the rubric
  and recommend, or give the essay back);
- coordinators on the web app (signed in, CSRF form posts): record a transcript, record a
  determination, vet a rater, replace a rater, approve for the exam;
- coordinators through the CLI (`endorse_cli.main.main(argv)`, as typed): record a bounce
  (`outbox bounce`), open a sitting (`exam sitting`), register reviewers (`person endorsement`,
  `exam reviewer`), enrol (`exam enrol`), take in essays and multiple-choice results (`exam essays`,
  `exam mc`), assign reviewers (`exam assign --apply`), record a renewal (`renewal record`), ask one
  more rater when a rating does not count (`rater add`) — most now have a web page too (the workbench);
- applications arrive through `endorse import`'s entry point (`tasks.intake.importing.import_documents`
  on the documents written as files).

What a person knows is read where they would read it: their email at the sink; a coordinator's
queues (vetting, determinations, who is waiting for the exam) from the queries their dashboard shows;
their own endorsement number from their letter (the endorsement row).

Why one module of ~500 lines: it is the one place where the simulated people touch the stack, so that
moving an act from the command line to the web (or back) is an edit here and nowhere else.
"""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx

from endorse_cli.simulate.plan import (
    YearPlan,
    coordinator_accepts,
    draw,
    rater_choice,
    renewal_choice,
    renewal_document,
    reviewer_choice,
)
from endorse_cli.simulate.verdicts import message_id

RATE_LINK = re.compile(r"https?://\S+?(/rate/[A-Za-z0-9_-]{43})")
REVIEW_LINK = re.compile(r"https?://\S+?(/review/[A-Za-z0-9_-]{43})")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "simulated coordinator password"  # the simulation's own throwaway accounts
WEB_RETRY_SECONDS = 180.0  # a web app killed by a fault is restarted; its users try again meanwhile


@dataclass
class Mail:
    path: Path
    message: EmailMessage  # the headers: whom it is to and what it is are all most mail needs
    day: date  # the simulated day it was first seen at the sink

    @property
    def role(self) -> str:
        return str(self.message["X-Endorse-Role"] or "")

    @property
    def to(self) -> str:
        return str(self.message["To"].addresses[0].addr_spec).lower()

    @property
    def text(self) -> str:
        whole = BytesParser(policy=policy.default).parsebytes(self.path.read_bytes())
        return whole.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


@dataclass
class Pending:
    """Something a person will do on a day: `act` is called then (or the next day it can be)."""
    day: date
    key: str
    act: object = field(compare=False)


class Web:
    """HTTP to the web app; connection errors (the app killed and restarting) are tried again.

    Each person has their own cookies (a coordinator's session), but all share one pool of kept-alive
    connections: the Alliance's 60,000 raters would otherwise each open (and keep) a connection of
    their own."""

    def __init__(self, base: str, log):
        self.base, self.log = base, log
        self.clients: dict[str, httpx.Client] = {}
        self.transport = httpx.HTTPTransport(limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))

    def client(self, who: str) -> httpx.Client:
        if who not in self.clients:
            self.clients[who] = httpx.Client(base_url=self.base, timeout=120, follow_redirects=False,
                                             transport=self.transport)
        return self.clients[who]

    def call(self, who: str, method: str, url: str, **kw) -> httpx.Response:
        deadline = time.monotonic() + WEB_RETRY_SECONDS
        while True:
            try:
                r = self.client(who).request(method, url, **kw)
                if r.status_code < 500 or time.monotonic() > deadline:
                    return r
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise
                self.log("web", f"{method} {url.split('/')[1]}: {type(exc).__name__}, trying again")
            time.sleep(2)

    def close(self) -> None:
        self.transport.close()  # the clients' one pool


class People:
    """Every simulated person of a year: reads mail, keeps a diary of what to do when, and does it."""

    def __init__(self, plan: YearPlan, *, web_url: str, sink_folder: Path, work: Path, sessions, library,
                 secret_key: str, log):
        self.plan, self.seed, self.behaviour = plan, plan.seed, plan.profile.behaviour
        self.web = Web(web_url, log)
        self.sink, self.work, self.sessions, self.library, self.secret_key = sink_folder, work, sessions, library, secret_key
        self.log = log
        self.seen: set[str] = set()  # .eml files read
        self.handled: set[str] = set()  # Message-IDs acted on (a duplicate delivery is read once)
        self.diary: list[Pending] = []
        self.done_keys: set[str] = set()
        self.counts: dict[str, int] = {}
        self.coordinators: dict[str, str] = {}  # association → coordinator email
        work.mkdir(parents=True, exist_ok=True)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def plan_to(self, day: date, key: str, act) -> None:
        if key not in self.done_keys and all(p.key != key for p in self.diary):
            self.diary.append(Pending(day, key, act))

    # --- the day ----------------------------------------------------------------------------------

    def read_mail(self, day: date) -> None:
        parser = BytesParser(policy=policy.default)
        for path in sorted(self.sink.glob("*.eml")):
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            # Headers only: the body is read for the few kinds of mail that carry a link to act on
            # (the year before's 30,000 decision letters are not read further).
            mail = Mail(path, parser.parsebytes(path.read_bytes(), headersonly=True), day)  # type: ignore[arg-type]
            mid = message_id(mail.message)
            if mid in self.handled:
                continue  # the same message delivered again: people read it once
            self.handled.add(mid)
            self._on_mail(mail)

    def act(self, day: date, until: float | None = None) -> None:
        """What is due by `day`, in the order it fell due; past `until` (time.monotonic(), a run's
        deadline) the rest stays in the diary."""
        self._coordinator_queues(day)
        due = sorted((p for p in self.diary if p.day <= day), key=lambda p: (p.day, p.key))
        for p in due:
            if until is not None and time.monotonic() > until:
                return
            self.diary.remove(p)
            self.done_keys.add(p.key)
            p.act(day)

    # --- mail -------------------------------------------------------------------------------------

    def _on_mail(self, mail: Mail) -> None:
        role = mail.role
        if role == "reference.request":
            m = RATE_LINK.search(mail.text)
            if m:
                self._rater_received(mail, m.group(1))
        elif role == "review.assigned":
            m = REVIEW_LINK.search(mail.text)
            if m:
                link, who = m.group(1), mail.to
                self.plan_to(mail.day, f"review:{link}", lambda d: self._review(d, link, who))
        elif role == "renewal.notice":
            self._renewal_notice(mail)

    def _rater_received(self, mail: Mail, link: str) -> None:
        application_id = self._application_of_rater(mail.to)
        choice = rater_choice(self.seed, self.behaviour, mail.to, application_id)
        key = f"rate:{mail.to}:{application_id}"
        if choice.kind == "bounce":
            self.plan_to(mail.day, key, lambda d: self._bounce(d, mail, application_id))
        elif choice.kind == "never":
            # The link expires unanswered; the coordinator asks someone else once it has been escalated.
            # After the due date and the escalation, before the link expires (rules: reference_due_days,
            # reference_link_expiry_days), the coordinator asks someone else in their place.
            self.plan_to(mail.day + timedelta(days=36), key, lambda d: self._replace(d, application_id, mail.to, "never answered"))
        else:
            self.plan_to(mail.day + timedelta(days=choice.after_days), key,
                         lambda d: self._rate(d, link, mail.to, application_id, choice.kind))

    def _application_of_rater(self, email: str) -> str:
        from sqlalchemy import select

        from models import Person, ReferenceRequest

        with self.sessions() as s:  # the rater knows whom the email asks about
            return s.scalars(select(ReferenceRequest.application_id).join(Person, Person.id == ReferenceRequest.rater_id)
                             .where(Person.email_normalized == email.casefold())
                             .order_by(ReferenceRequest.id.desc())).first() or "?"

    def _open_form(self, who: str, url: str, closed: str) -> tuple[httpx.Response | None, str]:
        """The page of a link and its form's CSRF token; (None, "") counted as `closed` when it no longer opens."""
        page = self.web.call(who, "GET", url)
        m = CSRF.search(page.text) if page.status_code == 200 else None
        if m is None:
            self.count(closed)
            return None, ""
        return page, m.group(1)

    # --- raters -----------------------------------------------------------------------------------

    def _rate(self, day: date, link: str, email: str, application_id: str, kind: str) -> None:
        who = f"rater:{email}"
        page, csrf = self._open_form(who, link, "rater link no longer open")
        if page is None:
            return
        if kind == "decline":
            self.web.call(who, "POST", link + "/decline", data={"csrf": csrf, "declined_reason": "I do not know their work well enough."})
            self.count("rating declined")
            self.plan_to(day + timedelta(days=5), f"replace:{email}", lambda d: self._ask_another(d, application_id, email))
            return
        rng = draw(self.seed, "answers", email, application_id)
        areas = sorted(set(re.findall(r'name="answer:([^"]+)"', page.text)))
        na = 7 if kind == "not_enough_information" else rng.randint(0, 2)
        answers = {f"answer:{k}": ("na" if i < na else str(rng.randint(3, 4))) for i, k in enumerate(areas)}
        months = str(rng.randint(12, 96))
        self.web.call(who, "POST", link, data={"csrf": csrf, "action": "save", "known_for_months": months,
                                               **dict(list(answers.items())[:5])})
        r = self.web.call(who, "POST", link, data={"csrf": csrf, "action": "submit", "known_for_months": months,
                                                   "relationship": "supervisor", "recommendation": "recommend",
                                                   "comments": "Warm, reflective and reliable.", "attested": "yes", **answers})
        self.count("rating submitted" if r.status_code == 200 else f"rating refused {r.status_code}")
        if kind == "not_enough_information":
            self.plan_to(day + timedelta(days=7), f"replace:{email}", lambda d: self._ask_another(d, application_id, email))

    def _bounce(self, day: date, mail: Mail, application_id: str) -> None:
        """The rater's mail server returns a delivery status notification; the coordinator records it."""
        dsn = self.work / f"bounce-{mail.path.stem}.eml"
        dsn.write_text(_delivery_status_notification(mail))
        self.cli(self._coordinator(application_id), "outbox", "bounce", str(dsn))
        self.count("email bounced")
        self.plan_to(day + timedelta(days=2), f"replace:{mail.to}",
                     lambda d: self._replace(d, application_id, mail.to, "the address bounced"))

    # --- reviewers --------------------------------------------------------------------------------

    def _review(self, day: date, link: str, email: str) -> None:
        who = f"reviewer:{email}"
        home = self.web.call(who, "GET", link)
        for essay in sorted(set(re.findall(r'href="(/review/[^"]+/essay/\d+)"', home.text))):
            kind, after = reviewer_choice(self.seed, self.behaviour, email, essay.rsplit("/", 1)[-1])
            self.plan_to(day + timedelta(days=after), f"essay:{email}:{essay}",
                         lambda d, e=essay, k=kind: self._review_essay(who, e, k))

    def _review_essay(self, who: str, essay: str, kind: str) -> None:
        if kind == "miss_due_date":
            self.count("essay review missed")
            return
        page, csrf = self._open_form(who, essay, "essay no longer with the reviewer")
        if page is None:
            return
        if kind == "decline":
            self.web.call(who, "POST", essay + "/decline", data={"csrf": csrf, "declined_reason": "a conflict of interest"})
            self.count("essay review declined")
            return
        rng = draw(self.seed, "essay", who, essay)
        scores = {k: str(rng.randint(2, 4)) for k in set(re.findall(r'name="(score:[a-z_]+)"', page.text))}
        verdict = "pass" if rng.random() < 0.85 else "fail"
        r = self.web.call(who, "POST", essay, data={**scores, "csrf": csrf, "recommendation": verdict,
                                                    "comments": "Sound formulation; the plan could say more."})
        self.count("essay reviewed" if r.status_code in (200, 303) else f"essay review refused {r.status_code}")

    # --- coordinators -----------------------------------------------------------------------------

    def _coordinator(self, application_id: str) -> str:
        from models import Application

        with self.sessions() as s:
            app = s.get(Application, application_id)
        return self.coordinators[app.association_code]

    def sign_in(self, association: str, email: str) -> None:
        who = f"coordinator:{email}"
        self.coordinators[association] = email
        page = self.web.call(who, "GET", "/coordinator/login")
        csrf = CSRF.search(page.text).group(1)
        r = self.web.call(who, "POST", "/coordinator/login", data={"csrf": csrf, "email": email, "password": PASSWORD})
        if r.status_code not in (200, 303):
            raise RuntimeError(f"coordinator {email} could not sign in: HTTP {r.status_code}")

    def web_action(self, email: str, page_path: str, action_path: str, data: dict) -> httpx.Response:
        """A form on a coordinator's page: open the page (for its CSRF token), post the form."""
        who = f"coordinator:{email}"
        page = self.web.call(who, "GET", page_path)
        if page.status_code in (302, 303):  # signed out (the session ended with a restart): sign in again
            self.sign_in(next(a for a, e in self.coordinators.items() if e == email), email)
            page = self.web.call(who, "GET", page_path)
        csrf = CSRF.search(page.text)
        r = self.web.call(who, "POST", action_path, data={"csrf": csrf.group(1) if csrf else "", **data})
        what = action_path.rsplit('/', 1)[-1]
        self.count(f"coordinator web {what}" + ("" if r.status_code == 303 else f" refused {r.status_code}"))
        if r.status_code != 303:
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))
            self.log("coordinator", f"{what} {action_path}: {text[-300:]}")
        return r

    def cli(self, coordinator: str, *argv: str) -> str:
        """`endorse <argv> --by <coordinator>` as a coordinator types it: the command line's own entry
        point (`endorse_cli.main.main`) in this process, with its environment (the same database,
        clock, Prefect server and mail settings). In this process, not a process of its own: starting
        Python and importing the project costs ~1.5 s a command, hours for the Alliance's 30,000
        renewals; what the command does is the same."""
        import contextlib
        import io

        from endorse_cli.main import main

        started, out = time.monotonic(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = main([*argv, "--by", coordinator])
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a command that crashes is refused, as its process would end
            code = 1
            out.write(f"{type(exc).__name__}: {exc}")
        command = " ".join(argv[:2])  # every coordinator command is a group and a verb: `exam sitting`
        self.count(f"coordinator cli {command}{'' if code == 0 else ' refused'}")
        self.log("cli", f"endorse {command}: {time.monotonic() - started:.1f} s")
        if code != 0:
            self.log("coordinator", f"endorse {command}: {out.getvalue().strip()[-300:]}")
        return out.getvalue()

    def _coordinator_queues(self, day: date) -> None:
        """What a coordinator's dashboard shows as waiting on them, answered the next office day."""
        from tasks.config import PipelineConfig
        from tasks.eligibility.determinations import awaited_determinations
        from tasks.references.raters import vetting_queue

        cfg = PipelineConfig(library=self.library, as_of=day, secret_key=self.secret_key, actor="simulation")
        with self.sessions() as s:
            vetting = vetting_queue(s, cfg)
            questions = awaited_determinations(s, self.library, day)
        for v in vetting:
            self.plan_to(day, f"vet:{v.request_id}", lambda d, v=v: self._vet(d, v))
        for q in questions:
            self.plan_to(day, f"determine:{q.application_id}:{q.question}", lambda d, q=q: self._determine(d, q))

    def _vet(self, day: date, item) -> None:
        accepted = coordinator_accepts(self.seed, self.behaviour["vetting_accepted"], "vet", item.rater_email)
        email = self.coordinators[item.association]
        self.web_action(email, f"/coordinator/applications/{item.application_id}",
                        f"/coordinator/references/{item.request_id}/vet",
                        {"decision": "accepted" if accepted else "rejected", "note": "phone call",
                         "vetted_on": day.isoformat()})

    def _determine(self, day: date, q) -> None:
        accepted = coordinator_accepts(self.seed, self.behaviour["determination_accepted"], "determine",
                                       q.application_id, q.question)
        self.web_action(self.coordinators[q.association], f"/coordinator/applications/{q.application_id}",
                        f"/coordinator/applications/{q.application_id}/determine",
                        {"question": q.question, "decision": "accepted" if accepted else "not_accepted",
                         "note": "read the description"})

    def _new_rater(self, application_id: str, old_email: str) -> tuple[str, str]:
        n = sum(1 for k in self.done_keys if k.startswith("replace:") and application_id in k) + 1
        rng = draw(self.seed, "replacement", application_id, old_email)
        name = f"{rng.choice(['Noor', 'Owen', 'Pearl', 'Reid'])} {rng.choice(['Vance', 'Wolfe', 'Yates'])}"
        return name, f"{name.replace(' ', '.').lower()}.{application_id.lower()}-x{n}@example.org"

    def _ask_another(self, day: date, application_id: str, old_email: str) -> None:
        """A rating that does not count (declined, too many "not enough information"): one more rater in
        the same role (`endorse add-rater`; the request that was answered is not open to replace)."""
        from sqlalchemy import select

        from models import Person, ReferenceRequest

        with self.sessions() as s:
            role = s.scalars(select(ReferenceRequest.role).join(Person, Person.id == ReferenceRequest.rater_id).where(
                ReferenceRequest.application_id == application_id, Person.email_normalized == old_email.casefold())).first()
        name, email = self._new_rater(application_id, old_email)
        # --no-reconcile: the simulator is the scheduler, and the day's sweep reconciles what an act marked
        # (as the simulated web app does), on the day's clock whatever a fault did to the worker.
        self.cli(self._coordinator(application_id), "rater", "add", application_id, "--name", name, "--email", email,
                 "--role", role or "colleague", "--no-reconcile")

    def _replace(self, day: date, application_id: str, old_email: str, reason: str) -> None:
        from sqlalchemy import select

        from models import Person, ReferenceRequest

        with self.sessions() as s:
            req = s.scalars(select(ReferenceRequest).join(Person, Person.id == ReferenceRequest.rater_id).where(
                ReferenceRequest.application_id == application_id, Person.email_normalized == old_email.casefold())
                .order_by(ReferenceRequest.id.desc())).first()
        if req is None or req.status == "cancelled":
            return
        n = sum(1 for k in self.done_keys if k.startswith("replace:") and application_id in k) + 1
        rng = draw(self.seed, "replacement", application_id, old_email)
        name = f"{rng.choice(['Noor', 'Owen', 'Pearl', 'Reid'])} {rng.choice(['Vance', 'Wolfe', 'Yates'])}"
        email = f"{name.replace(' ', '.').lower()}.{application_id.lower()}-x{n}@example.org"
        self.web_action(self._coordinator(application_id), f"/coordinator/applications/{application_id}",
                        f"/coordinator/references/{req.id}/replace",
                        {"name": name, "email": email, "role": req.role, "reason": reason})
        self.count("rater replaced")

    def transcript_arrives(self, day: date, application_id: str, institution: str) -> None:
        self.web_action(self._coordinator(application_id), f"/coordinator/applications/{application_id}",
                        f"/coordinator/applications/{application_id}/transcript",
                        {"institution": institution, "received_on": day.isoformat(), "official": "yes"})

    # --- exam -------------------------------------------------------------------------------------

    def exam_sitting(self, day: date, association: str, number: int) -> None:
        """Approve who is ready, open the sitting, register reviewers, enrol, essays and results in,
        reviewers assigned (they get their links by email)."""
        from sqlalchemy import select

        from models import Application, ExamAttempt, ExamSitting

        coordinator = self.coordinators[association]
        with self.sessions() as s:
            ready = [a.id for a in s.scalars(select(Application).where(
                Application.association_code == association, Application.stage == "eligibility_review")
                .order_by(Application.id))
                if all(r["status"] in ("met", "not_applicable") for r in a.last_checklist or [] if r["id"] != "exam")]
        for app_id in ready:
            self.web_action(coordinator, f"/coordinator/applications/{app_id}",
                            f"/coordinator/applications/{app_id}/approve-exam", {})
        name = f"{association} sitting {number} {day.year}"
        self.cli(coordinator, "exam", "sitting", "--association", association, "--name", name,
                 "--opens-on", day.isoformat(), "--closes-on", (day + timedelta(days=14)).isoformat())
        with self.sessions() as s:
            sitting = s.scalars(select(ExamSitting.id).where(ExamSitting.name == name)).first()
        if sitting is None:
            return
        for i in range(self.plan.profile.reviewers_per_association):
            category = ["IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"][i % 4]
            rname, remail = f"Reviewer {i + 1} {association}", f"reviewer{i + 1}.{association.lower()}@example.org"
            self.cli(coordinator, "exam", "reviewer", "--name", rname, "--email", remail, "--max-load", "12",
                     "--sitting", str(sitting))
            if number == 1:  # their endorsement, recorded by their own association: a verified one
                self.cli(coordinator, "person", "endorsement", "--email", remail, "--category", category)
        self.cli(coordinator, "exam", "enrol", str(sitting), "--as-of", day.isoformat())
        with self.sessions() as s:
            codes = [(a.application_id, a.candidate_code) for a in s.scalars(
                select(ExamAttempt).where(ExamAttempt.sitting_id == sitting).order_by(ExamAttempt.application_id))]
        if not codes:
            return
        essays, mc = self.work / f"essays-{sitting}.csv", self.work / f"mc-{sitting}.csv"
        below = self.behaviour["multiple_choice_below_pass"]
        with essays.open("w", newline="") as fe, mc.open("w", newline="") as fm:
            we, wm = csv.writer(fe), csv.writer(fm)
            we.writerow(["candidate_code", "essay"])
            wm.writerow(["candidate_code", "percent"])
            for app_id, code in codes:
                rng = draw(self.seed, "exam", app_id, number)
                essay = ("The vignette: a father and his ten-month-old after a move. I would observe their play, "
                         "wonder with him about what the baby feels, and bring it to reflective supervision. "
                         f"({rng.randint(1, 9)} visits planned.)")
                we.writerow([code, essay])
                wm.writerow([code, rng.randint(60, 79) if rng.random() < below else rng.randint(80, 97)])
        self.cli(coordinator, "exam", "essays", str(sitting), str(essays), "--as-of", day.isoformat())
        self.cli(coordinator, "exam", "mc", str(sitting), str(mc), "--taken-on", day.isoformat())
        self.cli(coordinator, "exam", "assign", str(sitting), "--apply", "--as-of", day.isoformat())

    # --- renewals ---------------------------------------------------------------------------------

    def _renewal_notice(self, mail: Mail) -> None:
        from sqlalchemy import select

        from models import Endorsement, Person

        with self.sessions() as s:  # their endorsement number and due date are on their letter
            rows = s.execute(select(Endorsement, Person).join(Person, Person.id == Endorsement.person_id).where(
                Person.email_normalized == mail.to.casefold(), Endorsement.origin == "granted")).all()
        for e, person in rows:
            choice = renewal_choice(self.seed, self.behaviour, e.number)
            grace = int(self.library.setting(e.association_code, "renewal_grace_days", e.renewal_due_on))
            doc = {"number": e.number, "association": e.association_code, "category": e.category,
                   "year": e.renewal_due_on.year, "due_on": e.renewal_due_on, "endorsed_on": e.granted_on,
                   "name": person.name, "email": person.email}
            key = f"renew:{e.number}:{e.renewal_due_on.year}"
            if choice == "on_time":
                self.plan_to(mail.day + timedelta(days=3), key, lambda d, doc=doc: self._renew(d, doc, met=True))
            elif choice == "unmet_then_met":
                self.plan_to(mail.day + timedelta(days=3), key, lambda d, doc=doc: self._renew(d, doc, met=False))
                self.plan_to(e.renewal_due_on + timedelta(days=grace // 2), key + ":again",
                             lambda d, doc=doc: self._renew(d, doc, met=True))
            elif choice == "lapse_then_reinstated":
                self.plan_to(e.renewal_due_on + timedelta(days=grace + 20), key,
                             lambda d, doc=doc: self._renew(d, doc, met=True))
            # "lapse": nothing is sent; the renewal run lapses the endorsement after the grace period

    def _renew(self, day: date, doc: dict, *, met: bool) -> None:
        path = self.work / f"renewal-{doc['number']}-{doc['year']}-{'met' if met else 'short'}.json"
        path.write_text(json.dumps(renewal_document(**doc, met=met), indent=2))
        self.cli(self.coordinators[doc["association"]], "renewal", "record", str(path), "--as-of", day.isoformat())


def _delivery_status_notification(mail: Mail) -> str:
    """A minimal RFC 3464 report about one of our messages, as a receiving server returns it."""
    return ("From: MAILER-DAEMON@example.org\nTo: sender@example.org\nSubject: Undelivered Mail\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
            "--B\nContent-Type: text/plain\n\nThe address does not exist.\n\n"
            "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
            f"Final-Recipient: rfc822; {mail.to}\nAction: failed\nStatus: 5.1.1\n"
            "Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown\n\n"
            f"--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: {mail.message['Message-ID']}\n"
            f"To: {mail.to}\n\n--B--\n")
