"""The rating form under 50 concurrent clients on loopback: p50/p99 of GET (open the form) and POST
(save a draft). The server runs in its own process (uvicorn, one worker), as in production."""

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


async def _load(base: str, tokens: list[str]) -> tuple[list[float], list[float], int]:
    import httpx

    gets: list[float] = []
    posts: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        async def client(i: int) -> None:
            nonlocal errors
            for k in range(REQUESTS_PER_CLIENT):
                token = tokens[(i * REQUESTS_PER_CLIENT + k) % len(tokens)]
                t = time.perf_counter()
                r = await http.get(f"/rate/{token}")
                gets.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors += 1
                    continue
                text = r.text
                i = text.index('name="csrf" value="') + 19
                csrf = text[i:text.index('"', i)]
                j = text.index('name="answer:') + 13
                area = text[j:text.index('"', j)]
                t = time.perf_counter()
                r = await http.post(f"/rate/{token}", data={"csrf": csrf, "action": "save", f"answer:{area}": "3",
                                                            "known_for_months": "12"})
                posts.append(time.perf_counter() - t)
                errors += r.status_code != 200
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return gets, posts, errors


def run() -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="endorse-bench-form-"))
    url = f"sqlite:///{tmp / 'form.sqlite3'}"
    secret = "bench-form-secret"
    tokens = _prepare(url, secret, 1000)
    port = _free_port()
    # The 50 clients share one address: lift the per-address limit for the load test.
    env = {**os.environ, "DATABASE_URL": url, "ENDORSE_SECRET_KEY": secret, "ENDORSE_LINK_RATE_LIMIT_PER_MINUTE": "1000000"}
    env.pop("PREFECT_API_URL", None)
    # Two workers: one per core, as `endorse serve --workers 2` would run it.
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "web.app:default_app", "--factory", "--host", "127.0.0.1",
                               "--port", str(port), "--log-level", "warning", "--workers", "2", "--no-access-log",
                               "--no-proxy-headers"],
                              env=env)
    try:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        gets, posts, errors = asyncio.run(_load(f"http://127.0.0.1:{port}", tokens))
    finally:
        server.terminate()
        server.wait(10)
    rows = []
    for label, xs in (("GET the form", gets), ("POST a draft", posts)):
        rows.append({"benchmark": "rating form", "case": f"{label}, {CLIENTS} concurrent clients, p50",
                     "value": round(statistics.median(xs) * 1000, 1), "unit": "ms", "goal": "",
                     "notes": f"{len(xs)} requests"})
        rows.append({"benchmark": "rating form", "case": f"{label}, {CLIENTS} concurrent clients, p99",
                     "value": round(_pct(xs, 99) * 1000, 1), "unit": "ms", "goal": "< 100 ms",
                     "notes": f"{errors} errors" if errors else ""})
    return rows
