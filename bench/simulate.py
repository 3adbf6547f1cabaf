"""Issue 18, item 5: the whole Alliance's year (profile `alliance`: ~40 associations over the shipped
rulebooks, 20,000 applications, 30,000 endorsed the year before, so ~60,000 rating requests and
30,000 renewals) through the real stack, fault-free, on a throwaway PostgreSQL.

It reports the wall time, and how far the year got if a deadline (ENDORSE_BENCH_SIMULATE_SECONDS,
default 4 h) stops it first. `python -m bench simulate` runs it alone; ENDORSE_BENCH_SIMULATE_PROFILE
picks another profile (e.g. small) to try the suite quickly.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def run() -> list[dict]:
    from endorse_cli.simulate import simulate
    from tests.pg_cluster import throwaway_cluster

    profile = os.environ.get("ENDORSE_BENCH_SIMULATE_PROFILE", "alliance")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="endorse-simulate-") as home, throwaway_cluster() as server:
        run_ = simulate(profile, 1, home=Path(home), server_url=server, with_faults=False,
                        deadline_seconds=float(os.environ.get("ENDORSE_BENCH_SIMULATE_SECONDS", str(4 * 3600))))["fault-free"]
    result, facts = run_["result"], run_["facts"]
    days = len(result.days)
    return [
        {"benchmark": "simulate", "case": f"{profile}: a year ({days} simulated days) through the stack",
         "value": round(time.monotonic() - started, 1), "unit": "s wall", "goal": "runs here",
         "notes": f"{len(result.plan.arrivals)} applications, {len(result.plan.prologue)} endorsed the year before"},
        {"benchmark": "simulate", "case": f"{profile}: emails delivered", "value": facts["mail"]["delivered"],
         "unit": "messages", "notes": f"{len(facts['mail']['duplicates'])} delivered twice"},
        {"benchmark": "simulate", "case": f"{profile}: audit entries", "value": sum(facts["audits"].values()),
         "unit": "entries", "notes": ", ".join(f"{k} {n}" for k, n in facts["audits"].most_common(5))},
    ]
