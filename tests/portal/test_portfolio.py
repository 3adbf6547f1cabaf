"""The applicant's portfolio on both databases: the emailed link (as a rater's: hashed at rest,
expiring, resent), saving section by section (one transaction and an audit entry each), the live
checklist and when it lets the applicant submit, submission into intake exactly as an import, renewals
recorded as ``endorse renewal record`` records them, and a coordinator's reopen."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from endorse.documents import parse_document
from models import Application, ApplicationDocumentRow, AuditLog, Endorsement, OutboxMessage, Portfolio, Renewal
from tasks import portal
from tasks.intake.records import load_documents

from .helpers import AS_OF, LIBRARY, SECRET, cohort, endorsed_person, fill_from, open_portfolio, portfolio_row


def _count(sessions, model, *where) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# --- the link ------------------------------------------------------------------------------------------


def test_the_link_is_emailed_through_the_outbox_and_only_its_hash_is_stored(sessions):
    _, token = open_portfolio(sessions)
    with sessions() as s:
        p = s.scalars(select(Portfolio)).one()
        mail = s.scalars(select(OutboxMessage)).one()
    assert p.token_hash != token and token not in json.dumps(p.body) and token not in mail.body_text
    assert (mail.link_kind, mail.link_ref_id, mail.role) == ("portfolio", p.id, "portal.link_application")
    assert "{{LINK}}" in mail.body_text  # filled in at delivery, from the nonce and the secret
    assert p.token_expires_at.date() == AS_OF + timedelta(days=30)  # rules: portfolio_link_expiry_days


def test_asking_again_resends_the_same_link_and_a_second_ask_within_minutes_sends_nothing_new(sessions):
    access, token = open_portfolio(sessions)
    _, again = open_portfolio(sessions, email="ADA@example.org")  # the same address whatever its case
    assert again == token
    assert _count(sessions, Portfolio) == 1 and _count(sessions, OutboxMessage) == 1


def test_an_expired_link_stops_working_and_asking_again_gives_a_new_one(sessions):
    access, token = open_portfolio(sessions)
    later = AS_OF + timedelta(days=31)
    with sessions() as s, pytest.raises(portal.PortfolioNotFound):
        portal.locate(s, access, later)
    portal.request_link(sessions, LIBRARY, email="ada@example.org", association="CT-AIMH", kind="application",
                        as_of=later, secret_key=SECRET)
    with sessions() as s:
        p = s.scalars(select(Portfolio)).one()
        assert p.token_generation == 2 and not __import__("endorse.links").links.matches(token, p.token_hash)


@pytest.mark.parametrize("email, association, kind, words", [
    ("not-an-address", "CT-AIMH", "application", "email:"),
    ("ada@example.org", "NOPE", "application", "association:"),
    ("ada@example.org", "ALLIANCE", "application", "association:"),  # the baseline rulebook, no association of its own
    ("ada@example.org", "CT-AIMH", "membership", "kind:"),
])
def test_a_bad_start_names_the_field_and_writes_nothing(sessions, email, association, kind, words):
    open_portfolio(sessions, email="someone@example.org")  # associations in place
    with pytest.raises(ValueError, match=words):
        portal.request_link(sessions, LIBRARY, email=email, association=association, kind=kind, as_of=AS_OF,
                            secret_key=SECRET)
    assert _count(sessions, Portfolio) == 1


@pytest.mark.parametrize("token", ["", "x" * 43, "short", "a" * 500])
def test_an_unknown_link_is_not_found(sessions, token):
    open_portfolio(sessions)
    with sessions() as s, pytest.raises(portal.PortfolioNotFound):
        portal.locate(s, portal.Access(token=token), AS_OF)


# --- saving, and the live checklist -----------------------------------------------------------------------


def test_each_save_is_audited_and_the_checklist_follows(sessions):
    access, _ = open_portfolio(sessions)
    assert portal.checklist(LIBRARY, portfolio_row(sessions, access), AS_OF).evaluation is None
    portal.save_details(sessions, access, {"name": "Ada Lovelace", "category": "IFS"}, library=LIBRARY, as_of=AS_OF)
    before = portal.checklist(LIBRARY, portfolio_row(sessions, access), AS_OF).evaluation.status_of("training_hours")
    portal.add_row(sessions, access, "training", {"title": "IMH 101", "hours": "40", "completed_on": "2024-03-01",
                                                  "topics": ["relationship_based"]}, library=LIBRARY, as_of=AS_OF)
    after = portal.checklist(LIBRARY, portfolio_row(sessions, access), AS_OF).evaluation.status_of("training_hours")
    assert (before, after) == ("unmet", "met")
    with sessions() as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.entity_type == "portfolio").order_by(AuditLog.id)).all()
    assert actions == ["portfolio.started", "portfolio.link_sent", "portfolio.details_saved", "portfolio.row_added"]


def test_a_wrong_row_writes_nothing(sessions):
    access, _ = open_portfolio(sessions)
    version = portfolio_row(sessions, access).version_id
    with pytest.raises(portal.RowErrors):
        portal.add_row(sessions, access, "training", {"title": "x", "hours": "-3", "completed_on": "2024-01-01"},
                       library=LIBRARY, as_of=AS_OF)
    assert portfolio_row(sessions, access).version_id == version


# Whether the applicant may submit: only what others supply (transcripts, ratings, exam; the rulebook's
# supplied_by_others) and what a coordinator decides may still be missing.
SUBMIT_CASES = [
    ("IFS, everything of the applicant's in: transcripts and ratings come from others",
     "ct-aimh-ifs-eligible-01.json", {}, [], ["transcripts", "references", "endorsed_rater"]),
    ("IMHS: the exam is others' too", "mi-aimh-imhs-eligible-01.json", {}, [],
     ["transcripts", "references", "endorsed_rater", "exam"]),
    ("unsigned agreements are the applicant's to sign (004 · Code of ethics statement and Endorsement agreement)",
     "ct-aimh-ifs-eligible-01.json", {"agreements": False}, ["code_of_ethics", "endorsement_agreement"], None),
    ("a rater list without an RS/C provider is the applicant's to fix (004 · Professional reference ratings)",
     "ct-aimh-ifs-eligible-01.json", {"drop_rater": "rsc_provider"}, ["references"], None),
    ("training short of the minimum is the applicant's (004 · IFS · Training)",
     "mi-aimh-ifs-training-short.json", {}, ["training_hours"], None),
]


@pytest.mark.parametrize("case, name, change, blocking, waiting", SUBMIT_CASES, ids=[c[0] for c in SUBMIT_CASES])
def test_submission_waits_only_on_the_applicants_own_part(sessions, case, name, change, blocking, waiting):
    doc = cohort(name)
    if "drop_rater" in change:
        doc["references"] = [r for r in doc["references"] if r["role"] != change["drop_rater"]]
    access, _ = open_portfolio(sessions, association=doc["association"])
    fill_from(sessions, access, doc, agreements=change.get("agreements", True))
    c = portal.checklist(LIBRARY, portfolio_row(sessions, access), AS_OF)
    assert [r.id for r in c.blocking] == blocking
    assert c.can_submit == (not blocking)
    if waiting is not None:
        assert [r.id for r in c.awaiting_others] == waiting


def test_a_question_a_coordinator_decides_does_not_hold_up_submission(sessions):
    doc = cohort("ct-aimh-imhs-internship-credit.json")
    doc["determinations"] = []
    access, _ = open_portfolio(sessions, association=doc["association"])
    fill_from(sessions, access, doc)
    c = portal.checklist(LIBRARY, portfolio_row(sessions, access), AS_OF)
    assert "imhs_internship_description" in portal.open_questions(LIBRARY, portfolio_row(sessions, access), AS_OF)
    # Work experience waits on the internship description: the coordinator's, so not the applicant's to do;
    # the RS/C hours short of 50 are.
    assert c.evaluation.status_of("work_experience") == "pending"
    assert "work_experience" in [r.id for r in c.awaiting_others] and [r.id for r in c.blocking] == ["rsc_hours"]


# --- submission -----------------------------------------------------------------------------------------


def test_submission_saves_the_same_document_an_import_would_and_audits_it(sessions):
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    access, _ = open_portfolio(sessions, email=doc["applicant"]["email"], association=doc["association"])
    fill_from(sessions, access, doc)
    app_id = portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    with sessions() as s:
        stored = s.scalars(select(ApplicationDocumentRow.body).where(ApplicationDocumentRow.application_id == app_id)).one()
        app = s.get(Application, app_id)
        actions = s.scalars(select(AuditLog.action).where(AuditLog.application_id == app_id)).all()
        rebuilt = load_documents(s, [app_id])[app_id]
    parsed = parse_document(json.dumps(stored))  # what endorse import would accept, as is
    assert parsed.submitted_on == AS_OF and parsed.category == "IFS" and len(parsed.training) == 3
    assert [r.status for r in parsed.references] == ["requested"] * 3
    assert app.stage == "submitted" and app.needs_reconcile and "application.imported" in actions
    assert [e.transcript.official for e in rebuilt.education] == [True]
    assert portfolio_row(sessions, access).status == "submitted"
    with pytest.raises(portal.AlreadySubmitted):
        portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    with pytest.raises(portal.AlreadySubmitted):
        portal.add_row(sessions, access, "training", {"title": "late", "hours": "1", "completed_on": "2024-01-01"},
                       library=LIBRARY, as_of=AS_OF)


def test_submission_before_the_applicants_part_is_done_names_what_is_missing_and_writes_nothing(sessions):
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    access, _ = open_portfolio(sessions, association=doc["association"])
    fill_from(sessions, access, doc, agreements=False)
    with pytest.raises(portal.NotReady, match="code_of_ethics: not signed"):
        portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    assert _count(sessions, Application) == 0 and portfolio_row(sessions, access).status == "draft"


def test_a_coordinator_reopens_and_the_resubmission_updates_the_same_application(sessions):
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    access, _ = open_portfolio(sessions, association=doc["association"])
    fill_from(sessions, access, doc)
    app_id = portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    with pytest.raises(LookupError):
        portal.reopen(sessions, app_id, association="MI-AIMH", actor="coordinator:x@example.org", reason="typo")
    portal.reopen(sessions, app_id, association="CT-AIMH", actor="coordinator:c@example.org", reason="a training row is wrong")
    portal.remove_row(sessions, access, "training", 0, as_of=AS_OF)
    assert portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF) == app_id
    with sessions() as s:
        assert len(load_documents(s, [app_id])[app_id].training) == 2
        actions = s.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions[-4:] == ["portfolio.reopened", "portfolio.row_removed", "application.updated", "portfolio.submitted"]
    assert _count(sessions, Application) == 1


# --- uploads ------------------------------------------------------------------------------------------------


def test_a_training_file_with_a_bad_row_adds_nothing_and_reports_every_row(sessions):
    access, _ = open_portfolio(sessions)
    report = portal.import_training(sessions, access, "log.csv", (
        b"title,hours,completed_on,topics\nIMH 101,40,2024-03-01,relationship_based\n"
        b"Conference,abc,2024-13-01,\nWebinar,2,2024-05-01,knitting\n"), as_of=AS_OF)
    assert report.added == 0
    assert report.errors == ["row 3, hours: write a number, for example 7.5",
                             "row 4, topics: unknown topic 'knitting' (write relationship_based, rsc_didactic, dei)"]
    assert portfolio_row(sessions, access).body.get("training") is None


def test_a_training_workbook_adds_its_rows(sessions):
    from openpyxl import Workbook

    book = Workbook()
    for row in (["title", "hours", "completed_on", "topics"], ["IMH 101", 40, date(2024, 3, 1), "relationship_based"],
                ["RS/C institute", 15.5, date(2025, 1, 10), "rsc_didactic"]):
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    access, _ = open_portfolio(sessions)
    assert portal.import_training(sessions, access, "log.xlsx", data.getvalue(), as_of=AS_OF).added == 2
    assert [t["hours"] for t in portfolio_row(sessions, access).body["training"]] == [40.0, 15.5]


DESCRIPTION_CASES = [
    ("a plain text description", "note.txt", "text/plain", b"Direct IMH practice, supervised weekly.", None),
    ("a PDF", "note.pdf", "application/pdf", b"%PDF-1.7 ...", None),
    ("too large (over 200 kB)", "note.txt", "text/plain", b"x" * 200_001, "at most 200 kB"),
    ("a type that is not a description", "note.html", "text/html", b"<script>", r"plain text \(\.txt\), PDF"),
    ("a file that is not what it says", "note.pdf", "application/pdf", b"MZ\x90\x00", "not the .pdf"),
    ("nothing chosen", "", "application/octet-stream", b"", "choose a file"),
]


@pytest.mark.parametrize("case, name, content_type, data, error", DESCRIPTION_CASES, ids=[c[0] for c in DESCRIPTION_CASES])
def test_a_description_for_the_coordinator_is_checked_for_size_and_type(sessions, case, name, content_type, data, error):
    access, _ = open_portfolio(sessions)
    portal.save_details(sessions, access, {"name": "Ada", "category": "IMHS"}, library=LIBRARY, as_of=AS_OF)
    call = lambda: portal.upload_description(sessions, access, "imhs_internship_description", name, content_type,
                                             data, library=LIBRARY, as_of=AS_OF)
    if error is None:
        call()
        page = None
        with sessions() as s:
            page = portal.portfolio_page(s, access, LIBRARY, AS_OF)
        assert page.uploads["imhs_internship_description"] == (name, len(data))
    else:
        with pytest.raises(portal.RowErrors, match=error):
            call()


def test_a_description_for_a_question_the_category_does_not_ask_is_refused(sessions):
    access, _ = open_portfolio(sessions)
    portal.save_details(sessions, access, {"name": "Ada", "category": "IFS"}, library=LIBRARY, as_of=AS_OF)
    with pytest.raises(portal.RowErrors, match="not a question your category waits on"):
        portal.upload_description(sessions, access, "imhs_internship_description", "n.txt", "text/plain", b"x",
                                  library=LIBRARY, as_of=AS_OF)


# --- renewal --------------------------------------------------------------------------------------------------


@pytest.fixture
def endorsed(sessions):
    """Dana, endorsed IMHM-C by MI-AIMH, renewal due 2026-12-31."""
    open_portfolio(sessions, email="someone@example.org")  # associations in place
    endorsed_person(sessions, "dwhitfield@example.org", category="IMHM-C", association="MI-AIMH",
                    number="MI-IMHM-C-0042", granted_on=date(2021, 12, 31), renewal_due_on=date(2026, 12, 31))
    return "dwhitfield@example.org"


def fill_met_renewal(sessions, access) -> None:
    """Dana's year, typed in: every renewal requirement met."""
    portal.save_details(sessions, access, {"name": "Dana Whitfield", "provides_rsc": "yes"}, library=LIBRARY, as_of=AS_OF)
    for row in ({"title": "RS/C institute", "hours": "6", "completed_on": "2026-03-14", "topics": "rsc_didactic"},
                {"title": "State conference", "hours": "12", "completed_on": "2026-05-02", "topics": "relationship_based"}):
        portal.add_row(sessions, access, "training", row, library=LIBRARY, as_of=AS_OF)
    portal.add_row(sessions, access, "rsc", {"provider.name": "Erik L", "provider.email": "el@example.net",
                                             "provider.endorsement": "IMHM-C", "hours": "12", "start_on": "2026-01-01",
                                             "end_on": "2026-06-30"}, library=LIBRARY, as_of=AS_OF)
    portal.add_row(sessions, access, "memberships", {"association": "MI-AIMH", "expires_on": "2027-12-31"},
                   library=LIBRARY, as_of=AS_OF)
    portal.sign_agreements(sessions, access, {"code_of_ethics_signed_on": True}, as_of=AS_OF)


