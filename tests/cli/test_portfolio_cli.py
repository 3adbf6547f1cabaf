"""``endorse portfolio …`` (issue 16, item 6, from the command line): the coordinator's portfolio actions of
/coordinator/portfolios, each for the ``--by`` coordinator's own association only: list, start on someone's
behalf, import a workbook (every error named, nothing written), reopen (a renewal recorded by mistake
too, with the reason), save an uploaded description. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from endorse.db import transaction
from endorse_cli.output import EXIT_INVALID, EXIT_OK
from models import Application, AuditLog, Endorsement, OutboxMessage, Portfolio, Renewal
from tasks import portal
from tasks.coordination.accounts import set_coordinator
from tasks.intake.records import ensure_associations
from tests.cli.test_command_groups import cli  # noqa: F401  (fixture)
from tests.portal.helpers import AS_OF, LIBRARY, cohort, endorsed_person, open_portfolio, portfolio_row
from tests.portal.test_portfolio import fill_met_renewal
from tests.portal.test_workbook import _workbook

MI, CT = "mi.coordinator@example.org", "ct.coordinator@example.org"
PASSWORD = "correct horse battery staple"


def _coordinators(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI, password=PASSWORD, actor="t")
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email=CT, password=PASSWORD, actor="t")


def _count(sessions, model, *where) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_start_list_and_import_act_for_the_coordinators_own_association(sessions, cli, tmp_path):  # noqa: F811
    _coordinators(sessions)
    code, out, err = cli("portfolio", "start", "--email", "ada@example.org", "--by", MI)
    assert code == EXIT_OK, err
    with sessions() as s:
        p = s.scalars(select(Portfolio)).one()
        assert (p.association_code, p.kind, p.started_by) == ("MI-AIMH", "application", f"coordinator:{MI}")
    assert f"portfolio #{p.id}" in out and _count(sessions, OutboxMessage, OutboxMessage.recipient_email == "ada@example.org") == 1
    code, out, _ = cli("portfolio", "list", "--by", MI, "--json")
    assert code == EXIT_OK and [r["portfolio"] for r in json.loads(out)] == [p.id]
    code, out, _ = cli("portfolio", "list", "--by", CT, "--json")
    assert code == EXIT_OK and json.loads(out) == []  # another association's portfolio is not listed
    code, _, err = cli("portfolio", "list", "--by", "nobody@example.org")
    assert code == EXIT_INVALID and "not an active coordinator account" in err

    bad = tmp_path / "paper-bad.xlsx"
    bad.write_bytes(_workbook(cohort("ct-aimh-ifs-eligible-01.json"),
                              edit=lambda book: book["training"].cell(row=2, column=3, value="lots")))
    code, _, err = cli("portfolio", "import", str(bad), "--by", CT, "--no-reconcile")
    assert code == EXIT_INVALID and "paper-bad.xlsx: 1 problem(s), nothing imported" in err
    assert "sheet training, row 2, hours: write a number" in err and _count(sessions, Application) == 0
    good = tmp_path / "paper.xlsx"
    good.write_bytes(_workbook(cohort("ct-aimh-ifs-eligible-01.json")))
    code, out, err = cli("portfolio", "import", str(good), "--by", CT, "--no-reconcile")
    assert code == EXIT_OK and "imported CT-2026-102" in out, err
    assert _count(sessions, AuditLog, AuditLog.application_id == "CT-2026-102", AuditLog.actor == f"coordinator:{CT}")


def test_reopen_a_renewal_recorded_by_mistake_and_save_a_description(sessions, cli, tmp_path):  # noqa: F811
    _coordinators(sessions)
    endorsed_person(sessions, "dwhitfield@example.org", category="IMHM-C", association="MI-AIMH",
                    number="MI-IMHM-C-0042", granted_on=date(2021, 12, 31), renewal_due_on=date(2026, 12, 31))
    access, _ = open_portfolio(sessions, email="dwhitfield@example.org", association="MI-AIMH", kind="renewal")
    fill_met_renewal(sessions, access)
    portal.submit(sessions, access, library=LIBRARY, as_of=AS_OF)
    renewal = portfolio_row(sessions, access).application_id
    code, _, err = cli("portfolio", "reopen", renewal, "--by", MI)
    assert code == EXIT_INVALID and "reason" in err
    code, _, err = cli("portfolio", "reopen", renewal, "--by", CT, "--reason", "mistake")
    assert code == EXIT_INVALID and "no web portfolio of CT-AIMH" in err
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "met"
    code, out, err = cli("portfolio", "reopen", renewal, "--by", MI, "--reason", "recorded before the RS/C log was checked")
    assert code == EXIT_OK and "its recorded renewal is undone" in out, err
    with sessions() as s:
        assert s.scalars(select(Renewal.status)).one() == "due"
        assert s.scalars(select(Endorsement.renewal_due_on)).one() == date(2026, 12, 31)
        assert s.scalars(select(AuditLog.actor).where(AuditLog.action == "renewal.reopened")).one() == f"coordinator:{MI}"

    app_access, _ = open_portfolio(sessions, email="ada@example.org", association="CT-AIMH")
    portal.save_details(sessions, app_access, {"name": "Ada", "category": "IMHS"}, library=LIBRARY, as_of=AS_OF)
    portal.upload_description(sessions, app_access, "imhs_internship_description", "note.txt", "text/plain",
                              b"Direct IMH practice, 500 hours.", library=LIBRARY, as_of=AS_OF)
    code, out, _ = cli("portfolio", "list", "--by", CT, "--json")
    upload = next(u["upload"] for r in json.loads(out) for u in r["uploads"])
    code, _, err = cli("portfolio", "description", str(upload), "--out", str(tmp_path / "mi.txt"), "--by", MI)
    assert code == EXIT_INVALID and "none of your association's portfolios has it" in err
    assert not (tmp_path / "mi.txt").exists()
    code, out, err = cli("portfolio", "description", str(upload), "--out", str(tmp_path / "ct.txt"), "--by", CT)
    assert code == EXIT_OK, err
    assert (tmp_path / "ct.txt").read_bytes() == b"Direct IMH practice, 500 hours."
