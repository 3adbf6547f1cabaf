"""Renewal evaluation: renewal document + rulebook + year → the renewal checklist (pure).

The same contract shape as application evaluation. The renewal year is the 12 months ending on the
renewal due date, the anniversary of the endorsement in the year renewed (rules/README.md, Renewal).
Hours count when dated within it (RS/C records by the part of their dates inside it, spread evenly);
membership must be current on the due date; the code of ethics is signed again within the year; the
years an endorsement has been held are counted to the due date.
"""

from __future__ import annotations

from datetime import date

from endorse.dates import ONE_DAY, add_months, add_years, days_inclusive, overlap_days
from endorse.renewals import RenewalDocument
from endorse.rulebook import CategoryRules, RulebookLibrary
from tasks.evaluation import MET, NOT_APPLICABLE, UNMET, Advice, Evaluation, RequirementResult, _h, _or_list


def renewal_due_on(doc: RenewalDocument, year: int) -> date:
    """The due date renewed: the document's own, else the endorsement's anniversary in ``year``."""
    if doc.due_on is not None:
        return doc.due_on
    return add_years(doc.endorsed_on, year - doc.endorsed_on.year)


def renewal_year(due: date) -> tuple[date, date]:
    """The 12 months ending on the due date, both ends included."""
    return add_months(due, -12) + ONE_DAY, due


def years_held(endorsed_on: date, on: date) -> int:
    """Whole years an endorsement has been held on ``on``."""
    return (on.year - endorsed_on.year) - ((on.month, on.day) < (endorsed_on.month, endorsed_on.day))


def evaluate_renewal(doc: RenewalDocument, library: RulebookLibrary, year: int) -> Evaluation:
    due = renewal_due_on(doc, year)
    start, end = renewal_year(due)
    rules = library.category_rules(doc.association, doc.category, end)
    out, warnings = [], []
    for d in rules.renewal_order:
        rule = rules.renewal_rules.get(d.id)
        if rule is None:
            out.append(RequirementResult(d.id, NOT_APPLICABLE, f"not required to renew {doc.category}",
                                         rules.category_source))
            continue
        out.append(_CHECK[d.kind](doc, d.id, rule, start, end, warnings))
    return Evaluation(id=doc.id, association=doc.association, category=doc.category, as_of=end,
                      requirements=tuple(out), warnings=tuple(warnings), rulebook_digest=rules.digest)


def _year_words(start: date, end: date) -> str:
    return f"the renewal year {start.isoformat()} to {end.isoformat()}"


def _training(doc, req_id, rule, start, end, warnings) -> RequirementResult:
    if rule.only_if_provides_rsc and not doc.provides_rsc:
        return RequirementResult(req_id, NOT_APPLICABLE, "does not provide RS/C to others", rule.source)
    if rule.only_if_masters_prepared and not doc.masters_prepared:
        return RequirementResult(req_id, NOT_APPLICABLE, "not master's-prepared", rule.source)
    hours = sum(t.hours for t in doc.training if start <= t.completed_on <= end
                and (rule.topic is None or rule.topic in t.topics))
    what = _TOPIC_WORDS.get(rule.topic, rule.topic)
    if hours + 1e-9 >= rule.min_hours:
        return RequirementResult(req_id, MET, f"{_h(hours)} h of {what} in {_year_words(start, end)} "
                                 f"(minimum {_h(rule.min_hours)})", rule.source)
    return RequirementResult(req_id, UNMET, f"{_h(hours)} of {_h(rule.min_hours)} h of {what} in "
                             f"{_year_words(start, end)}: {_h(rule.min_hours - hours)} h more needed", rule.source)


def _step(rule, held: int):
    return max((s for s in rule.schedule if s.from_years_endorsed <= held), key=lambda s: s.from_years_endorsed)