def test_a_renewal_is_filed_on_the_web_and_recorded_as_record_renewal_does(sessions, endorsed):
    access, _ = open_portfolio(sessions, email=endorsed, association="MI-AIMH", kind="renewal")
    p = portfolio_row(sessions, access)
    assert (p.body["category"], p.body["year"], p.body["endorsement_number"]) == ("IMHM-C", 2026, "MI-IMHM-C-0042")
    first = portal.checklist(LIBRARY, p, AS_OF).evaluation
    assert first.status_of("renewal_training_hours") == "unmet"
    fill_met_renewal(sessions, access)
    ev = portal.checklist(LIBRARY, portfolio_row(sessions, access), AS_OF).evaluation
    assert all(r.status in ("met", "not_applicable") for r in ev.requirements), ev.to_dict()
    portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    with sessions() as s:
        renewal = s.scalars(select(Renewal)).one()
        e = s.scalars(select(Endorsement)).one()
        mails = s.scalars(select(OutboxMessage.role)).all()
    assert (renewal.status, renewal.year, e.renewal_due_on) == ("met", 2026, date(2027, 12, 31))
    assert "renewal.met" in mails and portfolio_row(sessions, access).status == "submitted"


def test_a_renewal_recorded_by_mistake_is_reopened_with_a_reason_and_filed_again(sessions, endorsed):
    """Issue 16 item 5: the coordinator records renewals; a mistaken one is undone as their determination."""
    access, _ = open_portfolio(sessions, email=endorsed, association="MI-AIMH", kind="renewal")
    fill_met_renewal(sessions, access)
    portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    renewal_id = portfolio_row(sessions, access).application_id
    with pytest.raises(ValueError, match="reason"):  # a renewal is reopened only with the reason
        portal.reopen(sessions, renewal_id, association="MI-AIMH", actor="coordinator:mi@example.org", reason=" ")
    with pytest.raises(LookupError):  # another association's coordinator: as if there were none
        portal.reopen(sessions, renewal_id, association="CT-AIMH", actor="coordinator:ct@example.org",
                      reason="mistake")
    with sessions() as s:
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == date(2027, 12, 31)
    kind = portal.reopen(sessions, renewal_id, association="MI-AIMH", actor="coordinator:mi@example.org",
                         reason="recorded before the RS/C log was checked")
    assert kind == "renewal" and portfolio_row(sessions, access).status == "draft"
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "due"
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == date(2026, 12, 31)  # back to this year's
        audits = {a.action: a for a in s.scalars(select(AuditLog).where(
            AuditLog.action.in_(["renewal.reopened", "portfolio.reopened"])))}
    assert audits["renewal.reopened"].details["reason"] == "recorded before the RS/C log was checked"
    assert audits["renewal.reopened"].details["was"] == "met" and audits["renewal.reopened"].actor == "coordinator:mi@example.org"
    assert audits["portfolio.reopened"].details["renewal_year"] == 2026
    with pytest.raises(ValueError, match="not submitted"):  # reopened once is enough: a draft has nothing to undo
        portal.reopen(sessions, renewal_id, association="MI-AIMH", actor="coordinator:mi@example.org", reason="again")
    portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)  # filed again: recorded as before
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "met"
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == date(2027, 12, 31)


