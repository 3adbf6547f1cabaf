"""Scheduled deployments run one at a time (a new run while one is going is cancelled), and every
flow has a timeout and retries (issue 11, item 2): in prefect.yaml and in `endorse serve` alike."""

from __future__ import annotations

import pytest
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from endorse.settings import PROJECT_ROOT

ONE_AT_A_TIME = ("sweep", "deliver-outbox", "renewal")


def _prefect_yaml() -> dict:
    return {d["name"]: d for d in yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]}


@pytest.mark.parametrize("name", ONE_AT_A_TIME)
def test_prefect_yaml_lets_one_run_at_a_time_and_cancels_the_new_one(name):
    # Validated by Prefect's own model, so a misspelt key or strategy fails here, not at deploy time.
    limit = ConcurrencyLimitConfig.model_validate(_prefect_yaml()[name]["concurrency_limit"])
    assert (limit.limit, limit.collision_strategy) == (1, ConcurrencyLimitStrategy.CANCEL_NEW)


def test_endorse_serve_deploys_the_same_limits():
    from flows.deployments import build_deployments

    served = {d.name: d for d in build_deployments()}
    for name in ONE_AT_A_TIME:
        assert served[name].concurrency_limit == 1, name
        assert served[name].concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW, name
    assert served["reconcile-application"].concurrency_limit is None  # one per application, many at once


def test_every_flow_has_a_timeout_and_retries():
    from flows.deliver_outbox import deliver_outbox
    from flows.reconcile import reconcile_application
    from flows.renewal import renewal
    from flows.sweep import sweep

    for f in (sweep, deliver_outbox, renewal, reconcile_application):
        assert f.timeout_seconds and f.timeout_seconds > 0, f.name
        assert f.retries >= 1, f.name
