"""The application-review verbs from the command line (kept minimal until the Typer port on branch
cli takes them over): a volunteer into the pool, the dry run writes nothing, --apply assigns and
emails, a coordinator settles a disagreement, an advisor is paired; bad input names the field."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select

from endorse.settings import PROJECT_ROOT
from models import AdvisorPairing, ApplicationReviewAssignment, ApplicationReviewer, AuditLog, OutboxMessage
from tests.application_review.conftest import build, review_rules

BY = "mi.coordinator@example.org"


def _run(database_url: str, rules, *args: str):
    env = {**os.environ, "DATABASE_URL": database_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "ENDORSE_RULES_DIR": str(rules), "ENDORSE_SECRET_KEY": "cli-appreview-secret"}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "endorse_cli.main", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env)


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_the_review_verbs_from_the_cli(sessions, database_url, tmp_path):
    library = review_rules(tmp_path)
    review = build(sessions, library)
    rules = tmp_path / "rules"
    out = _run(database_url, rules, "appreview", "reviewer", "--association", "MI-AIMH", "--name", "Nia New",
               "--email", "nia@volunteers.example.net", "--max-load", "2", "--by", BY)
    assert out.returncode == 0, out.stderr
    assert _count(sessions, ApplicationReviewer) == 4
    dry = _run(database_url, rules, "appreview", "assign", "--association", "MI-AIMH", "--as-of", "2026-11-22")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and review.apps["IFA"] in dry.stdout
    assert _count(sessions, ApplicationReviewAssignment) == 0  # a dry run writes nothing
    refused = _run(database_url, rules, "appreview", "assign", "--association", "MI-AIMH", "--apply")
    assert refused.returncode != 0 and "--by" in refused.stderr + refused.stdout
    applied = _run(database_url, rules, "appreview", "assign", "--association", "MI-AIMH", "--apply",
                   "--as-of", "2026-11-22", "--by", BY)
    assert applied.returncode == 0, applied.stderr
    assert _count(sessions, ApplicationReviewAssignment) == 4
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.role == "appreview.assigned"))
    bad = _run(database_url, rules, "appreview", "settle", review.apps["IFA"], "--outcome", "recommend_with_conditions",
               "--note", "agreed with reviewer 1", "--on", "2026-11-22", "--by", BY, "--no-reconcile")
    assert bad.returncode != 0 and "conditions" in bad.stderr + bad.stdout
    ok = _run(database_url, rules, "appreview", "settle", review.apps["IFA"], "--outcome", "recommend",
              "--note", "agreed with reviewer 1", "--on", "2026-11-22", "--by", BY, "--no-reconcile")
    assert ok.returncode == 0, ok.stderr
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "appreview.settled",
                                                                          AuditLog.actor == f"coordinator:{BY}")) == 1
    paired = _run(database_url, rules, "appreview", "advisor", review.apps["IMHS"], "--name", "Ada Advisor",
                  "--email", "ada@advisors.example.net", "--by", BY)
    assert paired.returncode == 0, paired.stderr
    assert _count(sessions, AdvisorPairing) == 1


def test_an_association_without_review_says_so(sessions, database_url, tmp_path):
    out = _run(database_url, PROJECT_ROOT / "rules", "appreview", "assign", "--association", "MI-AIMH")
    assert out.returncode == 0, out.stderr
    assert "no application review" in out.stdout


def test_the_next_round_a_new_link_and_ending_an_advisor_from_the_cli(sessions, database_url, tmp_path):
    from datetime import date

    from models import Application, ApplicationReviewInvitation, ApplicationReviewRound
    from tasks.application_review import advisors, rounds
    from tasks.pipeline import reconcile as pipeline
    from tests.application_review.conftest import SECRET

    library = review_rules(tmp_path)
    review = build(sessions, library)
    rules, ifa = tmp_path / "rules", review.apps["IFA"]
    early = _run(database_url, rules, "appreview", "round", ifa, "--reason", "hours", "--on", "2026-11-22", "--by", BY)
    assert early.returncode == 2 and "only a round that ended" in early.stderr  # still in round 1
    rounds.apply_association(sessions, "MI-AIMH", library, as_of=date(2026, 11, 22), secret_key=SECRET, actor="t")
    rounds.record_coordinator_outcome(sessions, ifa, outcome="not_yet", note="hours missing", on=date(2026, 11, 22),
                                      actor="coordinator:t")
    pipeline.reconcile_one(sessions, ifa, review.cfg())
    opened = _run(database_url, rules, "appreview", "round", ifa, "--reason", "hours documented", "--on", "2026-12-01",
                  "--by", BY)
    assert opened.returncode == 0, opened.stderr
    assert "review round 2 opened" in opened.stdout
    with sessions() as s:
        assert s.scalars(select(ApplicationReviewRound.opened_by)).one() == f"coordinator:{BY}"
        assert s.get(Application, ifa).stage == "application_review"  # the command reconciled it
        inv = s.scalars(select(ApplicationReviewInvitation)).first()
    cli_secret = "cli-appreview-secret"
    new = _run(database_url, rules, "appreview", "new-link", str(inv.reviewer_id), "--association", "MI-AIMH",
               "--by", BY, "--as-of", "2026-11-22")
    assert new.returncode == 0 and "the old one no longer works" in new.stdout, new.stderr
    with sessions() as s:
        assert s.get(ApplicationReviewInvitation, inv.id).token_generation == inv.token_generation + 1
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.role == "appreview.new_link")) == 1
    elsewhere = _run(database_url, rules, "appreview", "new-link", str(inv.reviewer_id), "--association", "CT-AIMH",
                     "--by", BY)
    assert elsewhere.returncode == 2 and "has no application-review link of CT-AIMH" in elsewhere.stderr
    pairing = advisors.pair_advisor(sessions, library, ifa, name="Ada Advisor", email="ada@advisors.example.net",
                                    as_of=date(2026, 11, 22), secret_key=cli_secret, actor="coordinator:t")
    nobody = _run(database_url, rules, "appreview", "end-advisor", ifa, "--email", "nobody@example.net",
                  "--reason", "x", "--on", "2026-12-01", "--by", BY)
    assert nobody.returncode == 2 and "nobody with the address" in nobody.stderr
    ended = _run(database_url, rules, "appreview", "end-advisor", ifa, "--email", "ada@advisors.example.net",
                 "--reason", "the applicant asked", "--on", "2026-12-01", "--by", BY)
    assert ended.returncode == 0 and "Ada Advisor has ended" in ended.stdout, ended.stderr
    with sessions() as s:
        p = s.get(AdvisorPairing, pairing)
        assert (p.active, p.ended_reason, p.ended_by) == (False, "the applicant asked", f"coordinator:{BY}")
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "advisor.ended")) == 1