def test_an_unmet_renewal_is_recorded_and_the_portfolio_stays_open_to_file_again(sessions, endorsed):
    access, _ = open_portfolio(sessions, email=endorsed, association="MI-AIMH", kind="renewal")
    portal.save_details(sessions, access, {"name": "Dana Whitfield"}, library=LIBRARY, as_of=AS_OF)
    portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    p = portfolio_row(sessions, access)
    assert p.status == "draft" and p.body["last_outcome"]["status"] == "unmet"
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "unmet"
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == date(2026, 12, 31)


def test_a_renewal_for_an_address_without_an_endorsement_starts_nothing_and_says_so_by_email(sessions):
    open_portfolio(sessions, email="someone@example.org")
    assert portal.request_link(sessions, LIBRARY, email="nobody@example.org", association="MI-AIMH", kind="renewal",
                               as_of=AS_OF, secret_key=SECRET) is None
    with sessions() as s:
        assert s.scalars(select(OutboxMessage.role).where(OutboxMessage.recipient_email == "nobody@example.org")).all() \
            == ["portal.no_renewal"]
    assert _count(sessions, Portfolio, Portfolio.kind == "renewal") == 0


# --- the coordinator's view -------------------------------------------------------------------------------------


def test_a_coordinator_sees_their_associations_portfolios_and_the_descriptions_only(sessions):
    access, _ = open_portfolio(sessions, association="CT-AIMH")
    portal.save_details(sessions, access, {"name": "Ada", "category": "IMHS"}, library=LIBRARY, as_of=AS_OF)
    portal.upload_description(sessions, access, "imhs_internship_description", "note.txt", "text/plain",
                              b"Direct IMH practice.", library=LIBRARY, as_of=AS_OF)
    open_portfolio(sessions, email="mia@example.org", association="MI-AIMH")
    with sessions() as s:
        ct = portal.portfolios_of(s, "CT-AIMH")
        assert [(p.email, p.name, p.category, p.status) for p in ct] == [("ada@example.org", "Ada", "IMHS", "draft")]
        upload_id = ct[0].uploads[0][0]
        assert portal.description_for(s, "CT-AIMH", upload_id).data == b"Direct IMH practice."
        with pytest.raises(LookupError):
            portal.description_for(s, "MI-AIMH", upload_id)


