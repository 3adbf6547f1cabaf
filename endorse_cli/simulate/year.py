"""The year lived through the real stack: `endorse up`'s pieces, the day loop, and the seeded faults.

The stack is `endorse_cli.stack.Stack` (application database and Prefect's own on PostgreSQL, the
Prefect server, the process work pool's worker, the web app under uvicorn) with two differences,
both because the simulator is the scheduler: its prefect.yaml copy has no schedules, and its web
app (`webapp.py`) leaves an event's application marked instead of starting a flow run per event.
Each simulated day sets the project's clock (ENDORSE_CLOCK_FILE); people act (over HTTP, or the
CLI); then the day's runs: on a scheduled day (every `sweep_every_days`) the sweep as a deployment
run on the worker, as the scheduler would start it, then the renewal run; on any other day where
something was marked, one incremental sweep that reconciles every marked application in batches;
the outbox whenever a message is queued. A day with nothing to do starts no flow run. The day ends
when its runs have finished and the outbox has nothing due, so a fault costs time, never a
different year.
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
from endorse_cli.simulate.days import DayLog, Sink
from endorse_cli.simulate.plan import YearPlan, draw

FAULT_KINDS = ("kill_worker", "kill_web", "kill_prefect", "smtp_refusing", "smtp_slow", "restart_postgres",
               "overlapping_sweeps")
# When each kind strikes: while people act (on a day applications arrive), just before a scheduled
# day's runs start, or in the middle of the scheduled sweep running on the worker.
MOMENTS = {"kill_web": "acts", "smtp_slow": "acts", "smtp_refusing": "sweep", "restart_postgres": "sweep",
           "overlapping_sweeps": "sweep", "kill_worker": "mid_run", "kill_prefect": "mid_run"}
AT_ACTS = {kind for kind, moment in MOMENTS.items() if moment == "acts"}
SCHEDULED_RUN_DEADLINE = 1800.0  # seconds a scheduled run on the worker may take (the sweep flow times out at 12 min)


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
class YearResult:
    plan: YearPlan
    days: list[DayLog]
    people_counts: dict
    faults_survived: list[str]
    mail_folder: Path
    wall_seconds: float
    log: list[str]
    prologue: list[DayLog] = field(default_factory=list)  # the year before's days, timed like the year's



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
        self.day = plan.profile.start
        self.prologue_logs: list[DayLog] = []

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
            # the worker looks for the day's scheduled run every second, not every ten: a day waits for it
            "PREFECT_WORKER_QUERY_SECONDS": "1",
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
                                 web_port=web_port, workers=1, web_workers=1, prefect_file=self._prefect_file(),
                                 web_factory="endorse_cli.simulate.webapp:simulated_app")
            stack = Stack(config, say=lambda m: self.log("stack", m))
            try:
                stack.start()
                stack.server.use_in_this_process()
                self.stack, self.sink = stack, sink
                library = default_library()
                sessions = default_session_factory(self.database_url)
                from endorse.settings import get_settings

                people = People(self.plan, web_url=stack.web_url, sink_folder=sink.sink.folder, work=self.home / "work",
                                sessions=sessions, library=library,
                                secret_key=get_settings().secret_key.get_secret_value(), log=self.log)
                self._accounts(people, sessions, PASSWORD)
                self.log("year", f"the stack is up after {time.monotonic() - started:.0f} s")
                self._prologue(people)
                self.log("year", f"the year before is lived after {time.monotonic() - started:.0f} s")
                days = self._year(people)
            finally:
                stack.stop()
                close_databases()
                if getattr(self, "people", None):
                    self.people.web.close()
        return YearResult(self.plan, days, people.counts, self.survived, sink.sink.folder,
                          time.monotonic() - started, self.lines, self.prologue_logs)

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
        """The year before, on its few days (profile: prologue_waves): complete applications imported in
        bulk, one full sweep on the worker deciding them, the decision emails delivered and read."""
        for day in self.plan.prologue_days():
            if self._past_deadline(f"in the year before, at {day}"):
                return
            t0 = time.monotonic()
            self.day = day
            self._set_clock(day)
            entry = DayLog(day)
            with entry.timed("import"):
                arrivals = [a for a in self.plan.prologue if a.day == day]
                entry.arrivals = len(arrivals)
                self._import(arrivals)
            self._scheduled(day, entry, full=True)
            with entry.timed("mail"):
                people.read_mail(day)
            entry.seconds = time.monotonic() - t0
            self.prologue_logs.append(entry)
            line = f"{day}: {entry.arrivals} imported and decided, {entry.delivered} delivered, {entry.seconds:.0f} s " \
                   f"({entry.phases_line()})"
            self.log("year before", line)
            self.say(f"the year before, {line}")

    def _past_deadline(self, where: str) -> bool:
        if self.deadline is None or time.monotonic() <= self.deadline:
            return False
        self.say(f"stopped by the deadline {where}")
        self.log("year", f"stopped by the deadline {where}")
        return True

    def _year(self, people) -> list[DayLog]:
        plan, logs = self.plan, []
        transcripts = self._awaited_transcripts()
        sittings = {d: (a, i + 1) for a, days in plan.sitting_days.items() for i, d in enumerate(days)}
        for n in range(plan.profile.days):
            if self._past_deadline(f"before {plan.profile.start + timedelta(days=n)}: {n} of {plan.profile.days} days"):
                break
            t0 = time.monotonic()
            day = plan.profile.start + timedelta(days=n)
            self.day = day
            entry = DayLog(day)
            self._set_clock(day)
            faults = [f.kind for f in self.faults if f.day == day]
            with entry.timed("import"):
                arrivals = plan.arrivals_on(day)
                entry.arrivals = len(arrivals)
                self._import(arrivals)
            with entry.timed("acts"):
                for app_id, (arrive_on, institution) in transcripts.items():
                    if arrive_on == day:
                        people.transcript_arrives(day, app_id, institution)
                if day in sittings:
                    people.exam_sitting(day, *sittings[day])
                self._inject(faults, "acts", entry)
                people.act(day, until=self.deadline)
            if n % plan.profile.sweep_every_days == 0 or day == plan.profile.end:
                self._inject(faults, "sweep", entry)
                self._scheduled(day, entry, faults=faults)
            else:
                self._events(day, entry)
            with entry.timed("mail"):
                people.read_mail(day)
            entry.seconds = time.monotonic() - t0
            logs.append(entry)
            if entry.seconds > 2:
                self.log("day", f"{day}: {entry.seconds:.1f} s ({entry.arrivals} arrived, sweep {bool(entry.sweep)}, "
                                f"{entry.delivered} delivered, faults {entry.faults or 'none'}; {entry.phases_line()})")
            if n % 30 == 0 or entry.seconds > 60:
                self.say(f"{day}: {sum(x.arrivals for x in logs)} arrived, {sum(x.delivered for x in logs)} emails, "
                         f"{entry.seconds:.1f} s this day ({entry.phases_line()})")
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

    def _scheduled(self, day: date, entry: DayLog, *, full: bool = False, faults: tuple[str, ...] | list[str] = ()) -> None:
        from flows.renewal import renewal

        as_of = day.isoformat()
        strikes = [threading.Timer(draw(self.plan.seed, "strike", day, kind).uniform(0.5, 3.0),
                                   lambda k=kind: self._inject([k], "mid_run", entry))
                   for kind in faults if MOMENTS.get(kind) == "mid_run"]
        for strike in strikes:  # while the sweep runs on the worker (or is being started)
            strike.start()
        with entry.timed("sweep"):
            self._scheduled_sweep(as_of, full, entry, faults)
        for strike in strikes:
            strike.join()
        with entry.timed("renewal"):
            entry.renewal = self._retry(lambda: renewal(as_of=as_of))
        with entry.timed("outbox"):
            entry.delivered += self._deliver_all()

    def _scheduled_sweep(self, as_of: str, full: bool, entry: DayLog, faults) -> None:
        from flows.sweep import sweep

        day = date.fromisoformat(as_of)
        if "overlapping_sweeps" in faults:  # a scheduled sweep on the worker and a manual one here at once: the database
            # decides which run changes a row, and only that run audits or emails it
            results: list = []
            here = threading.Thread(target=lambda: results.append(self._retry(lambda: sweep(as_of=as_of, full=full))))
            here.start()
            entry.sweep = self._on_worker("sweep/sweep", {"as_of": as_of, "full": full})
            here.join()
            self.survived.append(f"{day} overlapping sweeps")
        else:
            entry.sweep = self._on_worker("sweep/sweep", {"as_of": as_of, "full": full})

    def _on_worker(self, deployment: str, parameters: dict) -> dict:
        """A deployment run on the worker, waited for, as the scheduler would start it. A run that a
        fault ended (the worker or the Prefect server killed under it) is started again once the
        piece is back: every flow is safe to re-run, and a lost run that still finishes is only an
        overlapping sweep."""
        from prefect.deployments import run_deployment

        deadline = time.monotonic() + SCHEDULED_RUN_DEADLINE
        while True:
            self._revive()
            run = self._retry(lambda: run_deployment(deployment, parameters=parameters, timeout=0, as_subflow=False),
                              f"starting {deployment}")
            state = self._wait_for_run(str(run.id))
            if state == "COMPLETED":
                return {"flow_run": str(run.id), "state": state}
            if self._past_deadline(f"while {deployment} {parameters} ran on the worker ({state})"):
                return {"flow_run": str(run.id), "state": state}  # the year stops here, with what it lived
            self.log("worker", f"{deployment} {parameters}: {state}; started again")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{deployment} {parameters} did not complete on the worker (last run {state})")

    def _wait_for_run(self, run_id: str) -> str:
        """The run's final state type; or its state 30 s after a piece of the stack had to be revived
        while it ran (the run was lost with it), or after SCHEDULED_RUN_DEADLINE."""
        import httpx

        api = os.environ["PREFECT_API_URL"]
        started, revived, state = time.monotonic(), None, "UNKNOWN"
        while time.monotonic() - started < SCHEDULED_RUN_DEADLINE:
            if self._revive():
                revived = time.monotonic()
            try:
                state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]["type"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                state = "UNKNOWN"  # the server is down or restarting
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return state
            if self.deadline is not None and time.monotonic() > self.deadline:
                return f"{state} (the simulation's deadline passed)"
            if revived is not None and time.monotonic() - revived > 30:
                return f"{state} (lost with a killed piece of the stack)"
            time.sleep(0.3)
        return state

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
            with sessions() as s:  # nothing queued: no flow run (most days)
                waiting = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.status.in_(("queued", "sending"))))
            if not waiting:
                return sent
            report = self._retry(lambda: deliver_outbox(), "outbox")
            sent += int(report.get("sent", 0)) if isinstance(report, dict) else 0
            if self.sink.refusing:  # a refusal lasts one delivery run, then the server is back
                self.sink.refusing = False
                self.survived.append(f"{self.day} SMTP refusing (451) for one delivery run")
            if report.get("sent", 0) == 0 if isinstance(report, dict) else True:
                time.sleep(5)  # what is left waits for its retry (30 s backoff after a refusal)
        raise RuntimeError(f"{self.day}: the outbox still has {waiting} messages queued after 40 delivery runs")

    def _events(self, day: date, entry: DayLog) -> None:
        """A day between scheduled runs: one incremental sweep if an event marked an application (it
        reconciles them all), the outbox if anything is queued; nothing at all on a quiet day."""
        from sqlalchemy import exists, select

        from flows.sweep import sweep
        from models import Application

        with self.people.sessions() as s:
            marked = s.scalar(select(exists().where(Application.needs_reconcile.is_(True))))
        if marked:
            with entry.timed("sweep"):
                entry.sweep = self._retry(lambda: sweep(as_of=day.isoformat()), "the day's sweep")
        with entry.timed("outbox"):
            entry.delivered += self._deliver_all()

    # --- faults -----------------------------------------------------------------------------------

    def _inject(self, faults: list[str], moment: str, entry: DayLog) -> None:
        """The faults of `faults` that strike at `moment`. A killed piece is started again by the main
        thread (`_revive`): a child started from a short-lived thread would die with it (the stack's
        children ask Linux to end them when the thread that started them ends)."""
        for kind in faults:
            if MOMENTS[kind] != moment or kind == "overlapping_sweeps":
                continue
            entry.faults.append(kind)
            if kind.startswith("kill_"):
                self._kill(kind[5:])
                if moment != "mid_run":
                    self._revive()
                self.survived.append(f"{entry.day} SIGKILL {kind[5:]}"
                                     + (" in the middle of the scheduled sweep" if moment == "mid_run" else ""))
            elif kind == "smtp_refusing":
                self.sink.refusing = True
            elif kind == "smtp_slow":
                self.sink.slow_seconds = 1.0
                threading.Timer(60, lambda: setattr(self.sink, "slow_seconds", 0.0)).start()
                self.survived.append(f"{entry.day} SMTP slow (1 s a message) for a minute")
            elif kind == "restart_postgres":
                if self.restart_postgres is None:
                    raise RuntimeError("restart_postgres is in the fault plan but no way to restart this PostgreSQL "
                                       "was given")
                self.restart_postgres()
                self.survived.append(f"{entry.day} PostgreSQL restarted")

    def _kill(self, piece: str) -> None:
        """SIGKILL to the piece's process group (a worker's flow-run subprocesses go with it)."""
        stack = self.stack
        proc = stack.server.proc if piece == "prefect" else next(
            c for c in stack.children if c.name == ("worker-1" if piece == "worker" else "web")).proc
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.log("fault", f"SIGKILL {piece} (pid {proc.pid})")

    def _revive(self) -> bool:
        """Start again whatever piece of the stack is not running (main thread only); True if any was."""
        stack, revived = self.stack, False
        if stack.server.proc.poll() is not None:
            stack.server.start()
            revived = True
        for child in stack.children:
            if not child.alive():
                child.start(stack.env())
                revived = True
        if revived:
            self._wait_healthy("a restart")
        return revived

    def _wait_healthy(self, what: str) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            problem = self.stack.problem()
            if problem is None:
                return
            time.sleep(1)
        raise RuntimeError(f"after {what}: the stack did not come back ({problem})")
