"""The year lived through the real stack: `endorse up`'s pieces, the day loop, and the seeded faults.

The stack is `endorse_cli.stack.Stack` (application database and Prefect's own on PostgreSQL, the
Prefect server, the process work pool's workers, the web app under uvicorn) with one difference: its
prefect.yaml copy has no schedules, because the simulator is the scheduler: each simulated day it
sets the project's clock (ENDORSE_CLOCK_FILE) and runs the day's sweep, renewal and outbox flows as
flow runs on that Prefect server. Events (a rating, a transcript) trigger their reconcile on the
workers through the web app, as in production; the day ends when those runs have finished and the
outbox has nothing due, so a fault costs time, never a different year.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from endorse.clock import CLOCK_FILE_ENV
from endorse.db import close_databases
from endorse_cli.simulate.plan import YearPlan, draw

FAULT_KINDS = ("kill_worker", "kill_web", "kill_prefect", "smtp_refusing", "smtp_slow", "restart_postgres",
               "overlapping_sweeps")
AT_ACTS = {"kill_worker", "kill_web", "smtp_slow"}  # the rest strike when the day's scheduled runs start
EVENT_RUNS_DEADLINE = 300.0  # seconds a day waits for the reconciles its events started


@dataclass(frozen=True)
class Fault:
    day: date
    kind: str


def fault_plan(plan: YearPlan, per_kind: int = 1) -> list[Fault]:
    """`per_kind` faults of every kind on days drawn from the seed: those that strike people's acts on a
    day applications arrive, those that strike the scheduled runs on a day they run."""
    p = plan.profile
    busy = sorted({a.day for a in plan.arrivals})
    runs = [p.start + timedelta(days=n) for n in range(0, p.days, p.sweep_every_days)]
    rng = draw(plan.seed, "faults")
    return sorted((Fault(rng.choice(busy if kind in AT_ACTS else runs[1:] or runs), kind)
                   for kind in FAULT_KINDS for _ in range(per_kind)), key=lambda f: (f.day, f.kind))


@dataclass
class DayLog:
    day: date
    arrivals: int = 0
    sweep: dict = field(default_factory=dict)
    renewal: dict = field(default_factory=dict)
    delivered: int = 0
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class YearResult:
    plan: YearPlan
    days: list[DayLog]
    people_counts: dict
    faults_survived: list[str]
    mail_folder: Path
    wall_seconds: float
    log: list[str]


class Sink:
    """The SMTP sink with the faults a real mail server shows: refusing (451) or slow."""

    def __init__(self, folder: Path):
        from endorse_cli.smtp_sink import SmtpSink

        self.sink = SmtpSink(folder)
        self.slow_seconds = 0.0
        handler = self.sink.handler
        original = handler.handle_DATA

        async def handle_data(server, session, envelope):
            import asyncio

            if self.slow_seconds:
                await asyncio.sleep(self.slow_seconds)
            return await original(server, session, envelope)

        handler.handle_DATA = handle_data

    @property
    def refusing(self) -> bool:
        return self.sink.handler.refuse

    @refusing.setter
    def refusing(self, value: bool) -> None:
        self.sink.handler.refuse = value


class Year:
    def __init__(self, plan: YearPlan, *, home: Path, database_url: str, prefect_database_url: str,
                 faults: list[Fault] | None = None, restart_postgres: Callable[[], None] | None = None,
                 say: Callable[[str], None] = print, deadline_seconds: float | None = None,
                 ports: tuple[int, int] | None = None):
        # (Prefect, web): the runs of one process share them, since Prefect's client keeps the API URL
        # it first read, and a killed server comes back where its clients look for it.
        self.ports = ports
        self.plan, self.home, self.faults = plan, home, faults or []
        self.deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds
        self.database_url, self.prefect_database_url = database_url, prefect_database_url
        self.restart_postgres, self.say = restart_postgres, say
        self.lines: list[str] = []
        self.survived: list[str] = []

    def log(self, who: str, line: str) -> None:
        self.lines.append(f"{who}: {line}")

    # --- the stack --------------------------------------------------------------------------------

    def _environment(self, smtp_port: int, web_port: int) -> None:
        from endorse.settings import get_settings

        clock = self.home / "clock"
        clock.write_text(self.plan.profile.start.isoformat())
        os.environ.update({
            CLOCK_FILE_ENV: str(clock), "DATABASE_URL": self.database_url,
            "ENDORSE_DATA_DIR": str(self.home / "var"), "ENDORSE_SMTP_HOST": "127.0.0.1",
            "ENDORSE_SMTP_PORT": str(smtp_port), "ENDORSE_PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
            "PREFECT_HOME": str(self.home / "prefect-cli"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING", "DO_NOT_TRACK": "1",
            # every simulated rater, reviewer and coordinator comes from 127.0.0.1
            "ENDORSE_LINK_RATE_LIMIT_PER_MINUTE": "1000000"})
        os.environ.setdefault("ENDORSE_SECRET_KEY", "simulation-" + os.urandom(12).hex())
        get_settings.cache_clear()
        close_databases()  # engines of a run before this one point at its database

    def _prefect_file(self) -> Path:
        """prefect.yaml without its schedules: the simulator runs each day's flows itself."""
        import yaml

        from endorse.settings import PROJECT_ROOT

        data = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
        for d in data["deployments"]:
            d.pop("schedules", None)
        path = self.home / "prefect.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def run(self) -> YearResult:
        from endorse.db import default_session_factory, upgrade_database
        from endorse.rulebook import default_library
        from endorse_cli.prefect_server import free_port
        from endorse_cli.simulate.actors import PASSWORD, People
        from endorse_cli.stack import Stack, StackConfig

        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        sink = Sink(self.home / "mail")
        prefect_port, web_port = self.ports or (free_port(), free_port())
        with sink.sink:
            self._environment(sink.sink.port, web_port)
            upgrade_database(self.database_url)
            config = StackConfig(home=self.home / "stack", database_url=self.database_url,
                                 prefect_database_url=self.prefect_database_url, prefect_port=prefect_port,
                                 web_port=web_port, workers=1, web_workers=1, prefect_file=self._prefect_file())
            stack = Stack(config, say=lambda m: self.log("stack", m))
            try:
                stack.start()
                os.environ.update(stack.server.client_env())
                self.stack, self.sink = stack, sink
                library = default_library()
                sessions = default_session_factory(self.database_url)
                from endorse.settings import get_settings

                people = People(self.plan, web_url=stack.web_url, sink_folder=sink.sink.folder, work=self.home / "work",
                                sessions=sessions, library=library,
                                secret_key=get_settings().secret_key.get_secret_value(), log=self.log)
                self._accounts(people, sessions, PASSWORD)
                self._prologue(people)
                days = self._year(people)
            finally:
                stack.stop()
                close_databases()
                if getattr(self, "people", None):
                    self.people.web.close()
        return YearResult(self.plan, days, people.counts, self.survived, sink.sink.folder,
                          time.monotonic() - started, self.lines)

    def _accounts(self, people, sessions, password: str) -> None:
        from endorse.db import transaction
        from endorse.rulebook import default_library
        from tasks.coordination.accounts import set_coordinator
        from tasks.intake.records import ensure_associations

        with transaction(sessions) as s:
            ensure_associations(s, default_library())
        for association in dict.fromkeys(self.plan.profile.associations):
            email = f"coordinator@{association.lower()}.example.org"
            set_coordinator(sessions, association=association, name=f"{association} Coordinator", email=email,
                            password=password, actor="simulation")
            people.sign_in(association, email)
        self.people = people

    # --- days -------------------------------------------------------------------------------------

    def _set_clock(self, day: date) -> None:
        Path(os.environ[CLOCK_FILE_ENV]).write_text(day.isoformat())

    def _import(self, arrivals) -> None:
        from endorse.documents import load_document
        from tasks.intake.importing import import_documents

        if not arrivals:
            return
        folder = self.home / "intake"
        folder.mkdir(exist_ok=True)
        paths = []
        for a in arrivals:
            path = folder / f"{a.id}.json"
            path.write_text(json.dumps(a.document, indent=2))
            paths.append(path)
        import_documents([(p, load_document(p)) for p in paths], actor="system:import")

    def _prologue(self, people) -> None:
        """The year before, in four days: complete applications decided, so renewals fall in this year."""
        for day in self.plan.prologue_days():
            self._set_clock(day)
            self._import([a for a in self.plan.prologue if a.day == day])
            self._scheduled(day, DayLog(day), full=True)
            people.read_mail(day)

    def _year(self, people) -> list[DayLog]:
        plan, logs = self.plan, []
        transcripts = self._awaited_transcripts()
        sittings = {d: (a, i + 1) for a, days in plan.sitting_days.items() for i, d in enumerate(days)}
        for n in range(plan.profile.days):
            t0 = time.monotonic()
            day = plan.profile.start + timedelta(days=n)
            entry = DayLog(day)
            self._set_clock(day)
            faults = [f.kind for f in self.faults if f.day == day]
            arrivals = plan.arrivals_on(day)
            entry.arrivals = len(arrivals)
            self._import(arrivals)
            for app_id, (arrive_on, institution) in transcripts.items():
                if arrive_on == day:
                    people.transcript_arrives(day, app_id, institution)
            if day in sittings:
                people.exam_sitting(day, *sittings[day])
            self._inject(faults, "acts", entry)
            people.act(day)
            if people.acted or people.touched:  # a quiet day starts no event's run
                self._wait_event_runs(entry)
                people.acted = False
            if n % plan.profile.sweep_every_days == 0 or day == plan.profile.end:
                self._inject(faults, "sweep", entry)
                self._scheduled(day, entry, overlapping="overlapping_sweeps" in faults)
            people.read_mail(day)
            entry.seconds = time.monotonic() - t0
            logs.append(entry)
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.say(f"stopped by the deadline after {day}: {n + 1} of {plan.profile.days} days")
                self.log("year", f"stopped by the deadline after {day}")
                break
            if n % 30 == 0:
                self.say(f"{day}: {sum(x.arrivals for x in logs)} arrived, {sum(x.delivered for x in logs)} emails, "
                         f"{time.monotonic() - t0:.1f} s this day")
        return logs

    def _awaited_transcripts(self) -> dict[str, tuple[date, str]]:
        out = {}
        for a in self.plan.arrivals:
            for edu in a.document.get("education", []):
                t = edu.get("transcript") or {}
                if t.get("official") and not t.get("received_on"):
                    out[a.id] = (a.day + timedelta(days=draw(self.plan.seed, "transcript", a.id).randint(7, 40)),
                                 edu["institution"])
        return out

    # --- the day's scheduled runs -----------------------------------------------------------------

    def _scheduled(self, day: date, entry: DayLog, *, full: bool = False, overlapping: bool = False) -> None:
        from flows.renewal import renewal
        from flows.sweep import sweep

        as_of = day.isoformat()
        if overlapping:  # two sweeps at once: the database decides which run changes a row
            results: list = []
            threads = [threading.Thread(target=lambda: results.append(self._retry(lambda: sweep(as_of=as_of, full=full))))
                       for _ in range(2)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            entry.sweep = results[0]
            self.survived.append(f"{day} overlapping sweeps")
        else:
            entry.sweep = self._retry(lambda: sweep(as_of=as_of, full=full))
        entry.renewal = self._retry(lambda: renewal(as_of=as_of))
        entry.delivered += self._deliver_all()

    def _retry(self, run, what: str = "flow run"):
        """A flow run the Prefect server or the database was not there for is run again once they are."""
        deadline = time.monotonic() + 600
        while True:
            try:
                return run()
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise
                self.log("retry", f"{what}: {type(exc).__name__}: {str(exc)[:200]}")
                time.sleep(3)

    def _deliver_all(self) -> int:
        """The outbox until nothing is queued (messages being retried after a refusal wait their turn)."""
        from sqlalchemy import func, select

        from flows.deliver_outbox import deliver_outbox
        from models import OutboxMessage

        sent = 0
        sessions = self.people.sessions
        for _ in range(40):
            report = self._retry(lambda: deliver_outbox(), "outbox")
            sent += int(report.get("sent", 0)) if isinstance(report, dict) else 0
            with sessions() as s:
                waiting = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.status.in_(("queued", "sending"))))
            if not waiting:
                return sent
            if self.sink.refusing:  # a refusal lasts this many attempts, then the server is back
                self.sink.refusing = False
                self.survived.append("SMTP refusing (451) for one delivery run")
            time.sleep(5)
        return sent

    def _wait_event_runs(self, entry: DayLog) -> None:
        """The reconciles this day's events started on the workers finish before the clock moves on.

        The web app starts a run just after it answers, so the applications acted on today must also
        be unmarked. One whose run a fault lost (a killed worker, the Prefect server down) is
        reconciled here for the day, as the next quarter-hour's sweep would in production."""
        import httpx
        from sqlalchemy import select

        from flows.reconcile import reconcile_in_process
        from models import Application

        api = os.environ["PREFECT_API_URL"]
        touched, self.people.touched = set(self.people.touched), set()
        deadline = time.monotonic() + EVENT_RUNS_DEADLINE
        body = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING"]}}}}
        started, marked = time.monotonic(), set(touched)
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json()
            except (httpx.HTTPError, ValueError):
                continue
            open_runs = [r for r in runs if r.get("deployment_id")]
            if touched:
                with self.people.sessions() as s:
                    marked = set(s.scalars(select(Application.id).where(Application.id.in_(touched),
                                                                        Application.needs_reconcile.is_(True))))
            if not marked and not open_runs:
                return
            if not open_runs and time.monotonic() - started > 60:
                break  # no run left to do it: a fault lost the event's run
        for app_id in sorted(marked):
            self.log("day", f"{entry.day}: {app_id}'s event reconcile was lost; reconciled for the day")
            self._retry(lambda a=app_id: reconcile_in_process(a, entry.day.isoformat()), "catch-up reconcile")

    # --- faults -----------------------------------------------------------------------------------

    def _inject(self, faults: list[str], moment: str, entry: DayLog) -> None:

        for kind in faults:
            if (kind in AT_ACTS) != (moment == "acts") or kind == "overlapping_sweeps":
                continue
            entry.faults.append(kind)
            stack = self.stack
            if kind in ("kill_worker", "kill_web"):
                child = next(c for c in stack.children if c.name == ("worker-1" if kind == "kill_worker" else "web"))
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
                child.start(stack.env())
                self._wait_healthy(kind)
            elif kind == "kill_prefect":
                os.killpg(stack.server.proc.pid, signal.SIGKILL)
                stack.server.proc.wait()
                stack.server.start()
                self._wait_healthy(kind)
            elif kind == "smtp_refusing":
                self.sink.refusing = True
            elif kind == "smtp_slow":
                self.sink.slow_seconds = 1.0
                threading.Timer(60, lambda: setattr(self.sink, "slow_seconds", 0.0)).start()
                self.survived.append(f"{entry.day} SMTP slow (1 s a message) for a minute")
            elif kind == "restart_postgres":
                if self.restart_postgres is None:
                    self.log("fault", "restart_postgres: no way to restart this PostgreSQL given; skipped")
                    continue
                self.restart_postgres()
                self.survived.append(f"{entry.day} PostgreSQL restarted")
            if kind.startswith("kill_"):
                self.survived.append(f"{entry.day} SIGKILL {kind[5:]}")

    def _wait_healthy(self, what: str) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            problem = self.stack.problem()
            if problem is None:
                return
            time.sleep(1)
        raise RuntimeError(f"after {what}: the stack did not come back ({problem})")
