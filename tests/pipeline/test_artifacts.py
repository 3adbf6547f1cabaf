"""Artifacts on the Prefect server carry ids, stages and statuses, never a person's name or email
(issue 11, item 6: the Prefect server has no sign-in of its own)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, EducationRecord, Person, ReferenceRequest, WorkRecord
from tasks.pipeline import reconcile as pipeline
from tasks.transcripts.transcripts import record_transcript
from tasks.intake.records import ensure_associations, save_document
from tasks.coordination.reports import application_markdown, pipeline_frame, pipeline_summary

AS_OF = date(2026, 11, 22)
FILES = ("mi-aimh-ifs-rater-declined.json", "ct-aimh-imhs-transcript-awaited.json", "orimha-ifa-vetted-rater.json")


def _cohort(sessions, transcript: bool = True) -> list[str]:
    ids = []
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for f in FILES:
            doc = load_document(PROJECT_ROOT / "cohort" / f)
            save_document(s, doc, actor="test")
            ids.append(doc.id)
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="k", actor="system:test")
    for app_id in ids:
        pipeline.reconcile_one(sessions, app_id, cfg)
    if not transcript:
        return ids
    record_transcript(sessions, "CT-2026-107", institution="University of Michigan", official=True,
                               received_on=AS_OF, actor="coordinator:mia.lopez@mi-aimh.example.org")
    pipeline.reconcile_one(sessions, "CT-2026-107", cfg)
    return ids


def test_the_application_artifact_names_nobody_and_keeps_ids_and_statuses(sessions):
    ids = _cohort(sessions)
    with sessions() as s:
        names = {p.name for p in s.scalars(select(Person))} | {p.email for p in s.scalars(select(Person))}
        names |= {e.institution for e in s.scalars(select(EducationRecord))}
        names |= {w.employer for w in s.scalars(select(WorkRecord))} | {"mia.lopez@mi-aimh.example.org"}
        for app_id in ids:
            md = application_markdown(s, app_id)
            app = s.get(Application, app_id)
            leaked = sorted(n for n in names if n and n in md)
            assert not leaked, f"{app_id} artifact names {leaked}"
            assert f"# Application {app_id}" in md and f"stage **{app.stage}**" in md
            for r in app.last_checklist:
                assert f"| {r['id']} |" in md
            for req_id, status in s.execute(select(ReferenceRequest.id, ReferenceRequest.status)
                                            .where(ReferenceRequest.application_id == app_id)):
                assert f"| #{req_id} |" in md and status in md
        assert "| coordinator | transcript.recorded" in application_markdown(s, "CT-2026-107")


def test_the_pipeline_artifact_is_counts_by_stage_category_and_association(sessions):
    _cohort(sessions)
    with sessions() as s:
        summary = pipeline_summary(pipeline_frame(s, AS_OF))
    assert list(summary.columns) == ["stage", "category", "association", "applications", "median_days_in_stage",
                                     "max_days_in_stage", "overdue_ratings", "awaited_transcripts"]
    assert int(summary["applications"].sum()) == len(FILES)


def _due(sessions) -> dict[str, bool]:
    with sessions() as s:
        return dict(s.execute(select(Application.id, Application.artifact_due)).all())


def _published(sessions, ids) -> None:
    from tasks.pipeline.prefect_report import clear_artifact_due

    with sessions() as s:
        rows = [{"b_id": i, "b_version": s.get(Application, i).version_id} for i in ids]
    clear_artifact_due(sessions, rows)


def test_an_artifact_is_due_only_when_what_it_shows_changed(sessions):
    ids = _cohort(sessions, transcript=False)
    assert _due(sessions) == dict.fromkeys(ids, True)  # imported and moved: all behind
    _published(sessions, ids)
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key="k", actor="system:test")
    for app_id in ids:  # nothing happened: evaluated again, nothing to show
        assert pipeline.reconcile_one(sessions, app_id, cfg).transitions == []
    assert _due(sessions) == dict.fromkeys(ids, False)
    # Something happened to one (a transcript recorded: an entry in its timeline), only that one is behind.
    record_transcript(sessions, "CT-2026-107", institution="University of Michigan", official=True,
                      received_on=AS_OF, actor="coordinator:mia.lopez@mi-aimh.example.org")
    for app_id in ids:
        pipeline.reconcile_one(sessions, app_id, cfg)
    assert _due(sessions) == {i: i == "CT-2026-107" for i in ids}


def test_an_artifact_published_from_a_read_older_than_the_application_stays_due(sessions):
    ids = _cohort(sessions)
    with sessions() as s:
        stale = [{"b_id": i, "b_version": s.get(Application, i).version_id - 1} for i in ids]
    from tasks.pipeline.prefect_report import clear_artifact_due

    clear_artifact_due(sessions, stale)
    assert _due(sessions) == dict.fromkeys(ids, True)
