"""The coordinator's workbench (issue 15, items 2, 3 and 5): every application findable (search, filters,
sorting, pages on the server), a "waiting on you" queue on the dashboard whose each item links to where
it is done, rater actions on the web audited like the CLI's, and the sign-in form keeping the email."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from endorse.db import transaction
from models import Application, AuditLog, ReferenceRequest
from tests.web.test_coordinator import CT, MI, PASSWORD, _audits, _client, cohort, csrf_of, signed_in  # noqa: F401


def _ids(text: str) -> list[str]:
    return re.findall(r'<td data-label="application"><a href="/coordinator/applications/([^"]+)">', text)


def test_the_list_holds_every_application_of_the_association_and_none_of_another(cohort):  # noqa: F811
    page = signed_in(cohort).get("/coordinator/applications?per_page=100")
    with cohort() as s:
        mine = sorted(s.scalars(select(Application.id).where(Application.association_code == "MI-AIMH")))
    assert _ids(page.text) == mine and f"{len(mine)} applications" in page.text


@pytest.mark.parametrize("rule,params,expected", [
    ("search by id", {"q": "2026-126"}, ["MI-2026-126"]),
    ("search by name, any case", {"q": "{name}"}, ["MI-2026-126"]),
    ("search by email", {"q": "{email}"}, ["MI-2026-126"]),
    ("a search never reaches another association", {"q": "CT-2026"}, []),
    ("filter by stage", {"stage": "eligibility_review"}, ["MI-2026-117", "MI-2026-120", "MI-2026-122", "MI-2026-141"]),
    ("filter by category and stage", {"category": "IFS", "stage": "references"}, ["MI-2026-126", "MI-2026-135"]),
    ("waiting on the coordinator: the exam-eligible", {"waiting": "coordinator"}, ["MI-2026-141"]),
    ("waiting on raters: references under way", {"waiting": "raters"}, ["MI-2026-126", "MI-2026-135"]),
])
def test_finding_applications(cohort, rule, params, expected):  # noqa: F811
    with cohort() as s:
        app = s.get(Application, "MI-2026-126")
        name, email = app.applicant_name.upper(), app.applicant.email
    params = {k: v.format(name=name, email=email) for k, v in params.items()}
    page = signed_in(cohort).get("/coordinator/applications", params=params)
    assert page.status_code == 200 and _ids(page.text) == expected, rule


def test_overdue_filter_lists_only_applications_with_an_overdue_rating(cohort):  # noqa: F811
    client = signed_in(cohort, CT)  # CT-2026-137's student rating is requested, due 2026-12-22
    assert _ids(client.get("/coordinator/applications?overdue=yes").text) == []
    with transaction(cohort) as s:
        req = s.scalars(select(ReferenceRequest).join(Application)
                        .where(Application.association_code == "CT-AIMH", ReferenceRequest.status == "requested")
                        .order_by(ReferenceRequest.id)).first()
        req.due_on = date(2026, 11, 1)
        late = req.application_id
    assert _ids(client.get("/coordinator/applications?overdue=yes").text) == [late]


def test_sorting_and_pages_are_done_on_the_server(cohort):  # noqa: F811
    client = signed_in(cohort)
    first = client.get("/coordinator/applications?per_page=25&sort=id&order=desc&page=1")
    assert _ids(first.text)[0] == "MI-2026-141" and "page 1 of 1" not in first.text
    by_name = _ids(client.get("/coordinator/applications?sort=name&per_page=100").text)
    with cohort() as s:
        names = dict(s.execute(select(Application.id, Application.applicant_name)).all())
    assert [names[i] for i in by_name] == sorted(names[i] for i in by_name)
    # Fewer rows than a page: one page; past the last page shows the last one.
    assert _ids(client.get("/coordinator/applications?page=9").text) == _ids(client.get("/coordinator/applications").text)


@pytest.mark.parametrize("params,names", [({"stage": "nowhere"}, "stage"), ({"sort": "salary"}, "sort"),
                                          ({"page": "two"}, "page"), ({"per_page": "7"}, "per page")])
def test_a_bad_search_parameter_is_named(cohort, params, names):  # noqa: F811
    page = signed_in(cohort).get("/coordinator/applications", params=params)
    assert page.status_code == 422 and f"{names}:" in page.text


def test_the_dashboard_starts_with_what_waits_on_the_coordinator_each_linking_to_where_it_is_done(cohort):  # noqa: F811
    text = signed_in(cohort).get("/coordinator/").text
    queue = text[text.index('id="waiting-on-me"'):text.index("</section>")]
    assert text.index('id="waiting-on-me"') < text.index('id="scheduled-runs"')
    assert 'href="/coordinator/applications/MI-2026-141#actions">approve to sit the exam: MI-2026-141' in queue
    assert "add a rater: MI-2026-126" in queue and "MI-2026-126#add-rater" in queue
    assert "CT-" not in queue
    for href in set(re.findall(r'<li><a href="([^"#]+)', queue)):
        assert signed_in(cohort).get(href).status_code == 200


def test_raters_to_vet_lists_only_raters_of_open_applications(cohort):  # noqa: F811
    from endorse.rulebook import default_library
    from tasks.config import PipelineConfig
    from tasks.references.raters import vet_rater, vetting_queue

    cfg = PipelineConfig(library=default_library(), as_of=date(2026, 11, 22), secret_key="")
    with cohort() as s:
        queue = vetting_queue(s, cfg)
        stages = {a: st for a, st in s.execute(select(Application.id, Application.stage))}
        decided = s.execute(select(ReferenceRequest.id).join(Application)
                            .where(Application.stage == "endorsed", ReferenceRequest.vetting == None)).scalars().first()  # noqa: E711
    assert all(stages[v.application_id] not in ("endorsed", "not_endorsed") for v in queue)
    with pytest.raises(ValueError, match="decided"):
        vet_rater(cohort, decided, coordinator=MI, vetted_on=cfg.as_of, accepted=True, note=None)


def test_adding_a_rater_from_the_page_is_audited_under_the_coordinators_name(cohort):  # noqa: F811
    client = signed_in(cohort)
    url = "/coordinator/applications/MI-2026-126"
    bad = client.post(url + "/raters", data={"csrf": csrf_of(client, url), "name": "Noor Haddad", "email": "noor",
                                             "role": "supervisor"})
    assert bad.status_code == 422 and "email:" in bad.text
    r = client.post(url + "/raters", data={"csrf": csrf_of(client, url), "name": "Noor Haddad",
                                           "email": "noor.haddad@example.org", "role": "supervisor"},
                    follow_redirects=False)
    assert r.status_code == 303
    with cohort() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "reference.added",
                                                 AuditLog.application_id == "MI-2026-126")).one()
        assert entry.actor == f"coordinator:{MI}"


def test_a_rater_cannot_be_added_to_another_associations_application(cohort):  # noqa: F811
    client = signed_in(cohort)
    r = client.post("/coordinator/applications/CT-2026-127/raters",
                    data={"csrf": csrf_of(client, "/coordinator/"), "name": "X Y", "email": "x@example.org",
                          "role": "supervisor"})
    assert r.status_code == 404 and _audits(cohort, "reference.added") == 0


def test_the_sign_in_form_keeps_the_email_after_an_error(cohort):  # noqa: F811
    client = _client(cohort)
    r = client.post("/coordinator/login", data={"csrf": csrf_of(client, "/coordinator/login"), "email": MI,
                                                "password": "not the password"})
    assert r.status_code == 401 and f'value="{MI}"' in r.text
