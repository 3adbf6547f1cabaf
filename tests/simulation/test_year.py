"""Issue 18: a year of one association lived through the real stack, then again with faults.

The small profile (endorse_cli/simulate/profiles.yaml): applications of every category arriving
through the year, raters who answer, answer late, decline, answer "not enough information", bounce or
never answer, transcripts arriving, vetting, determinations, replacements, exam sittings with essays
and reviewers, renewals with lapses and reinstatements. PostgreSQL, the Prefect server, a worker,
the web app over HTTP, an SMTP sink; the two years live at once, each on a PostgreSQL cluster of this
test's own (so the faulted one can be restarted). Part of `make test` (its own xdist group). The
reports of the last run stay in var/simulate/test-small-18/{fault-free,faults}/report.md with their
plots.
"""

from __future__ import annotations

import pytest

from endorse.settings import PROJECT_ROOT
from endorse_cli.simulate import simulate

pytestmark = [pytest.mark.simulation, pytest.mark.postgres, pytest.mark.prefect_server,
              pytest.mark.xdist_group("simulation")]

SEED = 18


def test_a_year_with_faults_ends_as_the_same_year_without_them():
    from tests.pg_cluster import restart_cluster, throwaway_cluster

    home = PROJECT_ROOT / "var" / "simulate" / f"test-small-{SEED}"
    # The two years at once, each on a PostgreSQL cluster of its own (the faulted one is restarted).
    with throwaway_cluster() as server, throwaway_cluster() as faulted_server:
        out = simulate("small", SEED, home=home, server_url=server, with_faults=True, faults_server_url=faulted_server,
                       faults_restart_postgres=lambda: restart_cluster(faulted_server), say=print)
    clean, faulted = out["fault-free"], out["faults"]
    for name, run in out.items():
        mail = run["facts"]["mail"]
        # Every email the outbox sent reached the sink, and nothing else did.
        assert mail["missing"] == [] and mail["unknown"] == [], (name, mail)
        # Delivery runs in the simulator's own process, never killed: no at-least-once window opened.
        assert mail["duplicates"] == {}, (name, mail["duplicates"])
        assert mail["not_sent"] == {}, (name, mail["not_sent"])  # nothing queued, failed or stuck sending
        assert run["facts"]["wrong_stages"] == [], (name, run["facts"]["wrong_stages"])
        # The report and its plots: throughput, time in stage, mail latency, faults.
        assert run["report"].read_text().count("![") == 4
        for plot in ("throughput", "time_in_stage", "mail_latency", "faults"):
            assert (run["report"].parent / f"{plot}.png").stat().st_size > 0, plot
    # The year happened: decisions, ratings, renewals, lapses.
    audits = clean["facts"]["audits"]
    for kind in ("stage.changed", "rating.submitted", "renewal.met", "decision.recorded"):
        assert audits.get(kind, 0) > 0, (kind, dict(audits))
    # Every seeded fault was injected and survived.
    survived = " ".join(faulted["result"].faults_survived)
    for what in ("SIGKILL worker", "SIGKILL web", "SIGKILL prefect", "SMTP refusing", "SMTP slow",
                 "PostgreSQL restarted", "overlapping sweeps"):
        assert what in survived, (what, faulted["result"].faults_survived)
    # The same year: the database table by table, and the audit log by kind.
    assert faulted["verdicts"]["database against the fault-free run"] == "equal, table by table"
    assert faulted["facts"]["audits"] == audits
