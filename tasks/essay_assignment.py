"""Assigning exam essays to volunteer reviewers: optimal, exact, under hard constraints.

Hard constraints: a reviewer only gets essays of tracks their endorsement qualifies them for
(``AssignmentPolicy.eligible_endorsements``, from the rulebook); never an essay they are excluded from
(conflicts the caller computed: the candidate themself, their raters, RS/C provider, supervisor,
same employer, declared conflicts); never the same essay twice (reviewers already on an essay are
``existing``); never more than their maximum load.

Objective, lexicographic: first fill as many reviewer slots as possible; then minimise
    Σ mismatch_cost · [reviewer's endorsement is not the track's preferred one]
  + Σ over reviewers of a convex load cost: the k-th essay given to a reviewer costs
    load_cost_per_unit · (current_load + k) · 100 // max_load,
so work spreads in proportion to each reviewer's capacity (a reviewer with room for 25 is asked
before one with room for 10 is filled up).

Why min-cost flow with OR-Tools: the problem is a transportation problem (source → essays →
reviewers → sink, capacities = slots and loads), whose constraint matrix is totally unimodular, so
the min-cost max-flow is an exact integer optimum; the convex load cost becomes parallel unit arcs of
increasing cost. OR-Tools' ``SimpleMinCostFlow`` is a maintained C++ solver that does this in well
under a second for thousands of essays, and its vectorised arc API keeps the Python side cheap.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping

import numpy as np

Id = Hashable


@dataclass(frozen=True)
class EssayToReview:
    essay_id: Id
    track: str
    excluded_reviewer_ids: frozenset = frozenset()


@dataclass(frozen=True)
class ReviewerCapacity:
    reviewer_id: Id
    endorsement: str
    max_load: int
    current_load: int = 0


@dataclass(frozen=True)
class AssignmentPolicy:
    eligible_endorsements: Mapping[str, frozenset[str]]
    preferred_endorsements: Mapping[str, frozenset[str]]
    reviewers_per_essay: int = 2
    mismatch_cost: int = 100
    load_cost_per_unit: int = 10

    @classmethod
    def from_mapping(cls, data: Mapping) -> "AssignmentPolicy":
        allowed = {"eligible_endorsements", "preferred_endorsements", "reviewers_per_essay", "mismatch_cost",
                   "load_cost_per_unit"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown assignment policy keys: {sorted(unknown)}")
        return cls(
            eligible_endorsements={t: frozenset(v) for t, v in data["eligible_endorsements"].items()},
            preferred_endorsements={t: frozenset(v) for t, v in data.get("preferred_endorsements", {}).items()},
            reviewers_per_essay=int(data.get("reviewers_per_essay", 2)),
            mismatch_cost=int(data.get("mismatch_cost", 100)),
            load_cost_per_unit=int(data.get("load_cost_per_unit", 10)),
        )


@dataclass
class AssignmentPlan:
    assignments: dict[Id, tuple]
    total_cost: int
    loads: dict[Id, int]
    uncovered: list[tuple[Id, int, str]]
    essays: dict[Id, EssayToReview] = field(default_factory=dict)
    reviewers: dict[Id, ReviewerCapacity] = field(default_factory=dict)
    policy: AssignmentPolicy | None = None

    @property
    def load_stats(self) -> tuple[int, float, int]:
        values = [self.loads[r] for r, cap in self.reviewers.items() if cap.max_load > 0]
        if not values:
            return 0, 0.0, 0
        return min(values), sum(values) / len(values), max(values)

    def to_rows(self) -> list[dict]:
        rows = []
        for essay_id, reviewer_ids in self.assignments.items():
            essay = self.essays[essay_id]
            for rid in reviewer_ids:
                endorsement = self.reviewers[rid].endorsement
                rows.append({"essay_id": essay_id, "track": essay.track, "reviewer_id": rid,
                             "reviewer_endorsement": endorsement,
                             "preferred": endorsement in self.policy.preferred_endorsements.get(essay.track, ())})
        return rows

    def to_csv(self, out) -> None:
        rows = self.to_rows()
        fields = ["essay_id", "track", "reviewer_id", "reviewer_endorsement", "preferred"]
        if hasattr(out, "write"):
            w = csv.DictWriter(out, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        else:
            with open(out, "w", newline="") as fh:
                self.to_csv(fh)


def unit_load_costs(cap: ReviewerCapacity, policy: AssignmentPolicy) -> list[int]:
    """Cost of the 1st, 2nd, … further essay for this reviewer (non-decreasing: convex)."""
    room = max(0, cap.max_load - cap.current_load)
    return [policy.load_cost_per_unit * (cap.current_load + k) * 100 // max(cap.max_load, 1) for k in range(1, room + 1)]


def arc_cost(essay: EssayToReview, cap: ReviewerCapacity, policy: AssignmentPolicy) -> int:
    return 0 if cap.endorsement in policy.preferred_endorsements.get(essay.track, ()) else policy.mismatch_cost


def candidates(essay: EssayToReview, reviewers: Iterable[ReviewerCapacity], policy: AssignmentPolicy,
               existing: frozenset) -> list[ReviewerCapacity]:
    eligible = policy.eligible_endorsements.get(essay.track, frozenset())
    return [r for r in reviewers if r.endorsement in eligible and r.reviewer_id not in essay.excluded_reviewer_ids
            and r.reviewer_id not in existing]


def assign_essays(essays: list[EssayToReview], reviewers: list[ReviewerCapacity], policy: AssignmentPolicy, *,
                  existing: Mapping[Id, frozenset] | None = None,
                  needed: Mapping[Id, int] | None = None) -> AssignmentPlan:
    """The optimal assignment; ``existing`` reviewers stay on their essays and count toward ``needed``."""
    from ortools.graph.python import min_cost_flow

    existing = existing or {}
    essay_index = {e.essay_id: i for i, e in enumerate(essays)}
    rev_index = {r.reviewer_id: j for j, r in enumerate(reviewers)}
    need = np.array([max(0, (needed or {}).get(e.essay_id, policy.reviewers_per_essay)
                         - len(existing.get(e.essay_id, ()))) for e in essays], dtype=np.int64)
    n_e, n_r = len(essays), len(reviewers)
    source, sink = n_e + n_r, n_e + n_r + 1

    # Essay → reviewer arcs, built per track with numpy masks (no Python loop over all pairs).
    endorsements = np.array([r.endorsement for r in reviewers], dtype=object)
    starts, ends, costs = [], [], []
    for track in sorted({e.track for e in essays}):
        eligible = np.isin(endorsements, list(policy.eligible_endorsements.get(track, ())))
        preferred = np.isin(endorsements, list(policy.preferred_endorsements.get(track, ())))
        cols = np.nonzero(eligible)[0]
        rows = np.array([i for i, e in enumerate(essays) if e.track == track and need[i] > 0], dtype=np.int64)
        if len(cols) == 0 or len(rows) == 0:
            continue
        ii = np.repeat(rows, len(cols))
        jj = np.tile(cols, len(rows))
        # Remove excluded and already-assigned pairs (only the listed ones are looked at).
        blocked = [int(i) * n_r + rev_index[rid] for i in rows
                   for rid in set(essays[i].excluded_reviewer_ids) | set(existing.get(essays[i].essay_id, ()))
                   if rid in rev_index]
        keep = ~np.isin(ii * n_r + jj, np.array(blocked, dtype=np.int64)) if blocked else np.ones(len(ii), dtype=bool)
        ii, jj = ii[keep], jj[keep]
        starts.append(ii)
        ends.append(n_e + jj)
        costs.append(np.where(preferred[jj], 0, policy.mismatch_cost).astype(np.int64))

    smcf = min_cost_flow.SimpleMinCostFlow()
    if starts:
        s = np.concatenate(starts)
        smcf.add_arcs_with_capacity_and_unit_cost(s, np.concatenate(ends), np.ones(len(s), dtype=np.int64),
                                                  np.concatenate(costs))
    smcf.add_arcs_with_capacity_and_unit_cost(np.full(n_e, source, dtype=np.int64), np.arange(n_e, dtype=np.int64),
                                              need, np.zeros(n_e, dtype=np.int64))
    ls, le, lc = [], [], []
    for j, r in enumerate(reviewers):
        unit = unit_load_costs(r, policy)
        ls.extend([n_e + j] * len(unit))
        le.extend([sink] * len(unit))
        lc.extend(unit)
    if ls:
        smcf.add_arcs_with_capacity_and_unit_cost(np.array(ls, dtype=np.int64), np.array(le, dtype=np.int64),
                                                  np.ones(len(ls), dtype=np.int64), np.array(lc, dtype=np.int64))
    total = int(need.sum())
    smcf.set_node_supply(source, total)  # the max-flow variant sends as much of this as the graph allows
    smcf.set_node_supply(sink, -total)
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")

    n_pair_arcs = int(sum(len(x) for x in starts))
    flows = smcf.flows(np.arange(n_pair_arcs, dtype=np.int64)) if n_pair_arcs else np.array([], dtype=np.int64)
    chosen: dict[Id, list] = {e.essay_id: [] for e in essays}
    loads = {r.reviewer_id: r.current_load for r in reviewers}
    if n_pair_arcs:
        s_all, e_all = np.concatenate(starts), np.concatenate(ends)
        for k in np.nonzero(flows)[0]:
            essay = essays[int(s_all[k])]
            rev = reviewers[int(e_all[k]) - n_e]
            chosen[essay.essay_id].append(rev.reviewer_id)
            loads[rev.reviewer_id] += 1
    uncovered = []
    for i, e in enumerate(essays):
        missing = int(need[i]) - len(chosen[e.essay_id])
        if missing > 0:
            uncovered.append((e.essay_id, missing, _why(e, reviewers, policy, existing.get(e.essay_id, frozenset()),
                                                       int(need[i]))))
    return AssignmentPlan(
        assignments={k: tuple(v) for k, v in chosen.items() if v}, total_cost=int(smcf.optimal_cost()),
        loads=loads, uncovered=uncovered, essays={e.essay_id: e for e in essays},
        reviewers={r.reviewer_id: r for r in reviewers}, policy=policy)


def _why(essay: EssayToReview, reviewers: list[ReviewerCapacity], policy: AssignmentPolicy, existing: frozenset,
         need: int) -> str:
    pool = candidates(essay, reviewers, policy, frozenset(existing))
    if not pool:
        return "no qualified reviewer without a conflict"
    if len(pool) < need:
        return "only one qualified reviewer without a conflict" if len(pool) == 1 else \
            f"only {len(pool)} qualified reviewers without a conflict"
    return "qualified reviewers without a conflict are all at their maximum load"
