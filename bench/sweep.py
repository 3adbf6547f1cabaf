"""The sweep over 10,000 open applications (SQLite and PostgreSQL), beside a naive baseline that runs one
Prefect flow per application on 100 applications."""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

AS_OF = date(2026, 11, 22)


def _load(url: str, n: int) -> None:
    from bench.generate import applications
    from endorse.db import make_engine, session_factory, transaction, upgrade_database
    from endorse.documents import ApplicationDocument
    from endorse.rulebook import default_library
    from tasks.intake.records import ensure_associations, save_document

    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    docs = [ApplicationDocument.model_validate_json(json.dumps(d)) for d in applications(n)]
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    for i in range(0, n, 500):
        with transaction(sessions) as s:
            for d in docs[i:i + 500]:
                save_document(s, d, actor="bench")


def _use(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    from endorse.db import default_session_factory
    from endorse.settings import get_settings

    get_settings.cache_clear()
    default_session_factory.cache_clear()


def run(n: int = 10_000, naive_n: int = 100) -> list[dict]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    tmp = Path(tempfile.mkdtemp(prefix="endorse-bench-"))
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    from flows.reconcile import reconcile_application
    from flows.sweep import sweep
    from prefect import flow

    @flow
    def warm_up() -> None:  # the ephemeral server's first start is not part of any figure
        return None

    warm_up()
    rows = []
    with ExitStack() as stack:
        from tests.pg_cluster import throwaway_cluster

        targets = [("SQLite", f"sqlite:///{tmp / 'bench.sqlite3'}"), ("PostgreSQL", stack.enter_context(throwaway_cluster()))]
        for label, url in targets:
            t = time.perf_counter()
            _load(url, n)
            load_s = time.perf_counter() - t
            _use(url)
            t = time.perf_counter()
            first = sweep(batch_size=1000, as_of=AS_OF.isoformat())
            first_s = time.perf_counter() - t
            t = time.perf_counter()
            steady = sweep(batch_size=1000, as_of=AS_OF.isoformat())
            steady_s = time.perf_counter() - t
            rows.append({"benchmark": "sweep", "case": f"{label}: {n} open applications, steady state",
                         "value": round(steady_s, 2), "unit": "s", "goal": "<= 10 s",
                         "notes": f"{steady['evaluated']} evaluated, {steady['transitions']} moved"})
            rows.append({"benchmark": "sweep", "case": f"{label}: {n} applications, first sweep after import",
                         "value": round(first_s, 2), "unit": "s", "goal": "",
                         "notes": f"{first['transitions']} transitions, each its own transaction; import took {load_s:.0f} s"})
            if label == "SQLite":
                from endorse.db import default_session_factory
                from tasks.pipeline.reconcile import open_application_ids

                with default_session_factory()() as s:
                    ids = open_application_ids(s)[:naive_n]
                t = time.perf_counter()
                for app_id in ids:  # the naive design: one flow run per application per check
                    reconcile_application(app_id, AS_OF.isoformat())
                naive_s = time.perf_counter() - t
                per_naive = naive_s / len(ids)
                per_sweep = steady_s / max(steady["evaluated"], 1)
                rows.append({"benchmark": "sweep", "case": f"naive: one flow per application, {len(ids)} applications",
                             "value": round(naive_s, 2), "unit": "s", "goal": "",
                             "notes": f"{per_naive * 1000:.0f} ms per application"})
                rows.append({"benchmark": "sweep", "case": "per-application cost ratio naive / sweep",
                             "value": round(per_naive / per_sweep), "unit": "x", "goal": ">= 100x",
                             "notes": f"sweep {per_sweep * 1000:.2f} ms per application"})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
