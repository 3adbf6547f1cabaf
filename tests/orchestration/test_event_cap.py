"""A sweep sends at most a cap of transition events one by one and one summary event for the rest
(issue 17): a Prefect server without Redis queues 10,000 messages in memory and drops the rest
without a word, while our audit log and dashboard hold every transition. The events as data here;
tests/integration/test_prefect_events_server.py runs a sweep past the cap against a real server."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.eligibility.stages import Transition
from tasks.pipeline.prefect_report import EVENTS_PER_SWEEP, SUMMARY_EVENT, summary_event, within_event_cap
from tasks.pipeline.reconcile import ReconcileOutcome


def _moved(app_id: str, *stages: str) -> ReconcileOutcome:
    steps = list(zip(("submitted",) + stages, stages))
    return ReconcileOutcome(app_id, stages[-1], [Transition(a, b, "why") for a, b in steps])


OUTCOMES = [_moved("A-1", "transcripts", "references"), _moved("A-2", "transcripts"),
            ReconcileOutcome("A-3", "references"), _moved("A-4", "references", "decision", "endorsed")]


@pytest.mark.parametrize("cap,sent,left", [
    (None, [("A-1", 2), ("A-2", 1), ("A-4", 3)], {}),  # a reconcile of its own: every transition
    (10, [("A-1", 2), ("A-2", 1), ("A-4", 3)], {}),
    (6, [("A-1", 2), ("A-2", 1), ("A-4", 3)], {}),
    (4, [("A-1", 2), ("A-2", 1), ("A-4", 1)], {"decision": 1, "endorsed": 1}),  # cut inside an application
    (1, [("A-1", 1)], {"references": 2, "transcripts": 1, "decision": 1, "endorsed": 1}),
    (0, [], {"transcripts": 2, "references": 2, "decision": 1, "endorsed": 1}),
    (-3, [], {"transcripts": 2, "references": 2, "decision": 1, "endorsed": 1}),  # an earlier batch overshot
])
def test_the_first_transitions_up_to_the_cap_are_sent_and_the_rest_counted_by_stage_entered(cap, sent, left):
    kept, over = within_event_cap(OUTCOMES, cap)
    assert [(o.application_id, len(o.transitions)) for o in kept] == sent
    assert dict(over) == left
    assert sum(len(o.transitions) for o in kept) + sum(over.values()) == 6  # none lost, none twice
    if kept:  # the ones sent are the first, in order
        assert kept[0].transitions[0] is OUTCOMES[0].transitions[0]


def test_the_cap_leaves_room_in_the_servers_queue_of_10000_for_everything_else():
    assert 0 < EVENTS_PER_SWEEP <= 2000


def test_the_summary_event_says_how_many_transitions_it_stands_for_and_where_they_are():
    e = summary_event({"references": 7000, "transcripts": 9000}, 1000, date(2026, 11, 22), "3f2a")
    assert e["event"] == SUMMARY_EVENT == "endorse.sweep.transitions-summarized"
    assert e["resource"]["prefect.resource.id"] == "endorse.sweep.3f2a"
    assert e["payload"]["transitions_summarized"] == 16000 and e["payload"]["transitions_sent_as_events"] == 1000
    assert e["payload"]["stages_entered"] == {"references": 7000, "transcripts": 9000}
    assert "audit log" in e["payload"]["see"] and "dashboard" in e["payload"]["see"]
