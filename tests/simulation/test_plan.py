"""The seeded year itself (no stack): the same seed gives the same year, every document it makes is
one the import and the renewal check accept, and each person's choice depends on who they are only."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from endorse.documents import load_document
from endorse.renewals import load_renewal
from endorse.rulebook import default_library
from endorse_cli.simulate.plan import load_profile, plan_year, rater_choice, renewal_document
from endorse_cli.simulate.year import AT_ACTS, FAULT_KINDS, fault_plan

CATEGORIES = ["IFA", "IFS", "IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"]


@pytest.fixture(scope="module")
def small():
    return load_profile("small", default_library())


def test_the_same_seed_gives_the_same_year_and_another_seed_another(small):
    one, again, other = plan_year(small, 18), plan_year(small, 18), plan_year(small, 19)
    assert [(a.day, a.document) for a in one.arrivals] == [(a.day, a.document) for a in again.arrivals]
    assert [(a.day, a.id) for a in one.arrivals] != [(a.day, a.id) for a in other.arrivals]


def test_every_application_of_the_year_is_one_the_import_accepts(small, tmp_path):
    library = default_library()
    plan = plan_year(small, 18)
    assert len(plan.arrivals) == small.applications and len(plan.prologue) == small.endorsed_last_year
    for a in plan.arrivals + plan.prologue:
        path = tmp_path / f"{a.id}.json"
        path.write_text(json.dumps(a.document))
        library.check_document(load_document(path), str(path))  # raises, naming the file and field
    for a in plan.arrivals:
        assert date.fromisoformat(a.document["submitted_on"]) == a.day


@pytest.mark.parametrize("profile", ["small", "alliance"])
def test_last_years_applications_are_complete_on_the_day_they_are_decided(profile, tmp_path):
    """The year before's one full sweep decides them on their day: as of that day every transcript has
    arrived, every rating is in and every exam taken (the alliance's 30,000 were left waiting for a
    transcript dated after it, and decided only in the year)."""
    from tasks.eligibility.evaluation import evaluate

    library = default_library()
    plan = plan_year(load_profile(profile, library), 18)
    seen = set()
    # The shipped associations' (the simulated ones follow the same rulebooks, written in the run's folder).
    for a in (a for a in plan.prologue if a.document["association"] in library.associations):
        template = (a.document["association"], a.document["category"], a.document["references"][0]["role"],
                    len(a.document["references"]))
        if (a.day, template) in seen:  # one of each template and day: the others are the same document renamed
            continue
        seen.add((a.day, template))
        path = tmp_path / f"{a.id}.json"
        path.write_text(json.dumps(a.document))
        got = evaluate(load_document(path), library, a.day)
        assert got.eligible, (a.id, a.day, [(r.id, r.status) for r in got.requirements if r.status != "met"])
        assert date.fromisoformat(a.document["submitted_on"]) <= a.day


def test_applications_arrive_as_a_fresh_intake(small):
    for a in plan_year(small, 18).arrivals:
        assert "exam" not in a.document
        assert all(r["status"] == "requested" for r in a.document["references"]), a.id


def test_last_years_renewals_get_their_last_notice_on_a_day_the_scheduled_runs_run(small):
    from endorse.dates import add_years

    for day in plan_year(small, 18).prologue_days():
        notice = add_years(day, 1) - timedelta(days=7)
        assert (notice - small.start).days % small.sweep_every_days == 0, day


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("met", [True, False], ids=["hours met", "hours short"])
def test_a_renewal_sent_is_met_or_short_of_training_as_intended(category, met, tmp_path):
    from tasks.renewal.evaluation import evaluate_renewal

    doc = renewal_document(number="MI-AIMH-1", association="MI-AIMH", category=category, year=2027,
                           due_on=date(2027, 5, 10), endorsed_on=date(2026, 5, 10), name="Ada Ito",
                           email="ada.ito@example.org", met=met)
    path = tmp_path / "renewal.json"
    path.write_text(json.dumps(doc))
    ev = evaluate_renewal(load_renewal(path), default_library(), 2027)
    unmet = [r.id for r in ev.requirements if r.status not in ("met", "not_applicable")]
    assert unmet == ([] if met else ["renewal_training_hours"])


def test_a_raters_choice_depends_on_who_they_are_and_the_seed_only(small):
    b = small.behaviour
    assert rater_choice(18, b, "ada@example.org", "SIM-1") == rater_choice(18, b, "ada@example.org", "SIM-1")
    kinds = {rater_choice(18, b, f"r{i}@example.org", "SIM-1").kind for i in range(400)}
    assert kinds == set(b["raters"])  # every behaviour of the profile shows up in a crowd


def test_the_fault_plan_has_every_kind_on_a_day_it_can_strike(small):
    plan = plan_year(small, 18)
    faults = fault_plan(plan)
    assert sorted(f.kind for f in faults) == sorted(FAULT_KINDS)
    arrivals = {a.day for a in plan.arrivals}
    for f in faults:
        if f.kind in AT_ACTS:
            assert f.day in arrivals
        else:
            assert (f.day - small.start).days % small.sweep_every_days == 0
    assert fault_plan(plan) == faults


def test_the_alliance_is_forty_associations_each_following_a_shipped_rulebook_unchanged(tmp_path):
    """Issue 18 item 5: the 35 associations beyond the shipped 5 have codes of their own, and their
    rulebooks (written as data, rulebooks.py) judge every cohort application as the rulebook they
    follow does: the same requirements, statuses and sources."""
    from endorse.rulebook import load_rulebooks
    from endorse_cli.simulate.plan import COHORT
    from endorse_cli.simulate.rulebooks import rules_for
    from tasks.eligibility.evaluation import evaluate

    shipped_library = default_library()
    alliance = load_profile("alliance", shipped_library)
    assert len(alliance.associations) == len(set(alliance.associations)) == 40
    generated = load_rulebooks(rules_for(alliance.follows, tmp_path / "rules"))
    assert set(alliance.associations) <= set(generated.associations)
    follows = dict(alliance.follows)
    assert set(follows.values()) == set(alliance.associations) - set(follows)  # each shipped one is followed
    judged = 0
    for path in sorted(COHORT.glob("*.json")):
        doc = load_document(path)
        for code in (c for c, shipped in alliance.follows if shipped == doc.association):
            assert (tmp_path / "rules" / "associations" / f"{code}.yaml").read_text().startswith(
                "# Generated by `endorse simulate`"), code
            as_shipped = evaluate(doc, shipped_library, doc.submitted_on)
            as_simulated = evaluate(doc.model_copy(update={"association": code}), generated, doc.submitted_on)
            assert [(r.id, r.status, r.source) for r in as_simulated.requirements] == \
                [(r.id, r.status, r.source) for r in as_shipped.requirements], (path.name, code)
            judged += 1
    assert judged >= 35
