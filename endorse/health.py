"""Liveness and readiness of the web app: can it reach what it needs right now?

Each check is short (a few seconds at most) and says in one line what is wrong; nothing it
reports carries a secret (URLs are shown without user:password, SMTP is only greeted, never logged
in to).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import asdict, dataclass
from typing import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def database_check(sessions: sessionmaker[Session]) -> Check:
    try:
        with sessions() as s:
            s.execute(text("SELECT 1"))
        return Check("database", True, "answers")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is shown
        return Check("database", False, one_line(exc))


def prefect_check(api_url: str | None, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    from flows.after_event import prefect_problem, shown

    if not api_url:
        return Check("prefect", True, "not configured: events reconcile in the web process, the sweep catches up")
    problem = prefect_problem(api_url, timeout)
    return Check("prefect", problem is None, f"{shown(api_url)} " + ("answers" if problem is None else problem))


def smtp_check(host: str, port: int, tls: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    """Connect and wait for the server's 220 greeting (implicit TLS on 'tls'); then QUIT. No login."""
    where = f"{host}:{port}"
    try:
        if tls == "tls":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        try:
            client.noop()
        finally:
            client.quit()
        return Check("smtp", True, f"{where} answers")
    except Exception as exc:  # noqa: BLE001 - refused, timed out, bad greeting: all mean email waits
        return Check("smtp", False, f"{where} {one_line(exc)}")


def readiness(checks: list[Callable[[], Check]]) -> tuple[bool, dict]:
    results = [c() for c in checks]
    ok = all(r.ok for r in results)
    return ok, {"status": "ready" if ok else "not ready", "checks": {r.name: asdict(r) for r in results}}


def one_line(exc: BaseException) -> str:
    """An exception as one short line (no traceback) for a coordinator or a log."""
    return (" ".join(str(exc).split()) or type(exc).__name__)[:200]
