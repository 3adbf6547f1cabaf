"""`endorse simulate`: a year of an association's (or the whole Alliance's) activity, generated from
the rulebooks with a seed and lived through the real stack, day by day on the project's clock.

- `plan.py` — the seeded year: who applies when, how each rater, reviewer, coordinator and endorsed
  professional behaves (pure: the same seed gives the same year).
- `actors.py` — the one adapter through which simulated people act: raters and reviewers over HTTP
  from the links in their email, coordinators on the web where a page exists and through the CLI
  otherwise (the list is in its docstring, to switch to the workbench later).
- `year.py` — the stack (`endorse up`'s pieces), the day loop, the seeded faults.
- `days.py` — a day's record, timed by phase, and the SMTP sink with its faults.
- `verdicts.py` — the canonical dump, audit counts, mail by Message-ID, stages against history, and
  the markdown report with its plots.
"""

from __future__ import annotations

from typing import Annotated

import typer


def verdicts_of(result, database_url: str, baseline_dump=None, *, dump: bool = True) -> tuple[dict, dict]:
    """(the verdicts in words, the canonical dump) of a finished year. Without `dump` (a year that is
    compared with no other) the canonical dump is not taken: for the Alliance it is every row of the
    database in memory, minutes of the run for nothing."""
    from endorse.db import make_engine, session_factory
    from endorse_cli.simulate.verdicts import audit_counts, canonical_dump, compare_dumps, mail_verdict, stage_verdict

    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        dump = canonical_dump(database_url) if dump or baseline_dump is not None else None
        mail = mail_verdict(sessions, result.mail_folder)
        wrong = stage_verdict(sessions)
        audits = audit_counts(sessions)
    finally:
        engine.dispose()
    words = {
        "mail": (f"{mail['delivered']} Message-IDs at the sink, {mail['sent_in_outbox']} sent in the outbox; "
                 f"missing {len(mail['missing'])}, unknown {len(mail['unknown'])}, "
                 f"delivered more than once {len(mail['duplicates'])} {sorted(mail['duplicates'])[:10]}; "
                 f"not sent: {mail['not_sent'] or 'none'}"),
        "stages": "every application in the stage its history ends in" if not wrong else "; ".join(wrong[:10]),
        "audit entries by kind": ", ".join(f"{k} {n}" for k, n in sorted(audits.items())),
    }
    if baseline_dump is not None:
        diff = compare_dumps(baseline_dump, dump)
        words["database against the fault-free run"] = "equal, table by table" if not diff else "; ".join(
            f"{t}: {d['only_first']} rows only fault-free, {d['only_second']} only faulted "
            f"(e.g. {d['examples_first'][:1]} / {d['examples_second'][:1]})" for t, d in diff.items())
    return words, {"dump": dump, "mail": mail, "wrong_stages": wrong, "audits": audits}


def simulate(profile_name: str, seed: int, *, home, server_url: str, with_faults: bool, restart_postgres=None,
             say=print, deadline_seconds: float | None = None, faults_server_url: str | None = None,
             faults_restart_postgres=None) -> dict:
    """The year of `profile_name` with `seed`: fault-free, and (with_faults) again with the seeded faults;
    the verdicts, and the report in `home`/report.md. `server_url` is a PostgreSQL server where this
    creates its databases (the application's and Prefect's, per run). With `faults_server_url`
    (another server, restarted by `faults_restart_postgres`) the faulted year lives at the same time
    as the fault-free one, each in a process of its own: half the wall time, and a PostgreSQL
    restart never reaches the fault-free year."""
    from pathlib import Path

    from endorse.rulebook import default_library
    from endorse_cli.simulate.plan import load_profile, plan_year
    from endorse_cli.simulate.verdicts import write_report
    from endorse_cli.simulate.year import Year, fault_plan

    home = Path(home).resolve()  # the clock file and Prefect's home are read by processes in other folders
    profile = load_profile(profile_name, default_library())
    if profile.follows:  # more associations than rulebooks shipped: theirs, written as data (rulebooks.py)
        import os

        from endorse.settings import get_settings
        from endorse_cli.simulate.rulebooks import rules_for

        os.environ["ENDORSE_RULES_DIR"] = str(rules_for(profile.follows, home / "rules"))
        get_settings.cache_clear()
        default_library.cache_clear()
    plan = plan_year(profile, seed)
    runs = [("fault-free", [], server_url, restart_postgres)]
    if with_faults:
        restart = faults_restart_postgres if faults_server_url else restart_postgres
        faults = fault_plan(plan)
        if restart is None:  # `endorse simulate` on a server it does not own
            faults = [f for f in faults if f.kind != "restart_postgres"]
            say("faults: no way to restart this PostgreSQL was given: the PostgreSQL restart is left out")
        runs.append(("faults", faults, faults_server_url or server_url, restart))
    lived: dict = {}
    for name, faults, server, _ in runs:
        import shutil

        shutil.rmtree(home / name, ignore_errors=True)  # a run before this one's mail would be judged with it
        tag = f"sim_{profile_name}_{seed}_{name.replace('-', '_')}"
        lived[name] = (create_database(server, f"{tag}_app"),
                       create_database(server, f"{tag}_prefect").replace("+psycopg", "+asyncpg"))
        say(f"{name}: {len(plan.arrivals)} applications, {len(plan.prologue)} endorsed the year before, "
            f"{len(faults)} faults")
    years = [{"plan": plan, "home": home / name, "database_url": lived[name][0],
              "prefect_database_url": lived[name][1], "faults": faults, "restart_postgres": restart, "say": say,
              "deadline_seconds": deadline_seconds} for name, faults, _, restart in runs]
    if faults_server_url and len(years) == 2:
        results = _at_the_same_time(years)
    else:
        from endorse_cli.prefect_server import free_port

        # One process: its runs share the ports, since Prefect's client keeps the API URL it first read.
        ports = (free_port(), free_port())
        results = [Year(**y, ports=ports).run() for y in years]
    out: dict = {}
    baseline = None
    for (name, *_), result in zip(runs, results):
        app_url = lived[name][0]
        words, facts = verdicts_of(result, app_url, baseline, dump=len(runs) > 1)
        baseline = baseline or facts["dump"]
        from endorse.db import make_engine, session_factory

        engine = make_engine(app_url)
        try:
            report = write_report(home / name, result, words, session_factory(engine))
        finally:
            engine.dispose()
        out[name] = {"result": result, "verdicts": words, "facts": facts, "report": report, "database_url": app_url}
        say(f"{name}: {result.wall_seconds:.0f} s; report {report}")
    return out


