"""Essay assignment: optimal against an independent exact solver, every hard constraint on every plan.

The oracle here re-derives everything from the rules, not from the module: which pairs are allowed,
how much each slot needs, the load step costs, which essays lack a preferred reviewer, how much of
the minimum loads is met, and the objective (a staged MILP solved by HiGHS through scipy: most
slots first, then most minimum-load units with those slots, then least cost with both). The MILP
models "an essay without a preferred reviewer" with its own 0/1 variable and the minimum loads as
capped counts, not with the flow's arcs, bonus or rebates.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from tasks.essay_assignment import (
    ALL_AT_MAXIMUM_LOAD,
    ESSAYS_NEEDED_FOR_OTHER_MINIMUMS,
    MAX_COST,
    NO_ESSAY_TO_REVIEW,
    NO_PREFERRED_REVIEWER,
    NO_QUALIFIED_REVIEWER,
    ONLY_ONE_QUALIFIED_REVIEWER,
    PREFERRED_AT_MAXIMUM_LOAD,
    PREFERRED_OUTWEIGHED,
    AssignmentPolicy,
    EssayToReview,
    PolicyError,
    ReviewerCapacity,
    assign_essays,
)

IMHM = ["IMHM-C", "IMHM-P", "IMHM-RF"]
RULEBOOK = {
    "reviewers_per_essay": 2,
    "eligible_endorsements": {"IMHS": ["IMHS", "IMHM-C"], **{t: IMHM for t in IMHM}},
    "preferred_endorsements": {"IMHS": ["IMHS"], **{t: [t] for t in IMHM}},
    "mismatch_cost": 200,
    "no_preferred_reviewer_cost": 1200,
    "load_cost_per_unit": 10,
}
POLICY = AssignmentPolicy.from_mapping(RULEBOOK)
HYPOTHESIS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- instances ------------------------------------------------------------------------------------


def random_policy(rng: random.Random) -> AssignmentPolicy:
    """Made-up track and endorsement names: the solver must not know any real ones."""
    endorsements = [f"E{k}" for k in range(rng.randint(2, 4))]
    eligible = {f"T{t}": rng.sample(endorsements, rng.randint(1, len(endorsements))) for t in range(rng.randint(1, 3))}
    preferred = {t: rng.sample(ends, rng.randint(0, len(ends))) for t, ends in eligible.items() if rng.random() < 0.8}
    return AssignmentPolicy.from_mapping({
        "reviewers_per_essay": rng.choice([1, 2, 2, 2, 3]), "eligible_endorsements": eligible,
        "preferred_endorsements": preferred, "mismatch_cost": rng.choice([0, 1, 37, 200, 5000]),
        "no_preferred_reviewer_cost": rng.choice([0, 1, 150, 2000]), "load_cost_per_unit": rng.choice([0, 1, 3, 10]),
    })


def random_instance(rng: random.Random, n_essays: int, n_reviewers: int, *, policy: AssignmentPolicy | None = None,
                    conflict_rate: float = 0.15, max_load=(0, 4), rounds_so_far: bool = True,
                    minimums: float = 0.0):
    """Essays, reviewers, policy, existing, needed; candidates are sometimes reviewers themselves;
    a share ``minimums`` of the reviewers asks for a minimum load."""
    policy = policy or random_policy(rng)
    endorsements = sorted(set().union(*policy.eligible_endorsements.values())) + ["outsider"]
    reviewers = []
    for j in range(n_reviewers):
        cap = rng.randint(*max_load)
        current = rng.randint(0, min(cap + 1, 2)) if rounds_so_far else 0  # one may be over a lowered cap
        least = rng.randint(1, cap) if minimums and cap and rng.random() < minimums else 0  # (same draws without)
        reviewers.append(ReviewerCapacity(f"p{j}", rng.choice(endorsements), cap, current, least))
    people = [r.reviewer_id for r in reviewers] + ["someone-else"]
    essays = [EssayToReview(f"e{i}", rng.choice(sorted(policy.eligible_endorsements)), rng.choice(people),
                            frozenset(p for p in people if rng.random() < conflict_rate))
              for i in range(n_essays)]
    existing, needed = {}, {}
    if rounds_so_far:
        for e in essays:
            if rng.random() < 0.3:
                free = [p for p in people if p not in e.blocked]
                existing[e.essay_id] = frozenset(rng.sample(free, min(len(free), rng.randint(1, 2))))
            if rng.random() < 0.2:
                needed[e.essay_id] = rng.randint(1, 3)
    return essays, reviewers, policy, existing, needed


# --- the independent oracle -----------------------------------------------------------------------


def needed_total(e, policy, needed):
    return needed.get(e.essay_id, policy.reviewers_per_essay)


def slots(e, policy, existing, needed):
    return max(0, needed_total(e, policy, needed) - len(existing.get(e.essay_id, ())))


def allowed(e, r, policy, existing):
    return (r.endorsement in policy.eligible_endorsements[e.track] and r.reviewer_id not in e.excluded_reviewer_ids
            and r.reviewer_id != e.candidate_person_id and r.reviewer_id not in existing.get(e.essay_id, ()))


def step_costs(r, policy):
    """The k-th new essay costs load_cost_per_unit per percentage point of capacity then in use."""
    return [100 * policy.load_cost_per_unit * (r.current_load + k) // r.max_load
            for k in range(1, r.max_load - r.current_load + 1)]


def mismatch(e, r, policy):
    return 0 if r.endorsement in policy.preferred_endorsements.get(e.track, ()) else policy.mismatch_cost


def is_preferred(e, rid, reviewers, policy):
    """A reviewer the round does not know (not in ``reviewers``) is not preferred."""
    by_id = {r.reviewer_id: r for r in reviewers}
    return rid in by_id and by_id[rid].endorsement in policy.preferred_endorsements.get(e.track, ())


def starts_without_preferred(e, reviewers, policy, existing, needed):
    """An essay the round has slots for and no preferred reviewer on it yet."""
    return slots(e, policy, existing, needed) > 0 and not any(
        is_preferred(e, rid, reviewers, policy) for rid in existing.get(e.essay_id, ()))


def lacking(plan, essays, reviewers, policy, existing, needed):
    """Essays of the round that end it without a preferred reviewer, new or already on it."""
    return {e.essay_id for e in essays if starts_without_preferred(e, reviewers, policy, existing, needed)
            and not any(is_preferred(e, rid, reviewers, policy) for rid in plan.assignments[e.essay_id])}


def short_of(r):
    return max(0, r.min_load - r.current_load)


def cost_of(plan, essays, reviewers, policy, existing=None, needed=None):
    """The objective of a plan's assignments, recomputed from the rules."""
    existing, needed = existing or {}, needed or {}
    by_id = {r.reviewer_id: r for r in reviewers}
    count = {r.reviewer_id: 0 for r in reviewers}
    total = 0
    for e in essays:
        for rid in plan.assignments[e.essay_id]:
            total += mismatch(e, by_id[rid], policy)
            count[rid] += 1
    total += policy.no_preferred_reviewer_cost * len(lacking(plan, essays, reviewers, policy, existing, needed))
    return total + sum(sum(step_costs(r, policy)[:count[r.reviewer_id]]) for r in reviewers)


