"""What every command group shares: the options a coordinator types again and again, dates, the
database, the refusal of bad input (exit 2), and the reconcile that follows an event."""

from __future__ import annotations

import contextlib
import functools
from datetime import date
from typing import Annotated, Optional

import typer

from endorse_cli.output import UsageError

# The options most commands take, declared once so that each reads the same in every --help.
By = Annotated[str, typer.Option("--by", help="your email as a coordinator (it goes in the audit log)")]
OptionalBy = Annotated[Optional[str], typer.Option("--by", help="who does it (the audit log)")]
AsOf = Annotated[Optional[str], typer.Option("--as-of", metavar="YYYY-MM-DD",
                                             help="the day to act as of (default: today)")]
On = Annotated[str, typer.Option("--on", metavar="YYYY-MM-DD", help="the day it happened")]
NoReconcile = Annotated[bool, typer.Option("--no-reconcile",
                                           help="record only; the next sweep moves the application")]
Json = Annotated[bool, typer.Option("--json", help="print the same data as JSON, for scripts")]
Note = Annotated[Optional[str], typer.Option("--note", help="what you want the next coordinator to know")]


def parse_date(value: str, option: str | None = None) -> date:
    """A date written YYYY-MM-DD, or a usage error naming the option."""
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        where = f"{option}: " if option else ""
        raise UsageError(f"{where}{value!r} is not a date written YYYY-MM-DD") from None


def as_of_date(value: str | None) -> date:
    return date.today() if value is None else parse_date(value, "--as-of")


def refusals(fn):
    """A command whose action refuses what it cannot find or accept (LookupError, ValueError): the
    refusal is the coordinator's one line, exit 2, and nothing is written (the action's transaction
    never committed)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (LookupError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    return wrapped


def sessions():
    """The application database, migrated to the current schema."""
    from endorse.db import default_session_factory, upgrade_database

    upgrade_database()
    return default_session_factory()


def sessions_with_associations():
    """The database with every association of the rulebooks in it (and its profile applied, audited)."""
    from endorse.db import transaction
    from endorse.rulebook import default_library
    from tasks.intake.records import ensure_associations

    factory = sessions()
    with transaction(factory) as s:
        ensure_associations(s, default_library())
    return factory


def secret() -> str:
    from endorse.settings import get_settings

    return get_settings().secret_key.get_secret_value()


def pipeline_config(actor: str):
    from endorse.clock import today
    from endorse.rulebook import default_library
    from tasks.config import PipelineConfig

    # The project's clock: today, or the day a simulated year has reached (endorse/clock.py).
    return PipelineConfig(library=default_library(), as_of=today(), secret_key=secret(), actor=actor)


def coordinator(by: str) -> str:
    return f"coordinator:{by}"


def after_event(application_id: str, as_of: str | None = None, no_reconcile: bool = False) -> None:
    """An event triggers a reconcile: on the Prefect server when one is configured, else here. The
    action has committed already; if Prefect cannot take it, one line says so and the sweep catches up."""
    if no_reconcile:
        return
    from endorse_cli.output import reconcile_line
    from flows.after_event import reconcile_after_event

    line, outcome = reconcile_after_event(application_id, as_of)
    print(reconcile_line(application_id, outcome) if outcome is not None else line)


@contextlib.contextmanager
def prefect_for_this_command():
    """A flow run here (``endorse sweep``, ``endorse outbox deliver``, ``endorse serve``) reports to a
    Prefect API: the configured one (PREFECT_API_URL: ``endorse up``, a server of the association's), or
    else a real local server started as a child of this command under the data folder
    (endorse_cli/prefect_server.py), waited for as long as its first start takes. Never Prefect's own
    temporary server: it gives up after 20 s, which a busy machine misses (a coordinator's
    ``endorse outbox deliver`` then ended in a traceback)."""
    from flows.after_event import prefect_api_url

    if prefect_api_url():
        yield None
        return
    from endorse.settings import get_settings
    from endorse_cli.prefect_server import LocalPrefectServer

    with LocalPrefectServer(get_settings().data_dir / "prefect-server") as server:
        server.use_in_this_process()
        yield server


def no_application(application_id: str) -> str:
    """Say which data was searched, and where the demo's is when that is elsewhere."""
    import os

    from endorse.settings import get_settings
    from endorse_cli.demo import DEMO_DIR
    from endorse_cli.output import no_application as line

    settings = get_settings()
    if settings.database_url:
        from sqlalchemy.engine import make_url

        where = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    else:
        where = str(settings.data_dir)
    demo = (DEMO_DIR / "endorse.sqlite3").exists() and settings.data_dir.resolve() != DEMO_DIR.resolve()
    return line(application_id, where, os.path.relpath(DEMO_DIR) if demo else None)


def coordinators_association(by: str) -> str:
    """The association of the active coordinator account ``--by`` names: what they may act on (people change,
    portfolios are handled, only through one's own association)."""
    from sqlalchemy import select

    from models import CoordinatorAccount, Person

    with sessions()() as s:
        code = s.scalars(select(CoordinatorAccount.association_code)
                         .join(Person, Person.id == CoordinatorAccount.person_id)
                         .where(Person.email_normalized == by.strip().casefold(),
                                CoordinatorAccount.active.is_(True))).first()
    if code is None:
        raise LookupError(f"--by: {by} is not an active coordinator account")
    return code