def test_a_coordinator_fills_a_paper_application_on_the_applicants_behalf(sessions):
    open_portfolio(sessions, email="someone@example.org")
    pid = portal.request_link(sessions, LIBRARY, email="paper@example.org", association="CT-AIMH", kind="application",
                              as_of=AS_OF, secret_key=SECRET, started_by="coordinator:c@example.org")
    mine = portal.Access(portfolio_id=pid, association="CT-AIMH", coordinator="c@example.org")
    fill_from(sessions, mine, cohort("ct-aimh-ifs-eligible-01.json"))
    app_id = portal.submit(sessions, mine, library=LIBRARY, as_of=AS_OF)
    with sessions() as s:
        actors = set(s.scalars(select(AuditLog.actor).where(AuditLog.entity_id == str(pid),
                                                            AuditLog.entity_type == "portfolio")))
        assert s.get(Application, app_id).applicant.email == "paper@example.org"
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == "paper@example.org")).one()
    assert actors == {"coordinator:c@example.org"} and "started an Endorsement® application for you" in mail.body_text
    other = portal.Access(portfolio_id=pid, association="MI-AIMH", coordinator="m@example.org")
    with sessions() as s, pytest.raises(portal.PortfolioNotFound):
        portal.locate(s, other, AS_OF)


def test_after_a_decision_asking_again_starts_a_new_application(sessions):
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    access, token = open_portfolio(sessions, association=doc["association"])
    fill_from(sessions, access, doc)
    first = portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    _, same = open_portfolio(sessions, association=doc["association"])
    assert same == token  # under way: the link shows where it stands
    with sessions.begin() as s:
        s.get(Application, first).stage = "not_endorsed"
    access2, _ = open_portfolio(sessions, association=doc["association"])
    p = portfolio_row(sessions, access2)
    assert p.status == "draft" and p.application_id != first and _count(sessions, Portfolio) == 2
