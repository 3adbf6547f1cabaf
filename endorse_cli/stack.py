"""`endorse up`: the production stack on one host, supervised by one process.

In order: the application database is migrated (PostgreSQL, DATABASE_URL); the Prefect server starts
on its own PostgreSQL database (PREFECT_API_DATABASE_CONNECTION_URL); the process work pool
``endorse`` is created (or updated) and the deployments of prefect.yaml are deployed to it; the
workers start; the web app starts under uvicorn with several worker processes. Then every few
seconds each child must still run and the Prefect API and the web app must answer their health
checks; when one does not, or on SIGTERM / Ctrl-C, everything is stopped in reverse order (each
child's process group: SIGTERM, then SIGKILL after a grace period) and nothing is left behind.
A piece that stops, or fails its health check three times in a row, exits 1 so a service manager
restarts the stack.

Each piece is also a command of its own (deploy/systemd/ has one unit per process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from endorse.settings import PROJECT_ROOT
from endorse_cli.prefect_server import (
    LocalPrefectServer,
    PrefectServerError,
    api_is_healthy,
    die_with_parent,
    log_tail,
    quiet_prefect_env,
    stop_process_group,
)

WORK_POOL = "endorse"
HEALTH_EVERY_SECONDS = 5.0
# A busy host may answer a health check slowly now and then: only this many failures in a row count.
HEALTH_STRIKES = 3
HEALTH_TIMEOUT_SECONDS = 10.0
START_DEADLINE_SECONDS = 600.0


class StackError(RuntimeError):
    """A piece of the stack did not start or stopped answering (the message names it and its log)."""


@dataclass
class StackConfig:
    home: Path  # logs, Prefect's client home and the status file
    database_url: str  # the application database (PostgreSQL; a SQLAlchemy URL)
    prefect_database_url: str  # Prefect's own database (PostgreSQL, postgresql+asyncpg://…)
    host: str = "127.0.0.1"
    prefect_port: int = 4200
    web_port: int = 8000
    workers: int = 2
    web_workers: int = 2
    prefect_file: Path = PROJECT_ROOT / "prefect.yaml"
    web_factory: str = "web.app:default_app"  # the simulated year's own leaves events to its day's run

    def check(self) -> None:
        if not self.database_url.startswith(("postgresql", "postgres:")):
            raise StackError("DATABASE_URL must name a PostgreSQL database for `endorse up` "
                             f"(got {self.database_url.split(':', 1)[0]!r})")
        if not self.prefect_database_url.startswith("postgresql+asyncpg://"):
            raise StackError("PREFECT_API_DATABASE_CONNECTION_URL must be postgresql+asyncpg://… for `endorse up` "
                             "(Prefect on SQLite answers 503 under bursts of runs)")
        if not Path(self.prefect_file).is_file():
            raise StackError(f"{self.prefect_file}: no such prefect.yaml")


def prefect_cli(args: list[str], env: dict[str, str], what: str, timeout: float = START_DEADLINE_SECONDS) -> str:
    """Run a `prefect …` command to completion; a failure names the step and carries its output."""
    done = subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise StackError(f"{what} failed (prefect {' '.join(args)}, exit {done.returncode}):\n"
                         f"{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout


# The arguments of each piece, as `endorse up` runs them and deploy/systemd/ spells them out
# (tests/test_deploy_units.py keeps the two the same).
def work_pool_args() -> list[str]:
    """The process work pool; --overwrite keeps a re-run (after a crash, an upgrade) harmless."""
    return ["work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"]


def deploy_args(prefect_file: Path) -> list[str]:
    """Every deployment of prefect.yaml to the work pool (again on every start: it is an upsert)."""
    return ["--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)]


def worker_args(name: str) -> list[str]:
    return ["worker", "start", "--pool", WORK_POOL, "--type", "process", "--name", name]


def web_args(host: str, port: int, workers: int, factory: str = "web.app:default_app") -> list[str]:
    return [factory, "--factory", "--host", host, "--port", str(port), "--workers", str(workers),
            "--proxy-headers"]


def create_work_pool(env: dict[str, str]) -> None:
    prefect_cli(work_pool_args(), env, "creating the work pool")


def deploy_all(env: dict[str, str], prefect_file: Path) -> None:
    prefect_cli(deploy_args(prefect_file), env, "deploying prefect.yaml")


def worker_command(name: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *worker_args(name)]


def web_command(host: str, port: int, workers: int, factory: str = "web.app:default_app") -> list[str]:
    return [sys.executable, "-m", "uvicorn", *web_args(host, port, workers, factory)]


def http_ok(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


@dataclass
class Child:
    name: str
    command: list[str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as fh:
            # A process group of its own: stopping it stops what it started (flow-run subprocesses).
            self.proc = subprocess.Popen(self.command, env=env, cwd=PROJECT_ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Stack:
    config: StackConfig
    say: Callable[[str], None] = print
    server: LocalPrefectServer | None = None
    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def web_url(self) -> str:
        return f"http://{self.config.host}:{self.config.web_port}"

    def env(self) -> dict[str, str]:
        """What the workers, the web app and the deploy step see: the application database and the
        Prefect API, never Prefect's database URL (only the server needs that)."""
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
        env.update(quiet_prefect_env(self.config.home / "prefect-client"))
        env.update(self.server.client_env())
        env["DATABASE_URL"] = self.config.database_url
        env.setdefault("PREFECT_UI_URL", self.server.ui_url)
        return env

    def start(self) -> None:
        from endorse.db import upgrade_database

        cfg = self.config
        cfg.check()
        cfg.home.mkdir(parents=True, exist_ok=True)
        self.say("migrating the application database")
        upgrade_database(cfg.database_url)
        self.server = LocalPrefectServer(cfg.home / "prefect-server", host=cfg.host, port=cfg.prefect_port,
                                         database_url=cfg.prefect_database_url, say=self.say)
        self.server.start()
        env = self.env()
        self.say(f"work pool {WORK_POOL!r} and the deployments of {cfg.prefect_file}")
        create_work_pool(env)
        deploy_all(env, cfg.prefect_file)
        logs = cfg.home / "logs"
        self.children = [Child(f"worker-{i}", worker_command(f"endorse-worker-{i}"), logs / f"worker-{i}.log")
                         for i in range(1, cfg.workers + 1)]
        web = web_command(cfg.host, cfg.web_port, cfg.web_workers, cfg.web_factory)
        self.children.append(Child("web", web, logs / "web.log"))
        for child in self.children:
            child.start(env)
        self._wait_ready()
        self._write_status()
        self.say(f"up: Prefect {self.server.ui_url} · web {self.web_url} · {cfg.workers} workers on pool "
                 f"{WORK_POOL!r} · logs {logs}")

    def _wait_ready(self) -> None:
        started = time.monotonic()
        next_word = started + HEALTH_EVERY_SECONDS
        while True:
            if self.stopping.is_set():
                raise StackError("asked to stop before the stack was ready")
            problem = self.problem()
            if problem is None and self._workers_online() >= self.config.workers:
                return
            if problem and problem.startswith("stopped"):
                raise StackError(problem)
            now = time.monotonic()
            if now - started > START_DEADLINE_SECONDS:
                raise StackError(f"not ready after {START_DEADLINE_SECONDS:.0f} s: {problem or 'workers offline'}")
            if now >= next_word:
                self.say(f"waiting for {problem or 'the workers to come online'} ({now - started:.0f} s)")
                next_word = now + HEALTH_EVERY_SECONDS
            time.sleep(0.5)

    def _workers_online(self) -> int:
        req = urllib.request.Request(f"{self.server.api_url}/work_pools/{WORK_POOL}/workers/filter", data=b"{}",
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return sum(w.get("status") == "ONLINE" for w in json.loads(r.read()))
        except OSError:
            return 0

    def problem(self) -> str | None:
        """None when every piece is healthy, else what is wrong (naming its log)."""
        if self.server is None or self.server.proc is None or self.server.proc.poll() is not None:
            return f"stopped: the Prefect server (log {self.config.home / 'prefect-server' / 'server.log'})"
        for child in self.children:
            if not child.alive():
                return f"stopped: {child.name} (exit {child.proc.returncode}; log {child.log}):\n{log_tail(child.log, 2000)}"
        if not api_is_healthy(self.server.api_url, HEALTH_TIMEOUT_SECONDS):
            return f"the Prefect API at {self.server.api_url}/health"
        if not http_ok(f"{self.web_url}/healthz", HEALTH_TIMEOUT_SECONDS):
            return f"the web app at {self.web_url}/healthz"
        return None

    def supervise(self) -> int:
        """Until SIGTERM / Ctrl-C (exit 0), a piece stops, or one fails its health check HEALTH_STRIKES
        times in a row (exit 1)."""
        strikes = 0
        while not self.stopping.wait(HEALTH_EVERY_SECONDS):
            problem = self.problem()
            strikes = strikes + 1 if problem else 0
            if problem and (strikes >= HEALTH_STRIKES or problem.startswith("stopped")):
                self.say(f"unhealthy: {problem}; stopping everything")
                return 1
        return 0

    def stop(self) -> None:
        for child in reversed(self.children):  # the web app first, the server last
            if child.proc is not None:
                stop_process_group(child.proc)
        if self.server is not None:
            self.server.stop()
        (self.config.home / "stack.json").unlink(missing_ok=True)
        self.say("stopped")

    def _write_status(self) -> None:
        status = {"prefect_api": self.server.api_url, "web": self.web_url, "supervisor": os.getpid(),
                  "pids": {"prefect-server": self.server.proc.pid,
                           **{c.name: c.proc.pid for c in self.children}}}
        (self.config.home / "stack.json").write_text(json.dumps(status, indent=2))


def run(config: StackConfig, say=print) -> int:
    """Start, supervise, stop: the body of `endorse up`."""
    stack = Stack(config, say=say)

    def on_signal(signum, _frame) -> None:
        say(f"{signal.Signals(signum).name}: stopping")
        stack.stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        stack.start()
        return stack.supervise()
    except (StackError, PrefectServerError) as exc:
        say(f"endorse up: {exc}")
        return 1
    finally:
        stack.stop()