class Milp:
    """The round as a 0/1 program: x (essay, reviewer) pairs, z load steps, y "this essay has no
    preferred reviewer", m minimum-load units met per reviewer (0 … short)."""

    def __init__(self, essays, reviewers, policy, existing, needed):
        self.pairs = [(i, j) for i, e in enumerate(essays) for j, r in enumerate(reviewers)
                      if allowed(e, r, policy, existing)]
        self.steps = [(j, c) for j, r in enumerate(reviewers) for c in step_costs(r, policy)]
        self.bare = [i for i, e in enumerate(essays) if starts_without_preferred(e, reviewers, policy, existing, needed)]
        self.wanting = [j for j, r in enumerate(reviewers) if short_of(r) > 0]
        nx, nz, ny, nm = len(self.pairs), len(self.steps), len(self.bare), len(self.wanting)
        self.n = nx + nz + ny + nm
        self.x, self.z, self.y, self.m = (slice(0, nx), slice(nx, nx + nz), slice(nx + nz, nx + nz + ny),
                                          slice(nx + nz + ny, self.n))
        n_e, n_r = len(essays), len(reviewers)
        rows = n_e + n_r + ny + nm
        a = lil_matrix((rows, self.n))
        lo, hi = [], []
        for k, (i, j) in enumerate(self.pairs):
            a[i, k] = 1  # essay i gets at most its free slots
            a[n_e + j, k] = 1  # reviewer j's new essays …
        for k, (j, _) in enumerate(self.steps):
            a[n_e + j, self.z.start + k] = -1  # … are exactly the load steps they use
        lo += [-np.inf] * n_e + [0] * n_r
        hi += [slots(e, policy, existing, needed) for e in essays] + [0] * n_r
        for q, i in enumerate(self.bare):  # y_i = 1 unless one of its new reviewers is preferred
            a[n_e + n_r + q, self.y.start + q] = 1
            for k, (pi, j) in enumerate(self.pairs):
                if pi == i and is_preferred(essays[i], reviewers[j].reviewer_id, reviewers, policy):
                    a[n_e + n_r + q, k] = 1
        lo += [1] * ny
        hi += [np.inf] * ny
        for q, j in enumerate(self.wanting):  # units met ≤ new essays of the reviewer
            a[n_e + n_r + ny + q, self.m.start + q] = 1
            for k, (_, pj) in enumerate(self.pairs):
                if pj == j:
                    a[n_e + n_r + ny + q, k] = -1
        lo += [-np.inf] * nm
        hi += [0] * nm
        self.rows = LinearConstraint(a.tocsr(), lo, hi)
        upper = np.ones(self.n)
        upper[self.m] = [short_of(reviewers[j]) for j in self.wanting]
        self.bounds = Bounds(np.zeros(self.n), upper)
        self.fixed: list[LinearConstraint] = []
        self.cost = np.zeros(self.n)
        self.cost[self.x] = [mismatch(essays[i], reviewers[j], policy) for i, j in self.pairs]
        self.cost[self.z] = [c for _, c in self.steps]
        self.cost[self.y] = policy.no_preferred_reviewer_cost

    def vector(self, part, value=1.0):
        v = np.zeros(self.n)
        v[part] = value
        return v

    def best(self, objective) -> int:
        """The optimum of ``objective`` under every constraint fixed so far, then fixed itself."""
        if self.n == 0:
            return 0
        found = milp(objective, constraints=[self.rows, *self.fixed], integrality=np.ones(self.n),
                     bounds=self.bounds, options={"mip_rel_gap": 0.0})
        assert found.success, found.message
        value = round(found.fun)
        self.fixed.append(LinearConstraint(objective.reshape(1, -1), value, value))
        return value


def milp_optimum(essays, reviewers, policy, existing, needed) -> tuple[int, int, int]:
    """(slots filled, minimum-load units met, cost), each the best with the ones before it fixed."""
    model = Milp(essays, reviewers, policy, existing, needed)
    filled = -model.best(-model.vector(model.x))
    met = -model.best(-model.vector(model.m))
    return filled, met, model.best(model.cost)


def met_of(plan, reviewers):
    return sum(min(plan.loads[r.reviewer_id] - r.current_load, short_of(r)) for r in reviewers)


def qualified_count(e, reviewers, policy, existing):
    """Reviewers who could review this essay at all, the ones already on it included."""
    return sum(1 for r in reviewers if allowed(e, r, policy, existing)) + len(existing.get(e.essay_id, ()))


