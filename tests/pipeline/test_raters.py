"""Coordinator work on raters: the list checked at once in plain words, replacement kills the old link,
resend keeps it, regenerate replaces it, vetting feeds the endorsed-rater requirement."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from endorse import links
from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import AuditLog, OutboxMessage, ReferenceRequest
from tasks.pipeline import reconcile as pipeline
from tasks.eligibility.evaluation import evaluate
from tasks.references.raters import (
    ProposedRater,
    add_rater,
    check_rater_list,
    regenerate_link,
    replace_rater,
    resend_link,
    vet_rater,
    vetting_queue,
)
from tasks.references.ratings import LinkNotFound, find_request
from tasks.intake.records import ensure_associations, load_documents, save_document

AS_OF = date(2026, 11, 22)
CFG = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="k", actor="coordinator:c@example.org")


def load(sessions, file: str) -> str:
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        doc = load_document(PROJECT_ROOT / "cohort" / file)
        save_document(s, doc, actor="test")
    pipeline.reconcile_one(sessions, doc.id, CFG)
    return doc.id


def test_a_rater_list_missing_a_role_is_explained_in_plain_words(sessions):
    app_id = load(sessions, "mi-aimh-imhm-c-eligible-01.json")
    proposed = [ProposedRater("Wei Chen", "wchen@example.org", "current_supervisor"),
                ProposedRater("Erik Lindqvist", "elindqvist@example.net", "rsc_provider", "IMHM-C"),
                ProposedRater("Thao Nguyen", "tnguyen@example.com", "colleague")]
    with sessions() as s:
        problems = check_rater_list(s, app_id, proposed, CFG)
    assert any("IMHM-C needs a rating from someone who receives RS/C from you" in p for p in problems), problems
    proposed[2] = ProposedRater("Hannah Weiss", "hweiss@example.org", "rsc_recipient")
    with sessions() as s:
        assert check_rater_list(s, app_id, proposed, CFG) == []


def test_no_endorsed_rater_in_the_list_is_said_too(sessions):
    app_id = load(sessions, "ct-aimh-ifs-eligible-01.json")
    proposed = [ProposedRater("A", "a@example.org", "current_supervisor"),
                ProposedRater("B", "b@example.org", "rsc_provider"), ProposedRater("C", "c@example.org", "colleague")]
    with sessions() as s:
        problems = check_rater_list(s, app_id, proposed, CFG)
    assert any("no valid rating from a rater endorsed" in p for p in problems)


def _open_request(sessions, app_id):
    with sessions() as s:
        return s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id,
                                                        ReferenceRequest.status == "requested")).one()


def test_replacing_a_rater_cancels_the_request_and_kills_its_link(sessions):
    app_id = load(sessions, "ct-aimh-imhm-rf-rating-requested.json")
    old = _open_request(sessions, app_id)
    old_token = links.token_for(old.token_nonce, "k", "rating")
    new_id = replace_rater(sessions, old.id, ProposedRater("Sam Student", "sam@student.example.edu", "student"), CFG,
                           actor="coordinator:c@example.org", reason="the student graduated and cannot be reached")
    with sessions() as s:
        with pytest.raises(LinkNotFound):
            find_request(s, old_token, AS_OF)
        new = s.get(ReferenceRequest, new_id)
        assert new.token_hash is not None and s.get(ReferenceRequest, old.id).replaced_by_id == new_id
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == "sam@student.example.edu")).one()


def test_resend_keeps_the_link_and_regenerate_replaces_it(sessions):
    app_id = load(sessions, "ct-aimh-imhm-rf-rating-requested.json")
    req = _open_request(sessions, app_id)
    token = links.token_for(req.token_nonce, "k", "rating")
    resend_link(sessions, req.id, CFG, actor="coordinator:c@example.org")
    resend_link(sessions, req.id, CFG, actor="coordinator:c@example.org")
    with sessions() as s:
        assert find_request(s, token, AS_OF).id == req.id
        assert len(s.scalars(select(OutboxMessage).where(OutboxMessage.link_ref_id == req.id)).all()) == 3
    regenerate_link(sessions, req.id, CFG, actor="coordinator:c@example.org")
    with sessions() as s:
        with pytest.raises(LinkNotFound):
            find_request(s, token, AS_OF)
        fresh = s.get(ReferenceRequest, req.id)
        assert find_request(s, links.token_for(fresh.token_nonce, "k", "rating"), AS_OF).id == req.id


def test_vetting_queue_and_the_vetting_call_feed_the_endorsed_rater_requirement(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        doc = load_document(PROJECT_ROOT / "cohort" / "orimha-ifa-vetted-rater.json")
        raw = doc.model_dump(mode="json")
        raw["references"][0]["rater"]["vetted_on"] = None  # not vetted yet
        from endorse.documents import ApplicationDocument

        save_document(s, ApplicationDocument.model_validate_json(__import__("json").dumps(raw)), actor="test")
    with sessions() as s:
        assert evaluate(load_documents(s, [doc.id])[doc.id], default_library(), AS_OF).status_of("endorsed_rater") == "unmet"
        queue = vetting_queue(s, CFG)
    assert {q.rater_email for q in queue} >= {"sobrien@example.com"}
    item = next(q for q in queue if q.rater_email == "sobrien@example.com")
    vet_rater(sessions, item.request_id, coordinator="c@example.org", vetted_on=AS_OF, accepted=True,
              note="Has the Competency Guidelines; supervised her for 3 years")
    with sessions() as s:
        assert evaluate(load_documents(s, [doc.id])[doc.id], default_library(), AS_OF).status_of("endorsed_rater") == "met"
        assert s.scalars(select(AuditLog).where(AuditLog.action == "rater.vetted")).one().actor == "coordinator:c@example.org"
        assert item.request_id not in {q.request_id for q in vetting_queue(s, CFG)}


def test_the_applicant_cannot_be_added_as_a_rater(sessions):
    app_id = load(sessions, "ct-aimh-ifs-eligible-01.json")
    with sessions() as s:
        from models import Application

        email = s.get(Application, app_id).applicant.email
    with pytest.raises(ValueError):
        add_rater(sessions, app_id, ProposedRater("Me", email, "colleague"), CFG, actor="coordinator:c@example.org")
