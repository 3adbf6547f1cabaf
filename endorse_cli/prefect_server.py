"""A real local Prefect server as a child process: the demo, the tests and `endorse up` start it here.

Prefect's ephemeral server gives up after 20 s, which a busy 2-core machine misses on a first run
(migrations and the UI build take longer). This one listens on a free loopback port (or the one
asked for), keeps its own PREFECT_HOME, waits for ``/api/health`` with a deadline counted in minutes
and says how long it has waited every few seconds; it stops with SIGTERM to its process group,
then SIGKILL after a grace period, so nothing outlives it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

START_DEADLINE_SECONDS = 600.0
PROGRESS_EVERY_SECONDS = 5.0
STOP_GRACE_SECONDS = 20.0

# On a SQLite Prefect server a burst of runs meets "database is locked": creating a flow run reads,
# then writes, in one deferred transaction, and SQLite refuses the upgrade at once when another
# writer got in first (no busy timeout waits that out; Prefect takes the write lock up front only
# for its with_for_update transactions: prefect/server/database/configurations.py). The server
# answers 503 and its clients retry with backoff; a burst of 12 reconciles met 10 to 12 such 503s
# and every run completed. More retries than Prefect's 5 give a busier machine room. Beyond a
# development machine Prefect runs on PostgreSQL (`endorse up`).
SQLITE_DEV_SETTINGS = {"PREFECT_CLIENT_MAX_RETRIES": "12"}


class PrefectServerError(RuntimeError):
    """The server did not come up (the message carries the end of its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def quiet_prefect_env(home: Path) -> dict[str, str]:
    """What every Prefect process we start shares: its home, no telemetry."""
    return {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def api_is_healthy(api_url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def stop_process_group(proc: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM to the child's process group, SIGKILL whatever is left after ``grace`` seconds."""
    if proc.poll() is not None:
        _kill_group(proc.pid, signal.SIGKILL)  # a grandchild may outlive its parent
        return
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(proc.pid, signal.SIGKILL)
    proc.wait()


def die_with_parent() -> None:
    """``preexec_fn`` of every child we start: Linux sends it SIGTERM when its parent dies, so a
    supervisor killed with SIGKILL (or the OOM killer) leaves no server, worker or web app behind."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def log_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


class LocalPrefectServer:
    """``with LocalPrefectServer(home) as server:`` … ``server.api_url``.

    ``database_url`` (PREFECT_API_DATABASE_CONNECTION_URL) puts Prefect on PostgreSQL; without it
    Prefect keeps a SQLite file in ``home``.
    """

    def __init__(self, home: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 database_url: str | None = None, start_deadline: float = START_DEADLINE_SECONDS,
                 say: Callable[[str], None] | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.host = host
        self.port = port or free_port(host)
        self.database_url = database_url
        self.start_deadline = start_deadline
        self.say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.extra_env = extra_env or {}
        self.log_path = self.home / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def _connect_host(self) -> str:
        # Listening on every interface: this host's own processes still connect over loopback.
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def api_url(self) -> str:
        return f"http://{self._connect_host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self._connect_host}:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment for a process that talks to this server (its own PREFECT_HOME is up to it)."""
        env = {"PREFECT_API_URL": self.api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
        if not self.database_url:
            env.update(SQLITE_DEV_SETTINGS)
        return env

    def use_in_this_process(self) -> None:
        """Point this process's Prefect client at this server. Prefect reads its settings once, when it is
        first imported: a process that imported it before (a pytest worker that ran other tests first,
        then forked a simulated year) would keep talking to a temporary server of Prefect's own, so its
        global settings are read again from the environment just set."""
        os.environ.update(self.client_env())
        if "prefect.context" in sys.modules:
            sys.modules["prefect.context"].refresh_global_settings_context()

    def server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(quiet_prefect_env(self.home))
        env.setdefault("PREFECT_UI_API_URL", self.api_url)  # behind a proxy or another name: the operator's
        if self.database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        else:
            env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
            env.update(SQLITE_DEV_SETTINGS)
        env.update(self.extra_env)
        return env

    def start(self) -> LocalPrefectServer:
        # Another server on the port would answer the health check in this one's place.
        with socket.socket() as s:
            if s.connect_ex((self._connect_host, self.port)) == 0:
                raise PrefectServerError(f"{self.host}:{self.port} is already in use: cannot start the Prefect "
                                         f"server there (log {self.log_path})")
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port)],
                env=self.server_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent)
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self) -> None:
        started = time.monotonic()
        next_word = started + PROGRESS_EVERY_SECONDS
        while not api_is_healthy(self.api_url):
            now = time.monotonic()
            if self.proc is not None and self.proc.poll() is not None:
                raise PrefectServerError(f"the Prefect server exited with {self.proc.returncode} before answering "
                                         f"(log {self.log_path}):\n{log_tail(self.log_path)}")
            if now - started > self.start_deadline:
                raise PrefectServerError(f"the Prefect server did not answer {self.api_url}/health within "
                                         f"{self.start_deadline:.0f} s (log {self.log_path}):\n{log_tail(self.log_path)}")
            if now >= next_word:
                self.say(f"waiting for the Prefect server on {self.ui_url} ({now - started:.0f} s; first start "
                         f"runs its migrations; log: {self.log_path})")
                next_word = now + PROGRESS_EVERY_SECONDS
            time.sleep(0.5)
        self.say(f"Prefect server ready at {self.ui_url} after {time.monotonic() - started:.0f} s")

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, grace)

    def __enter__(self) -> LocalPrefectServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