def assert_hard_constraints(plan, essays, reviewers, policy, existing=None, needed=None):
    existing, needed = existing or {}, needed or {}
    by_id = {r.reviewer_id: r for r in reviewers}
    load = {r.reviewer_id: r.current_load for r in reviewers}
    uncovered = {u.essay_id: u for u in plan.uncovered}
    assert len(uncovered) == len(plan.uncovered), "an essay is reported uncovered once"
    assert set(plan.assignments) == {e.essay_id for e in essays}, "the plan answers for every essay of the round"
    for e in essays:
        got = plan.assignments[e.essay_id]
        assert len(set(got)) == len(got), "an essay's reviewers are distinct"
        assert not set(got) & set(existing.get(e.essay_id, ())), "a reviewer already on an essay is not picked again"
        for rid in got:
            assert by_id[rid].endorsement in policy.eligible_endorsements[e.track], "only eligible endorsements"
            assert rid not in e.excluded_reviewer_ids, "never a reviewer with a conflict"
            assert rid != e.candidate_person_id, "never the candidate"
            load[rid] += 1
        want = slots(e, policy, existing, needed)
        if e.essay_id in uncovered:
            u = uncovered[e.essay_id]
            assert u.missing > 0 and len(got) + u.missing == want, "an uncovered essay reports what it lacks"
            q, total = qualified_count(e, reviewers, policy, existing), needed_total(e, policy, needed)
            if q == 0:
                assert u.reason == NO_QUALIFIED_REVIEWER
            elif q == 1 < total:
                assert u.reason == ONLY_ONE_QUALIFIED_REVIEWER
            elif q < total:
                assert u.reason == f"only {['two', 'three'][q - 2]} qualified reviewers without a conflict"
            else:
                assert u.reason == ALL_AT_MAXIMUM_LOAD
        else:
            assert len(got) == want, "every essay gets what it needs unless reported uncovered"
    for e in essays:
        if e.essay_id in uncovered and uncovered[e.essay_id].reason == ALL_AT_MAXIMUM_LOAD:
            for r in reviewers:
                if allowed(e, r, policy, existing) and r.reviewer_id not in plan.assignments[e.essay_id]:
                    assert load[r.reviewer_id] >= r.max_load, "'all at their maximum load' is true"
    for r in reviewers:
        if load[r.reviewer_id] > r.current_load:
            assert load[r.reviewer_id] <= r.max_load, "no reviewer goes above their maximum load"
    assert dict(plan.loads) == load, "reported loads are current load plus new essays"
    assert plan.slots_filled == sum(map(len, plan.assignments.values()))
    assert plan.slots_needed == sum(slots(e, policy, existing, needed) for e in essays)
    assert plan.total_cost == cost_of(plan, essays, reviewers, policy, existing, needed), "reported cost is the objective"
    assert plan.mismatches == sum(1 for e in essays for rid in plan.assignments[e.essay_id]
                                  if by_id[rid].endorsement not in policy.preferred_endorsements.get(e.track, ()))
    with_capacity = [load[r.reviewer_id] for r in reviewers if r.max_load > 0]
    if with_capacity:
        assert plan.load_stats == (min(with_capacity), sum(with_capacity) / len(with_capacity), max(with_capacity))
    assert_essays_without_a_preferred_reviewer_say_why(plan, essays, reviewers, policy, existing, needed)
    assert_minimum_loads_not_met_say_why(plan, essays, reviewers, policy, existing, needed)


def assert_essays_without_a_preferred_reviewer_say_why(plan, essays, reviewers, policy, existing, needed):
    reported = {w.essay_id: w.reason for w in plan.without_preferred}
    assert len(reported) == len(plan.without_preferred), "an essay is reported once"
    assert set(reported) == lacking(plan, essays, reviewers, policy, existing, needed), \
        "exactly the essays of the round left without a preferred reviewer are reported"
    for e in essays:
        if e.essay_id not in reported:
            continue
        free = [r for r in reviewers if r.endorsement in policy.preferred_endorsements.get(e.track, ())
                and r.reviewer_id not in e.blocked]
        if not free:
            assert reported[e.essay_id] == NO_PREFERRED_REVIEWER
        elif all(plan.loads[r.reviewer_id] >= r.max_load for r in free):
            assert reported[e.essay_id] == PREFERRED_AT_MAXIMUM_LOAD
        else:
            assert reported[e.essay_id] == PREFERRED_OUTWEIGHED
            # A free preferred reviewer with room and an open slot would be a larger flow.
            assert len(plan.assignments[e.essay_id]) == slots(e, policy, existing, needed)


def assert_minimum_loads_not_met_say_why(plan, essays, reviewers, policy, existing, needed):
    reported = {m.reviewer_id: m for m in plan.short_of_minimum}
    assert len(reported) == len(plan.short_of_minimum), "a reviewer is reported once"
    new = {r.reviewer_id: plan.loads[r.reviewer_id] - r.current_load for r in reviewers}
    assert {rid: m.missing for rid, m in reported.items()} == \
        {r.reviewer_id: short_of(r) - new[r.reviewer_id] for r in reviewers if new[r.reviewer_id] < short_of(r)}
    by_id = {r.reviewer_id: r for r in reviewers}
    for rid, m in reported.items():
        r = by_id[rid]
        theirs = [e for e in essays if slots(e, policy, existing, needed) > 0 and allowed(e, r, policy, existing)]
        if len(theirs) < short_of(r):
            assert m.reason == (NO_ESSAY_TO_REVIEW if not theirs else
                                f"only {len(theirs)} essay{'s' if len(theirs) > 1 else ''} in this round "
                                f"they may review (track and conflicts)")
            continue
        assert m.reason == ESSAYS_NEEDED_FOR_OTHER_MINIMUMS
        for e in theirs:
            if rid in plan.assignments[e.essay_id]:
                continue
            assert len(plan.assignments[e.essay_id]) == slots(e, policy, existing, needed), "the essay is full"
            for other in plan.assignments[e.essay_id]:
                assert new[other] <= short_of(by_id[other]), "everyone on it needs it for their own minimum"


# --- optimality -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_the_assignment_is_optimal_as_an_independent_milp_solver_finds(seed):
    rng = random.Random(seed)
    essays, reviewers, policy, existing, needed = random_instance(rng, rng.randint(2, 9), rng.randint(2, 8),
                                                                  rounds_so_far=seed % 2 == 1)
    plan = assign_essays(essays, reviewers, policy, existing=existing, needed=needed)
    assert_hard_constraints(plan, essays, reviewers, policy, existing, needed)
    assert (plan.slots_filled, met_of(plan, reviewers), plan.total_cost) == \
        milp_optimum(essays, reviewers, policy, existing, needed)


@pytest.mark.parametrize("seed", range(40))
def test_minimum_loads_are_met_jointly_with_the_other_terms_as_an_independent_milp_solver_finds(seed):
    rng = random.Random(500 + seed)
    essays, reviewers, policy, existing, needed = random_instance(rng, rng.randint(2, 9), rng.randint(2, 8),
                                                                  rounds_so_far=seed % 2 == 1, minimums=0.5)
    plan = assign_essays(essays, reviewers, policy, existing=existing, needed=needed)
    assert_hard_constraints(plan, essays, reviewers, policy, existing, needed)
    assert (plan.slots_filled, met_of(plan, reviewers), plan.total_cost) == \
        milp_optimum(essays, reviewers, policy, existing, needed)


