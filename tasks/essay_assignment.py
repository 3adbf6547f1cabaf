"""Assigning exam essays to volunteer reviewers: optimal, exact, under hard constraints.

This is the pure solver core: plain values in, an :class:`AssignmentPlan` out. Which endorsements
may review which track, which are preferred and what the weights are all come from an
:class:`AssignmentPolicy` (rulebook data); nothing about tracks or endorsements is fixed here.

Hard constraints (never traded against the objective):

* a reviewer only gets essays of a track their endorsement is eligible for;
* never an essay they are excluded from: the caller's computed conflicts (the candidate's raters,
  RS/C provider, supervisor, same employer, declared conflicts) and always the candidate themself;
* every essay gets distinct reviewers, and reviewers already on it (``existing``) are not picked
  again; they stay on and count toward the number ``needed``;
* a reviewer's load (``current_load`` plus new essays) never goes above ``max_load``.

Objective, lexicographic. First fill as many reviewer slots as possible. Among those assignments,
minimise

    Σ over new (essay, reviewer) pairs   mismatch_cost · [reviewer's endorsement is not preferred
                                                          for the essay's track]
  + Σ over reviewers r, over their new essays k = 1 … n_r
        ⌊100 · load_cost_per_unit · (current_load_r + k) / max_load_r⌋

The k-th new essay for a reviewer costs ``load_cost_per_unit`` per percentage point of their
capacity that is in use once they have it. Its marginal cost rises with every essay (convex), so
spreading work is cheaper than piling it on; and because it is normalised by ``max_load`` the
balance is proportional: with the continuous relaxation the load term is ≈ Σ 50·u·L_r²/M_r, whose
minimum for a fixed total has every L_r/M_r equal, so a volunteer who offered 25 essays takes about
2.5 times as many as one who offered 10 instead of both being held at 10. Costs stay integers (the
floor keeps them non-decreasing in k, hence still convex and still exact). ``total_cost`` is this
objective for the round's new assignments.

Why min-cost flow, with OR-Tools' ``SimpleMinCostFlow``: the problem is a transportation problem
(source → essay, capacity = slots needed; essay → reviewer, capacity 1, cost = mismatch; reviewer →
sink as parallel unit arcs whose costs are the rising load costs above). Its constraint matrix is a
network matrix, totally unimodular, so an integral min-cost max-flow *is* the exact integer optimum
— no rounding, no MIP gap, no time limit. ``solve_max_flow_with_min_cost`` gives the lexicographic
order directly (maximum flow, then least cost among maximum flows). It is a maintained C++
cost-scaling solver with a vectorised arc API, so a 10,000 × 1,000 instance (millions of arcs) is
built from numpy arrays without a Python loop over pairs. An LP/MIP solver would be exact here too
but slower and needs the lexicographic order emulated with weights or two solves.

Uncovered essays are diagnosed, not guessed: with fewer qualified reviewers without a conflict (the
ones already on the essay included) than it needs the reason says how many there are; otherwise a
maximum flow guarantees that every such reviewer not already on the essay is at their maximum load.

The same function does every round: the first one; reassignment after a decline or a missed
deadline (pass the affected essays, the reviewers who stay on as ``existing``, the reviewer who
dropped out removed or excluded, and ``current_load`` as it stands); and a third reviewer when two
disagree (``needed={essay_id: 3}`` with the two as ``existing``).
"""

from __future__ import annotations

import csv
import numbers
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Hashable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

Id = Hashable

# Keeps every arc cost ≤ 100 · MAX_COST, so OR-Tools' cost scaling (costs × number of nodes) stays
# far inside int64 even for very large pools.
MAX_COST = 1_000_000

NO_QUALIFIED_REVIEWER = "no qualified reviewer without a conflict"
ONLY_ONE_QUALIFIED_REVIEWER = "only one qualified reviewer without a conflict"
ALL_AT_MAXIMUM_LOAD = "qualified reviewers without a conflict are all at their maximum load"

CSV_FIELDS = ("essay_id", "track", "reviewer_id", "reviewer_endorsement", "preferred")


class PolicyError(ValueError):
    """The assignment policy (rulebook data) is malformed."""


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _freeze_ids(value: Any, what: str) -> frozenset:
    # A bare string would silently become a set of characters.
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a collection of ids, not {type(value).__name__}")
    return frozenset(value)


