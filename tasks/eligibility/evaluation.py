"""Evaluation: application + rulebook + as-of date → the requirement checklist.

Pure functions only: no I/O, no clock, no database. Every threshold comes from the rule parameters
(``endorse.rulebook``); the code here only interprets them, as described in rules/README.md
("Readings"). One checker per requirement kind; each returns a ``RequirementResult`` whose detail a
coordinator can act on.

Why one module of ~900 lines: the checkers share one private ``_Context`` (the document, the rules,
the as-of date and the sets they define) and the wording helpers that make every detail read alike;
split apart, each would have to import those private pieces from the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable, Mapping, NamedTuple

from endorse.dates import (
    DAYS_PER_YEAR_OF_EXPERIENCE,
    ONE_DAY,
    add_months,
    covered_days,
    date_when_covered,
    days_inclusive,
    merge_periods,
    spans_at_least_months,
)
from endorse.documents import ApplicationDocument, Reference
from endorse.rulebook import (
    AgreementRule,
    CategoryRules,
    EducationRule,
    EndorsedRaterRule,
    ExamRule,
    LeadershipRule,
    MembershipRule,
    ReferencesRule,
    RscAboutProvidingRule,
    RscHoursRule,
    RulebookLibrary,
    TrainingRule,
    TranscriptsRule,
    WorkExperienceRule,
    WorkSpec,
)

MET, UNMET, PENDING, NOT_APPLICABLE = "met", "unmet", "pending", "not_applicable"
_SEVERITY = {MET: 0, NOT_APPLICABLE: 0, PENDING: 1, UNMET: 2}
_EPS = 1e-9

# Presentation words for document enums (not rules: the rules live in rules/).
CREDENTIAL_WORDS = {
    "coursework": "academic coursework",
    "cda": "CDA certificate",
    "associate": "associate degree",
    "bachelors": "bachelor's degree",
    "masters": "master's degree",
    "doctorate": "doctorate",
    "graduate_certificate": "graduate certificate",
}
# How far each credential reaches for "post-bachelor's" / "post-master's" rules.
_CREDENTIAL_LEVEL = {"coursework": 0, "cda": 0, "associate": 0, "bachelors": 1,
                     "graduate_certificate": 1, "masters": 2, "doctorate": 2}
_AFTER_LEVEL = {"none": 0, "bachelors": 1, "masters": 2}
_AFTER_WORDS = {"none": "", "bachelors": "post-bachelor's ", "masters": "post-master's "}


class RequirementResult(NamedTuple):
    # Immutable as a tuple: a checklist makes some fifteen, and a frozen dataclass's constructor
    # (a call to object.__setattr__ per field) cost three times as much.
    id: str
    status: str
    detail: str
    source: str

    def to_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "detail": self.detail, "source": self.source}


@dataclass(frozen=True, slots=True)
class Advice:
    """A warning: advice such as "typically N hours", never a reason to refuse."""

    id: str
    detail: str

    def to_dict(self) -> dict:
        return {"id": self.id, "detail": self.detail}


@dataclass(frozen=True)
class Evaluation:
    id: str
    association: str
    category: str
    as_of: date
    requirements: tuple[RequirementResult, ...]
    warnings: tuple[Advice, ...]
    rulebook_digest: str = ""

    @property
    def eligible(self) -> bool:
        return all(r.status in (MET, NOT_APPLICABLE) for r in self.requirements)

    def status_of(self, requirement_id: str) -> str:
        return next(r.status for r in self.requirements if r.id == requirement_id)

    def missing(self) -> list[RequirementResult]:
        return [r for r in self.requirements if r.status in (UNMET, PENDING)]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "association": self.association,
            "category": self.category,
            "as_of": self.as_of.isoformat(),
            "eligible": self.eligible,
            "requirements": [r.to_dict() for r in self.requirements],
            "warnings": [w.to_dict() for w in self.warnings],
        }


@dataclass
class _Context:
    """What several checkers share while one application is evaluated."""

    doc: ApplicationDocument
    rules: CategoryRules
    as_of: date
    warnings: list[Advice] = field(default_factory=list)
    results: dict[str, RequirementResult] = field(default_factory=dict)
    rsc_window: "_RscWindow | None" = None
    ratings: "dict[int, tuple[list[_Rating], list[str]]]" = field(default_factory=dict)
    degrees: "dict[int, tuple[date | None, bool]]" = field(default_factory=dict)

    def result(self, req_id: str, status: str, detail: str, source: str) -> RequirementResult:
        return RequirementResult(req_id, status, detail, source)

    def answer(self, question: str):
        """The coordinator's latest determination of ``question`` on or before the as-of date (None: not yet)."""
        found = [d for d in getattr(self.doc, "determinations", ()) or ()
                 if d.question == question and d.decided_on <= self.as_of]
        return max(found, key=lambda d: d.decided_on) if found else None

    def accepted(self, question: str | None) -> bool | None:
        d = self.answer(question) if question else None
        return None if d is None else d.accepted

    def question_text(self, question: str) -> str:
        q = self.rules.questions.get(question)
        return q.question if q is not None else question

    def answer_note(self, question: str) -> str:
        """How a recorded determination reads on the checklist."""
        d = self.answer(question)
        if d is None:
            return f"awaiting a coordinator's determination ({question}): {self.question_text(question)}"
        verdict = "accepted" if d.accepted else "not accepted"
        return (f"coordinator's determination ({question}) {verdict} by {d.by} on {d.decided_on.isoformat()}"
                + (f": {d.note}" if d.note else ""))

    def with_question_sources(self, source: str, questions: Iterable[str]) -> str:
        extra = [self.rules.questions[q].source for q in questions if q in self.rules.questions]
        return "; ".join(dict.fromkeys([source, *[e for e in extra if e != source]]))