@pytest.mark.parametrize("seed", range(6))
def test_the_rulebook_policy_is_optimal_as_an_independent_milp_solver_finds(seed):
    rng = random.Random(1000 + seed)
    essays, reviewers, policy, existing, needed = random_instance(rng, 10, 8, policy=POLICY, max_load=(1, 5),
                                                                  minimums=0.3)
    plan = assign_essays(essays, reviewers, policy, existing=existing, needed=needed)
    assert (plan.slots_filled, met_of(plan, reviewers), plan.total_cost) == \
        milp_optimum(essays, reviewers, policy, existing, needed)


@pytest.mark.parametrize("seed", range(30))
def test_no_plan_optimal_under_the_linear_mismatch_cost_leaves_fewer_essays_without_a_preferred_reviewer(seed):
    """Among the plans that were optimal before (each mismatch at mismatch_cost, nothing per essay),
    none has fewer essays without a preferred reviewer than the plan now chosen (issue #21)."""
    rng = random.Random(2000 + seed)
    essays, reviewers, policy, existing, needed = random_instance(rng, rng.randint(3, 9), rng.randint(3, 8),
                                                                  rounds_so_far=seed % 2 == 1)
    policy = dataclasses.replace(policy, no_preferred_reviewer_cost=rng.choice([1, 50, 1200]))
    plan = assign_essays(essays, reviewers, policy, existing=existing, needed=needed)
    linear = Milp(essays, reviewers, dataclasses.replace(policy, no_preferred_reviewer_cost=0), existing, needed)
    linear.best(-linear.vector(linear.x))
    linear.best(-linear.vector(linear.m))
    linear.best(linear.cost)
    fewest = linear.best(linear.vector(linear.y))
    assert len(plan.without_preferred) <= fewest


def test_track_match_wins_when_a_mismatch_costs_more_than_the_extra_load():
    reviewers = [ReviewerCapacity("s1", "IMHS", 10), ReviewerCapacity("s2", "IMHS", 10),
                 ReviewerCapacity("c1", "IMHM-C", 10)]
    essays = [EssayToReview(f"e{i}", "IMHS", f"cand{i}") for i in range(4)]
    strict = AssignmentPolicy.from_mapping({**RULEBOOK, "mismatch_cost": 10_000})
    assert assign_essays(essays, reviewers, strict).loads == {"s1": 4, "s2": 4, "c1": 0}
    # Cheaper mismatches: the IMHM-C reviewer's 1st and 2nd essays (150+100, 150+200) undercut the
    # IMHS reviewers' 4th (400 each), so the load spreads.
    relaxed = assign_essays(essays, reviewers, AssignmentPolicy.from_mapping({**RULEBOOK, "mismatch_cost": 150}))
    assert relaxed.loads == {"s1": 3, "s2": 3, "c1": 2} and relaxed.mismatches == 2


def test_load_is_balanced_in_proportion_to_each_reviewers_capacity():
    reviewers = [ReviewerCapacity("small", "IMHS", 10), ReviewerCapacity("big", "IMHS", 20)]
    essays = [EssayToReview(f"e{i}", "IMHS", f"cand{i}") for i in range(15)]
    one_each = AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1})
    assert assign_essays(essays, reviewers, one_each).loads == {"small": 5, "big": 10}


def test_current_load_counts_toward_the_balance_and_the_maximum():
    reviewers = [ReviewerCapacity("busy", "IMHS", 10, current_load=8), ReviewerCapacity("idle", "IMHS", 10)]
    essays = [EssayToReview(f"e{i}", "IMHS", f"cand{i}") for i in range(6)]
    plan = assign_essays(essays, reviewers, AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1}))
    assert plan.loads == {"busy": 8, "idle": 6}


def test_filling_more_slots_comes_before_any_cost():
    # Cheapest would be e1 → s and e2 left uncovered; covering both needs the mismatched reviewer.
    reviewers = [ReviewerCapacity("s", "IMHS", 1), ReviewerCapacity("c", "IMHM-C", 1)]
    essays = [EssayToReview("e1", "IMHS", "x"), EssayToReview("e2", "IMHS", "y", frozenset({"c"}))]
    policy = AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1, "mismatch_cost": MAX_COST})
    plan = assign_essays(essays, reviewers, policy)
    assert plan.assignments == {"e1": ("c",), "e2": ("s",)} and not plan.uncovered


# --- a preferred reviewer on every essay the pool allows (issue #21) -----------------------------


def test_a_second_mismatched_reviewer_on_an_essay_costs_more_than_the_first():
    # Two IMHM-P essays, two IMHM-P and two IMHM-C reviewers with one place each: with a mismatch
    # a flat cost, one essay could get both IMHM-C reviewers at the same cost; it costs more now.
    reviewers = [ReviewerCapacity("p1", "IMHM-P", 1), ReviewerCapacity("p2", "IMHM-P", 1),
                 ReviewerCapacity("c1", "IMHM-C", 1), ReviewerCapacity("c2", "IMHM-C", 1)]
    essays = [EssayToReview("e1", "IMHM-P", "x"), EssayToReview("e2", "IMHM-P", "y")]
    plan = assign_essays(essays, reviewers, POLICY)
    for e in essays:
        assert [rid[0] for rid in sorted(plan.assignments[e.essay_id])] == ["c", "p"]
    assert plan.without_preferred == [] and plan.mismatches == 2
    both_on_one = dataclasses.replace(plan, assignments={"e1": ("p1", "p2"), "e2": ("c1", "c2")})
    assert cost_of(both_on_one, essays, reviewers, POLICY) == plan.total_cost + POLICY.no_preferred_reviewer_cost


def test_an_essay_the_pool_cannot_fill_still_gets_a_reviewer_of_its_own_track():
    # Three places for four slots: one essay will be short either way; it keeps its IMHM-P reviewer.
    reviewers = [ReviewerCapacity("p1", "IMHM-P", 1), ReviewerCapacity("p2", "IMHM-P", 1),
                 ReviewerCapacity("c1", "IMHM-C", 1)]
    essays = [EssayToReview("e1", "IMHM-P", "x"), EssayToReview("e2", "IMHM-P", "y")]
    plan = assign_essays(essays, reviewers, POLICY)
    assert plan.slots_filled == 3 and plan.without_preferred == []
    assert {len(rids) for rids in plan.assignments.values()} == {1, 2}
    assert all(any(r.startswith("p") for r in rids) for rids in plan.assignments.values())