def _at_the_same_time(years: list[dict]) -> list:
    """Each year in a process of its own (forked: the environment, the clock and Prefect's client are
    per process), all at once; their results in order, or the first one's error."""
    import multiprocessing
    import queue as queues
    import traceback

    from endorse_cli.simulate.year import Year

    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def live(i: int, year: dict) -> None:
        try:
            results.put((i, Year(**year).run(), None))
        except BaseException:  # noqa: BLE001 - the parent raises it with the run's name
            results.put((i, None, traceback.format_exc()))

    processes = [context.Process(target=live, args=(i, y), name=f"year-{y['home'].name}") for i, y in enumerate(years)]
    for p in processes:
        p.start()
    got: dict = {}
    while len(got) < len(processes):
        try:
            i, result, error = results.get(timeout=5)
            got[i] = (result, error)
        except queues.Empty:  # a process killed from outside says nothing: name it
            for i, p in enumerate(processes):
                if i not in got and p.exitcode is not None:
                    got[i] = (None, f"its process ended with {p.exitcode} before reporting")
    for p in processes:
        p.join()
    failed = [f"{years[i]['home'].name}:\n{e}" for i, (_, e) in sorted(got.items()) if e]
    if failed:
        raise RuntimeError("a simulated year failed: " + "\n".join(failed))
    return [got[i][0] for i in range(len(years))]


def create_database(server_url: str, name: str) -> str:
    """A fresh database `name` on the PostgreSQL server of `server_url` (dropped first if there)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def simulate_command(
    server: Annotated[str, typer.Option("--server", help="PostgreSQL URL of a server the simulation may create "
                                                          "databases on")],
    profile: Annotated[str, typer.Option("--profile", help="small, tiny or alliance "
                                                            "(endorse_cli/simulate/profiles.yaml)")] = "small",
    seed: Annotated[int, typer.Option("--seed", help="the same seed gives the same year")] = 1,
    faults: Annotated[bool, typer.Option("--faults", help="run the year again with faults and compare")] = False,
    home: Annotated[str, typer.Option("--home", help="where the runs, the mail and the report go")] = "var/simulate",
    as_json: Annotated[bool, typer.Option("--json", help="the verdicts as JSON")] = False,
) -> int:
    """Live a seeded year of activity through the real stack and judge what it left.

    Applications arrive, raters and reviewers answer through the web, coordinators act, the sweep and the
    outbox run day by day on the project's clock; with --faults the same year runs again while the
    worker, the web app, the Prefect server and SMTP fail, and the two end states are compared. (A
    PostgreSQL restart is left out here: --server is not the simulation's to restart; the test
    restarts a cluster of its own.)
    """
    import json

    from endorse_cli.output import UsageError

    if not server.startswith("postgresql"):
        raise UsageError("--server: a PostgreSQL URL where the simulation may create databases "
                         "(postgresql+psycopg://user@host:port/postgres)")
    out = simulate(profile, seed, home=home, server_url=server, with_faults=faults)
    for name, run in out.items():
        print(f"{name}: {run['report']}")
        for k, v in run["verdicts"].items():
            print(f"  {k}: {v}")
    if as_json:
        print(json.dumps({n: {"verdicts": r["verdicts"], "wall_seconds": r["result"].wall_seconds}
                          for n, r in out.items()}, indent=2))
    return 0
