"""`make bench`: every benchmark, printed as a table and written to bench/results/latest.json."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

SUITES = ["bench.evaluate", "bench.essay_assignment", "bench.sweep", "bench.outbox", "bench.rating_form",
          "bench.simulate"]


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)}


def main(argv: list[str]) -> int:
    wanted = [a for a in argv if not a.startswith("-")]
    rows: list[dict] = []
    failures = []
    for name in SUITES:
        short = name.split(".")[-1]
        if wanted and short not in wanted:
            continue
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that feature has not landed yet
            raise
        t = time.perf_counter()
        try:
            got = mod.run()
        except Exception as exc:  # report and go on: one broken suite must not hide the others
            failures.append(f"{short}: {exc!r}")
            continue
        for r in got:
            r.setdefault("suite", short)
        rows.extend(got)
        print(f"[{short}] done in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    width = max((len(r["case"]) for r in rows), default=10)
    print(f"{'benchmark':<18} {'case':<{width}}  {'value':>12} {'unit':<16} {'goal':<12} notes")
    for r in rows:
        print(f"{r['benchmark']:<18} {r['case']:<{width}}  {r['value']:>12} {r['unit']:<16} {r.get('goal', ''):<12} {r.get('notes', '')}")
    out = Path(__file__).parent / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if wanted and out.exists():
        # Running some suites only: keep the other suites' latest figures.
        previous = json.loads(out.read_text()).get("results", [])
        rows = [r for r in previous if r.get("suite") not in wanted] + rows
    out.write_text(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": machine(), "results": rows, "failures": failures}, indent=2) + "\n")
    print(f"\nwritten to {out}")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
