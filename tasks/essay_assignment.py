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

Objective, lexicographic:

1. fill as many reviewer slots as possible;
2. then meet as much of the reviewers' optional minimum loads as possible: the most units of
   Σ_r min(new essays of r, min_load_r − current_load_r);
3. then, among those assignments, minimise

    Σ over new (essay, reviewer) pairs   mismatch_cost · [reviewer's endorsement is not preferred
                                                          for the essay's track]
  + Σ over essays of the round          no_preferred_reviewer_cost · [no reviewer on it, new or
                                                                      already there, is preferred]
  + Σ over reviewers r, over their new essays k = 1 … n_r
        ⌊100 · load_cost_per_unit · (current_load_r + k) / max_load_r⌋

``total_cost`` is the cost of step 3 for the round's new assignments. "Essays of the round" are
the ones it has slots to fill.

Preferred reviewers, convex per essay. For an essay needing two, the first reviewer from outside
its track costs ``mismatch_cost`` and a second ``mismatch_cost + no_preferred_reviewer_cost``: the
second mismatch costs more than the first, so two essays with one mismatch each are cheaper than
one essay with two. Counting the essay, not its second mismatch, also sees essays the pool is too
short to fill: one reviewer of its own track beats one from outside for an essay that will be
short anyway, and which essays go short is chosen so that the fewest lack a preferred reviewer.
(On the 2,000 × 200 benchmark, where the pool is short, a higher cost on the second mismatch alone
left 148 to 297 essays without a preferred reviewer, depending on its weight; this leaves none.)
Exactly guaranteed: the plan has no more essays without a preferred reviewer than *any* plan that
is optimal with this term left out (the linear mismatch cost used before): if P is optimal here
and Q there, lin(P) + R·lack(P) ≤ lin(Q) + R·lack(Q) and lin(Q) ≤ lin(P), so lack(P) ≤ lack(Q)
whenever R = ``no_preferred_reviewer_cost`` > 0. How far beyond ties it reaches is the rulebook's
weight: above the dearest load step (100 · ``load_cost_per_unit``) no single step of load balance
is worth an essay without a reviewer of its track.

Load. The k-th new essay for a reviewer costs ``load_cost_per_unit`` per percentage point of their
capacity that is in use once they have it. Its marginal cost rises with every essay (convex), so
spreading work is cheaper than piling it on; and because it is normalised by ``max_load`` the
balance is proportional: with the continuous relaxation the load term is ≈ Σ 50·u·L_r²/M_r, whose
minimum for a fixed total has every L_r/M_r equal, so a volunteer who offered 25 essays takes about
2.5 times as many as one who offered 10 instead of both being held at 10. Costs stay integers (the
floor keeps them non-decreasing in k, hence still convex and still exact).

Minimum loads (a volunteer who offered should get some work), in the same flow, not a second
solve: a reviewer's first ``min_load − current_load`` load steps carry a bonus of −B, with
B = 1 + U, U an upper bound of the step-3 cost of every plan (every needed slot mismatched, every
essay of the round without a preferred reviewer, every load step used). The flow minimises
cost − B·met. If some plan Q with as many slots met more units than the optimum P, then
cost(Q) − B·met(Q) ≤ U − B·(met(P) + 1) < −B·met(P) ≤ cost(P) − B·met(P), a contradiction; so P
meets the most units and, among the plans that do, has the least cost: exactly the lexicographic
order above, with no weight to tune. Reviewer arcs stay convex (step − B, then step: the
increments only rise). Putting slots first costs no minimum: augmenting any flow to a maximum one
never lowers a reviewer's load (an augmenting path source → … → sink adds one essay to its last
reviewer and swaps one essay for another on every reviewer inside it), so loads some plan reaches
are reached by a plan with every possible slot filled. Minimums that cannot all be met are
reported, each with its reason.

