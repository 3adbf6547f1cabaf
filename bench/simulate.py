"""Issue 18, item 5: the whole Alliance's year (profile `alliance`: 40 associations, the 5 shipped and
35 simulated ones following them, endorse_cli/simulate/rulebooks.py; 20,000 applications, 30,000
endorsed the year before, so ~60,000 rating requests and 30,000 renewals) through the real stack,
fault-free, on a throwaway PostgreSQL.

It reports the wall time, how far the year got if a deadline (ENDORSE_BENCH_SIMULATE_SECONDS,
default 4 h) stops it first, and the year's figures (throughput, time in stage, mail latency).
`python -m bench simulate` runs it alone; ENDORSE_BENCH_SIMULATE_PROFILE picks another profile
(e.g. small) to try the suite quickly. Where the time goes: the year before (its set-up) and the
seconds per simulated day by phase (days.PHASES); when the deadline stops the year, a projection of
the whole year from the days lived, stated as one. The run's folder (report.md, the day log) stays
in var/simulate/bench-<profile>/.
"""

from __future__ import annotations

import os
import shutil
import time
from statistics import mean


def run() -> list[dict]:
    from endorse.db import make_engine, session_factory
    from endorse.settings import PROJECT_ROOT
    from endorse_cli.simulate import simulate
    from endorse_cli.simulate.days import PHASES
    from endorse_cli.simulate.verdicts import figures
    from tests.pg_cluster import throwaway_cluster

    profile = os.environ.get("ENDORSE_BENCH_SIMULATE_PROFILE", "alliance")
    deadline = float(os.environ.get("ENDORSE_BENCH_SIMULATE_SECONDS", str(4 * 3600)))
    started = time.monotonic()
    home = PROJECT_ROOT / "var" / "simulate" / f"bench-{profile}"
    shutil.rmtree(home, ignore_errors=True)
    with throwaway_cluster() as server:
        out = simulate(profile, 1, home=home, server_url=server, with_faults=False,
                       deadline_seconds=deadline)["fault-free"]
        engine = make_engine(out["database_url"])
        try:
            numbers = figures(out["result"], session_factory(engine))
        finally:
            engine.dispose()
    result, facts = out["result"], out["facts"]
    days, planned = len(result.days), result.plan.profile.days
    reached = "the whole year" if days == planned else f"stopped by the deadline ({deadline:.0f} s) after {days} days"
    case = f"{profile}: {len(set(result.plan.profile.associations))} associations"
    rows = [
        {"benchmark": "simulate", "case": f"{case}, a year through the stack", "value": round(time.monotonic() - started),
         "unit": "s wall", "goal": "runs here",
         "notes": f"{reached}; planned {len(result.plan.arrivals)} applications, {len(result.plan.prologue)} "
                  f"endorsed the year before"},
        {"benchmark": "simulate", "case": f"{case}: simulated days lived", "value": days, "unit": "days",
         "notes": f"of {planned}"},
    ]
    before = result.prologue
    rows.append({"benchmark": "simulate", "case": f"{case}: the year before (set-up)",
                 "value": round(sum(d.seconds for d in before)), "unit": "s wall",
                 "notes": "; ".join(f"{d.arrivals} imported and decided: " + ", ".join(
                     f"{k} {d.phases.get(k, 0):.0f} s" for k in PHASES if d.phases.get(k)) for d in before)})
    if days:
        per_day = {k: mean(d.phases.get(k, 0.0) for d in result.days) for k in PHASES}
        rows.append({"benchmark": "simulate", "case": f"{case}: seconds per simulated day", "unit": "s",
                     "value": round(mean(d.seconds for d in result.days), 1),
                     "notes": "by phase: " + ", ".join(f"{k} {v:.1f}" for k, v in per_day.items())
                              + f"; slowest day {max(d.seconds for d in result.days):.0f} s"})
        if days < planned:
            rows.append({"benchmark": "simulate", "case": f"{case}: projected wall time of the whole year",
                         "value": round(sum(d.seconds for d in before) + mean(d.seconds for d in result.days) * planned),
                         "unit": "s (projection)",
                         "notes": f"a projection, not a measurement: the year before plus {planned} days at the mean "
                                  f"of the {days} days lived (which need not be typical: a renewal wave, an exam "
                                  f"sitting, the open applications growing through the year)"})
    for key in ("applications arrived", "rating requests issued", "ratings submitted", "decisions recorded",
                "renewals recorded", "emails delivered", "mail latency p50 s", "mail latency p95 s"):
        rows.append({"benchmark": "simulate", "case": f"{case}: {key}", "value": numbers[key],
                     "unit": "s" if key.endswith(" s") else "count"})
    rows.append({"benchmark": "simulate", "case": f"{case}: median simulated days in stage", "value": "",
                 "unit": "", "notes": ", ".join(f"{k} {v}" for k, v in numbers["median simulated days in stage"].items())})
    rows.append({"benchmark": "simulate", "case": f"{case}: emails delivered more than once",
                 "value": len(facts["mail"]["duplicates"]), "unit": "messages"})
    return rows