def test_a_reviewer_already_on_the_essay_counts_toward_its_preferred_reviewer():
    # A third reviewer after a disagreement: the essay already has its IMHM-P reviewer, so the
    # cheaper IMHM-C one is fine; without it, the IMHM-P reviewer is worth the load.
    reviewers = [ReviewerCapacity("p-busy", "IMHM-P", 10, current_load=9), ReviewerCapacity("c", "IMHM-C", 10),
                 ReviewerCapacity("p-on", "IMHM-P", 10, 1), ReviewerCapacity("c-on", "IMHM-C", 10, 1),
                 ReviewerCapacity("c-on2", "IMHM-C", 10, 1)]
    essay = EssayToReview("e1", "IMHM-P", "x")
    with_one = assign_essays([essay], reviewers, POLICY, existing={"e1": {"p-on", "c-on"}}, needed={"e1": 3})
    assert with_one.assignments == {"e1": ("c",)}
    without = assign_essays([essay], reviewers, POLICY, existing={"e1": {"c-on", "c-on2"}}, needed={"e1": 3})
    assert set(without.assignments["e1"]) <= {"p-busy", "p-on"} and without.without_preferred == []


def test_on_the_benchmark_instance_no_plan_leaves_fewer_essays_without_a_preferred_reviewer():
    """The 2,000 × 200 instance of ``make bench`` (a pool too short to fill every slot): the plan's
    count of essays without a preferred reviewer is the least any plan filling as many slots has."""
    from bench.essay_assignment import POLICY as BENCH_POLICY
    from bench.essay_assignment import instance

    essays, reviewers = instance(2000, 200)
    plan = assign_essays(essays, reviewers, BENCH_POLICY)
    assert plan.uncovered, "the instance is one where the pool is short"
    assert len(plan.without_preferred) == fewest_without_a_preferred_reviewer(essays, reviewers, BENCH_POLICY,
                                                                              plan)


