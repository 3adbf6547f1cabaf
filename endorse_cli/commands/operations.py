"""Running endorse: ``endorse setup`` (first run), ``serve`` (one process), ``up`` (the production stack
on one host), ``backup`` and ``restore``, ``automations apply`` (the coordinators' alerts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from endorse_cli.commands.common import prefect_for_this_command, refusals, sessions
from endorse_cli.output import EXIT_FAILURE, EXIT_OK, UsageError

automations = typer.Typer(no_args_is_help=True,
                          help="Prefect automations that alert the coordinators (kept in automations.yaml).")

Host = Annotated[str, typer.Option("--host", help="the address to listen on")]
PrefectFile = Annotated[Optional[str], typer.Option(
    "--prefect-file", metavar="FILE", help="the deployments and their schedules (default: the project's prefect.yaml)")]


def setup(
    association: Annotated[Optional[str], typer.Option(help="association code (its rulebook is in rules/associations/)")] = None,
    full_name: Annotated[Optional[str], typer.Option()] = None,
    short_name: Annotated[Optional[str], typer.Option()] = None,
    coordinator_name: Annotated[Optional[str], typer.Option(help="who replies reach")] = None,
    coordinator_email: Annotated[Optional[str], typer.Option(help="Reply-To of every email")] = None,
    sender_name: Annotated[Optional[str], typer.Option()] = None,
    sender_email: Annotated[Optional[str], typer.Option(help="From of every email (default: the coordinator's email)")] = None,
    signature: Annotated[Optional[str], typer.Option(help="closes every email; \\n for a new line")] = None,
    public_base_url: Annotated[Optional[str], typer.Option(
        help="where links in emails point, e.g. https://endorse.mi-aimh.org")] = None,
    time_zone: Annotated[Optional[str], typer.Option(help="IANA name, e.g. America/Detroit")] = None,
    phone: Annotated[Optional[str], typer.Option(help="the association's phone, shown under emails (optional)")] = None,
    website: Annotated[Optional[str], typer.Option(help="the association's website, shown under emails (optional)")] = None,
    account_name: Annotated[Optional[str], typer.Option(
        help="the first coordinator account (default: the coordinator)")] = None,
    account_email: Annotated[Optional[str], typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option(help="read the account's password from standard input")] = False,
    no_test_email: Annotated[bool, typer.Option(help="do not check the SMTP settings")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="take the default of every question not given by a flag")] = False,
) -> int:
    """First run: your association's profile, your coordinator account, a test email.

    Your association's profile (who emails come from, where links point), your coordinator account, and a
    test email through the SMTP settings. Asks each question (Enter keeps the default in brackets); every
    answer also has a flag, for scripts.
    """
    given = dict(locals())  # the parameters, before anything else is named here
    from endorse_cli.setup import SetupFlags, cmd_setup

    return cmd_setup(SetupFlags(**given))


@refusals
def serve(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="the web app's port")] = 8000,
    web_only: Annotated[bool, typer.Option("--web-only", help="only the web app (deployments served elsewhere)")] = False,
    prefect_file: PrefectFile = None,
) -> int:
    """Run endorse in one process: the web app and the scheduled runs.

    The web app (rating and review links, the coordinator's pages) and the Prefect deployments on their
    schedules (sweep, outbox, renewals). Without PREFECT_API_URL a local Prefect server is started too, and
    stopped on exit (Ctrl-C or SIGTERM).
    """
    import contextlib
    import signal
    import threading

    import uvicorn

    from endorse.settings import SECRET_FILE, check_can_serve, get_settings
    from web.guard import uvicorn_config

    settings = get_settings()  # in development this makes the secret key file on first start
    check_can_serve(settings, host)
    if (settings.data_dir / SECRET_FILE).is_file() and "ENDORSE_SECRET_KEY" not in os.environ:
        print(f"secret key: {settings.data_dir / SECRET_FILE} (set ENDORSE_SECRET_KEY to use your own)")
    sessions()
    from flows.deployments import serve_deployments

    with contextlib.ExitStack() as stack:
        if not web_only:
            stack.enter_context(prefect_for_this_command())
        from web.app import default_app

        # Shutdown is prompt: open keep-alive connections get a few seconds, not uvicorn's unbounded wait.
        config = uvicorn_config(default_app(), host=host, port=port, trusted_proxies=settings.trusted_proxy_list)
        config.timeout_graceful_shutdown = 3
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        # SIGTERM (systemd, docker stop, kill) ends the command like Ctrl-C does, through the same clean-up.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if web_only:
                threading.Event().wait()
            serve_deployments(**({"prefect_yaml": Path(prefect_file)} if prefect_file else {}))
        except KeyboardInterrupt:
            print("stopping", flush=True)
        finally:
            server.should_exit = True
            thread.join(5)
    return EXIT_OK


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def up(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="the web app's port")] = 8000,
    prefect_port: Annotated[int, typer.Option("--prefect-port")] = 4200,
    workers: Annotated[int, typer.Option("--workers", help="Prefect workers on the process work pool 'endorse'")] = 2,
    web_workers: Annotated[int, typer.Option("--web-workers", help="uvicorn worker processes of the web app")] = 2,
    prefect_file: PrefectFile = None,
    home: Annotated[Optional[str], typer.Option("--home", metavar="DIR",
                                                help="logs and state (default: ENDORSE_DATA_DIR/stack)")] = None,
) -> int:
    """Run the production stack on this host (PostgreSQL).

    The Prefect server and workers and the web app, PostgreSQL for both databases, supervised until SIGTERM
    or Ctrl-C (deploy/systemd/endorse-up.service runs it).
    """
    from endorse.settings import get_settings
    from endorse_cli.stack import StackConfig, StackError, run

    settings = get_settings()
    if not settings.database_url:
        raise UsageError("endorse up: set DATABASE_URL to the application's PostgreSQL database")
    config = StackConfig(home=Path(home) if home else settings.data_dir / "stack",
                         database_url=settings.sqlalchemy_url,
                         prefect_database_url=os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL", ""),
                         host=host, prefect_port=prefect_port, web_port=port, workers=workers, web_workers=web_workers,
                         **({"prefect_file": Path(prefect_file)} if prefect_file else {}))
    try:
        config.check()
    except StackError as exc:
        raise UsageError(f"endorse up: {exc}") from None
    return run(config, say=lambda msg: print(f"[up] {msg}", flush=True))


BackupFile = Annotated[str, typer.Argument(metavar="PATH", help="the backup file")]


def backup(
    path: BackupFile,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> int:
    """Back up the application database to a file.

    SQLite: an online backup; PostgreSQL: pg_dump's custom format. Run it before an upgrade, and on a
    schedule.
    """
    from endorse_cli.backup import backup as write_backup

    return _backup_step(write_backup, path, force)


def restore(
    path: BackupFile,
    force: Annotated[bool, typer.Option("--force", help="replace what the database holds")] = False,
) -> int:
    """Restore the application database from a backup file.

    A database that already holds rows is refused unless --force.
    """
    from endorse_cli.backup import restore as read_backup

    return _backup_step(read_backup, path, force)


def _backup_step(step, path: str, force: bool) -> int:
    from endorse.settings import get_settings
    from endorse_cli.backup import BackupError

    try:
        print(step(get_settings().sqlalchemy_url, Path(path), force=force))
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


@automations.command("apply")
def automations_apply(
    file: Annotated[Optional[str], typer.Option("--file", metavar="FILE",
                                                help="default: the project's automations.yaml")] = None,
) -> int:
    """Create or update (by name) the automations on the Prefect server at PREFECT_API_URL.

    The alerts that tell coordinators when a scheduled run fails or stops running.
    """
    from flows.after_event import prefect_api_url, prefect_problem, shown
    from flows.automations import AutomationsError, apply_automations

    api = prefect_api_url()
    if not api:
        raise UsageError("automations apply: set PREFECT_API_URL to the Prefect server's API (e.g. http://127.0.0.1:4200/api)")
    problem = prefect_problem(api)
    if problem is not None:
        print(f"Prefect at {shown(api)} is not reachable ({problem}): nothing applied")
        return EXIT_FAILURE
    try:
        results = apply_automations(api, Path(file)) if file else apply_automations(api)
    except AutomationsError as exc:
        raise UsageError(str(exc)) from None
    for name, what in results:
        print(f"{what:<9} {name}")
    return EXIT_OK