Why min-cost flow, with OR-Tools' ``SimpleMinCostFlow``: the problem is a transportation problem.
Nodes and arcs: source → essay (capacity = slots needed); essay → reviewer of an eligible, not
preferred endorsement (capacity 1, cost mismatch_cost); essay → the essay's *preferred side*, two
arcs: the first unit earning back no_preferred_reviewer_cost (counted up front for every essay of
the round without a preferred reviewer yet), the rest at 0; preferred side → reviewer of a
preferred endorsement (capacity 1, cost 0); reviewer → sink as parallel unit arcs whose costs are
the rising load steps (minus the bonus). Parallel arcs with non-decreasing costs are exactly a
convex cost of the flow through them (a min-cost flow uses the cheaper ones first). Every unit of
flow is shifted up by no_preferred_reviewer_cost so that only the minimum-load bonus is negative
(all plans compared fill the same number of slots, so that is a constant; with the rebate as a
negative cost the solver took 2–3 times as long on the benchmark instances). The constraint matrix is a network matrix, totally unimodular, so an integral min-cost
max-flow *is* the exact integer optimum — no rounding, no MIP gap, no time limit.
``solve_max_flow_with_min_cost`` gives the order directly (maximum flow, then least cost among
maximum flows). It is a maintained C++ cost-scaling solver with a vectorised arc API, so a
10,000 × 1,000 instance (millions of arcs) is built from numpy arrays without a Python loop over
pairs. An LP/MIP solver would be exact here too but slower and needs the lexicographic order
emulated with weights or several solves.