def fewest_without_a_preferred_reviewer(essays, reviewers, policy, plan) -> int:
    """The integer program (first round, nobody on an essay yet): x (essay, reviewer) pairs, y_i = 1
    when essay i has no preferred reviewer; most slots, then fewest y. Solved exactly: the slots by
    LP (the essay/reviewer incidence matrix is totally unimodular, so the LP optimum is the integer
    one); the fewest y bounded below by its LP relaxation, which proves the minimum when ``plan``
    (a feasible integer solution) attains it; otherwise by HiGHS's MILP (gap 0). The LPs use
    HiGHS's interior point: the instance has 2.6·10⁵ pairs, where simplex takes minutes."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    pairs = [(i, j, r.endorsement in policy.preferred_endorsements.get(e.track, ()))
             for i, e in enumerate(essays) for j, r in enumerate(reviewers) if allowed(e, r, policy, {})]
    i, j, preferred = (np.array(column) for column in zip(*pairs))
    n_x, n_e, n_r = len(pairs), len(essays), len(reviewers)
    k, n = np.arange(n_x), n_x + n_e
    # x ≤ slots per essay and room per reviewer; −(preferred pairs of i) − y_i ≤ −1.
    rows = np.concatenate([i, n_e + j, (n_e + n_r + i)[preferred], n_e + n_r + np.arange(n_e)])
    cols = np.concatenate([k, k, k[preferred], n_x + np.arange(n_e)])
    values = np.concatenate([np.ones(2 * n_x), -np.ones(int(preferred.sum()) + n_e)])
    a_ub = coo_matrix((values, (rows, cols)), shape=(2 * n_e + n_r, n)).tocsr()
    b_ub = np.concatenate([np.full(n_e, policy.reviewers_per_essay), [r.room for r in reviewers], -np.ones(n_e)])
    slots_row = coo_matrix((np.ones(n_x), (np.zeros(n_x), k)), shape=(1, n)).tocsr()
    per_pair, per_essay = np.concatenate([np.ones(n_x), np.zeros(n_e)]), np.concatenate([np.zeros(n_x), np.ones(n_e)])

    most = linprog(-per_pair, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs-ipm")
    assert most.status == 0, most.message
    filled = round(-most.fun)
    assert plan.slots_filled == filled
    relaxed = linprog(per_essay, A_ub=a_ub, b_ub=b_ub, A_eq=slots_row, b_eq=[filled], bounds=(0, 1),
                      method="highs-ipm")
    assert relaxed.status == 0, relaxed.message
    if len(plan.without_preferred) == int(np.ceil(relaxed.fun - 1e-6)):
        return len(plan.without_preferred)  # no integer plan goes below the relaxation, and the plan meets it
    exact = milp(per_essay, constraints=[LinearConstraint(a_ub, -np.inf, b_ub), LinearConstraint(slots_row, filled, filled)],
                 integrality=np.ones(n), bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0})
    assert exact.success, exact.message
    return round(exact.fun)


# --- minimum loads --------------------------------------------------------------------------------


def test_a_volunteer_with_a_minimum_load_gets_it_even_against_the_balance():
    reviewers = [ReviewerCapacity("a", "IMHS", 10), ReviewerCapacity("b", "IMHS", 10)]
    essays = [EssayToReview(f"e{i}", "IMHS", f"cand{i}") for i in range(4)]
    one_each = AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1})
    assert assign_essays(essays, reviewers, one_each).loads == {"a": 2, "b": 2}
    reviewers[1] = ReviewerCapacity("b", "IMHS", 10, min_load=3)
    plan = assign_essays(essays, reviewers, one_each)
    assert plan.loads == {"a": 1, "b": 3} and plan.short_of_minimum == []


def test_a_minimum_load_outweighs_a_mismatch_but_never_a_slot():
    # The IMHM-C volunteer's minimum puts them on an IMHM-P essay though an IMHM-P reviewer is free …
    reviewers = [ReviewerCapacity("p", "IMHM-P", 5), ReviewerCapacity("c", "IMHM-C", 5, min_load=1)]
    plan = assign_essays([EssayToReview("e1", "IMHM-P", "x")], reviewers,
                         AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1}))
    assert plan.assignments == {"e1": ("c",)}
    # … but not at the price of a slot: e2 has only the volunteer, so e1 goes to the other reviewer.
    reviewers = [ReviewerCapacity("s", "IMHS", 1), ReviewerCapacity("v", "IMHS", 1, min_load=1)]
    essays = [EssayToReview("e1", "IMHS", "x"), EssayToReview("e2", "IMHS", "y", frozenset({"s"}))]
    plan = assign_essays(essays, reviewers, AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1}))
    assert plan.assignments == {"e1": ("s",), "e2": ("v",)}


def test_a_minimum_load_counts_the_essays_already_on_the_reviewer():
    reviewers = [ReviewerCapacity("a", "IMHS", 10), ReviewerCapacity("b", "IMHS", 10, current_load=2, min_load=3)]
    essays = [EssayToReview(f"e{i}", "IMHS", f"cand{i}") for i in range(4)]
    plan = assign_essays(essays, reviewers, AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1}))
    assert plan.loads == {"a": 3, "b": 3}  # b needed one more; the balance does the rest


@pytest.mark.parametrize("rule, reviewers, essays, expected", [
    ("no essay of their track in the round",
     [ReviewerCapacity("v", "IMHM-P", 5, min_load=2)], [EssayToReview("e1", "IMHS", "x")],
     [("v", 2, NO_ESSAY_TO_REVIEW)]),
    ("their only essay is one they are in conflict with",
     [ReviewerCapacity("v", "IMHS", 5, min_load=1), ReviewerCapacity("s", "IMHS", 5)],
     [EssayToReview("e1", "IMHS", "x", frozenset({"v"}))], [("v", 1, NO_ESSAY_TO_REVIEW)]),
    ("fewer essays than the minimum asks",
     [ReviewerCapacity("v", "IMHS", 5, min_load=3)], [EssayToReview("e1", "IMHS", "x")],
     [("v", 2, "only 1 essay in this round they may review (track and conflicts)")]),
    ("two volunteers want two each of three single-reviewer essays",
     [ReviewerCapacity("v", "IMHS", 5, min_load=2), ReviewerCapacity("w", "IMHS", 5, min_load=2)],
     [EssayToReview(f"e{i}", "IMHS", f"c{i}") for i in range(3)], "one of them, 1, " + ESSAYS_NEEDED_FOR_OTHER_MINIMUMS),
])
def test_a_minimum_load_that_cannot_be_met_is_reported_with_its_reason(rule, reviewers, essays, expected):
    one_each = AssignmentPolicy.from_mapping({**RULEBOOK, "reviewers_per_essay": 1})
    plan = assign_essays(essays, reviewers, one_each)
    assert_hard_constraints(plan, essays, reviewers, one_each)
    if isinstance(expected, str):
        assert [(m.missing, m.reason) for m in plan.short_of_minimum] == [(1, ESSAYS_NEEDED_FOR_OTHER_MINIMUMS)]
        assert sorted(plan.loads.values()) == [1, 2]
    else:
        assert plan.short_of_minimum == expected


@HYPOTHESIS
@given(st.randoms(use_true_random=False))
def test_minimum_loads_keep_every_hard_constraint_and_say_why_when_unmet(rng):
    essays, reviewers, policy, existing, needed = random_instance(rng, rng.randint(0, 12), rng.randint(0, 10),
                                                                  minimums=0.6)
    plan = assign_essays(essays, reviewers, policy, existing=existing, needed=needed)
    assert_hard_constraints(plan, essays, reviewers, policy, existing, needed)


# --- hard constraints on every plan ---------------------------------------------------------------


@HYPOTHESIS
@given(st.randoms(use_true_random=False))
def test_every_hard_constraint_holds_on_random_instances(rng):
    essays, reviewers, policy, existing, needed = random_instance(rng, rng.randint(0, 12), rng.randint(0, 10))
    plan = assign_essays(essays, reviewers, policy, existing=existing, needed=needed)
    assert_hard_constraints(plan, essays, reviewers, policy, existing, needed)


def medium_instance(seed=7):
    rng = random.Random(seed)
    return random_instance(rng, 600, 90, policy=POLICY, conflict_rate=0.05, max_load=(10, 25), rounds_so_far=False)[:2]


def test_every_hard_constraint_holds_on_a_medium_instance():
    essays, reviewers = medium_instance()
    plan = assign_essays(essays, reviewers, POLICY)
    assert_hard_constraints(plan, essays, reviewers, POLICY)
    assert plan.slots_filled > 0.9 * plan.slots_needed


# --- later rounds ---------------------------------------------------------------------------------


def reassign_after_dropping(first, essays, reviewers, policy, gone):
    """The round after ``gone`` declined or missed the deadline: the rest stay, current loads carry over."""
    existing = {e.essay_id: frozenset(first.assignments[e.essay_id]) - {gone} for e in essays}
    staying = [ReviewerCapacity(r.reviewer_id, r.endorsement, r.max_load, first.loads[r.reviewer_id])
               for r in reviewers if r.reviewer_id != gone]
    return existing, staying


def test_a_reviewer_who_declines_or_misses_the_deadline_is_replaced_only_on_their_essays():
    essays, reviewers = medium_instance(11)
    first = assign_essays(essays, reviewers, POLICY)
    assert not first.uncovered
    gone = max(first.loads, key=first.loads.get)
    existing, staying = reassign_after_dropping(first, essays, reviewers, POLICY, gone)
    second = assign_essays(essays, staying, POLICY, existing=existing)
    assert_hard_constraints(second, essays, staying, POLICY, existing)
    affected = {e.essay_id for e in essays if gone in first.assignments[e.essay_id]}
    assert affected
    for e in essays:
        new = second.assignments[e.essay_id]
        if e.essay_id in affected:
            assert len(new) == 1 or any(u.essay_id == e.essay_id for u in second.uncovered)
        else:
            assert new == (), "an essay the reviewer was not on keeps its reviewers"
    # Passing only the affected essays is the same round.
    lean = assign_essays([e for e in essays if e.essay_id in affected], staying, POLICY,
                         existing={k: v for k, v in existing.items() if k in affected})
    assert (lean.slots_filled, lean.total_cost) == (second.slots_filled, second.total_cost)


@HYPOTHESIS
@given(st.randoms(use_true_random=False))
def test_reassignment_after_a_decline_keeps_everyone_else_on_random_instances(rng):
    essays, reviewers, policy, _, _ = random_instance(rng, rng.randint(1, 10), rng.randint(1, 8), rounds_so_far=False)
    first = assign_essays(essays, reviewers, policy)
    gone = rng.choice(reviewers).reviewer_id
    existing, staying = reassign_after_dropping(first, essays, reviewers, policy, gone)
    second = assign_essays(essays, staying, policy, existing=existing)
    assert_hard_constraints(second, essays, staying, policy, existing)
    short_before = {u.essay_id for u in first.uncovered}  # those are simply tried again
    for e in essays:
        if gone not in first.assignments[e.essay_id] and e.essay_id not in short_before:
            assert second.assignments[e.essay_id] == ()


@HYPOTHESIS
@given(st.randoms(use_true_random=False))
def test_a_third_reviewer_on_disagreement_never_repeats_the_first_two(rng):
    essays, reviewers, policy, _, _ = random_instance(rng, rng.randint(1, 10), rng.randint(2, 10), rounds_so_far=False)
    policy = dataclasses.replace(policy, reviewers_per_essay=2)
    first = assign_essays(essays, reviewers, policy)
    disputed = [e for e in essays if len(first.assignments[e.essay_id]) == 2 and rng.random() < 0.7]
    existing = {e.essay_id: frozenset(first.assignments[e.essay_id]) for e in disputed}
    needed = {e.essay_id: 3 for e in disputed}
    loaded = [ReviewerCapacity(r.reviewer_id, r.endorsement, r.max_load, first.loads[r.reviewer_id]) for r in reviewers]
    third = assign_essays(disputed, loaded, policy, existing=existing, needed=needed)
    assert_hard_constraints(third, disputed, loaded, policy, existing, needed)
    for e in disputed:
        assert not set(third.assignments[e.essay_id]) & existing[e.essay_id]
        assert len(third.assignments[e.essay_id]) <= 1


# --- uncovered essays say why ---------------------------------------------------------------------


def one_essay_plan(pool, **kwargs):
    essay = EssayToReview("e1", "IMHS", "cand", frozenset({"conflicted"}))
    base = [ReviewerCapacity("conflicted", "IMHS", 5), ReviewerCapacity("cand", "IMHS", 5),
            ReviewerCapacity("policy-person", "IMHM-P", 5)]  # excluded, the candidate, not eligible for IMHS
    return assign_essays([essay], base + pool, POLICY, **kwargs)


def test_uncovered_when_no_qualified_reviewer_without_a_conflict():
    plan = one_essay_plan([])
    assert plan.uncovered == [("e1", 2, NO_QUALIFIED_REVIEWER)]
    assert plan.assignments == {"e1": ()}


def test_uncovered_when_only_one_qualified_reviewer_without_a_conflict():
    plan = one_essay_plan([ReviewerCapacity("only", "IMHM-C", 5)])
    assert plan.assignments == {"e1": ("only",)}
    assert plan.uncovered == [("e1", 1, ONLY_ONE_QUALIFIED_REVIEWER)]


def test_uncovered_when_qualified_reviewers_are_all_at_their_maximum_load():
    plan = one_essay_plan([ReviewerCapacity("full", "IMHS", 3, current_load=3),
                           ReviewerCapacity("none-offered", "IMHS", 0)])
    assert plan.uncovered == [("e1", 2, ALL_AT_MAXIMUM_LOAD)]


def test_uncovered_when_other_essays_took_the_last_places():
    reviewers = [ReviewerCapacity(f"r{j}", "IMHS", 1) for j in range(3)]
    essays = [EssayToReview("e1", "IMHS", "a"), EssayToReview("e2", "IMHS", "b")]
    plan = assign_essays(essays, reviewers, POLICY)
    assert [(u.missing, u.reason) for u in plan.uncovered] == [(1, ALL_AT_MAXIMUM_LOAD)]


def test_a_reviewer_who_stays_on_counts_as_the_one_qualified_reviewer():
    plan = one_essay_plan([ReviewerCapacity("kept", "IMHS", 5, current_load=1)], existing={"e1": {"kept"}})
    assert plan.uncovered == [("e1", 1, ONLY_ONE_QUALIFIED_REVIEWER)]


def test_a_third_reviewer_with_only_the_first_two_qualified_says_so():
    pool = [ReviewerCapacity("a", "IMHS", 5, 1), ReviewerCapacity("b", "IMHM-C", 5, 1)]
    plan = one_essay_plan(pool, existing={"e1": {"a", "b"}}, needed={"e1": 3})
    assert plan.uncovered == [("e1", 1, "only two qualified reviewers without a conflict")]


# --- the candidate and the inputs -----------------------------------------------------------------


def test_the_candidate_never_reviews_their_own_essay_even_if_not_listed_as_a_conflict():
    reviewers = [ReviewerCapacity(p, "IMHS", 5) for p in ("cand", "a", "b")]
    plan = assign_essays([EssayToReview("e1", "IMHS", "cand")], reviewers, POLICY)
    assert sorted(plan.assignments["e1"]) == ["a", "b"]


@pytest.mark.parametrize("call, message", [
    (lambda: assign_essays([EssayToReview("e", "IMHS", "c")] * 2, [], POLICY), "listed twice"),
    (lambda: assign_essays([], [ReviewerCapacity("r", "IMHS", 1)] * 2, POLICY), "listed twice"),
    (lambda: assign_essays([EssayToReview("e", "ECMH", "c")], [], POLICY), "no track"),
    (lambda: assign_essays([EssayToReview("e", "IMHS", "c", frozenset({"r"}))], [], POLICY, existing={"e": {"r"}}),
     "excluded"),
    (lambda: assign_essays([EssayToReview("e", "IMHS", "c")], [], POLICY, existing={"other": {"r"}}),
     "not in this round"),
    (lambda: assign_essays([EssayToReview("e", "IMHS", "c")], [], POLICY, needed={"e": 0}), "needed"),
    (lambda: ReviewerCapacity("r", "IMHS", -1), "max_load"),
    (lambda: ReviewerCapacity("r", "IMHS", 3, min_load=4), "min_load 4 is above max_load 3"),
    (lambda: ReviewerCapacity("r", "IMHS", 3, min_load=-1), "min_load"),
    (lambda: EssayToReview("e", "IMHS", "c", "r1"), "collection"),
])
def test_inputs_that_break_a_rule_are_refused(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# --- the policy comes from rulebook data ----------------------------------------------------------


def test_the_policy_is_read_from_rulebook_data():
    assert POLICY.eligible_endorsements["IMHS"] == frozenset({"IMHS", "IMHM-C"})
    assert POLICY.preferred_endorsements["IMHM-P"] == frozenset({"IMHM-P"})
    assert (POLICY.reviewers_per_essay, POLICY.mismatch_cost, POLICY.no_preferred_reviewer_cost,
            POLICY.load_cost_per_unit) == (2, 200, 1200, 10)
    without_default = {k: v for k, v in RULEBOOK.items() if k != "reviewers_per_essay"}
    assert AssignmentPolicy.from_mapping(without_default).reviewers_per_essay == 2


@pytest.mark.parametrize("change, message", [
    ({"reviewer_per_essay": 2}, "unknown"),
    ({"mismatch_cost": None}, "mismatch_cost"),
    ({"mismatch_cost": "200"}, "mismatch_cost"),
    ({"mismatch_cost": 2.5}, "mismatch_cost"),
    ({"load_cost_per_unit": True}, "load_cost_per_unit"),
    ({"no_preferred_reviewer_cost": -1}, "no_preferred_reviewer_cost"),
    ({"no_preferred_reviewer_cost": 1.5}, "no_preferred_reviewer_cost"),
    ({"no_preferred_reviewer_cost": MAX_COST + 1}, "no_preferred_reviewer_cost"),
    ({"load_cost_per_unit": -1}, "load_cost_per_unit"),
    ({"load_cost_per_unit": 10**7}, "load_cost_per_unit"),
    ({"reviewers_per_essay": 0}, "reviewers_per_essay"),
    ({"eligible_endorsements": {"IMHS": "IMHS"}}, "list"),
    ({"eligible_endorsements": {"IMHS": []}}, "empty"),
    ({"eligible_endorsements": {}}, "no track"),
    ({"eligible_endorsements": ["IMHS"]}, "mapping"),
    ({"eligible_endorsements": {"IMHS": ["IMHS", "IMHS"]}}, "twice"),
    ({"preferred_endorsements": {"IMHS": ["IMHM-P"]}}, "not eligible"),
    ({"preferred_endorsements": {"ECMHS": ["IMHS"]}}, "track"),
])
def test_a_malformed_policy_is_refused(change, message):
    data = {**RULEBOOK, **change}
    with pytest.raises(PolicyError, match=message):
        AssignmentPolicy.from_mapping(data)


@pytest.mark.parametrize("key", ["eligible_endorsements", "preferred_endorsements", "mismatch_cost",
                                 "no_preferred_reviewer_cost", "load_cost_per_unit"])
def test_a_policy_missing_a_setting_is_refused(key):
    with pytest.raises(PolicyError, match="lacks"):
        AssignmentPolicy.from_mapping({k: v for k, v in RULEBOOK.items() if k != key})


# --- the dry run ----------------------------------------------------------------------------------


def test_the_dry_run_shows_every_new_pair_as_a_table_and_csv(tmp_path):
    essays, reviewers = medium_instance(3)
    plan = assign_essays(essays[:40], reviewers, POLICY)
    rows = plan.to_rows()
    assert len(rows) == plan.slots_filled
    by_id = {r.reviewer_id: r for r in reviewers}
    for row in rows:
        assert row["track"] == plan.essays[row["essay_id"]].track
        assert row["reviewer_endorsement"] == by_id[row["reviewer_id"]].endorsement
        assert row["preferred"] == (row["reviewer_endorsement"] in POLICY.preferred_endorsements[row["track"]])
        assert row["note"] == ""
    buffer = io.StringIO()
    plan.to_csv(buffer)
    plan.to_csv(tmp_path / "plan.csv")
    assert (tmp_path / "plan.csv").read_bytes().decode("utf-8") == buffer.getvalue()
    read = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert list(read[0]) == ["essay_id", "track", "reviewer_id", "reviewer_endorsement", "preferred", "note"]
    assert read == [{k: str(v) for k, v in row.items()} for row in rows]


def test_the_dry_run_csv_says_which_essays_lack_a_preferred_reviewer_or_reviewers_and_why():
    # e1: the only IMHM-P reviewer is in conflict, so two reviewers from other tracks.
    # e2: the IMHM-P reviewer it could have is full, and nobody else is left: no reviewer at all.
    reviewers = [ReviewerCapacity("p1", "IMHM-P", 1), ReviewerCapacity("c1", "IMHM-C", 1),
                 ReviewerCapacity("c2", "IMHM-C", 1)]
    essays = [EssayToReview("e1", "IMHM-P", "x", frozenset({"p1"})), EssayToReview("e2", "IMHM-P", "y"),
              EssayToReview("e3", "IMHM-P", "z", frozenset({"c1", "c2"}))]
    plan = assign_essays(essays, reviewers, POLICY)
    assert plan.assignments == {"e1": ("c1", "c2"), "e2": (), "e3": ("p1",)}
    assert plan.without_preferred == [("e1", NO_PREFERRED_REVIEWER), ("e2", PREFERRED_AT_MAXIMUM_LOAD)]
    buffer = io.StringIO()
    plan.to_csv(buffer)
    notes = {(row["essay_id"], row["reviewer_id"]): row["note"] for row in csv.DictReader(io.StringIO(buffer.getvalue()))}
    assert notes == {
        ("e1", "c1"): f"no preferred reviewer: {NO_PREFERRED_REVIEWER}",
        ("e1", "c2"): f"no preferred reviewer: {NO_PREFERRED_REVIEWER}",
        ("e2", ""): f"needs 2 more: {ALL_AT_MAXIMUM_LOAD}; no preferred reviewer: {PREFERRED_AT_MAXIMUM_LOAD}",
        ("e3", "p1"): f"needs 1 more: {ONLY_ONE_QUALIFIED_REVIEWER}",
    }


def test_an_empty_round_is_an_empty_plan():
    plan = assign_essays([], [], POLICY)
    assert (plan.assignments, plan.uncovered, plan.total_cost, plan.load_stats) == ({}, [], 0, (0, 0.0, 0))


def test_every_associations_rulebook_weighs_an_essay_without_its_track_above_a_load_step_and_a_mismatch():
    """rules/baseline.yaml · essay_review_policy (issue #21): no single step of load balance plus a
    mismatch elsewhere may outweigh an essay left without a reviewer of its own track."""
    from datetime import date

    from endorse.rulebook import default_library
    from tasks.exam import policy_for

    library = default_library()
    for association in library.associations:
        policy = policy_for(library, association, date(2026, 11, 29))
        assert policy.no_preferred_reviewer_cost > 100 * policy.load_cost_per_unit + policy.mismatch_cost, association