@dataclass(frozen=True)
class EssayToReview:
    essay_id: Id
    track: str
    candidate_person_id: Id
    # Conflicts the caller computed (raters, RS/C provider, supervisor, employer, declared). The
    # candidate is excluded whether or not they are listed here.
    excluded_reviewer_ids: frozenset = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded_reviewer_ids",
                           _freeze_ids(self.excluded_reviewer_ids, f"essay {self.essay_id!r} exclusions"))

    @property
    def blocked(self) -> frozenset:
        return self.excluded_reviewer_ids | {self.candidate_person_id}


@dataclass(frozen=True)
class ReviewerCapacity:
    reviewer_id: Id
    endorsement: str
    max_load: int
    current_load: int = 0  # essays already on this reviewer (earlier rounds of the same sitting)

    def __post_init__(self) -> None:
        for name in ("max_load", "current_load"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"reviewer {self.reviewer_id!r}: {name} must be a whole number ≥ 0, got {value!r}")

    @property
    def room(self) -> int:
        return max(0, self.max_load - self.current_load)


def _frozen_table(value: Any, what: str) -> Mapping[str, frozenset]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{what} must be a mapping of track → endorsements, not {type(value).__name__}")
    table = {}
    for track, endorsements in value.items():
        if not isinstance(track, str) or not track:
            raise PolicyError(f"{what}: track names must be non-empty strings, got {track!r}")
        if isinstance(endorsements, (str, bytes)) or not isinstance(endorsements, Iterable):
            raise PolicyError(f"{what}[{track}] must be a list of endorsements, got {endorsements!r}")
        items = list(endorsements)
        if any(not isinstance(x, str) or not x for x in items):
            raise PolicyError(f"{what}[{track}]: endorsements must be non-empty strings, got {items!r}")
        if len(set(items)) != len(items):
            raise PolicyError(f"{what}[{track}] lists an endorsement twice: {items!r}")
        table[track] = frozenset(items)
    return MappingProxyType(table)


