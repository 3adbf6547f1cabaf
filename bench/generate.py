"""Generated application documents for benchmarks: realistic shapes, random gaps, fixed seed."""

from __future__ import annotations

import random
from datetime import date, timedelta

CATEGORIES = ["IFA", "IFS", "IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"]
ASSOCIATIONS = ["MI-AIMH", "CT-AIMH", "VAIMH", "ORIMHA", "ALLIANCE"]
_ROLES = {
    "IFA": ["current_supervisor", "colleague", "parent_or_service_recipient"],
    "IFS": ["current_supervisor", "rsc_provider", "colleague"],
    "IMHS": ["current_supervisor", "rsc_provider", "colleague"],
    "IMHM-C": ["current_supervisor", "rsc_provider", "rsc_recipient"],
    "IMHM-P": ["current_supervisor", "rsc_provider", "colleague"],
    "IMHM-RF": ["department_chair", "colleague", "student"],
}
_WORK = {
    "IFA": ["infant_related"], "IFS": ["prevention_early_intervention"], "IMHS": ["imh_relationship_services"],
    "IMHM-C": ["imh_relationship_services", "rsc_provision"], "IMHM-P": ["policy_leadership"],
    "IMHM-RF": ["university_leadership"],
}


def _d(day: date) -> str:
    return day.isoformat()


def application(i: int, rng: random.Random, as_of: date = date(2026, 11, 22)) -> dict:
    cat = CATEGORIES[i % len(CATEGORIES)]
    assoc = ASSOCIATIONS[(i // len(CATEGORIES)) % len(ASSOCIATIONS)]
    degree_on = as_of - timedelta(days=rng.randint(3 * 365, 15 * 365))
    credential = {"IFA": "associate", "IFS": "bachelors"}.get(cat, "masters")
    doc: dict = {
        "id": f"GEN-{i:06d}",
        "association": assoc,
        "category": cat,
        "submitted_on": _d(as_of - timedelta(days=rng.randint(10, 200))),
        "applicant": {"name": f"Applicant {i}", "email": f"applicant{i}@example.org",
                      "is_supervisor": rng.random() < 0.3},
        "agreements": {"code_of_ethics_signed_on": _d(as_of - timedelta(days=90)) if rng.random() < 0.95 else None,
                       "endorsement_agreement_signed_on": _d(as_of - timedelta(days=90))},
        "memberships": [{"association": "VAIMH" if assoc == "VAIMH" else assoc,
                         "expires_on": _d(as_of + timedelta(days=rng.randint(-30, 300)))}],
        "education": [{"institution": "State University", "credential": credential, "degree": "MA",
                       "conferred_on": _d(degree_on),
                       "transcript": {"official": True,
                                      "received_on": _d(as_of - timedelta(days=30)) if rng.random() < 0.85 else None}}],
        "training": [{"title": f"Training {k}", "hours": rng.choice([6, 8, 12, 15, 20]),
                      "completed_on": _d(as_of - timedelta(days=rng.randint(30, 900))),
                      "topics": rng.choice([["relationship_based"], ["rsc_didactic"], ["dei"], ["relationship_based", "dei"]])}
                     for k in range(rng.randint(2, 9))],
        "work": [],
        "leadership_activities": [{"description": "State conference planning", "level": rng.choice(["local", "state", "regional"]),
                                   "part_of_paid_work": False}],
        "rsc": [],
        "references": [],
    }
    start = degree_on + timedelta(days=30)
    for kind in _WORK[cat]:
        for _ in range(rng.randint(1, 3)):
            s = start + timedelta(days=rng.randint(0, 900))
            e = s + timedelta(days=rng.randint(200, 1500))
            doc["work"].append({"employer": f"Agency {rng.randint(1, 400)}", "kind": kind, "start_on": _d(s),
                                "end_on": None if e > as_of else _d(e), "paid": True,
                                "after": "none" if cat == "IFA" else ("bachelors" if cat == "IFS" else "masters"),
                                "families_served": rng.randint(3, 30)})
    provider = {"IFS": "IMHS", "IMHS": "IMHM-C", "IMHM-C": "IMHM-C"}.get(cat)
    if provider:
        for _ in range(rng.randint(1, 4)):
            s = as_of - timedelta(days=rng.randint(100, 1000))
            e = min(s + timedelta(days=rng.randint(60, 500)), as_of)
            hours = rng.randint(8, 40)
            doc["rsc"].append({"provider": {"name": f"Provider {rng.randint(1, 50)}", "email": f"p{rng.randint(1, 50)}@example.org",
                                            "endorsement": provider if rng.random() < 0.9 else "IFS"},
                               "hours": hours, "start_on": _d(s), "end_on": _d(e), "format": "group",
                               "after": "bachelors" if cat == "IFS" else "masters",
                               "about_providing_rsc_hours": hours // 2})
    for k, role in enumerate(_ROLES[cat]):
        status = rng.choices(["submitted", "requested", "declined"], [0.8, 0.15, 0.05])[0]
        ref = {"rater": {"name": f"Rater {i}-{k}", "email": f"rater{i}-{k}@example.org",
                         "endorsement": rng.choice([None, "IFS", "IMHS", "IMHM-C", "ECMHS"])},
               "role": role, "status": status, "waived_access": rng.random() < 0.5}
        if status == "submitted":
            ref.update(submitted_on=_d(as_of - timedelta(days=rng.randint(5, 300))),
                       insufficient_information_count=rng.choice([0, 1, 2, 3, 6]),
                       recommendation="recommend")
        doc["references"].append(ref)
    if cat.startswith("IMH") and rng.random() < 0.7:
        doc["exam"] = {"multiple_choice_percent": rng.randint(65, 98),
                       "essay_result": rng.choice(["pass", "pass", "fail", "pending"]), "taken_on": _d(as_of - timedelta(days=40))}
    return doc


def applications(n: int, seed: int = 20261122) -> list[dict]:
    rng = random.Random(seed)
    return [application(i, rng) for i in range(n)]
