"""The rating form on loopback, the server in its own process (uvicorn), as in production.

- Open loop, the way raters arrive: GET requests at a fixed mean rate (100/s, Poisson arrivals, each
  sent at its time whether or not earlier ones have been answered); latency counted from the moment
  a request was due, so a slow server cannot hide its queue. The load generator runs in a process of
  its own on one core, the server (one worker) on the other; the load average is reported beside.
- The server's cost per form page (CPU seconds of the server process per request, one worker) beside
  a bare FastAPI + Jinja2 page of the same size, measured in the same run, rounds interleaved: the
  ratio holds on a busy machine where absolute figures do not.
- Stress: 50 clients in a closed loop (each sends its next request when the last returns), GET and
  POST of a draft."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIENTS = 50
REQUESTS_PER_CLIENT = 20
ARRIVALS_PER_SECOND = 100
OPEN_LOOP_SECONDS = 20
COST_ROUNDS, COST_REQUESTS = 3, 200


def _prepare(url: str, secret: str, n_links: int) -> list[str]:
    from bench.generate import applications
    from endorse import links
    from endorse.db import make_engine, session_factory, transaction, upgrade_database
    from endorse.documents import ApplicationDocument
    from endorse.rulebook import default_library
    from models import ReferenceRequest
    from tasks.intake.records import ensure_associations, save_document

    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    docs = applications(n_links // 3 + 1, seed=99)
    tokens = []
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for d in docs:
            for r in d["references"]:
                r["status"] = "requested"
                for k in ("submitted_on", "insufficient_information_count", "recommendation"):
                    r.pop(k, None)
            save_document(s, ApplicationDocument.model_validate_json(json.dumps(d)), actor="bench")
        for req in s.query(ReferenceRequest).all():
            link = links.issue(secret, "rating")
            req.token_nonce, req.token_hash = link.nonce, link.token_hash
            tokens.append(links.token_for(link.nonce, secret, "rating"))
    return tokens[:n_links]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def _load(base: str, tokens: list[str]) -> tuple[list[float], list[float], dict[str, int]]:
    import httpx

    gets: list[float] = []
    posts: list[float] = []
    errors = {"GET the form": 0, "POST a draft": 0}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        async def client(i: int) -> None:
            for k in range(REQUESTS_PER_CLIENT):
                token = tokens[(i * REQUESTS_PER_CLIENT + k) % len(tokens)]
                t = time.perf_counter()
                try:
                    r = await http.get(f"/rate/{token}")
                except httpx.HTTPError:  # a dropped connection is an error, not the end of the bench
                    gets.append(time.perf_counter() - t)
                    errors["GET the form"] += 1
                    continue
                gets.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors["GET the form"] += 1
                    continue
                text = r.text
                c = text.index('name="csrf" value="') + 19
                csrf = text[c:text.index('"', c)]
                j = text.index('name="answer:') + 13
                area = text[j:text.index('"', j)]
                t = time.perf_counter()
                try:
                    r = await http.post(f"/rate/{token}", data={"csrf": csrf, "action": "save",
                                                                f"answer:{area}": "3", "known_for_months": "12"})
                    # A saved draft sends the rater back to the form (303, Post/Redirect/Get).
                    saved = r.status_code == 303 and r.headers.get("location", "").startswith(f"/rate/{token}?saved")
                    errors["POST a draft"] += not saved
                except httpx.HTTPError:
                    errors["POST a draft"] += 1
                posts.append(time.perf_counter() - t)
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return gets, posts, errors


class _Server:
    """uvicorn serving an app factory in its own process, on a free loopback port (on ``cpus`` only,
    when given: its workers inherit the set)."""

    def __init__(self, factory: str, env: dict, workers: int = 1, cpus: set[int] | None = None):
        self.port = _free_port()
        cmd = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(self.port),
               "--log-level", "warning", "--no-access-log", "--no-proxy-headers"]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=env, preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "_Server":
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz").status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.base} did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (/proc; one worker: the process itself)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _open_loop(base: str, paths: list[str], rate: float, seconds: float) -> tuple[list[float], int]:
    """Poisson arrivals at ``rate``; each latency runs from when the request was due to its answer."""
    import random

    import httpx

    rng = random.Random(17)
    due, t = [], 0.0
    while t < seconds:
        t += rng.expovariate(rate)
        due.append(t)
    latencies: list[float] = []
    errors = 0
    # Enough connections for the arrivals; a request waiting for one still counts from when it was due.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        start = time.perf_counter()

        async def one(i: int, at: float) -> None:
            nonlocal errors
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                r = await http.get(paths[i % len(paths)])
                errors += r.status_code != 200
            except httpx.HTTPError:  # a refused or dropped connection is an error, not a crash of the bench
                errors += 1
            latencies.append(time.perf_counter() - (start + at))

        await asyncio.gather(*(one(i, at) for i, at in enumerate(due)))
    return latencies, errors


def _open_loop_apart(base: str, paths: list[str], cpus: set[int] | None) -> tuple[list[float], int]:
    """The open loop from a process of its own (on ``cpus`` when given), so that the load generator's
    own work neither delays the arrivals nor takes the server's core: in one process with the bench,
    or on the server's core, the queue it measured was partly its own."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_pin,
                             initargs=(cpus,)) as pool:
        return pool.submit(_run_open_loop, base, paths).result()


def _pin(cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def _run_open_loop(base: str, paths: list[str]) -> tuple[list[float], int]:
    return asyncio.run(_open_loop(base, paths, ARRIVALS_PER_SECOND, OPEN_LOOP_SECONDS))


def _cores() -> tuple[set[int] | None, set[int] | None]:
    """(the load generator's cores, the server's): one each, apart, when there are two or more."""
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[0]}, set(cores[1:])) if len(cores) >= 2 else (None, None)


