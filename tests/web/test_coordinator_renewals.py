"""Recording a renewal from the coordinator's web page (issue 15, item 3): the same verb as
``endorse record-renewal``, audited under the coordinator's name; an invalid document is refused naming
the file and the field; another association's endorsement is answered like one that does not exist."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from endorse.renewals import load_renewal
from models import AuditLog, Endorsement
from tasks.coordination.accounts import set_coordinator
from tests.pipeline.test_renewal_recording import RENEWED, _endorsement
from tests.web.conftest import make_web_app
from tests.web.test_coordinator import CT, MI, PASSWORD, SECRET

RECORDED_ON = date(2027, 12, 1)


def _signed_in(sessions, email: str) -> tuple[TestClient, str]:
    client = TestClient(make_web_app(sessions, SECRET, RECORDED_ON))
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/coordinator/login").text).group(1)
    assert client.post("/coordinator/login", data={"csrf": csrf, "email": email, "password": PASSWORD},
                       follow_redirects=False).status_code == 303
    return client, re.search(r'name="csrf" value="([^"]+)"', client.get("/coordinator/renewals").text).group(1)


def _setup(sessions) -> int:
    e_id = _endorsement(sessions, load_renewal(RENEWED))
    for association, email in (("MI-AIMH", MI), ("CT-AIMH", CT)):
        set_coordinator(sessions, association=association, name="Coordinator", email=email, password=PASSWORD,
                        actor="test")
    return e_id


def test_a_met_renewal_uploaded_by_the_coordinator_moves_the_due_date_a_year_on(sessions):
    e_id = _setup(sessions)
    client, csrf = _signed_in(sessions, MI)
    r = client.post("/coordinator/renewals", data={"csrf": csrf},
                    files={"file": ("renewal.json", RENEWED.read_bytes(), "application/json")})
    assert r.status_code == 200 and ": met; next renewal due" in r.text
    with sessions() as s:
        assert s.get(Endorsement, e_id).renewal_due_on.year == load_renewal(RENEWED).year + 1
        assert s.scalars(select(AuditLog.actor).where(AuditLog.action == "renewal.met")).one() == f"coordinator:{MI}"


def test_an_invalid_renewal_document_is_refused_naming_the_file(sessions):
    _setup(sessions)
    client, csrf = _signed_in(sessions, MI)
    r = client.post("/coordinator/renewals", data={"csrf": csrf},
                    files={"file": ("broken renewal.json", b'{"year": "soon"', "application/json")})
    assert r.status_code == 422 and "broken_renewal.json: not valid JSON" in r.text
    with sessions() as s:
        assert not s.scalars(select(AuditLog).where(AuditLog.action.like("renewal.%"))).all()


def test_another_associations_endorsement_is_not_found(sessions):
    e_id = _setup(sessions)
    client, csrf = _signed_in(sessions, CT)
    r = client.post("/coordinator/renewals", data={"csrf": csrf},
                    files={"file": ("renewal.json", RENEWED.read_bytes(), "application/json")})
    assert r.status_code == 422 and "is not an endorsement we granted" in r.text
    with sessions() as s:
        assert s.get(Endorsement, e_id).renewal_due_on.year == load_renewal(RENEWED).year
        assert not s.scalars(select(AuditLog).where(AuditLog.action.like("renewal.%"))).all()
