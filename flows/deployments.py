"""The deployments `endorse serve` serves: read from prefect.yaml, so a schedule, its time zone, a tag
or a parameter is written once for both `endorse serve` and the work pool (`prefect deploy`)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from endorse.settings import PROJECT_ROOT

PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


def declared_deployments(prefect_yaml: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    import yaml

    try:
        doc = yaml.safe_load(Path(prefect_yaml).read_text())
        specs = doc["deployments"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{prefect_yaml}: not a prefect.yaml with a deployments list ({exc})") from None
    for spec in specs:
        if not isinstance(spec, dict) or not {"name", "entrypoint"} <= spec.keys():
            raise ValueError(f"{prefect_yaml}: every deployment needs a name and an entrypoint ({spec!r})")
    return specs


def schedules_of(spec: dict[str, Any]) -> list:
    """prefect.yaml's schedule entries as Prefect schedules (cron or interval, with their time zone)."""
    from prefect.schedules import Cron, Interval

    out = []
    for s in spec.get("schedules") or []:
        if "cron" in s:
            out.append(Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True)))
        elif "interval" in s:
            out.append(Interval(s["interval"], timezone=s.get("timezone"), active=s.get("active", True)))
        else:
            raise ValueError(f"deployment {spec['name']}: a schedule needs cron or interval ({s!r})")
    return out


def _flow_at(entrypoint: str):
    """``flows/sweep.py:sweep`` → the flow object in module ``flows.sweep``."""
    path, _, attr = entrypoint.partition(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), attr)


def build_deployments(prefect_yaml: Path = PREFECT_YAML) -> list:
    deployments = []
    for spec in declared_deployments(prefect_yaml):
        options: dict[str, Any] = {"name": spec["name"], "schedules": schedules_of(spec),
                                   "tags": spec.get("tags"), "parameters": spec.get("parameters"),
                                   "description": spec.get("description")}
        limit = spec.get("concurrency_limit")
        if limit is not None:
            from prefect.client.schemas.objects import ConcurrencyLimitConfig

            options["concurrency_limit"] = ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else limit
        deployments.append(_flow_at(spec["entrypoint"]).to_deployment(**options))
    return deployments


def serve_deployments(limit: int | None = None, prefect_yaml: Path = PREFECT_YAML, pause_on_shutdown: bool = True) -> None:
    from prefect import serve

    serve(*build_deployments(prefect_yaml), limit=limit, pause_on_shutdown=pause_on_shutdown)
