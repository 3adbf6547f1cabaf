"""Evaluate throughput: 10,000 generated applications, parsed and evaluated on one core."""

from __future__ import annotations

import json
import time
from datetime import date

from bench.generate import applications
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from tasks.eligibility.evaluation import evaluate


def run(n: int = 10_000) -> list[dict]:
    library = default_library()
    raw = [json.dumps(d) for d in applications(n)]
    as_of = date(2026, 11, 22)
    t0 = time.perf_counter()
    docs = [ApplicationDocument.model_validate_json(r) for r in raw]
    t1 = time.perf_counter()
    results = [evaluate(d, library, as_of) for d in docs]
    t2 = time.perf_counter()
    eligible = sum(r.eligible for r in results)
    return [
        {"benchmark": "evaluate", "case": f"{n} applications, evaluation only", "value": round(n / (t2 - t1)),
         "unit": "applications/s", "goal": ">= 5000", "notes": f"{eligible} eligible"},
        {"benchmark": "evaluate", "case": f"{n} applications, JSON parse + validate + evaluate",
         "value": round(n / (t2 - t0)), "unit": "applications/s", "goal": "", "notes": ""},
    ]