@dataclass(frozen=True, kw_only=True)
class AssignmentPolicy:
    reviewers_per_essay: int = 2
    eligible_endorsements: Mapping[str, frozenset[str]]
    preferred_endorsements: Mapping[str, frozenset[str]]
    mismatch_cost: int
    load_cost_per_unit: int

    def __post_init__(self) -> None:
        eligible = _frozen_table(self.eligible_endorsements, "eligible_endorsements")
        preferred = _frozen_table(self.preferred_endorsements, "preferred_endorsements")
        if not eligible:
            raise PolicyError("eligible_endorsements lists no track")
        for track, endorsements in eligible.items():
            if not endorsements:
                raise PolicyError(f"eligible_endorsements[{track}] is empty: nobody could review that track")
        for track, endorsements in preferred.items():
            if track not in eligible:
                raise PolicyError(f"preferred_endorsements names track {track!r} that eligible_endorsements lacks")
            if not endorsements <= eligible[track]:
                raise PolicyError(f"preferred_endorsements[{track}] has {sorted(endorsements - eligible[track])} "
                                  f"that are not eligible for it")
        if not _is_int(self.reviewers_per_essay) or self.reviewers_per_essay < 1:
            raise PolicyError(f"reviewers_per_essay must be a whole number ≥ 1, got {self.reviewers_per_essay!r}")
        for name in ("mismatch_cost", "load_cost_per_unit"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= MAX_COST:
                raise PolicyError(f"{name} must be a whole number from 0 to {MAX_COST}, got {value!r}")
        object.__setattr__(self, "eligible_endorsements", eligible)
        object.__setattr__(self, "preferred_endorsements", preferred)

    def __hash__(self) -> int:  # the generated one would fail on the read-only mapping fields
        return hash((self.reviewers_per_essay, frozenset(self.eligible_endorsements.items()),
                     frozenset(self.preferred_endorsements.items()), self.mismatch_cost, self.load_cost_per_unit))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "AssignmentPolicy":
        """The policy from plain data (as loaded from YAML); unknown or missing keys are errors."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"assignment policy must be a mapping, not {type(data).__name__}")
        required = {"eligible_endorsements", "preferred_endorsements", "mismatch_cost", "load_cost_per_unit"}
        unknown = set(data) - required - {"reviewers_per_essay"}
        if unknown:
            raise PolicyError(f"unknown assignment policy keys: {sorted(map(str, unknown))}")
        missing = required - set(data)
        if missing:
            raise PolicyError(f"assignment policy lacks: {sorted(missing)}")
        return cls(**data)

    def is_eligible(self, track: str, endorsement: str) -> bool:
        return endorsement in self.eligible_endorsements.get(track, ())

    def is_preferred(self, track: str, endorsement: str) -> bool:
        return endorsement in self.preferred_endorsements.get(track, ())


def load_step_costs(reviewer: ReviewerCapacity, policy: AssignmentPolicy) -> list[int]:
    """Cost of the 1st, 2nd, … new essay for this reviewer (non-decreasing, i.e. convex)."""
    return [100 * policy.load_cost_per_unit * (reviewer.current_load + k) // reviewer.max_load
            for k in range(1, reviewer.room + 1)]


class Uncovered(NamedTuple):
    essay_id: Id
    missing: int
    reason: str


class LoadStats(NamedTuple):
    min: int
    mean: float
    max: int


@dataclass(frozen=True)
class AssignmentPlan:
    assignments: Mapping[Id, tuple]  # every essay of the round → its new reviewers (maybe none)
    total_cost: int
    loads: Mapping[Id, int]  # every reviewer → current_load + new essays
    uncovered: list[Uncovered]
    slots_needed: int
    slots_filled: int
    mismatches: int  # new pairs whose endorsement is not preferred for the track
    essays: Mapping[Id, EssayToReview] = field(repr=False)
    reviewers: Mapping[Id, ReviewerCapacity] = field(repr=False)
    policy: AssignmentPolicy = field(repr=False)
    seconds: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)

    @property
    def load_stats(self) -> LoadStats:
        """Min/mean/max load over reviewers who offered any capacity (max_load > 0)."""
        values = [self.loads[r.reviewer_id] for r in self.reviewers.values() if r.max_load > 0]
        if not values:
            return LoadStats(0, 0.0, 0)
        return LoadStats(min(values), sum(values) / len(values), max(values))

    def to_rows(self) -> list[dict]:
        """One row per new (essay, reviewer) pair, for the dry-run table and CSV."""
        rows = []
        for essay_id, reviewer_ids in self.assignments.items():
            track = self.essays[essay_id].track
            for rid in reviewer_ids:
                endorsement = self.reviewers[rid].endorsement
                rows.append({"essay_id": essay_id, "track": track, "reviewer_id": rid,
                             "reviewer_endorsement": endorsement,
                             "preferred": self.policy.is_preferred(track, endorsement)})
        return rows

    def to_csv(self, path_or_buffer) -> None:
        if hasattr(path_or_buffer, "write"):
            writer = csv.DictWriter(path_or_buffer, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(self.to_rows())
            return
        with open(path_or_buffer, "w", newline="", encoding="utf-8") as fh:
            self.to_csv(fh)


def _number_words(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def _reason(qualified: int, needed: int) -> str:
    """Plain words for an essay short of reviewers; ``qualified`` counts those already on it."""
    if qualified == 0:
        return NO_QUALIFIED_REVIEWER
    if qualified < needed:
        if qualified == 1:
            return ONLY_ONE_QUALIFIED_REVIEWER
        return f"only {_number_words(qualified)} qualified reviewers without a conflict"
    return ALL_AT_MAXIMUM_LOAD


def _validated(essays: Sequence[EssayToReview], reviewers: Sequence[ReviewerCapacity], policy: AssignmentPolicy,
               existing: Mapping[Id, Iterable], needed: Mapping[Id, int] | None):
    essay_ids = [e.essay_id for e in essays]
    if len(set(essay_ids)) != len(essay_ids):
        raise ValueError("an essay is listed twice")
    if len({r.reviewer_id for r in reviewers}) != len(reviewers):
        raise ValueError("a reviewer is listed twice")
    for e in essays:
        if e.track not in policy.eligible_endorsements:
            raise ValueError(f"essay {e.essay_id!r}: the policy has no track {e.track!r}")
    known = set(essay_ids)
    on: dict[Id, frozenset] = {}
    for essay_id, rids in existing.items():
        if essay_id not in known:
            raise ValueError(f"existing reviewers given for essay {essay_id!r}, which is not in this round")
        on[essay_id] = _freeze_ids(rids, f"existing reviewers of essay {essay_id!r}")
    for e in essays:
        clash = on.get(e.essay_id, frozenset()) & e.blocked
        if clash:
            # A hard constraint already broken; the caller must drop them first (that is a reassignment).
            raise ValueError(f"essay {e.essay_id!r}: reviewers {sorted(map(str, clash))} are on it but excluded")
    want = {}
    for essay_id, n in (needed or {}).items():
        if essay_id not in known:
            raise ValueError(f"needed given for essay {essay_id!r}, which is not in this round")
        if not _is_int(n) or n < 1:
            raise ValueError(f"essay {essay_id!r}: needed must be a whole number ≥ 1, got {n!r}")
        want[essay_id] = int(n)
    return on, want


def assign_essays(essays: Sequence[EssayToReview], reviewers: Sequence[ReviewerCapacity], policy: AssignmentPolicy,
                  *, existing: Mapping[Id, frozenset] = MappingProxyType({}),
                  needed: Mapping[Id, int] | None = None) -> AssignmentPlan:
    """The optimal assignment of this round (see the module docstring for the objective).

    ``existing``: reviewers already on an essay; they stay, count toward its total and are not
    picked again (their load is already in ``current_load``). ``needed``: per-essay total number of
    reviewers, existing ones included (default ``policy.reviewers_per_essay``), e.g. 3 for an essay
    whose two reviewers disagree.
    """
    from ortools.graph.python import min_cost_flow

    t0 = time.perf_counter()
    on, want = _validated(essays, reviewers, policy, existing, needed)
    n_e, n_r = len(essays), len(reviewers)
    total_needed = np.array([want.get(e.essay_id, policy.reviewers_per_essay) for e in essays], dtype=np.int64)
    already = np.array([len(on.get(e.essay_id, ())) for e in essays], dtype=np.int64)
    need = np.maximum(total_needed - already, 0)

    rev_index = {r.reviewer_id: j for j, r in enumerate(reviewers)}
    endorsement = np.array([r.endorsement for r in reviewers], dtype=object)
    room = np.array([r.room for r in reviewers], dtype=np.int64)
    current = np.array([r.current_load for r in reviewers], dtype=np.int64)
    max_load = np.array([r.max_load for r in reviewers], dtype=np.int64)
    essay_track = [e.track for e in essays]
    source, sink = n_e + n_r, n_e + n_r + 1

    # Essay → reviewer arcs, one dense block per track: every (essay needing someone, eligible
    # reviewer with room) pair, minus the blocked pairs, found through a boolean mask so the only
    # Python loop is over each essay's few exclusions, never over all pairs.
    tails, heads, costs = [], [], []
    for track in dict.fromkeys(essay_track):
        eligible = np.isin(endorsement, list(policy.eligible_endorsements[track]))
        cols = np.flatnonzero(eligible & (room > 0)).astype(np.int32)  # int32: what OR-Tools takes
        rows = np.array([i for i, t in enumerate(essay_track) if t == track and need[i] > 0], dtype=np.int32)
        if len(cols) == 0 or len(rows) == 0:
            continue
        col_pos = np.full(n_r, -1, dtype=np.int64)
        col_pos[cols] = np.arange(len(cols))
        bad_r, bad_c = [], []
        for p, i in enumerate(rows):
            e = essays[i]
            for rid in e.blocked | on.get(e.essay_id, frozenset()):
                j = rev_index.get(rid)
                if j is not None and col_pos[j] >= 0:
                    bad_r.append(p)
                    bad_c.append(col_pos[j])
        mask = np.ones((len(rows), len(cols)), dtype=bool)
        mask[bad_r, bad_c] = False
        pr, pc = np.nonzero(mask)
        tails.append(rows[pr])
        heads.append(cols[pc] + np.int32(n_e))
        preferred = np.isin(endorsement[cols], list(policy.preferred_endorsements.get(track, ())))
        costs.append(np.where(preferred[pc], np.int64(0), np.int64(policy.mismatch_cost)))
    pair_tails = np.concatenate(tails) if tails else np.empty(0, dtype=np.int32)
    pair_heads = np.concatenate(heads) if heads else np.empty(0, dtype=np.int32)
    pair_costs = np.concatenate(costs) if costs else np.empty(0, dtype=np.int64)

    # Reviewer → sink: one unit arc per free slot, the k-th costing the convex load step.
    step_owner = np.repeat(np.arange(n_r), room)
    k = np.arange(len(step_owner)) - np.repeat(np.cumsum(room) - room, room) + 1
    step_costs = 100 * policy.load_cost_per_unit * (current[step_owner] + k) // np.maximum(max_load[step_owner], 1)

    smcf = min_cost_flow.SimpleMinCostFlow()
    n_pairs = len(pair_tails)
    smcf.add_arcs_with_capacity_and_unit_cost(pair_tails, pair_heads, np.ones(n_pairs, dtype=np.int64), pair_costs)
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.full(n_e, source, dtype=np.int32), np.arange(n_e, dtype=np.int32), need, np.zeros(n_e, dtype=np.int64))
    smcf.add_arcs_with_capacity_and_unit_cost(
        (n_e + step_owner).astype(np.int32), np.full(len(step_owner), sink, dtype=np.int32),
        np.ones(len(step_owner), dtype=np.int64), step_costs.astype(np.int64))
    # Offer every needed slot; the max-flow variant sends as much as the hard constraints allow.
    smcf.set_node_supply(source, int(need.sum()))
    smcf.set_node_supply(sink, -int(need.sum()))
    t1 = time.perf_counter()
    if n_pairs:
        status = smcf.solve_max_flow_with_min_cost()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow did not solve: {smcf.Status(status).name}")
        flows = smcf.flows(np.arange(n_pairs, dtype=np.int32))
        total_cost = int(smcf.optimal_cost())
    else:  # nothing can be assigned; the solver is not needed to say so
        flows, total_cost = np.empty(0, dtype=np.int64), 0
    t2 = time.perf_counter()

    used = np.flatnonzero(flows)
    chosen: dict[Id, list] = {e.essay_id: [] for e in essays}
    new_load = np.zeros(n_r, dtype=np.int64)
    mismatches = 0
    for a in used:
        i, j = int(pair_tails[a]), int(pair_heads[a]) - n_e
        chosen[essays[i].essay_id].append(reviewers[j].reviewer_id)
        new_load[j] += 1
        mismatches += not policy.is_preferred(essay_track[i], endorsement[j])

    uncovered = []
    filled = np.bincount(pair_tails[used], minlength=n_e) if n_e else np.empty(0, dtype=np.int64)
    n_eligible = {track: int(np.isin(endorsement, list(ends)).sum()) if n_r else 0
                  for track, ends in policy.eligible_endorsements.items()}
    for i in np.flatnonzero(need > filled):
        e = essays[int(i)]
        eligible_set = policy.eligible_endorsements[e.track]
        # Qualified = eligible endorsement and not blocked; the ones already on the essay count too.
        blocked_eligible = sum(1 for rid in e.blocked | on.get(e.essay_id, frozenset())
                               if rid in rev_index and reviewers[rev_index[rid]].endorsement in eligible_set)
        qualified = n_eligible[e.track] - blocked_eligible + int(already[i])
        uncovered.append(Uncovered(e.essay_id, int(need[i] - filled[i]), _reason(qualified, int(total_needed[i]))))
    t3 = time.perf_counter()

    return AssignmentPlan(
        assignments={essay_id: tuple(rids) for essay_id, rids in chosen.items()},
        total_cost=total_cost,
        loads={r.reviewer_id: r.current_load + int(new_load[j]) for j, r in enumerate(reviewers)},
        uncovered=uncovered, slots_needed=int(need.sum()), slots_filled=len(used), mismatches=mismatches,
        essays={e.essay_id: e for e in essays}, reviewers={r.reviewer_id: r for r in reviewers}, policy=policy,
        seconds={"build": t1 - t0, "solve": t2 - t1, "extract": t3 - t2})
