"""What issue 19 left loose: a second review round after a "not yet" (the coordinator opens it, with a
reason, once the applicant changed the portfolio; the rulebook says whether the same reviewers read it
again or new ones), a reviewer's new link (the old one dies, the new one is emailed through the outbox),
and the end of an advisor pairing (recorded, audited, the advisor's link dead). SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse import links
from endorse.rulebook import default_library
from models import (
    AdvisorNote,
    AdvisorPairing,
    Application,
    ApplicationReviewAssignment,
    ApplicationReviewInvitation,
    ApplicationReviewOutcome,
    ApplicationReviewRound,
    AuditLog,
    OutboxMessage,
)
from tasks.application_review import advisors, coordinator_acts, rounds
from tasks.coordination.accounts import set_coordinator
from tasks.pipeline import reconcile as pipeline
from tasks.references.ratings import LinkNotFound
from tests.application_review.conftest import (
    AS_OF,
    ASSOCIATION,
    POOL,
    SECRET,
    build,
    review_rules,
    reviewer_token,
    web_app,
)

PASSWORD = "correct horse battery staple"
MI, CT = "mi.coordinator@example.org", "ct.coordinator@example.org"


def _assignments(sessions, app_id, *, round_=None, status=None):
    q = select(ApplicationReviewAssignment).where(ApplicationReviewAssignment.application_id == app_id)
    if round_ is not None:
        q = q.where(ApplicationReviewAssignment.round == round_)
    if status is not None:
        q = q.where(ApplicationReviewAssignment.status == status)
    with sessions() as s:
        return list(s.scalars(q.order_by(ApplicationReviewAssignment.id)))


def _submit(sessions, review, a, recommendation):
    with sessions() as s:
        ids = {r["id"] for r in s.get(Application, a.application_id).last_checklist}
    return rounds.submit_review(sessions, reviewer_token(sessions, a.reviewer_id), a.id, review.library, as_of=AS_OF,
                                recommendation=recommendation, conditions="", notes={}, answers={},
                                requirement_ids=ids, question_ids=set())


def _stage(sessions, app_id):
    with sessions() as s:
        return s.get(Application, app_id).stage


def _not_yet(sessions, review) -> tuple[str, set[int]]:
    """Round 1 of the IFA application ends "not yet" from both reviewers; the reconcile defers it."""
    ifa = review.apps["IFA"]
    rounds.apply_association(sessions, ASSOCIATION, review.library, as_of=AS_OF, secret_key=SECRET, actor="test")
    first = _assignments(sessions, ifa, status="assigned")
    for a in first:
        _submit(sessions, review, a, "not_yet")
    pipeline.reconcile_one(sessions, ifa, review.cfg())
    assert _stage(sessions, ifa) == "deferred"
    return ifa, {a.reviewer_id for a in first}


def _rules_with(tmp_path, later_round_reviewers: str):
    """review_rules' MI-AIMH overlay, copied to a folder of its own (rulebooks are cached by folder) with
    ``later_round_reviewers`` changed."""
    review_rules(tmp_path / "base")
    rules = tmp_path / "rules"
    shutil.copytree(tmp_path / "base" / "rules", rules)
    path = rules / "associations" / f"{ASSOCIATION}.yaml"
    overlay = yaml.safe_load(path.read_text())
    overlay["settings"]["application_review"]["value"]["later_round_reviewers"] = later_round_reviewers
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    library = default_library(str(rules))
    assert library.setting(ASSOCIATION, "application_review", AS_OF)["later_round_reviewers"] == later_round_reviewers
    return library


# --- a second round after "not yet" ------------------------------------------------------------------------

def test_a_second_round_is_opened_only_after_not_yet_and_only_with_a_reason(sessions, review):
    ifa = review.apps["IFA"]
    with pytest.raises(rounds.NotInReview, match="only a round that ended \"not yet\""):
        coordinator_acts.start_next_round(sessions, review.library, ifa, reason="new hours", on=AS_OF, actor="coordinator:test")
    ifa, _ = _not_yet(sessions, review)
    with pytest.raises(ValueError, match="reason"):
        coordinator_acts.start_next_round(sessions, review.library, ifa, reason="  ", on=AS_OF, actor="coordinator:test")
    with pytest.raises(LookupError):  # another association's coordinator: as if there were none
        coordinator_acts.start_next_round(sessions, review.library, ifa, reason="x", on=AS_OF, actor="c", association="CT-AIMH")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApplicationReviewRound)) == 0


def test_the_same_reviewers_read_round_two_when_the_rulebook_says_same_and_it_settles_on_its_own(sessions, review):
    """rules/baseline.yaml · application_review.later_round_reviewers: same (004 · Glossary, EASy)."""
    ifa, first_reviewers = _not_yet(sessions, review)
    n = coordinator_acts.start_next_round(sessions, review.library, ifa, reason="volunteer hours now documented",
                                on=AS_OF + timedelta(days=30), actor="coordinator:mlopez@example.org")
    assert n == 2
    out = pipeline.reconcile_one(sessions, ifa, review.cfg(AS_OF + timedelta(days=30)))
    assert [t.to_stage for t in out.transitions] == ["application_review"]
    plan = rounds.apply_association(sessions, ASSOCIATION, review.library, as_of=AS_OF + timedelta(days=30),
                                    secret_key=SECRET, actor="test").plan
    assert set(plan.assignments[ifa]) == first_reviewers
    second = _assignments(sessions, ifa, round_=2)
    assert {a.reviewer_id for a in second} == first_reviewers and all(a.status == "assigned" for a in second)
    assert _submit(sessions, review, second[0], "recommend") == ("waiting", ifa)  # round 1's "not yet"s don't count
    assert _submit(sessions, review, second[1], "recommend") == ("recommend", ifa)
    out = pipeline.reconcile_one(sessions, ifa, review.cfg(AS_OF + timedelta(days=30)))
    assert [t.to_stage for t in out.transitions] == ["decision", "endorsed"]
    with sessions() as s:
        outcomes = [(o.round, o.outcome) for o in s.scalars(select(ApplicationReviewOutcome)
                                                           .where(ApplicationReviewOutcome.application_id == ifa)
                                                           .order_by(ApplicationReviewOutcome.round))]
        assert outcomes == [(1, "not_yet"), (2, "recommend")]  # round 1 stays on record
        opened = s.scalars(select(AuditLog).where(AuditLog.action == "appreview.round_opened")).one()
        assert (opened.actor, opened.application_id) == ("coordinator:mlopez@example.org", ifa)
        row = s.scalars(select(ApplicationReviewRound)).one()
        assert (row.round, row.reviewers, row.reason) == (2, "same", "volunteer hours now documented")


def test_new_reviewers_read_round_two_when_the_rulebook_says_new(sessions, tmp_path):
    library = _rules_with(tmp_path, "new")
    review = build(sessions, library, pool=POOL + [("Remy Reviewer", "IFA"), ("Rhea Reviewer", "IMHS")])
    ifa, first_reviewers = _not_yet(sessions, review)
    coordinator_acts.start_next_round(sessions, library, ifa, reason="portfolio rewritten", on=AS_OF, actor="coordinator:test")
    pipeline.reconcile_one(sessions, ifa, review.cfg())
    rounds.apply_association(sessions, ASSOCIATION, library, as_of=AS_OF, secret_key=SECRET, actor="test")
    second = {a.reviewer_id for a in _assignments(sessions, ifa, round_=2)}
    assert len(second) == 2 and not second & first_reviewers


# --- a reviewer's new link ---------------------------------------------------------------------------------

def test_a_new_review_link_kills_the_old_one_and_is_emailed_through_the_outbox(sessions, review):
    rounds.apply_association(sessions, ASSOCIATION, review.library, as_of=AS_OF, secret_key=SECRET, actor="test")
    a = _assignments(sessions, review.apps["IFA"])[0]
    client = TestClient(web_app(sessions, review.library))
    old = reviewer_token(sessions, a.reviewer_id)
    assert client.get(f"/review/application/{old}").status_code == 200
    coordinator_acts.regenerate_review_link(sessions, review.library, ASSOCIATION, a.reviewer_id, as_of=AS_OF,
                                  secret_key=SECRET, actor="coordinator:test")
    new = reviewer_token(sessions, a.reviewer_id)
    assert new != old
    assert client.get(f"/review/application/{old}").status_code == 404
    assert client.get(f"/review/application/{new}").status_code == 200
    with sessions() as s:
        inv = s.scalars(select(ApplicationReviewInvitation).where(ApplicationReviewInvitation.reviewer_id == a.reviewer_id)).one()
        assert inv.token_hash == links.hash_token(new) and new not in (inv.token_nonce, inv.token_hash)
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "appreview.new_link")).one()
        assert (mail.link_kind, mail.link_ref_id) == ("appreview", inv.id) and new not in mail.body_text
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "appreview.link_regenerated", AuditLog.actor == "coordinator:test")) == 1
    with pytest.raises(LookupError):  # not a reviewer of CT-AIMH: nothing changes, nothing is sent
        coordinator_acts.regenerate_review_link(sessions, review.library, "CT-AIMH", a.reviewer_id, as_of=AS_OF,
                                      secret_key=SECRET, actor="coordinator:test")
    assert client.get(f"/review/application/{new}").status_code == 200


# --- ending an advisor's pairing -------------------------------------------------------------------------------

def _advisor_token(sessions, pairing_id) -> str:
    with sessions() as s:
        return links.token_for(s.get(AdvisorPairing, pairing_id).token_nonce, SECRET, "advisor")


def test_an_ended_pairing_is_recorded_audited_and_the_advisor_loses_access(sessions, review):
    ifa = review.apps["IFA"]
    pairing = advisors.pair_advisor(sessions, review.library, ifa, name="Ada Advisor", email="ada@advisors.example.net",
                                    as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    token = _advisor_token(sessions, pairing)
    client = TestClient(web_app(sessions, review.library))
    assert client.get(f"/advise/{token}").status_code == 200
    advisors.leave_note(sessions, token, "Add your volunteer hours to the training log.", as_of=AS_OF)
    with sessions() as s:
        advisor_id = s.get(AdvisorPairing, pairing).advisor_id
    with pytest.raises(ValueError, match="reason"):
        advisors.end_pairing(sessions, ifa, advisor_id, reason="", on=AS_OF, actor="coordinator:test")
    with pytest.raises(LookupError):
        advisors.end_pairing(sessions, ifa, advisor_id, reason="x", on=AS_OF, actor="c", association="CT-AIMH")
    assert client.get(f"/advise/{token}").status_code == 200  # refusals changed nothing
    advisors.end_pairing(sessions, ifa, advisor_id, reason="the applicant asked for another advisor", on=AS_OF,
                         actor="coordinator:mlopez@example.org")
    assert client.get(f"/advise/{token}").status_code == 404
    with pytest.raises(LinkNotFound):
        advisors.leave_note(sessions, token, "one more", as_of=AS_OF)
    with sessions() as s:
        p = s.get(AdvisorPairing, pairing)
        assert (p.active, p.ended_on, p.ended_by, p.ended_reason) == (
            False, AS_OF, "coordinator:mlopez@example.org", "the applicant asked for another advisor")
        assert s.scalar(select(func.count()).select_from(AdvisorNote)) == 1  # their notes stay with the applicant
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "advisor.ended")) == 1
    advisors.end_pairing(sessions, ifa, advisor_id, reason="again", on=AS_OF, actor="coordinator:test")  # no change
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "advisor.ended")) == 1
    # Paired again later: a new link works, the old one stays dead.
    advisors.pair_advisor(sessions, review.library, ifa, name="Ada Advisor", email="ada@advisors.example.net",
                          as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    assert client.get(f"/advise/{_advisor_token(sessions, pairing)}").status_code == 200
    assert client.get(f"/advise/{token}").status_code == 404


# --- the coordinator's buttons ----------------------------------------------------------------------------------

def _signed_in(sessions, library, email):
    client = TestClient(web_app(sessions, library))
    page = client.get("/coordinator/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/coordinator/login", data={"csrf": csrf, "email": email, "password": PASSWORD},
                       follow_redirects=False).status_code == 303
    return client


def _csrf(client, url):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)


def test_the_coordinator_does_all_three_from_the_application_page_and_another_association_cannot(sessions, review):
    set_coordinator(sessions, association=ASSOCIATION, name="Mia Coordinator", email=MI, password=PASSWORD, actor="t")
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email=CT, password=PASSWORD, actor="t")
    ifa, _ = _not_yet(sessions, review)
    pairing = advisors.pair_advisor(sessions, review.library, ifa, name="Ada Advisor", email="ada@advisors.example.net",
                                    as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    with sessions() as s:
        advisor_id = s.get(AdvisorPairing, pairing).advisor_id
    url = f"/coordinator/applications/{ifa}"
    mi, ct = _signed_in(sessions, review.library, MI), _signed_in(sessions, review.library, CT)
    page = mi.get(url).text
    assert f'action="{url}/review-round"' in page and f'action="{url}/advisor/{advisor_id}/end"' in page
    csrf, ct_csrf = _csrf(mi, url), _csrf(ct, "/coordinator/")
    # Another association's coordinator: the same 404 as an unknown application, nothing written.
    for path, data in ((f"{url}/review-round", {"reason": "x"}), (f"{url}/advisor/{advisor_id}/end", {"reason": "x"})):
        assert ct.post(path, data={"csrf": ct_csrf, **data}).status_code == 404
    assert mi.post(f"{url}/review-round", data={"reason": "no csrf"}).status_code == 403
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApplicationReviewRound)) == 0
        assert s.get(AdvisorPairing, pairing).active
    refused = mi.post(f"{url}/review-round", data={"csrf": csrf, "reason": " "})
    assert refused.status_code == 422 and "reason" in refused.text
    opened = mi.post(f"{url}/review-round", data={"csrf": csrf, "reason": "hours documented"})
    assert opened.status_code == 200 and "Review round 2 opened" in opened.text
    assert ifa in mi.app.state.events  # the page asks for a reconcile (the served app runs it at once)
    pipeline.reconcile_one(sessions, ifa, review.cfg())
    assert _stage(sessions, ifa) == "application_review"
    ended = mi.post(f"{url}/advisor/{advisor_id}/end", data={"csrf": csrf, "reason": "asked for another"})
    assert ended.status_code == 200 and "has ended" in ended.text and "asked for another" in ended.text
    rounds.apply_association(sessions, ASSOCIATION, review.library, as_of=AS_OF, secret_key=SECRET, actor="test")
    a = _assignments(sessions, ifa, round_=2)[0]
    old = reviewer_token(sessions, a.reviewer_id)
    page = mi.get(url).text
    assert f'action="{url}/review-link/{a.reviewer_id}"' in page
    assert ct.post(f"{url}/review-link/{a.reviewer_id}", data={"csrf": ct_csrf}).status_code == 404
    assert mi.post(f"{url}/review-link/999999", data={"csrf": csrf}).status_code == 404  # not this application's
    assert reviewer_token(sessions, a.reviewer_id) == old
    r = mi.post(f"{url}/review-link/{a.reviewer_id}", data={"csrf": csrf})
    assert r.status_code == 200 and "A new link is emailed" in r.text and reviewer_token(sessions, a.reviewer_id) != old
    with sessions() as s:
        actors = {a.action: a.actor for a in s.scalars(select(AuditLog).where(AuditLog.action.in_(
            ["appreview.round_opened", "advisor.ended", "appreview.link_regenerated"])))}
    assert actors == dict.fromkeys(["appreview.round_opened", "advisor.ended", "appreview.link_regenerated"],
                                   f"coordinator:{MI}")