Uncovered essays are diagnosed, not guessed: with fewer qualified reviewers without a conflict (the
ones already on the essay included) than it needs the reason says how many there are; otherwise a
maximum flow guarantees that every such reviewer not already on the essay is at their maximum load.
Essays of the round (ones it had slots to fill) left without a preferred reviewer are listed too,
with the reason: no preferred reviewer free of conflicts; all of them at their maximum load; or
some had room but load balance or a minimum load outweighed the mismatch (possible only when the
rulebook's weights allow that trade). A reviewer already on an essay whose endorsement the round
does not know (not among ``reviewers``) counts as not preferred.

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

# Why an essay of the round has no reviewer of a preferred endorsement for its track.
NO_PREFERRED_REVIEWER = "no preferred reviewer free of conflicts"
PREFERRED_AT_MAXIMUM_LOAD = "preferred reviewers free of conflicts are all at their maximum load"
PREFERRED_OUTWEIGHED = ("preferred reviewers free of conflicts have room, but load balance or a minimum load "
                        "outweighed the mismatch")

# Why a reviewer's minimum load is not met.
NO_ESSAY_TO_REVIEW = "no essay in this round they may review (track and conflicts)"
ESSAYS_NEEDED_FOR_OTHER_MINIMUMS = ("the essays they may review are filled by reviewers who need them "
                                    "for their own minimum loads")

CSV_FIELDS = ("essay_id", "track", "reviewer_id", "reviewer_endorsement", "preferred", "note")


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
    min_load: int = 0  # optional: essays the volunteer should get at least (met when the round allows)

    def __post_init__(self) -> None:
        for name in ("max_load", "current_load", "min_load"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"reviewer {self.reviewer_id!r}: {name} must be a whole number ≥ 0, got {value!r}")
        if self.min_load > self.max_load:
            raise ValueError(f"reviewer {self.reviewer_id!r}: min_load {self.min_load} is above max_load {self.max_load}")

    @property
    def room(self) -> int:
        return max(0, self.max_load - self.current_load)

    @property
    def short(self) -> int:
        """New essays still needed to reach the minimum load."""
        return max(0, self.min_load - self.current_load)


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
    mismatch_cost: int  # each new reviewer whose endorsement is not preferred for the essay's track
    no_preferred_reviewer_cost: int  # once per essay of the round left with no preferred reviewer at all
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
        for name in ("mismatch_cost", "no_preferred_reviewer_cost", "load_cost_per_unit"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= MAX_COST:
                raise PolicyError(f"{name} must be a whole number from 0 to {MAX_COST}, got {value!r}")
        object.__setattr__(self, "eligible_endorsements", eligible)
        object.__setattr__(self, "preferred_endorsements", preferred)

    def __hash__(self) -> int:  # the generated one would fail on the read-only mapping fields
        return hash((self.reviewers_per_essay, frozenset(self.eligible_endorsements.items()),
                     frozenset(self.preferred_endorsements.items()), self.mismatch_cost, self.no_preferred_reviewer_cost,
                     self.load_cost_per_unit))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "AssignmentPolicy":
        """The policy from plain data (as loaded from YAML); unknown or missing keys are errors."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"assignment policy must be a mapping, not {type(data).__name__}")
        required = {"eligible_endorsements", "preferred_endorsements", "mismatch_cost", "no_preferred_reviewer_cost",
                    "load_cost_per_unit"}
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


class WithoutPreferred(NamedTuple):
    """An essay of the round none of whose reviewers holds an endorsement preferred for its track."""

    essay_id: Id
    reason: str


class ShortOfMinimum(NamedTuple):
    """A reviewer whose minimum load the round could not meet, by how many essays and why."""

    reviewer_id: Id
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
    # Essays the round had slots to fill that end it with no preferred reviewer (new or already on).
    without_preferred: list[WithoutPreferred]
    short_of_minimum: list[ShortOfMinimum]
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

    def essay_notes(self) -> dict[Id, str]:
        """What a coordinator should know about an essay: reviewers it still lacks, no preferred one."""
        notes: dict[Id, list[str]] = {}
        for u in self.uncovered:
            notes.setdefault(u.essay_id, []).append(f"needs {u.missing} more: {u.reason}")
        for w in self.without_preferred:
            notes.setdefault(w.essay_id, []).append(f"no preferred reviewer: {w.reason}")
        return {essay_id: "; ".join(parts) for essay_id, parts in notes.items()}

    def to_rows(self) -> list[dict]:
        """One row per new (essay, reviewer) pair, for the dry-run table and CSV."""
        notes = self.essay_notes()
        rows = []
        for essay_id, reviewer_ids in self.assignments.items():
            track = self.essays[essay_id].track
            for rid in reviewer_ids:
                endorsement = self.reviewers[rid].endorsement
                rows.append({"essay_id": essay_id, "track": track, "reviewer_id": rid,
                             "reviewer_endorsement": endorsement,
                             "preferred": self.policy.is_preferred(track, endorsement),
                             "note": notes.get(essay_id, "")})
        return rows

    def note_rows(self) -> list[dict]:
        """One row per essay with a note but no new reviewer (else its note is on its pair rows)."""
        return [{"essay_id": essay_id, "track": self.essays[essay_id].track, "reviewer_id": "",
                 "reviewer_endorsement": "", "preferred": "", "note": note}
                for essay_id, note in self.essay_notes().items() if not self.assignments[essay_id]]

    def to_csv(self, path_or_buffer) -> None:
        if hasattr(path_or_buffer, "write"):
            writer = csv.DictWriter(path_or_buffer, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(self.to_rows() + self.note_rows())
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


def _few_essays(qualified: int) -> str:
    if qualified == 0:
        return NO_ESSAY_TO_REVIEW
    return f"only {qualified} essay{'s' if qualified > 1 else ''} in this round they may review (track and conflicts)"


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
    short = np.array([r.short for r in reviewers], dtype=np.int64)
    current = np.array([r.current_load for r in reviewers], dtype=np.int64)
    max_load = np.array([r.max_load for r in reviewers], dtype=np.int64)
    essay_track = [e.track for e in essays]
    # Whether a reviewer already on the essay is preferred for it (one unknown to the round is not).
    on_preferred = np.array([any(rid in rev_index and policy.is_preferred(e.track, endorsement[rev_index[rid]])
                                 for rid in on.get(e.essay_id, ())) for e in essays], dtype=bool)
    lacking_unless_one_comes = (need > 0) & ~on_preferred
    preferred_node = n_e + n_r  # essay i's preferred side is node preferred_node + i
    source, sink = n_e + n_r + n_e, n_e + n_r + n_e + 1

    # Essay → reviewer arcs, one dense block per track: every (essay needing someone, eligible
    # reviewer with room) pair, minus the blocked pairs, found through a boolean mask so the only
    # Python loop is over each essay's few exclusions, never over all pairs. A pair whose
    # endorsement is preferred leaves from the essay's preferred side instead of the essay.
    essay_of, heads, prefs = [], [], []
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
        essay_of.append(rows[pr])
        heads.append(cols[pc] + np.int32(n_e))
        preferred = np.isin(endorsement[cols], list(policy.preferred_endorsements.get(track, ())))
        prefs.append(preferred[pc])
    pair_essay = np.concatenate(essay_of) if essay_of else np.empty(0, dtype=np.int32)
    pair_heads = np.concatenate(heads) if heads else np.empty(0, dtype=np.int32)
    pair_preferred = np.concatenate(prefs) if prefs else np.empty(0, dtype=bool)
    pair_tails = np.where(pair_preferred, pair_essay + np.int32(preferred_node), pair_essay).astype(np.int32)
    # Every unit of flow is shifted up by R (the slots filled are the same in every plan compared,
    # so this adds a constant): costs stay ≥ 0, which the cost-scaling solver handles fastest.
    shift = np.int64(policy.no_preferred_reviewer_cost)
    pair_costs = np.where(pair_preferred, np.int64(0), np.int64(policy.mismatch_cost) + shift)

    # Essay → its preferred side: the first preferred reviewer of an essay that has none earns back
    # no_preferred_reviewer_cost (counted for every such essay up front), any further one nothing.
    # That is a convex cost of the essay's preferred reviewers (−R, then 0: the increments rise).
    side_room = np.minimum(need, np.bincount(pair_essay[pair_preferred], minlength=n_e))
    first_costs = np.where(lacking_unless_one_comes, np.int64(0), shift)
    has_side = np.flatnonzero(side_room > 0)
    side_tails = np.concatenate([has_side, has_side]).astype(np.int32)
    side_caps = np.concatenate([np.ones(len(has_side), dtype=np.int64), side_room[has_side] - 1])
    side_costs = np.concatenate([first_costs[has_side], np.full(len(has_side), shift, dtype=np.int64)])
    constant = policy.no_preferred_reviewer_cost * int(lacking_unless_one_comes.sum())

    # Reviewer → sink: one unit arc per free slot, the k-th costing the convex load step; the
    # steps up to the reviewer's minimum load carry the bonus (see the module docstring).
    step_owner = np.repeat(np.arange(n_r), room)
    k = np.arange(len(step_owner)) - np.repeat(np.cumsum(room) - room, room) + 1
    step_costs = 100 * policy.load_cost_per_unit * (current[step_owner] + k) // np.maximum(max_load[step_owner], 1)
    bonus = 0
    if short.any():  # 1 + the largest cost any plan can have
        bonus = 1 + int(need.sum()) * policy.mismatch_cost + constant + int(step_costs.sum())
    arc_costs = step_costs - bonus * (k <= short[step_owner])

    smcf = min_cost_flow.SimpleMinCostFlow()
    n_pairs = len(pair_tails)
    smcf.add_arcs_with_capacity_and_unit_cost(pair_tails, pair_heads, np.ones(n_pairs, dtype=np.int64), pair_costs)
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.full(n_e, source, dtype=np.int32), np.arange(n_e, dtype=np.int32), need, np.zeros(n_e, dtype=np.int64))
    smcf.add_arcs_with_capacity_and_unit_cost(side_tails, side_tails + np.int32(preferred_node), side_caps, side_costs)
    smcf.add_arcs_with_capacity_and_unit_cost(
        (n_e + step_owner).astype(np.int32), np.full(len(step_owner), sink, dtype=np.int32),
        np.ones(len(step_owner), dtype=np.int64), arc_costs.astype(np.int64))
    # Offer every needed slot; the max-flow variant sends as much as the hard constraints allow.
    smcf.set_node_supply(source, int(need.sum()))
    smcf.set_node_supply(sink, -int(need.sum()))
    t1 = time.perf_counter()
    if n_pairs:
        status = smcf.solve_max_flow_with_min_cost()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow did not solve: {smcf.Status(status).name}")
        flows = smcf.flows(np.arange(n_pairs, dtype=np.int32))
        objective = int(smcf.optimal_cost())
    else:  # nothing can be assigned; the solver is not needed to say so
        flows, objective = np.empty(0, dtype=np.int64), 0
    t2 = time.perf_counter()

    used = np.flatnonzero(flows)
    chosen: dict[Id, list] = {e.essay_id: [] for e in essays}
    for a in used:
        chosen[essays[int(pair_essay[a])].essay_id].append(reviewers[int(pair_heads[a]) - n_e].reviewer_id)
    new_load = np.bincount(pair_heads[used] - n_e, minlength=n_r) if n_r else np.empty(0, dtype=np.int64)
    final_load = current + new_load
    # The rebates and the bonus are not costs: the plan's cost is the objective without them.
    total_cost = objective - int(shift) * len(used) + constant + bonus * int(np.minimum(new_load, short).sum())

    uncovered = []
    filled = np.bincount(pair_essay[used], minlength=n_e) if n_e else np.empty(0, dtype=np.int64)
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

    without_preferred = []
    new_preferred = np.bincount(pair_essay[used][pair_preferred[used]], minlength=n_e)
    has_room = final_load < max_load
    preferred_of = {track: np.isin(endorsement, list(ends)) if n_r else np.empty(0, dtype=bool)
                    for track, ends in policy.preferred_endorsements.items()}
    for i in np.flatnonzero(lacking_unless_one_comes & (new_preferred == 0)):
        e = essays[int(i)]
        preferred = preferred_of.get(e.track)
        if preferred is None:
            without_preferred.append(WithoutPreferred(e.essay_id, NO_PREFERRED_REVIEWER))
            continue
        # Preferred reviewers free of conflicts (none is on the essay: it has no preferred one).
        blocked = [j for j in (rev_index.get(rid) for rid in e.blocked) if j is not None and preferred[j]]
        free = int(preferred.sum()) - len(blocked)
        free_with_room = int((preferred & has_room).sum()) - sum(1 for j in blocked if has_room[j])
        reason = (NO_PREFERRED_REVIEWER if free == 0 else PREFERRED_AT_MAXIMUM_LOAD if free_with_room == 0
                  else PREFERRED_OUTWEIGHED)
        without_preferred.append(WithoutPreferred(e.essay_id, reason))

    short_of_minimum = []
    unmet = np.flatnonzero(new_load < short)
    if len(unmet):
        # Essays of the round each unmet reviewer may review: eligible track, not blocked, not on it.
        may_review = {j: 0 for j in unmet}
        for i in np.flatnonzero(need > 0):
            e = essays[int(i)]
            kept_off = e.blocked | on.get(e.essay_id, frozenset())
            for j in may_review:
                if reviewers[j].reviewer_id not in kept_off and policy.is_eligible(e.track, endorsement[j]):
                    may_review[j] += 1
        for j, qualified in may_review.items():
            # With fewer essays than the minimum asks, that is the reason; otherwise the lexicographic
            # optimum guarantees every other reviewer on those essays is at or below their own minimum.
            reason = _few_essays(qualified) if qualified < short[j] else ESSAYS_NEEDED_FOR_OTHER_MINIMUMS
            short_of_minimum.append(ShortOfMinimum(reviewers[j].reviewer_id, int(short[j] - new_load[j]), reason))
    t3 = time.perf_counter()

    return AssignmentPlan(
        assignments={essay_id: tuple(rids) for essay_id, rids in chosen.items()},
        total_cost=total_cost,
        loads={r.reviewer_id: int(final_load[j]) for j, r in enumerate(reviewers)},
        uncovered=uncovered, slots_needed=int(need.sum()), slots_filled=len(used),
        mismatches=int((~pair_preferred[used]).sum()), without_preferred=without_preferred,
        short_of_minimum=short_of_minimum,
        essays={e.essay_id: e for e in essays}, reviewers={r.reviewer_id: r for r in reviewers}, policy=policy,
        seconds={"build": t1 - t0, "solve": t2 - t1, "extract": t3 - t2})
