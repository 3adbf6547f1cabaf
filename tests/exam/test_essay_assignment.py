"""Essay assignment: optimal against an independent solver, and every hard constraint on every plan."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import lil_matrix

from tasks.essay_assignment import AssignmentPolicy, EssayToReview, ReviewerCapacity, assign_essays, unit_load_costs

TRACKS = ["IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"]
POLICY = AssignmentPolicy.from_mapping({
    "eligible_endorsements": {"IMHS": ["IMHS", "IMHM-C"], "IMHM-C": ["IMHM-C", "IMHM-P", "IMHM-RF"],
                              "IMHM-P": ["IMHM-C", "IMHM-P", "IMHM-RF"], "IMHM-RF": ["IMHM-C", "IMHM-P", "IMHM-RF"]},
    "preferred_endorsements": {"IMHS": ["IMHS"], "IMHM-C": ["IMHM-C"], "IMHM-P": ["IMHM-P"], "IMHM-RF": ["IMHM-RF"]},
    "reviewers_per_essay": 2, "mismatch_cost": 100, "load_cost_per_unit": 10,
})


def instance(seed: int, n_e: int, n_r: int, conflict_rate: float = 0.1):
    rng = random.Random(seed)
    reviewers = [ReviewerCapacity(f"r{j}", rng.choice(["IMHS", "IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"]),
                                  rng.randint(1, 4)) for j in range(n_r)]
    essays = [EssayToReview(f"e{i}", rng.choice(TRACKS),
                            frozenset(r.reviewer_id for r in reviewers if rng.random() < conflict_rate))
              for i in range(n_e)]
    return essays, reviewers


def independent_optimum(essays, reviewers, policy) -> tuple[int, int]:
    """(slots filled, cost) by a MILP with HiGHS: maximize slots first, then minimise the same cost."""
    pairs = [(i, j) for i, e in enumerate(essays) for j, r in enumerate(reviewers)
             if r.endorsement in policy.eligible_endorsements[e.track] and r.reviewer_id not in e.excluded_reviewer_ids]
    steps = [(j, k, c) for j, r in enumerate(reviewers) for k, c in enumerate(unit_load_costs(r, policy))]
    n = len(pairs) + len(steps)
    if not pairs:
        return 0, 0
    cost = np.array([0 if reviewers[j].endorsement in policy.preferred_endorsements[essays[i].track] else
                     policy.mismatch_cost for i, j in pairs] + [c for _, _, c in steps], dtype=float)
    big = float(cost.sum() + 1)
    objective = cost - np.concatenate([np.full(len(pairs), big), np.zeros(len(steps))])  # slots first
    A = lil_matrix((len(essays) + len(reviewers), n))
    for k, (i, j) in enumerate(pairs):
        A[i, k] = 1
        A[len(essays) + j, k] = 1
    for k, (j, _, _) in enumerate(steps):
        A[len(essays) + j, len(pairs) + k] = -1  # load on reviewer j equals the steps used
    lb = np.concatenate([np.zeros(len(essays)), np.zeros(len(reviewers))])
    ub = np.concatenate([np.full(len(essays), policy.reviewers_per_essay), np.zeros(len(reviewers))])
    res = milp(objective, constraints=LinearConstraint(A.tocsr(), lb, ub), integrality=np.ones(n),
               bounds=(0, 1))
    x = np.round(res.x).astype(int)
    filled = int(x[:len(pairs)].sum())
    return filled, int(round(float(cost @ x)))


def check_hard_constraints(plan, essays, reviewers, policy, existing=None, needed=None):
    existing = existing or {}
    by_id = {r.reviewer_id: r for r in reviewers}
    uncovered = {e: m for e, m, _ in plan.uncovered}
    loads = {r.reviewer_id: r.current_load for r in reviewers}
    for e in essays:
        got = plan.assignments.get(e.essay_id, ())
        assert len(set(got)) == len(got), "distinct reviewers per essay"
        assert not set(got) & set(existing.get(e.essay_id, ())), "existing reviewers are not picked again"
        for rid in got:
            assert by_id[rid].endorsement in policy.eligible_endorsements[e.track], "only eligible endorsements"
            assert rid not in e.excluded_reviewer_ids, "never an excluded (conflicted) reviewer"
            loads[rid] += 1
        want = (needed or {}).get(e.essay_id, policy.reviewers_per_essay) - len(existing.get(e.essay_id, ()))
        assert len(got) + uncovered.get(e.essay_id, 0) == want, "every essay covered or reported uncovered"
    for rid, load in loads.items():
        assert load <= by_id[rid].max_load, "loads within the maximum"
    assert loads == plan.loads


@pytest.mark.parametrize("seed", range(30))
def test_assignment_is_optimal_against_an_independent_milp_solver(seed):
    essays, reviewers = instance(seed, n_e=random.Random(seed).randint(3, 9), n_r=random.Random(seed + 1).randint(3, 8))
    plan = assign_essays(essays, reviewers, POLICY)
    check_hard_constraints(plan, essays, reviewers, POLICY)
    filled = sum(len(v) for v in plan.assignments.values())
    assert (filled, plan.total_cost) == independent_optimum(essays, reviewers, POLICY)


def test_every_hard_constraint_holds_on_a_medium_instance():
    essays, reviewers = instance(7, n_e=300, n_r=60, conflict_rate=0.05)
    reviewers = [ReviewerCapacity(r.reviewer_id, r.endorsement, r.max_load * 5) for r in reviewers]
    plan = assign_essays(essays, reviewers, POLICY)
    check_hard_constraints(plan, essays, reviewers, POLICY)
    lo, mean, hi = plan.load_stats
    assert lo <= mean <= hi


def test_when_a_reviewer_declines_only_their_essays_are_reassigned():
    essays, reviewers = instance(3, n_e=40, n_r=20, conflict_rate=0.05)
    reviewers = [ReviewerCapacity(r.reviewer_id, r.endorsement, 8) for r in reviewers]
    first = assign_essays(essays, reviewers, POLICY)
    gone = max(first.loads, key=first.loads.get)
    affected = [e for e in essays if gone in first.assignments.get(e.essay_id, ())]
    keep = {e.essay_id: frozenset(set(first.assignments[e.essay_id]) - {gone}) for e in affected}
    others = [ReviewerCapacity(r.reviewer_id, r.endorsement, r.max_load, first.loads[r.reviewer_id] - sum(
        1 for e in affected if r.reviewer_id in keep[e.essay_id])) for r in reviewers if r.reviewer_id != gone]
    redo = [EssayToReview(e.essay_id, e.track, e.excluded_reviewer_ids | {gone}) for e in affected]
    second = assign_essays(redo, others, POLICY, existing=keep)
    check_hard_constraints(second, redo, others, POLICY, existing=keep)
    assert set(second.assignments) <= {e.essay_id for e in affected}
    for e in affected:
        assert len(second.assignments.get(e.essay_id, ())) == 1 or any(u[0] == e.essay_id for u in second.uncovered)


def test_a_third_reviewer_on_disagreement_never_repeats_the_first_two():
    essays, reviewers = instance(5, n_e=10, n_r=12, conflict_rate=0.0)
    reviewers = [ReviewerCapacity(r.reviewer_id, r.endorsement, 6) for r in reviewers]
    plan = assign_essays(essays, reviewers, POLICY)
    disputed = next(e for e in essays if len(plan.assignments.get(e.essay_id, ())) == 2)
    existing = {disputed.essay_id: frozenset(plan.assignments[disputed.essay_id])}
    third = assign_essays([disputed], reviewers, POLICY, existing=existing, needed={disputed.essay_id: 3})
    (rid,) = third.assignments[disputed.essay_id]
    assert rid not in existing[disputed.essay_id]


@pytest.mark.parametrize("pool,reason", [
    ([], "no qualified reviewer without a conflict"),
    ([ReviewerCapacity("a", "IMHS", 3)], "only one qualified reviewer without a conflict"),
    ([ReviewerCapacity("a", "IMHS", 0), ReviewerCapacity("b", "IMHM-C", 0)],
     "qualified reviewers without a conflict are all at their maximum load"),
])
def test_uncovered_essays_say_why(pool, reason):
    plan = assign_essays([EssayToReview("e1", "IMHS", frozenset({"x"}))],
                         pool + [ReviewerCapacity("x", "IMHS", 5), ReviewerCapacity("p", "IMHM-P", 5)], POLICY)
    assert plan.uncovered and plan.uncovered[0][2] == reason


def test_track_match_is_preferred_and_load_is_balanced():
    reviewers = [ReviewerCapacity("imhs-1", "IMHS", 10), ReviewerCapacity("imhs-2", "IMHS", 10),
                 ReviewerCapacity("mentor", "IMHM-C", 10)]
    essays = [EssayToReview(f"e{i}", "IMHS") for i in range(4)]
    strict = AssignmentPolicy(POLICY.eligible_endorsements, POLICY.preferred_endorsements, mismatch_cost=10_000)
    plan = assign_essays(essays, reviewers, strict)
    assert plan.loads == {"imhs-1": 4, "imhs-2": 4, "mentor": 0}  # track match first
    assert plan.total_cost == sum(unit_load_costs(reviewers[0], strict)[:4]) * 2
    # With the default weights a mismatch costs less than a fourth essay: the mentor helps out.
    assert assign_essays(essays, reviewers, POLICY).loads == {"imhs-1": 3, "imhs-2": 3, "mentor": 2}


def test_the_dry_run_table_and_csv(tmp_path):
    essays, reviewers = instance(1, n_e=5, n_r=6, conflict_rate=0.0)
    plan = assign_essays(essays, reviewers, POLICY)
    plan.to_csv(tmp_path / "plan.csv")
    lines = (tmp_path / "plan.csv").read_text().splitlines()
    assert lines[0] == "essay_id,track,reviewer_id,reviewer_endorsement,preferred"
    assert len(lines) - 1 == len(plan.to_rows()) == sum(len(v) for v in plan.assignments.values())