def evaluate(doc: ApplicationDocument, library: RulebookLibrary, as_of: date) -> Evaluation:
    """The checklist of ``doc`` under its association's rulebook as it stood on ``as_of``."""
    rules = library.category_rules(doc.association, doc.category, as_of)
    return evaluate_with_rules(doc, rules)


def evaluate_with_rules(doc: ApplicationDocument, rules: CategoryRules) -> Evaluation:
    ctx = _Context(doc=doc, rules=rules, as_of=rules.as_of)
    out = []
    category_source = rules.category_source
    for req in rules.order:
        rule = rules.rules.get(req.id)
        if rule is None:
            res = RequirementResult(req.id, NOT_APPLICABLE, f"not required for {doc.category}", category_source)
        else:
            res = _CHECKERS[req.kind](ctx, req.id, rule)
        ctx.results[req.id] = res
        out.append(res)
    return Evaluation(
        id=doc.id,
        association=doc.association,
        category=doc.category,
        as_of=rules.as_of,
        requirements=tuple(out),
        warnings=tuple(ctx.warnings),
        rulebook_digest=rules.digest,
    )


# --- small helpers -------------------------------------------------------------------------------


# Hours already written, by value: a checklist writes some 13 figures, mostly the same few thresholds
# and totals, and a lookup costs a fifth of writing one. Bounded: beyond this it starts over.
_HOURS_WRITTEN: dict[float, str] = {}
_HOURS_WRITTEN_MAX = 10_000


def _h(x: float) -> str:
    """Hours as people write them: 44, 12.5."""
    written = _HOURS_WRITTEN.get(x)
    if written is None:
        written = f"{x:.1f}".rstrip("0").rstrip(".") if abs(x - round(x)) > _EPS else str(int(round(x)))
        if len(_HOURS_WRITTEN) >= _HOURS_WRITTEN_MAX:
            _HOURS_WRITTEN.clear()
        _HOURS_WRITTEN[x] = written
    return written


