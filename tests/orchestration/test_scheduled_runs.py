"""The scheduled flows record their last completed run in our database, and the coordinator's
dashboard shows it, so "is the pipeline alive?" needs no Prefect (issue 11, item 6)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from endorse.db import transaction
from endorse.rulebook import default_library
from models import ScheduledRun
from tasks.accounts import set_coordinator
from tasks.orchestration import record_completed_run, scheduled_runs_view
from tasks.records import ensure_associations
from tests.web.test_coordinator import MI, PASSWORD, signed_in

NOW = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)


@pytest.fixture
def coordinator(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI, password=PASSWORD, actor="test")
    return sessions


def test_each_run_replaces_its_flows_row_and_the_view_says_how_long_ago(sessions):
    record_completed_run(sessions, "sweep", {"evaluated": 40, "transitions": 3}, flow_run_id="run-1",
                         at=NOW - timedelta(minutes=50))
    record_completed_run(sessions, "sweep", {"evaluated": 41, "transitions": 0}, flow_run_id="run-2",
                         at=NOW - timedelta(minutes=4))
    record_completed_run(sessions, "deliver-outbox", {"claimed": 2, "sent": 2}, at=NOW - timedelta(minutes=3))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ScheduledRun)) == 2
        view = {r["flow"]: r for r in scheduled_runs_view(s, NOW)}
    assert (view["sweep"]["minutes_ago"], view["sweep"]["late"], view["sweep"]["flow_run_id"]) == (4, False, "run-2")
    assert view["sweep"]["summary"] == "evaluated 41, transitions 0"
    assert (view["deliver-outbox"]["minutes_ago"], view["deliver-outbox"]["late"]) == (3, True)  # every minute: late
    assert view["renewal"]["completed_at"] is None and view["renewal"]["late"]


def test_the_dashboard_shows_the_last_completed_sweep_and_outbox_runs(coordinator):
    client = signed_in(coordinator)
    table = client.get("/coordinator/").text.split('id="scheduled-runs"')[1].split("</table>")[0]
    assert table.count("never") == 3
    record_completed_run(coordinator, "sweep", {"evaluated": 7}, at=datetime.now(timezone.utc))
    table = client.get("/coordinator/").text.split('id="scheduled-runs"')[1].split("</table>")[0]
    sweep_row = table.split('<th scope="row">sweep</th>')[1].split("</tr>")[0]
    assert "0 min ago" in sweep_row and "evaluated 7" in sweep_row and "late" not in sweep_row
    assert '<th scope="row">deliver-outbox</th>' in table and table.count("never") == 2
