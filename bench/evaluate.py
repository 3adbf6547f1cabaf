"""Evaluate throughput: 10,000 generated applications.

In process (parse, evaluate) and end to end: ``endorse evaluate FOLDER --json`` on a folder of
10,000 files, as a user runs it (process start, rulebooks, reading, validating, evaluating, writing
the JSON to a pipe), on one core (``--workers 1``) and spread over the cores.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.generate import applications
from endorse.collector import cycle_collector_paused
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from tasks.eligibility.evaluation import evaluate

AS_OF = date(2026, 11, 22)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _end_to_end(folder: Path, workers: int | None) -> tuple[float, int, float]:
    """Wall seconds, results, and CPU seconds of the command and its workers (on a shared machine the
    wall time also counts the waits for a core; the CPU time is what the work costs)."""
    cmd = [str(Path(sys.executable).parent / "endorse"), "evaluate", str(folder), "--as-of", AS_OF.isoformat(), "--json"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    t, c = time.perf_counter(), _children_cpu()
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    elapsed, cpu = time.perf_counter() - t, _children_cpu() - c
    return elapsed, len(json.loads(out)), cpu


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def run(n: int = 10_000) -> list[dict]:
    library = default_library()
    generated = applications(n)
    raw = [json.dumps(d) for d in generated]
    # In process as the command does it: the cycle collector off while the batch is held.
    with cycle_collector_paused(freeze_survivors=True):
        t0, c0 = time.perf_counter(), time.process_time()
        docs = [ApplicationDocument.model_validate_json(r) for r in raw]
        t1, c1 = time.perf_counter(), time.process_time()
        results = [evaluate(d, library, AS_OF) for d in docs]
        t2, c2 = time.perf_counter(), time.process_time()
    eligible = sum(r.eligible for r in results)
    rows = [
        {"benchmark": "evaluate", "case": f"{n} applications, evaluation only", "value": round(n / (t2 - t1)),
         "unit": "applications/s", "goal": "",
         "notes": f"{eligible} eligible; in process; CPU {c2 - c1:.2f} s ({n / (c2 - c1):.0f}/s of CPU)"},
        {"benchmark": "evaluate", "case": f"{n} applications, JSON parse + validate + evaluate",
         "value": round(n / (t2 - t0)), "unit": "applications/s", "goal": "",
         "notes": f"in process; validating {c1 - c0:.2f} s of CPU, evaluating {c2 - c1:.2f} s"},
    ]
    with tempfile.TemporaryDirectory(prefix="endorse-bench-evaluate-") as tmp:
        folder = Path(tmp)
        for d, text in zip(generated, raw):
            (folder / f"{d['id']}.json").write_text(text)
        load_one = _load()
        one_s, count, one_cpu = _end_to_end(folder, 1)
        load_all = _load()
        all_s, count_all, all_cpu = _end_to_end(folder, None)
    cores = os.cpu_count()
    rows += [
        {"benchmark": "evaluate", "case": f"endorse evaluate FOLDER --json, {n} files, one core",
         "value": round(n / one_s), "unit": "applications/s", "goal": ">= 5000",
         "notes": f"{one_s:.2f} s end to end (process start, read, validate, evaluate, JSON out); {count} results; "
                  f"CPU {one_cpu:.2f} s ({n / one_cpu:.0f}/s of CPU); {load_one} before"},
        # What the work costs whatever else the shared cores run: the same run per CPU second.
        {"benchmark": "evaluate", "case": f"endorse evaluate FOLDER --json, {n} files, one core, per CPU second",
         "value": round(n / one_cpu), "unit": "applications/s of CPU", "goal": ">= 5000",
         "notes": f"the run above: {one_cpu:.2f} s of CPU (user and system, the process and its children) "
                  f"for {one_s:.2f} s of wall time; {load_one} before"},
        {"benchmark": "evaluate", "case": f"endorse evaluate FOLDER --json, {n} files, {cores} cores",
         "value": round(n / all_s), "unit": "applications/s", "goal": "",
         "notes": f"{all_s:.2f} s; x{one_s / all_s:.2f} over one core; {count_all} results; CPU {all_cpu:.2f} s "
                  f"(all its processes); {load_all} before (other work on the cores takes from the spread)"},
    ]
    return rows
