"""Helpers for the tests that run a real Prefect server, workers and `endorse` processes.

Deadlines are generous (the machine has 2 cores shared with other jobs); when something does not
happen in time the failure carries the end of every log involved.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

from endorse.prefect_server import log_tail
from endorse.settings import PROJECT_ROOT

RUN_DEADLINE_SECONDS = 600.0


def short_schedules(target: Path, seconds: int, names: tuple[str, ...] = ("sweep", "deliver-outbox")) -> Path:
    """A copy of the project's prefect.yaml whose ``names`` run every ``seconds`` (the rest as written)."""
    doc = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    for spec in doc["deployments"]:
        if spec["name"] in names:
            spec["schedules"] = [{"interval": seconds}]
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def api(api_url: str, path: str, body: dict | None = None):
    req = urllib.request.Request(f"{api_url}{path}", data=json.dumps(body or {}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def deployment_ids(api_url: str) -> dict[str, str]:
    return {d["name"]: d["id"] for d in api(api_url, "/deployments/filter")}


def runs_of(api_url: str, deployment_id: str) -> list[dict]:
    return api(api_url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}})


def wait_for_completed_runs(api_url: str, names: list[str], *, auto_scheduled: bool,
                            deadline: float = RUN_DEADLINE_SECONDS, logs: list[Path] = ()) -> dict[str, dict]:
    """The first Completed run of each deployment named (created by the scheduler if ``auto_scheduled``).
    A Failed or Crashed run fails at once, with its logs."""
    started = time.monotonic()
    next_word = started + 15
    found: dict[str, dict] = {}
    while True:
        ids = deployment_ids(api_url)
        for name in names:
            if name in found or name not in ids:
                continue
            for run in runs_of(api_url, ids[name]):
                state = (run.get("state") or {}).get("type")
                if state in ("FAILED", "CRASHED"):
                    raise AssertionError(f"run {run['name']} of {name} is {state}:\n{flow_run_logs(api_url, run['id'])}"
                                         + all_logs(logs))
                if state == "COMPLETED" and run["auto_scheduled"] == auto_scheduled:
                    found[name] = run
        if len(found) == len(names):
            return found
        elapsed = time.monotonic() - started
        if elapsed > deadline:
            seen = {n: [(r["name"], (r.get("state") or {}).get("type"), r["auto_scheduled"])
                        for r in runs_of(api_url, ids[n])] if n in ids else "not deployed" for n in names}
            raise AssertionError(f"no Completed run of {sorted(set(names) - found.keys())} within {deadline:.0f} s; "
                                 f"runs: {seen}" + all_logs(logs))
        if time.monotonic() >= next_word:
            print(f"[{elapsed:.0f} s] completed so far: {sorted(found)}", file=sys.stderr, flush=True)
            next_word += 15
        time.sleep(2)


def flow_run_logs(api_url: str, flow_run_id: str) -> str:
    try:
        rows = api(api_url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})
    except OSError as exc:
        return f"(logs unavailable: {exc})"
    return "\n".join(r["message"] for r in rows)[-6000:]


def all_logs(paths) -> str:
    return "".join(f"\n--- {p} ---\n{log_tail(Path(p), 3000)}" for p in paths)


@contextlib.contextmanager
def logs_on_failure(*paths: Path) -> Iterator[None]:
    """Print the end of each log when the block fails (pytest shows it with the failure)."""
    try:
        yield
    except BaseException:
        print(all_logs(paths), flush=True)
        raise


# --- processes (read from /proc: what is left behind after a stop) ---------------------------------------


def _stat(pid: int | str) -> list[str] | None:
    """State, parent, process group… of a process (the fields after its name), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie only waits for its parent to read its exit status)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _processes() -> list[tuple[int, list[str]]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            out.append((int(entry.name), fields))
    return out


def children_of(pid: int) -> list[int]:
    return [p for p, fields in _processes() if int(fields[1]) == pid]


def descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        for child in children_of(todo.pop()):
            out.add(child)
            todo.append(child)
    return out


def group_members(pgid: int) -> list[int]:
    return [p for p, fields in _processes() if int(fields[2]) == pgid and fields[0] != "Z"]