def _years(days: int) -> str:
    # Rounded down, so a shortfall of a day never prints as the full minimum.
    tenths = math.floor(days * 10 / DAYS_PER_YEAR_OF_EXPERIENCE) / 10
    return f"{tenths:.1f}".rstrip("0").rstrip(".")


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _or_list(items: Iterable[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _of_rules(rules: CategoryRules, key: tuple, make: Callable[[], object]):
    """What ``make`` works out from ``rules`` alone (no application), once per association, category
    and as-of date: kept on the rules themselves, so another's is never used."""
    found = rules.derived.get(key)
    if found is None:
        found = rules.derived[key] = make()
    return found


def _source_with_sets(rule_source: str, rules: CategoryRules, *set_names: str | None) -> str:
    # When an association overrides a named set, cite where the set comes from too.
    def make() -> str:
        extra = [rules.set_sources[n] for n in set_names
                 if n and rules.set_sources.get(n) and rules.set_sources[n] != rule_source
                 and not rules.set_sources[n].startswith("004")]
        return "; ".join([rule_source, *dict.fromkeys(extra)])

    return _of_rules(rules, ("source", rule_source, set_names), make)


def _degrees_at(ctx: _Context, level: int) -> tuple[date | None, bool]:
    """The first conferral date of a claimed degree at ``level`` or above (dated ones only), and whether
    such a degree (not a graduate certificate) is claimed at all: asked for every work and RS/C record,
    worked out once per application."""
    found = ctx.degrees.get(level)
    if found is None:
        education = ctx.doc.education
        dates = [e.conferred_on for e in education
                 if e.conferred_on is not None and _CREDENTIAL_LEVEL[e.credential] >= level]
        claimed = any(_CREDENTIAL_LEVEL[e.credential] >= level and e.credential != "graduate_certificate"
                      for e in education)
        found = ctx.degrees[level] = (min(dates) if dates else None, claimed)
    return found


def _post_degree_start(after_field: str | None, required: str, start: date, ctx: _Context) -> date | None:
    """From when a record counts as post-<required> (None: it does not count)."""
    need = _AFTER_LEVEL[required]
    if need == 0:
        return start
    first, claimed = _degrees_at(ctx, need)
    if after_field is not None:
        # Marked post-degree: only when the applicant claims a degree at that level.
        return start if _AFTER_LEVEL[after_field] >= need and claimed else None
    if first is None:
        return None
    return max(start, first + ONE_DAY)


# --- education and transcripts ---------------------------------------------------------------------


def check_education(ctx: _Context, req_id: str, rule: EducationRule) -> RequirementResult:
    doc, as_of = ctx.doc, ctx.as_of
    qualifying = [e for e in doc.education if e.credential in rule.credentials]
    done = [e for e in qualifying if e.conferred_on is None or e.conferred_on <= as_of]
    wanted = _or_list(CREDENTIAL_WORDS[c] for c in rule.credentials)
    if done:
        e = done[0]
        extra = [x for x in doc.education if x.credential in rule.only_on_top]
        on_top = "".join(f"; with {CREDENTIAL_WORDS[x.credential]}, {x.institution}" for x in extra)
        return ctx.result(req_id, MET, f"{CREDENTIAL_WORDS[e.credential]}"
                          f"{' (' + e.degree + ')' if e.degree else ''}, {e.institution}{on_top}", rule.source)
    alt_detail = ""
    alt_status = None
    source = rule.source
    if rule.alternative_work is not None:
        alt_status, alt_detail, asked = _check_work_spec(ctx, rule.alternative_work)
        source = ctx.with_question_sources(rule.source, asked)
        if alt_status == MET:
            return ctx.result(req_id, MET, f"through work: {alt_detail}", source)
    upcoming = [e for e in qualifying if e.conferred_on is not None and e.conferred_on > as_of]
    if upcoming:
        e = min(upcoming, key=lambda x: x.conferred_on)
        return ctx.result(req_id, PENDING, f"{CREDENTIAL_WORDS[e.credential]} from {e.institution} "
                          f"expected on {e.conferred_on.isoformat()}", source)
    if alt_status == PENDING:
        return ctx.result(req_id, PENDING, f"through work: {alt_detail}", source)
    claimed = ", ".join(f"{CREDENTIAL_WORDS[e.credential]} ({e.institution})" for e in doc.education)
    detail = f"needs {_a(wanted)}; claimed: {claimed or 'none'}"
    alone = [e for e in doc.education if e.credential in rule.only_on_top]
    if alone:
        detail += (f"; {_or_list(CREDENTIAL_WORDS[e.credential] for e in alone)} counts only on top of "
                   f"{_a(wanted)}")
    if alt_detail:
        detail += f"; or {alt_detail}"
    return ctx.result(req_id, UNMET, detail, source)


def check_transcripts(ctx: _Context, req_id: str, rule: TranscriptsRule) -> RequirementResult:
    doc, as_of = ctx.doc, ctx.as_of
    if not doc.education:
        edu = ctx.results.get("education")
        if edu is not None and edu.status == MET:
            return ctx.result(req_id, NOT_APPLICABLE, "no education claimed; education is met through work",
                              rule.source)
        return ctx.result(req_id, UNMET, "no education claimed: an official transcript of the qualifying "
                          "degree is needed", rule.source)
    missing, unofficial, awaited, received = [], [], [], []
    for e in doc.education:
        name = f"{e.institution} ({e.degree or CREDENTIAL_WORDS[e.credential]})"
        t = e.transcript
        if t is None:
            missing.append(name)
        elif rule.official_required and not t.official:
            unofficial.append(name)
        elif t.received_on is None or t.received_on > as_of:
            awaited.append(name)
        else:
            received.append(name)
    parts = []
    if missing:
        parts.append("not requested: " + "; ".join(missing))
    if unofficial:
        parts.append("official transcript needed (unofficial only): " + "; ".join(unofficial))
    if awaited:
        parts.append("requested, not yet received: " + "; ".join(awaited))
    if missing or unofficial:
        return ctx.result(req_id, UNMET, "; ".join(parts), rule.source)
    if awaited:
        return ctx.result(req_id, PENDING, "; ".join(parts), rule.source)
    return ctx.result(req_id, MET, f"{len(received)} official transcript(s) received", rule.source)


# --- training ----------------------------------------------------------------------------------------


def check_training(ctx: _Context, req_id: str, rule: TrainingRule) -> RequirementResult:
    counted = booked = 0.0
    for t in ctx.doc.training:
        if rule.topic is not None and rule.topic not in t.topics:
            continue
        if t.completed_on <= ctx.as_of:
            counted += t.hours
        else:
            booked += t.hours
    what = "h of training" if rule.topic is None else f"h of {rule.topic.replace('_', ' ')} training"
    if rule.topic == "rsc_didactic":
        what = "h of didactic training about providing RS/C"
    elif rule.topic == "dei":
        what = "h of diversity, equity and inclusion training"
    if rule.typical_hours is not None and counted + _EPS < rule.typical_hours:
        ctx.warnings.append(Advice(req_id, f"{_h(counted)} h; successful {ctx.doc.category} applications "
                                           f"typically have {_h(rule.typical_hours)}"))
    if counted + _EPS >= rule.min_hours:
        return ctx.result(req_id, MET, f"{_h(counted)} {what} (minimum {_h(rule.min_hours)})", rule.source)
    short = rule.min_hours - counted
    detail = f"{_h(counted)} of {_h(rule.min_hours)} {what}: {_h(short)} h more needed"
    if counted + booked + _EPS >= rule.min_hours:
        return ctx.result(req_id, PENDING, detail + f" ({_h(booked)} h booked after {ctx.as_of.isoformat()})",
                          rule.source)
    return ctx.result(req_id, UNMET, detail, rule.source)


# --- work experience -----------------------------------------------------------------------------------


def _check_work_spec(ctx: _Context, spec: WorkSpec) -> tuple[str, str, list[str]]:
    """Status, detail and the determination questions that bear on one body of work experience.

    Unpaid records (where a coordinator may accept them) and internship credit (where reviewers must
    consider it) count once accepted; while a determination that would make the difference is not
    recorded, the result is ``pending`` naming the question.
    """
    doc = ctx.doc
    unpaid_q = spec.unpaid_counts_if if spec.paid_only else None
    ic = spec.internship_credit
    intern_q = ic.determination if ic is not None else None
    asked = []
    if unpaid_q and any(w.kind in spec.kinds and not w.paid for w in doc.work):
        asked.append(unpaid_q)
    if intern_q and any(w.kind in ic.kinds for w in doc.work):
        asked.append(intern_q)
    unpaid_ok, intern_ok = ctx.accepted(unpaid_q) is True, intern_q is None or ctx.accepted(intern_q) is True
    status, detail = _measure_work(ctx, spec, unpaid_ok, intern_ok)
    awaiting = [q for q in asked if ctx.answer(q) is None]
    if status != MET and awaiting:
        maybe, _ = _measure_work(ctx, spec, unpaid_ok or unpaid_q in awaiting, intern_ok or intern_q in awaiting)
        if maybe in (MET, PENDING):
            status = PENDING
    notes = [ctx.answer_note(q) for q in asked if ctx.answer(q) is not None or status != MET]
    return status, "; ".join([detail, *notes]), asked


def _measure_work(ctx: _Context, spec: WorkSpec, unpaid_ok: bool, intern_ok: bool) -> tuple[str, str]:
    """Status and detail for one body of work experience (see rules/README.md, Years of work)."""
    doc, as_of = ctx.doc, ctx.as_of
    past: list[tuple[date, date]] = []
    future: list[tuple[date, date]] = []
    families = 0
    families_unknown = False
    not_dated_after_degree = 0
    degree_not_claimed = 0
    for w in doc.work:
        if w.kind not in spec.kinds or (spec.paid_only and not w.paid and not unpaid_ok):
            continue
        start = _post_degree_start(w.after, spec.after, w.start_on, ctx)
        if start is None:
            if w.after is None:
                not_dated_after_degree += 1
            elif _AFTER_LEVEL[w.after] >= _AFTER_LEVEL[spec.after]:
                degree_not_claimed += 1
            continue
        end = w.end_on
        if start > as_of or (end is not None and end < start):
            continue
        past.append((start, min(end, as_of) if end is not None else as_of))
        if end is None or end > as_of:
            future.append((as_of + ONE_DAY, end if end is not None else date.max - ONE_DAY))
        if w.families_served is None:
            families_unknown = True
        else:
            families += w.families_served
    needed = int(round(spec.min_years * DAYS_PER_YEAR_OF_EXPERIENCE))
    paid_days = covered_days(past)
    credit_days = 0
    ic = spec.internship_credit if intern_ok else None
    if ic is not None:
        supervisors = ctx.rules.sets.get(ic.supervisor_set, frozenset())
        internships = [(w.start_on, min(w.end_on or as_of, as_of)) for w in doc.work
                       if w.kind in ic.kinds and w.supervisor_endorsement in supervisors and w.start_on <= as_of]
        if internships:
            # Internship days not already covered by paid work, up to the cap.
            union = covered_days(past + internships)
            credit_days = min(union - paid_days, int(round(ic.max_years * DAYS_PER_YEAR_OF_EXPERIENCE)))
    total = paid_days + credit_days
    label = spec.label
    have = f"{_years(total)} of {_h(spec.min_years)} years of {label}"
    if total >= needed:
        have = f"{_years(total)} years of {label} (minimum {_h(spec.min_years)})"
    if credit_days:
        have += f" (incl. {_years(credit_days)} y of supervised graduate internship)"
    families_ok = spec.min_families_served is None or families >= spec.min_families_served
    if total >= needed and families_ok:
        detail = have
        if spec.min_families_served is not None:
            detail += f"; {families} families served"
        return MET, detail
    notes = []
    if not_dated_after_degree:
        notes.append(f"{not_dated_after_degree} record(s) not counted: say which degree the work followed "
                     f"or date the degree")
    if degree_not_claimed:
        notes.append(f"{degree_not_claimed} record(s) marked {_AFTER_WORDS[spec.after].strip()} not counted: "
                     f"no such degree is claimed")
    if total < needed:
        detail = f"{have}: {_days(needed - total)} more needed"
        when = date_when_covered(future, total, needed)
        if when is not None and families_ok:
            return PENDING, "; ".join([f"{detail}; met on {when.isoformat()} if the current position "
                                       f"continues", *notes])
        return UNMET, "; ".join([detail, *notes])
    fam = (f"families served: {families} of {spec.min_families_served}"
           + (" (some records do not say how many)" if families_unknown else ""))
    return UNMET, "; ".join([have, fam, *notes])


def check_work_experience(ctx: _Context, req_id: str, rule: WorkExperienceRule) -> RequirementResult:
    worst, details, asked = MET, [], []
    for spec in rule.components:
        status, detail, questions = _check_work_spec(ctx, spec)
        details.append(detail)
        asked += questions
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
    sets = [c.internship_credit.supervisor_set for c in rule.components if c.internship_credit]
    source = ctx.with_question_sources(_source_with_sets(rule.source, ctx.rules, *sets), asked)
    return ctx.result(req_id, worst, "; ".join(details), source)


def check_leadership(ctx: _Context, req_id: str, rule: LeadershipRule) -> RequirementResult:
    acts = [a for a in ctx.doc.leadership_activities if a.level in rule.levels]
    current = [a for a in acts if a.start_on is None or a.start_on <= ctx.as_of]
    levels = _or_list(rule.levels)
    problems, later = [], False
    if len(current) < rule.min_activities:
        later = len(acts) >= rule.min_activities
        problems.append(f"needs {rule.min_activities} leadership activit{'y' if rule.min_activities == 1 else 'ies'}"
                        f" at {levels} level; has {len(current)}")
    outside = [a for a in current if getattr(a, "part_of_paid_work", None) is False]
    if len(outside) < rule.min_outside_paid_work:
        unsaid = sum(getattr(a, "part_of_paid_work", None) is None for a in current)
        problems.append(f"needs {rule.min_outside_paid_work} leadership activit"
                        f"{'y' if rule.min_outside_paid_work == 1 else 'ies'} in addition to paid work; has "
                        f"{len(outside)}" + (f" ({unsaid} do not say whether they were part of paid work)" if unsaid else ""))
    years_txt = ""
    if rule.min_years is not None:
        dated = [(a.start_on, min(a.end_on or ctx.as_of, ctx.as_of)) for a in current if a.start_on is not None]
        days = covered_days(dated)
        needed = int(round(rule.min_years * DAYS_PER_YEAR_OF_EXPERIENCE))
        years_txt = f"{_years(days)} years of leadership experience, paid and unpaid"
        if days < needed:
            problems.append(f"{_years(days)} of {_h(rule.min_years)} years of leadership experience (paid and "
                            f"unpaid, dated activities): {_days(needed - days)} more needed")
    if not problems:
        parts = []
        if rule.min_activities:
            parts.append(f"{len(current)} {levels} leadership activit{'y' if len(current) == 1 else 'ies'}")
        if rule.min_outside_paid_work:
            parts.append(f"{len(outside)} in addition to paid work")
        if years_txt:
            parts.append(f"{years_txt} (minimum {_h(rule.min_years)})")
        return ctx.result(req_id, MET, "; ".join(parts), rule.source)
    if later and len(problems) == 1:
        return ctx.result(req_id, PENDING, f"leadership activity starts after {ctx.as_of.isoformat()}", rule.source)
    others = [a.level for a in ctx.doc.leadership_activities if a.level not in rule.levels]
    detail = "; ".join(problems)
    if others:
        detail += f" (other levels: {', '.join(others)})"
    return ctx.result(req_id, UNMET, detail, rule.source)


# --- reflective supervision/consultation -------------------------------------------------------------


class _RscPiece(NamedTuple):
    # A tuple rather than a frozen dataclass: a record makes one or more, and a frozen dataclass's
    # constructor sets each field through object.__setattr__ (five times the cost).
    start: date
    end: date
    hours: float
    about: float


class _RscWindow(NamedTuple):
    start: date
    end: date
    hours: float
    about: float
    first: date | None
    last: date | None

    def spans(self, months: int) -> bool:
        return self.first is not None and spans_at_least_months(self.first, self.last, months)


def best_rsc_window(pieces: list[_RscPiece], max_months: int, min_months: int) -> tuple[_RscWindow | None, _RscWindow | None]:
    """The window of ``max_months`` holding the most hours: (best spanning ``min_months``, best of all).

    Hours are spread evenly over each record's days, so the total in a window is piecewise linear in
    the window's start and its maximum lies where the window starts at a record's start or ends at a
    record's end: those are the only candidates we need to try. Days are counted on ordinals (the
    same inclusive counts as ``overlap_days``, the same shares summed in the same order), and a
    window is only built when it is the best so far.
    """
    if not pieces:
        return None, None
    starts = {p.start for p in pieces}
    starts |= {add_months(p.end + ONE_DAY, -max_months) for p in pieces}
    spans = [(p.start.toordinal(), p.end.toordinal(), p.hours, p.about) for p in pieces]
    best_valid = best_any = None
    valid_key = any_key = None
    for w0 in starts:
        w1 = add_months(w0, max_months) - ONE_DAY
        o0, o1 = w0.toordinal(), w1.toordinal()
        hours = about = 0.0
        first = last = None
        for s, e, p_hours, p_about in spans:
            lo = s if s > o0 else o0
            hi = e if e < o1 else o1
            if hi < lo:
                continue
            share = (hi - lo + 1) / (e - s + 1)
            hours += p_hours * share
            about += p_about * share
            first = lo if first is None or lo < first else first
            last = hi if last is None or hi > last else last
        key = (round(hours, 6), round(about, 6))
        newly_any = any_key is None or key > any_key
        newly_valid = valid_key is None or key > valid_key
        if not (newly_any or newly_valid):
            continue
        w = _RscWindow(w0, w1, hours, about, None if first is None else date.fromordinal(first),
                       None if last is None else date.fromordinal(last))
        if newly_any:
            best_any, any_key = w, key
        if newly_valid and w.spans(min_months):
            best_valid, valid_key = w, key
    return best_valid, best_any


def _providing_periods(ctx: _Context, rule: RscHoursRule, until: date | None) -> list[tuple[date, date]] | None:
    """Days on which the applicant was doing the qualifying work (None: the rule does not ask)."""
    wp = rule.while_providing
    if wp is None:
        return None
    last = ctx.as_of if until is not None else date.max - ONE_DAY
    return merge_periods((w.start_on, min(w.end_on or last, last)) for w in ctx.doc.work if w.kind in wp.kinds)


def _rsc_pieces(ctx: _Context, rule: RscHoursRule, until: date | None,
                assume_accepted: bool = False) -> tuple[list[_RscPiece], list[str], list[str]]:
    """Qualifying RS/C records, clipped to the post-degree part, to the days of qualifying work and to
    ``until`` (prorated); what is not counted and why; and the determination questions involved."""
    providers = ctx.rules.sets.get(rule.provider_set, frozenset()) if rule.provider_set else frozenset()
    providing = _providing_periods(ctx, rule, until)
    pieces, excluded, asked = [], [], []
    for r in ctx.doc.rsc:
        who = f"{_h(r.hours)} h from {r.provider.name}"
        question = None
        if rule.provider_determination or r.provider.endorsement not in providers:
            exc = rule.provider_exception
            if rule.provider_determination:
                question = rule.provider_determination
            elif exc is not None and r.provider.endorsement in exc.endorsements:
                question = exc.determination
            else:
                excluded.append(f"{who} ({r.provider.endorsement or 'not endorsed'}: not a qualifying provider)")
                continue
            asked.append(question)
            verdict = ctx.accepted(question)
            if verdict is False:
                excluded.append(f"{who} (provider not accepted by the coordinator)")
                continue
            if verdict is None and not assume_accepted:
                excluded.append(f"{who} (awaiting the coordinator's determination {question})")
                continue
        start = _post_degree_start(r.after, rule.after, r.start_on, ctx)
        if start is None:
            why = f"not {_AFTER_WORDS[rule.after].strip()}"
            if r.after is not None and _AFTER_LEVEL[r.after] >= _AFTER_LEVEL[rule.after]:
                why = f"marked {_AFTER_WORDS[rule.after].strip()}, but no such degree is claimed"
            excluded.append(f"{who} ({why})")
            continue
        end = r.end_on if until is None else min(r.end_on, until)
        if start > end:
            continue
        total_days = days_inclusive(r.start_on, r.end_on)
        spans = [(start, end)] if providing is None else \
            [(max(start, a), min(end, b)) for a, b in providing if max(start, a) <= min(end, b)]
        kept = 0
        for a, b in spans:
            share = days_inclusive(a, b) / total_days
            kept += days_inclusive(a, b)
            pieces.append(_RscPiece(a, b, r.hours * share, (r.about_providing_rsc_hours or 0.0) * share))
        lost = days_inclusive(start, end) - kept
        if providing is not None and lost > 0:
            excluded.append(f"{_h(r.hours * lost / total_days)} h from {r.provider.name} on days not covered by "
                            f"{rule.while_providing.label}")
    return pieces, excluded, list(dict.fromkeys(asked))


def check_rsc_hours(ctx: _Context, req_id: str, rule: RscHoursRule) -> RequirementResult:
    pieces, excluded, asked = _rsc_pieces(ctx, rule, ctx.as_of)
    source = ctx.with_question_sources(_source_with_sets(rule.source, ctx.rules, rule.provider_set), asked)
    valid, any_ = best_rsc_window(pieces, rule.window_max_months, rule.window_min_months)
    chosen = valid if valid is not None else any_
    ctx.rsc_window = chosen
    if rule.provider_set:
        providers = _of_rules(ctx.rules, ("set words", rule.provider_set), lambda: _or_list(
            sorted(ctx.rules.sets.get(rule.provider_set, ()))))
        providers = f"qualifying providers ({providers})"
    else:
        providers = "providers approved by a coordinator"
    scope = f"{_AFTER_WORDS[rule.after]}RS/C from {providers} within a {rule.window_max_months}-month window"
    if rule.while_providing is not None:
        scope += f", while {rule.while_providing.label}"
    notes = [ctx.answer_note(q) for q in asked if ctx.answer(q) is not None]
    tail = (f"; not counted: {'; '.join(excluded)}" if excluded else "") + "".join(f"; {n}" for n in notes)
    have = valid.hours if valid is not None else 0.0
    if have + _EPS >= rule.min_hours:
        return ctx.result(req_id, MET, f"{_h(have)} h of {scope} (minimum {_h(rule.min_hours)}){tail}", source)
    if any_ is not None and any_.hours + _EPS >= rule.min_hours and not any_.spans(rule.window_min_months):
        return ctx.result(req_id, UNMET, f"{_h(any_.hours)} h of RS/C received between {any_.first.isoformat()} "
                          f"and {any_.last.isoformat()}: RS/C must span at least {rule.window_min_months} "
                          f"months{tail}", source)
    best = max(have, any_.hours if any_ is not None else 0.0)
    detail = f"{_h(best)} of {_h(rule.min_hours)} h of {scope}: {_h(rule.min_hours - best)} h more needed{tail}"
    awaiting = [q for q in asked if ctx.answer(q) is None]
    if awaiting:
        hoped, _, _ = _rsc_pieces(ctx, rule, None, assume_accepted=True)
        v2, _ = best_rsc_window(hoped, rule.window_max_months, rule.window_min_months)
        if v2 is not None and v2.hours + _EPS >= rule.min_hours:
            waits = "; ".join(ctx.answer_note(q) for q in awaiting)
            return ctx.result(req_id, PENDING, f"{detail}; {waits}", source)
    # Sessions still running past the as-of date can still meet it.
    later, _, _ = _rsc_pieces(ctx, rule, None)
    if any(p.end > ctx.as_of for p in later):
        v2, _ = best_rsc_window(later, rule.window_max_months, rule.window_min_months)
        if v2 is not None and v2.hours + _EPS >= rule.min_hours:
            return ctx.result(req_id, PENDING, detail + " (RS/C still under way)", source)
    return ctx.result(req_id, UNMET, detail, source)


def check_rsc_about_providing(ctx: _Context, req_id: str, rule: RscAboutProvidingRule) -> RequirementResult:
    base = ctx.rules.rules.get(rule.of)
    if ctx.rsc_window is None and isinstance(base, RscHoursRule):
        pieces, _, _ = _rsc_pieces(ctx, base, ctx.as_of)
        valid, any_ = best_rsc_window(pieces, base.window_max_months, base.window_min_months)
        ctx.rsc_window = valid if valid is not None else any_
    about = ctx.rsc_window.about if ctx.rsc_window is not None else 0.0
    if about + _EPS >= rule.min_hours:
        return ctx.result(req_id, MET, f"{_h(about)} h of the counted RS/C were about the RS/C the applicant "
                          f"provides (minimum {_h(rule.min_hours)})", rule.source)
    return ctx.result(req_id, UNMET, f"{_h(about)} of {_h(rule.min_hours)} h of the counted RS/C were about the "
                      f"RS/C the applicant provides: {_h(rule.min_hours - about)} h more needed", rule.source)


# --- references ---------------------------------------------------------------------------------------


class _Rating(NamedTuple):
    ref: Reference
    state: str  # "valid" | "requested" | "invalid"
    why: str = ""


def classify_ratings(ctx: _Context, max_insufficient: int) -> tuple[list[_Rating], list[str]]:
    """Each distinct rater once (their most useful reference), and notes on what does not count."""
    cached = ctx.ratings.get(max_insufficient)
    if cached is not None:
        return cached
    doc, as_of = ctx.doc, ctx.as_of
    validity = int(ctx.rules.settings.get("rating_validity_days", 0) or 0)
    applicant = doc.applicant.email.casefold()
    by_rater: dict[str, _Rating] = {}
    notes = []
    rank = {"valid": 2, "requested": 1, "invalid": 0}
    for ref in doc.references:
        who = ref.rater.name
        email = ref.rater.email.casefold()
        if email == applicant:
            notes.append(f"{who} is the applicant and cannot rate the application")
            continue
        if ref.status == "declined":
            r = _Rating(ref, "invalid", f"{who} declined to rate")
        elif ref.status == "requested" or (ref.submitted_on is not None and ref.submitted_on > as_of):
            r = _Rating(ref, "requested")
        elif (ref.insufficient_information_count or 0) > max_insufficient:
            r = _Rating(ref, "invalid", f"{who}'s rating has {ref.insufficient_information_count} areas marked "
                                        f"'not enough information' ({max_insufficient + 1} or more do not count)")
        elif validity and ref.submitted_on is not None and (as_of - ref.submitted_on).days > validity:
            r = _Rating(ref, "invalid", f"{who}'s rating of {ref.submitted_on.isoformat()} is older than "
                                        f"{validity} days")
        else:
            r = _Rating(ref, "valid")
        prev = by_rater.get(email)
        if prev is not None:
            notes.append(f"{who} appears more than once and counts once")
            if rank[r.state] <= rank[prev.state]:
                continue
        by_rater[email] = r
    notes.extend(r.why for r in by_rater.values() if r.state == "invalid")
    ctx.ratings[max_insufficient] = (list(by_rater.values()), notes)
    return ctx.ratings[max_insufficient]


def _insufficient_limit(ctx: _Context) -> int:
    # Most "not enough information" answers a valid rating may have (an association setting).
    return int(ctx.rules.settings["max_insufficient_information"])


def _endorsed_or_vetted(ctx: _Context, r: _Rating) -> str | None:
    """How a rater counts as endorsed or vetted under the endorsed_rater rule (None: not at all)."""
    rule = ctx.rules.rules.get("endorsed_rater")
    if not isinstance(rule, EndorsedRaterRule):
        return None
    if r.ref.rater.endorsement in ctx.rules.sets.get(rule.rater_set, frozenset()):
        return f"{r.ref.rater.name} ({r.ref.rater.endorsement})"
    if rule.vetting_allowed and r.ref.rater.vetted_on is not None and r.ref.rater.vetted_on <= ctx.as_of:
        return f"{r.ref.rater.name} (vetted by a coordinator on {r.ref.rater.vetted_on.isoformat()})"
    return None


def _slot_role_sets(ctx: _Context, slots, supervisor: bool) -> tuple[tuple[frozenset[str], bool], ...]:
    """Each slot's roles (with those it takes when the applicant is a supervisor) and whether an
    endorsed or vetted rater in any role fills it: the same for every application under these rules."""
    # The slots belong to ctx.rules: their id stays theirs as long as the rules live.
    return _of_rules(ctx.rules, ("slot roles", id(slots), supervisor), lambda: tuple(
        (frozenset([*slot.roles, *(slot.conditional_roles.get("applicant_is_supervisor", ()) if supervisor else ())]),
         slot.any_role_if_endorsed_or_vetted) for slot in slots))


# Distinct (slots, raters' roles) combinations remembered per rules; beyond this the memo starts over.
_FILLINGS_KEPT = 20_000


def _max_filled(ctx: _Context, slots, ratings: list[_Rating]) -> tuple[int, list[int]]:
    """Largest number of slots filled by distinct ratings, and the unfilled slot indexes (tiny search).

    The answer depends only on the slots and on each rating's role and whether its rater is endorsed
    or vetted, so it is searched once per such combination under these rules and then looked up."""
    supervisor = ctx.doc.applicant.is_supervisor
    role_sets = _slot_role_sets(ctx, slots, supervisor)
    any_role = any(a for _, a in role_sets)
    raters = tuple((r.ref.role, any_role and _endorsed_or_vetted(ctx, r) is not None) for r in ratings)
    memo = ctx.rules.derived.setdefault("fillings", {})
    key = (id(slots), supervisor, raters)
    found = memo.get(key)
    if found is None:
        found = _search_filling(role_sets, raters)
        if len(memo) >= _FILLINGS_KEPT:
            memo.clear()
        memo[key] = found
    return found


def _search_filling(role_sets, raters) -> tuple[int, list[int]]:
    best: tuple[int, list[int]] = (-1, [])
    n_slots = len(role_sets)
    fits = [[role in roles or (any_role and endorsed) for role, endorsed in raters]
            for roles, any_role in role_sets]

    def go(i: int, used: frozenset[int], filled: int, unfilled: list[int]) -> None:
        nonlocal best
        # A branch that cannot fill more slots than the best found so far cannot replace it (only a
        # larger count does): cut it. The first best assignment found is the same as without the cut.
        if filled + n_slots - i <= best[0]:
            return
        if i == n_slots:
            best = (filled, list(unfilled))
            return
        for j in range(len(raters)):
            if j not in used and fits[i][j]:
                go(i + 1, used | {j}, filled + 1, unfilled)
        go(i + 1, used, filled, unfilled + [i])

    go(0, frozenset(), 0, [])
    return best


def _slot_words(ctx: _Context, slot) -> str:
    supervisor = ctx.doc.applicant.is_supervisor

    def make() -> str:
        wording = ctx.rules.role_wording
        names = list(slot.roles) + (list(slot.conditional_roles.get("applicant_is_supervisor", ()))
                                    if supervisor else [])
        words = _or_list(wording.get(n, n.replace("_", " ")) for n in names)
        return words + (" (or an endorsed or vetted rater in any role)" if slot.any_role_if_endorsed_or_vetted else "")

    return _of_rules(ctx.rules, ("slot words", id(slot), supervisor), make)


def check_references(ctx: _Context, req_id: str, rule: ReferencesRule) -> RequirementResult:
    ratings, notes = classify_ratings(ctx, _insufficient_limit(ctx))
    valid = [r for r in ratings if r.state == "valid"]
    open_ = valid + [r for r in ratings if r.state == "requested"]
    note = f"; {'; '.join(notes)}" if notes else ""
    open_patterns = [p for p in rule.patterns if p.only_if is None or getattr(ctx.doc.applicant, p.only_if, False)]
    best_pattern = None
    for pattern in open_patterns:
        filled, _ = _max_filled(ctx, pattern.slots, valid)
        n = len(pattern.slots)
        if filled == n:
            return ctx.result(req_id, MET, f"{n} valid ratings ({pattern.name}){note}", rule.source)
        filled_open, unfilled = _max_filled(ctx, pattern.slots, open_)
        if filled_open == n:
            waiting = [r.ref.rater.name for r in open_ if r.state == "requested"]
            return ctx.result(req_id, PENDING, f"{filled} of {n} valid ratings; awaiting "
                              f"{', '.join(waiting)}{note}", rule.source)
        if best_pattern is None or filled_open > best_pattern[0]:
            best_pattern = (filled_open, unfilled, pattern, filled)
    if best_pattern is None:  # every pattern waits on a statement the applicant has not made
        first = rule.patterns[0]
        best_pattern = (0, list(range(len(first.slots))), first, 0)
    _, unfilled, pattern, filled = best_pattern
    # Name the missing slots in the data's order of roles, in plain words.
    missing = [_slot_words(ctx, pattern.slots[i]) for i in unfilled]
    alt = ""
    if len(rule.patterns) > 1:
        alt = " (or: " + "; ".join(p.name for p in rule.patterns if p is not pattern) + ")"
    detail = f"{filled} of {len(pattern.slots)} valid ratings; {ctx.doc.category} needs a rating from " \
             + "; and from ".join(missing) + alt + note
    return ctx.result(req_id, UNMET, detail, rule.source)


def check_endorsed_rater(ctx: _Context, req_id: str, rule: EndorsedRaterRule) -> RequirementResult:
    ratings, _ = classify_ratings(ctx, _insufficient_limit(ctx))
    endorsed = ctx.rules.sets.get(rule.rater_set, frozenset())
    source = _source_with_sets(rule.source, ctx.rules, rule.rater_set)
    for state, status in (("valid", MET), ("requested", PENDING)):
        for r in ratings:
            if r.state == state and (who := _endorsed_or_vetted(ctx, r)):
                prefix = "" if status == MET else "awaiting the rating of "
                return ctx.result(req_id, status, prefix + who, source)
    wanted = _of_rules(ctx.rules, ("set words", rule.rater_set), lambda: _or_list(sorted(endorsed)))
    detail = f"no valid rating from a rater endorsed {wanted}"
    if rule.vetting_allowed:
        detail += " or vetted by a coordinator"
    return ctx.result(req_id, UNMET, detail, source)


# --- agreements, membership, exam ------------------------------------------------------------------------


def check_agreement(ctx: _Context, req_id: str, rule: AgreementRule) -> RequirementResult:
    signed = getattr(ctx.doc.agreements, rule.field)
    if signed is not None and signed <= ctx.as_of:
        return ctx.result(req_id, MET, f"signed on {signed.isoformat()}", rule.source)
    if signed is not None:
        return ctx.result(req_id, UNMET, f"dated {signed.isoformat()}, after {ctx.as_of.isoformat()}", rule.source)
    return ctx.result(req_id, UNMET, "not signed", rule.source)


def check_membership(ctx: _Context, req_id: str, rule: MembershipRule) -> RequirementResult:
    accepted = None if rule.associations == "any" else set(rule.associations)
    relevant = [m for m in ctx.doc.memberships if accepted is None or m.association in accepted]
    current = [m for m in relevant if m.expires_on >= ctx.as_of]
    if current:
        m = max(current, key=lambda m: m.expires_on)
        return ctx.result(req_id, MET, f"{m.association} member until {m.expires_on.isoformat()}", rule.source)
    if relevant:
        m = max(relevant, key=lambda m: m.expires_on)
        return ctx.result(req_id, UNMET, f"{m.association} membership expired on {m.expires_on.isoformat()}",
                          rule.source)
    wanted = "an infant mental health association" if accepted is None else _or_list(sorted(accepted))
    others = ", ".join(m.association for m in ctx.doc.memberships)
    detail = f"no membership in {wanted}" + (f" (has: {others})" if others else "")
    return ctx.result(req_id, UNMET, detail, rule.source)


def check_exam(ctx: _Context, req_id: str, rule: ExamRule) -> RequirementResult:
    pass_mark = float(ctx.rules.settings["pass_mark_percent"])
    e = ctx.doc.exam
    mc = e.multiple_choice_percent if e is not None else None
    essay = e.essay_result if e is not None else None
    if mc is None and essay in (None, "pending"):
        what = "essay under review; multiple choice not yet scored" if essay == "pending" else "not taken yet"
        return ctx.result(req_id, PENDING, f"exam {what} ({rule.essay_track} essay track)", rule.source)
    mc_txt = "multiple choice not yet scored" if mc is None else \
        f"multiple choice {_h(mc)} % ({'passed' if mc + _EPS >= pass_mark else 'below'} the {_h(pass_mark)} % pass mark)"
    essay_txt = {"pass": "essay passed", "fail": "essay not passed"}.get(essay or "", "essay under review")
    detail = f"{mc_txt}; {essay_txt}"
    if (mc is not None and mc + _EPS < pass_mark) or essay == "fail":
        return ctx.result(req_id, UNMET, detail, rule.source)
    if mc is not None and essay == "pass":
        return ctx.result(req_id, MET, detail, rule.source)
    return ctx.result(req_id, PENDING, detail, rule.source)


_CHECKERS: Mapping[str, Callable[[_Context, str, object], RequirementResult]] = {
    "education": check_education,
    "transcripts": check_transcripts,
    "training_hours": check_training,
    "work_experience": check_work_experience,
    "leadership": check_leadership,
    "rsc_hours": check_rsc_hours,
    "rsc_about_providing_hours": check_rsc_about_providing,
    "references": check_references,
    "endorsed_rater": check_endorsed_rater,
    "agreement": check_agreement,
    "membership": check_membership,
    "exam": check_exam,
}