def _cost_per_page(server: _Server, path_of) -> float:
    import httpx

    with httpx.Client(base_url=server.base) as http:
        before = server.cpu_seconds()
        for k in range(COST_REQUESTS):
            for attempt in range(3):  # a connection dropped under load: ask again (the CPU it cost counts)
                try:
                    status = http.get(path_of(k)).status_code
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
            if status != 200:
                raise RuntimeError(f"{server.base}{path_of(k)} did not answer 200")
        return (server.cpu_seconds() - before) / COST_REQUESTS


def _costs(env: dict, tokens: list[str]) -> tuple[float, float, int, int]:
    """Median over interleaved rounds of the CPU per page: the form, then the bare page of its size."""
    import httpx

    def get(url: str) -> bytes:
        for attempt in range(3):
            try:
                return httpx.get(url).content
            except httpx.TransportError:
                if attempt == 2:
                    raise
        return b""

    with _Server("web.app:default_app", env) as form:
        size = len(get(f"{form.base}/rate/{tokens[0]}"))
        with _Server("bench.bare_page:app", {**env, "BARE_PAGE_BYTES": str(size)}) as bare:
            bare_size = len(get(f"{bare.base}/page"))
            for _ in range(20):  # warm both (imports, template compilation, connection pools)
                get(f"{form.base}/rate/{tokens[0]}")
                get(f"{bare.base}/page")
            form_costs, bare_costs = [], []
            for _ in range(COST_ROUNDS):
                form_costs.append(_cost_per_page(form, lambda k: f"/rate/{tokens[k % len(tokens)]}"))
                bare_costs.append(_cost_per_page(bare, lambda k: "/page"))
    return statistics.median(form_costs), statistics.median(bare_costs), size, bare_size


def run() -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="endorse-bench-form-"))
    url = f"sqlite:///{tmp / 'form.sqlite3'}"
    secret = "bench-form-secret"
    tokens = _prepare(url, secret, 1000)
    # The clients share one address: lift the per-address limit for the load test.
    env = {**os.environ, "DATABASE_URL": url, "ENDORSE_SECRET_KEY": secret, "ENDORSE_LINK_RATE_LIMIT_PER_MINUTE": "1000000"}
    env.pop("PREFECT_API_URL", None)
    form_cost, bare_cost, size, bare_size = _costs(env, tokens)
    # The load generator on one core and the server (one worker: 100 pages a second are a fraction of
    # a core) on the other, each in its own process.
    generator_cpus, server_cpus = _cores()
    load_before = os.getloadavg()[0]
    with _Server("web.app:default_app", env, cpus=server_cpus) as server:
        opened, open_errors = _open_loop_apart(server.base, [f"/rate/{t}" for t in tokens], generator_cpus)
    load_after = os.getloadavg()[0]
    where = (f"load generator on core {min(generator_cpus)}, server (one worker) on core {min(server_cpus)}"
             if generator_cpus else "one core: generator and server share it")
    # Two workers for the stress case: one per core, as `endorse serve --workers 2` would run it.
    with _Server("web.app:default_app", env, workers=2) as server:
        gets, posts, errors = asyncio.run(_load(server.base, tokens))
    rows = [
        {"benchmark": "rating form", "case": f"GET the form, open loop {ARRIVALS_PER_SECOND}/s (Poisson), p50",
         "value": round(statistics.median(opened) * 1000, 1), "unit": "ms", "goal": "",
         "notes": f"{len(opened)} requests over {OPEN_LOOP_SECONDS} s; latency from when each was due; {where}"},
        {"benchmark": "rating form", "case": f"GET the form, open loop {ARRIVALS_PER_SECOND}/s (Poisson), p99",
         "value": round(_pct(opened, 99) * 1000, 1), "unit": "ms", "goal": "< 100 ms",
         "notes": (f"{open_errors} errors; " if open_errors else "")
                  + f"load average {load_before:.1f} before, {load_after:.1f} after (2 cores, shared)"},
        {"benchmark": "rating form", "case": "server CPU per form page",
         "value": round(form_cost * 1000, 2), "unit": "ms", "goal": "",
         "notes": f"{size} bytes; median of {COST_ROUNDS} rounds of {COST_REQUESTS}, one worker"},
        {"benchmark": "rating form", "case": "server CPU per bare FastAPI + Jinja2 page of the same size",
         "value": round(bare_cost * 1000, 2), "unit": "ms", "goal": "", "notes": f"{bare_size} bytes; same run"},
        {"benchmark": "rating form", "case": "cost ratio form page / bare page",
         "value": round(form_cost / bare_cost, 2), "unit": "x", "goal": "<= 2x", "notes": "measured in the same run"},
    ]
    for label, xs in (("GET the form", gets), ("POST a draft", posts)):
        rows.append({"benchmark": "rating form", "case": f"stress: {label}, {CLIENTS} concurrent clients (closed loop), p50",
                     "value": round(statistics.median(xs) * 1000, 1), "unit": "ms", "goal": "",
                     "notes": f"{len(xs)} requests"})
        rows.append({"benchmark": "rating form", "case": f"stress: {label}, {CLIENTS} concurrent clients (closed loop), p99",
                     "value": round(_pct(xs, 99) * 1000, 1), "unit": "ms", "goal": "",
                     "notes": f"{errors[label]} errors" if errors[label] else "reported, no goal"})
    return rows
