"""Renewal evaluation: renewal document + rulebook + year → the renewal checklist (pure).

The same contract shape as application evaluation. Hours count when dated within the renewal year
(RS/C records by the part of their dates inside the year, spread evenly). Membership must run to
the end of the year; the code of ethics must be signed again within it.
"""

from __future__ import annotations

from datetime import date

from endorse.dates import days_inclusive, overlap_days
from endorse.renewals import RenewalDocument
from endorse.rulebook import RulebookLibrary
from tasks.evaluation import MET, NOT_APPLICABLE, UNMET, Advice, Evaluation, RequirementResult, _h


def evaluate_renewal(doc: RenewalDocument, library: RulebookLibrary, year: int) -> Evaluation:
    start, end = date(year, 1, 1), date(year, 12, 31)
    rules = library.category_rules(doc.association, doc.category, end)
    out = []
    for d in rules.renewal_order:
        rule = rules.renewal_rules.get(d.id)
        if rule is None:
            out.append(RequirementResult(d.id, NOT_APPLICABLE, f"not required to renew {doc.category}",
                                         rules.category_source))
            continue
        out.append(_CHECK[d.kind](doc, d.id, rule, start, end))
    return Evaluation(id=doc.id, association=doc.association, category=doc.category, as_of=end,
                      requirements=tuple(out), warnings=(), rulebook_digest=rules.digest)


def _training(doc, req_id, rule, start, end) -> RequirementResult:
    if rule.only_if_provides_rsc and not doc.provides_rsc:
        return RequirementResult(req_id, NOT_APPLICABLE, "does not provide RS/C to others", rule.source)
    hours = sum(t.hours for t in doc.training if start <= t.completed_on <= end
                and (rule.topic is None or rule.topic in t.topics))
    what = {None: "training", "rsc_didactic": "training about RS/C", "dei": "DEI training"}.get(rule.topic, rule.topic)
    if hours + 1e-9 >= rule.min_hours:
        return RequirementResult(req_id, MET, f"{_h(hours)} h of {what} in {start.year} (minimum {_h(rule.min_hours)})",
                                 rule.source)
    return RequirementResult(req_id, UNMET, f"{_h(hours)} of {_h(rule.min_hours)} h of {what} in {start.year}: "
                             f"{_h(rule.min_hours - hours)} h more needed", rule.source)


def _rsc(doc, req_id, rule, start, end) -> RequirementResult:
    years = (end.year - doc.endorsed_on.year) - ((end.month, end.day) < (doc.endorsed_on.month, doc.endorsed_on.day))
    step = max((s for s in rule.schedule if s.from_years_endorsed <= years), key=lambda s: s.from_years_endorsed)
    if step.min_hours <= 0:
        return RequirementResult(req_id, NOT_APPLICABLE, f"not required after {step.from_years_endorsed} years "
                                 f"endorsed ({years} years)", rule.source)
    hours = 0.0
    for r in doc.rsc:
        if r.peer_consultation and not rule.peer_consultation_counts:
            continue
        n = overlap_days((r.start_on, r.end_on), (start, end))
        if n > 0:
            hours += r.hours * n / days_inclusive(r.start_on, r.end_on)
    peer = " (peer consultation counts)" if rule.peer_consultation_counts else ""
    if hours + 1e-9 >= step.min_hours:
        return RequirementResult(req_id, MET, f"{_h(hours)} h of RS/C in {start.year} (minimum {_h(step.min_hours)}"
                                 f"{peer})", rule.source)
    return RequirementResult(req_id, UNMET, f"{_h(hours)} of {_h(step.min_hours)} h of RS/C in {start.year}{peer}: "
                             f"{_h(step.min_hours - hours)} h more needed", rule.source)


def _membership(doc, req_id, rule, start, end) -> RequirementResult:
    accepted = None if rule.associations == "any" else set(rule.associations)
    ok = [m for m in doc.memberships if (accepted is None or m.association in accepted) and m.expires_on >= end]
    if ok:
        m = max(ok, key=lambda m: m.expires_on)
        return RequirementResult(req_id, MET, f"{m.association} member until {m.expires_on.isoformat()}", rule.source)
    wanted = "an infant mental health association" if accepted is None else ", ".join(sorted(accepted))
    return RequirementResult(req_id, UNMET, f"membership in {wanted} must run to {end.isoformat()}", rule.source)


def _agreement(doc, req_id, rule, start, end) -> RequirementResult:
    signed = doc.code_of_ethics_signed_on
    if signed is not None and start <= signed <= end:
        return RequirementResult(req_id, MET, f"signed again on {signed.isoformat()}", rule.source)
    return RequirementResult(req_id, UNMET, f"not signed in {start.year}", rule.source)


_CHECK = {"renewal_training": _training, "renewal_rsc": _rsc, "renewal_membership": _membership,
          "renewal_agreement": _agreement}


def renewal_to_dict(ev: Evaluation, year: int) -> dict:
    d = ev.to_dict()
    return {"id": d["id"], "association": d["association"], "category": d["category"], "year": year,
            "as_of": d["as_of"], "eligible": d["eligible"], "requirements": d["requirements"], "warnings": d["warnings"]}


__all__ = ["evaluate_renewal", "renewal_to_dict", "Advice"]