def _rsc(doc, req_id, rule, start, end, warnings) -> RequirementResult:
    held = years_held(doc.endorsed_on, end)
    step = _step(rule, held)
    if step.min_hours <= 0:
        if step.advice and (doc.provides_rsc or doc.provides_direct_service):
            warnings.append(Advice(req_id, step.advice))
        return RequirementResult(req_id, NOT_APPLICABLE, f"not required after {step.from_years_endorsed} years "
                                 f"endorsed ({held} years on the due date {end.isoformat()})", rule.source)
    hours, peers_left_out = 0.0, 0.0
    for r in doc.rsc:
        n = overlap_days((r.start_on, r.end_on), (start, end))
        if n <= 0:
            continue
        share = r.hours * n / days_inclusive(r.start_on, r.end_on)
        if r.peer_consultation and r.provider.endorsement not in step.peer_consultation_with:
            peers_left_out += share
            continue
        hours += share
    peer = ""
    if step.peer_consultation_with:
        peer = f"; peer supervision with others endorsed {_or_list(step.peer_consultation_with)} counts"
    if peers_left_out:
        why = ("peer supervision counts only with others endorsed " + _or_list(step.peer_consultation_with)
               if step.peer_consultation_with else f"peer supervision does not count after {held} years held")
        peer += f"; {_h(peers_left_out)} h not counted ({why})"
    if hours + 1e-9 >= step.min_hours:
        return RequirementResult(req_id, MET, f"{_h(hours)} h of RS/C in {_year_words(start, end)} (minimum "
                                 f"{_h(step.min_hours)} after {held} years held){peer}", rule.source)
    return RequirementResult(req_id, UNMET, f"{_h(hours)} of {_h(step.min_hours)} h of RS/C in "
                             f"{_year_words(start, end)}: {_h(step.min_hours - hours)} h more needed{peer}", rule.source)


def _membership(doc, req_id, rule, start, end, warnings) -> RequirementResult:
    accepted = None if rule.associations == "any" else set(rule.associations)
    ok = [m for m in doc.memberships if (accepted is None or m.association in accepted) and m.expires_on >= end]
    if ok:
        m = max(ok, key=lambda m: m.expires_on)
        return RequirementResult(req_id, MET, f"{m.association} member until {m.expires_on.isoformat()}", rule.source)
    wanted = "an infant mental health association" if accepted is None else ", ".join(sorted(accepted))
    return RequirementResult(req_id, UNMET, f"membership in {wanted} must be current on the due date "
                             f"{end.isoformat()}", rule.source)


def _agreement(doc, req_id, rule, start, end, warnings) -> RequirementResult:
    signed = doc.code_of_ethics_signed_on
    if signed is not None and start <= signed <= end:
        return RequirementResult(req_id, MET, f"signed again on {signed.isoformat()}", rule.source)
    return RequirementResult(req_id, UNMET, f"not signed in {_year_words(start, end)}", rule.source)


_CHECK = {"renewal_training": _training, "renewal_rsc": _rsc, "renewal_membership": _membership,
          "renewal_agreement": _agreement}
_TOPIC_WORDS = {None: "relationship-based training", "rsc_didactic": "training about RS/C",
                "dei": "diversity, equity and inclusion training"}


def renewal_to_dict(ev: Evaluation, year: int) -> dict:
    d = ev.to_dict()
    return {"id": d["id"], "association": d["association"], "category": d["category"], "year": year,
            "as_of": d["as_of"], "eligible": d["eligible"], "requirements": d["requirements"], "warnings": d["warnings"]}


def _hours(n: float) -> str:
    return f"{_h(n)} hour" if abs(n - 1) < 1e-9 else f"{_h(n)} hours"


def renewal_asks(rules: CategoryRules, held: int) -> list[str]:
    """What renewing asks of an endorsed professional, in plain words, from the rules in force (the
    renewal notice lists these; nothing here is written in a template)."""
    out = []
    for d in rules.renewal_order:
        rule = rules.renewal_rules.get(d.id)
        if rule is None:
            continue
        kind = d.kind
        if kind == "renewal_training":
            line = f"at least {_hours(rule.min_hours)} of {_TOPIC_WORDS.get(rule.topic, rule.topic)}"
            if rule.only_if_provides_rsc:
                line += (" if you are master's-prepared and provide reflective supervision/consultation to others"
                         if rule.only_if_masters_prepared else
                         " if you provide reflective supervision/consultation to others")
            out.append(line)
        elif kind == "renewal_rsc":
            step = _step(rule, held)
            if step.min_hours > 0:
                line = f"at least {_hours(step.min_hours)} of reflective supervision/consultation received"
                if step.peer_consultation_with:
                    line += f" (peer supervision with others endorsed {_or_list(step.peer_consultation_with)} counts)"
                out.append(line)
            elif step.advice:
                out.append(step.advice)
        elif kind == "renewal_membership":
            who = "an infant mental health association" if rule.associations == "any" else _or_list(rule.associations)
            out.append(f"membership in {who}, current on the due date")
        elif kind == "renewal_agreement":
            out.append("the code of ethics signed again")
    return out


__all__ = ["evaluate_renewal", "renewal_to_dict", "renewal_asks", "renewal_due_on", "renewal_year", "years_held",
           "Advice"]
