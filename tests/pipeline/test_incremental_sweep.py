"""The incremental sweep (issue 17) leaves exactly the state a full pass leaves.

Two databases get the same random history: generated applications imported, days passing (forward,
sometimes back: a re-run "as of" an earlier day), documents re-imported with a rating or a transcript
added, coordinator actions. After every step one database is swept incrementally (only applications
due or marked), the other by a full pass over every open application; their domain state must be
equal: stages, checklists, decisions, endorsements, reference requests, emails and audit entries. The
day an application is next looked at is bookkeeping and may differ.

Also: what the incremental sweep picks (due, marked, an earlier as-of) and when a full pass runs
(rule files changed, asked for).
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, select, update

from bench.generate import application
from endorse.db import make_engine, session_factory, transaction
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from models import Application, Base
from tasks.decision.decisions import request_decision
from tasks.exam.results import approve_for_exam
from tasks.intake import importing
from tasks.intake.bulk import prepare
from tasks.intake.records import ensure_associations, save_document
from tasks.pipeline import reconcile as pipeline
from tasks.references.requests import escalate_overdue, expire_stale_links, send_due_reminders
from tasks.transcripts.transcripts import record_transcript, remind_missing_transcripts

SECRET = "test-secret-incremental"
START = date(2026, 11, 22)
# Scheduling columns and wall-clock stamps: not domain state.
BOOKKEEPING = {"next_check_on", "checked_as_of", "updated_at", "created_at", "loaded_at", "full_sweep_at",
               "token_nonce", "token_hash", "imported_at", "message_id"}  # message_id: random by design


def _cfg(day: date) -> pipeline.PipelineConfig:
    return pipeline.PipelineConfig(library=default_library(), as_of=day, secret_key=SECRET)


def sweep(sessions, day: date, full: bool) -> dict:
    """The sweep flow's steps as plain functions, incremental or full."""
    cfg = _cfg(day)
    with sessions() as s:
        ids = pipeline.open_application_ids(s) if full else pipeline.due_application_ids(s, day)
    out = pipeline.advance_batch(sessions, ids, cfg)
    for step in (send_due_reminders, remind_missing_transcripts, expire_stale_links,
                 escalate_overdue):
        step(sessions, cfg)
    return out


def _wall_clock(c) -> bool:
    """A timestamp defaulting to the time of the write (the two databases are written moments apart)."""
    return isinstance(c.type, DateTime) and c.default is not None and c.default.is_callable


def state(sessions) -> dict:
    """Every row of every table, minus bookkeeping; token_hash only as present or not."""
    out = {}
    with sessions() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.c if c.name not in BOOKKEEPING and not _wall_clock(c)]
            extra = [table.c.token_hash.is_(None)] if "token_hash" in table.c else []
            pk = list(table.primary_key.columns)
            rows = s.execute(select(*cols, *extra).order_by(*pk)).all()
            names = [c.name for c in cols] + ["token_hash is null"] * len(extra)
            out[table.name] = [tuple((n, json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list)) else v)
                                     for n, v in zip(names, r)) for r in rows]
    return out


def _same(a: dict, b: dict, when: str) -> None:
    for table in a:
        assert a[table] == b[table], f"{table} differs {when}: " + "; ".join(
            f"{x} != {y}" for ra, rb in zip(a[table], b[table]) for x, y in zip(ra, rb) if x != y)[:2000]


@pytest.fixture
def blank_pair(database_url, tmp_path):
    """Makes two empty migrated databases of the fixture's engine, fresh for each example (copies
    of the migrated one: a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL)."""
    made = []
    counter = iter(range(10**6))

    def fresh() -> str:
        n = next(counter)
        if database_url.startswith("sqlite"):
            path = tmp_path / f"copy-{n}.sqlite3"
            shutil.copy(database_url.removeprefix("sqlite:///"), path)
            return f"sqlite:///{path}"
        import psycopg

        template = database_url.rsplit("/", 1)[1]
        with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")
                             .rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{template}_{n}" TEMPLATE "{template}"')
        return database_url.rsplit("/", 1)[0] + f"/{template}_{n}"

    def pair():
        engines = [make_engine(fresh()), make_engine(fresh())]
        made.extend(engines)
        out = [session_factory(e) for e in engines]
        for sessions in out:
            with transaction(sessions) as s:
                ensure_associations(s, default_library())
        return out

    yield pair
    for e in made:
        e.dispose()


def _doc(i: int, seed: int, prefix: str) -> dict:
    """A generated application written as if on a day up to 400 days ahead: transcripts, trainings,
    ratings and work dated after the first sweep, so time alone moves applications."""
    rng = random.Random(seed * 7919 + i)
    d = application(i, rng, as_of=START + timedelta(days=rng.randint(0, 400)))
    d["id"] = f"{prefix}-{i:03d}"
    return d





def _import(sessions, d: dict, bulk: bool = False) -> None:
    """One document, through save_document or through `endorse import`'s set-based batch writer."""
    doc = ApplicationDocument.model_validate_json(json.dumps(d))
    with transaction(sessions) as s:
        if bulk:
            importing._write_batch(s, [prepare(f"{doc.id}.json", doc)], actor="test")
        else:
            save_document(s, doc, actor="test")


def _import_all(sessions, docs: list[dict], bulk: bool) -> None:
    if not bulk:
        for d in docs:
            _import(sessions, d)
        return
    batch = [prepare(f"{d['id']}.json", ApplicationDocument.model_validate_json(json.dumps(d))) for d in docs]
    with transaction(sessions) as s:
        importing._write_batch(s, batch, actor="test")


def _answer_a_reference(d: dict, day: date) -> dict:
    """The document comes back with a rating the applicant's rater has since given."""
    for ref in d["references"]:
        if ref["status"] != "submitted":
            ref.update(status="submitted", submitted_on=day.isoformat(), insufficient_information_count=0,
                       recommendation="recommend")
            break
    return d


def _act(sessions, kind: str, app_id: str, day: date) -> None:
    """A coordinator action (refused the same way in both databases when it does not apply)."""
    try:
        if kind == "transcript":
            with sessions() as s:
                edu = s.get(Application, app_id).education
                institution = edu[0].institution if edu else "none"
            record_transcript(sessions, app_id, institution=institution, official=True, received_on=day,
                                       actor="coordinator@example.org")
        elif kind == "approve":
            approve_for_exam(sessions, app_id, approved_on=day, actor="coordinator@example.org")
        elif kind == "decide":
            request_decision(sessions, app_id, actor="coordinator@example.org")
    except (LookupError, ValueError):
        pass


STEP = st.one_of(
    st.tuples(st.just("days"), st.integers(min_value=1, max_value=400)),
    st.tuples(st.just("back"), st.integers(min_value=1, max_value=60)),
    st.tuples(st.just("reimport"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.sampled_from(["transcript", "approve", "decide"]), st.integers(min_value=0, max_value=5)),
)


# No shrinking: each example costs seconds of database work; the failing history is printed as found.
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=10**6), history=st.lists(STEP, min_size=3, max_size=8),
       bulk=st.booleans())
def test_incremental_sweep_and_full_pass_leave_identical_state(blank_pair, seed, history, bulk):
    """``bulk``: the documents go in (and again) as `endorse import` writes a batch of files."""
    twins = incremental, full = blank_pair()
    docs = [_doc(i, seed, "H") for i in range(6)]
    day = START
    for sessions in twins:
        _import_all(sessions, docs, bulk)
    sweep(incremental, day, full=False)
    sweep(full, day, full=True)
    _same(state(incremental), state(full), "after the import")
    for kind, n in history:
        if kind == "days":
            day += timedelta(days=n)
        elif kind == "back":
            day -= timedelta(days=n)
        elif kind == "reimport":
            docs[n] = _answer_a_reference(docs[n], day)
            for sessions in twins:
                _import(sessions, docs[n], bulk)
        else:
            for sessions in twins:
                _act(sessions, kind, docs[n]["id"], day)
        sweep(incremental, day, full=False)
        sweep(full, day, full=True)
        _same(state(incremental), state(full), f"after {kind} {n} on {day}")


def test_the_incremental_sweep_takes_only_marked_and_due_applications(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    for i in range(6):
        _import(sessions, _doc(i, 5, "D"))
    with sessions() as s:
        assert pipeline.due_application_ids(s, START) == [f"D-{i:03d}" for i in range(6)]  # imported: marked
    sweep(sessions, START, full=True)
    with sessions() as s:
        checks = dict(s.execute(select(Application.id, Application.next_check_on)
                                .where(Application.stage.in_(pipeline.SWEPT_STAGES))).all())
        assert checks and all(d is not None and d > START for d in checks.values())
        assert pipeline.due_application_ids(s, START) == []  # nothing happened: nothing to look at
        first_id, first_day = min(checks.items(), key=lambda kv: kv[1])
        assert first_id in pipeline.due_application_ids(s, first_day)  # its day has come
        assert first_id not in pipeline.due_application_ids(s, first_day - timedelta(days=1))
        assert set(pipeline.due_application_ids(s, START - timedelta(days=1))) == set(checks)  # an earlier as-of
    request_decision(sessions, "D-000", actor="coordinator@example.org")
    with sessions() as s:
        assert pipeline.due_application_ids(s, START) == ["D-000"]  # a coordinator action marks it


def test_a_full_pass_runs_when_the_rule_files_change(sessions):
    lib = default_library()
    with sessions() as s:
        assert pipeline.full_sweep_needed(s, lib)  # never ran under these rules
    pipeline.record_full_sweep(sessions, _cfg(START))
    with sessions() as s:
        assert not pipeline.full_sweep_needed(s, lib)
        changed = type(lib)(**{**{f: getattr(lib, f) for f in ("rules_dir", "baseline", "overlays", "requirement_defs",
                                                               "competencies", "renewal_defs")}, "digest": "0" * 64})
        assert pipeline.full_sweep_needed(s, changed)


def test_an_application_whose_rating_validity_ends_is_due_that_day(sessions):
    """A rating counts for the rulebook's validity period (rating_validity_days); the day after it
    ends the checklist changes, so the application is looked at again that day, not later."""
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    d = _doc(2, 11, "V")
    submitted = START - timedelta(days=10)
    for ref in d["references"]:
        ref.update(status="submitted", submitted_on=submitted.isoformat(), insufficient_information_count=0,
                   recommendation="recommend")
    d["memberships"][0]["expires_on"] = (START + timedelta(days=1000)).isoformat()
    _import(sessions, d)
    sweep(sessions, START, full=True)
    validity = default_library().category_rules(d["association"], d["category"], START).settings["rating_validity_days"]
    with sessions() as s:
        app = s.get(Application, d["id"])
        assert app.stage in pipeline.SWEPT_STAGES  # still waiting on something else
        assert START < app.next_check_on <= submitted + timedelta(days=validity + 1)


def test_the_next_check_is_stored_without_a_version_bump(sessions):
    """Rescheduling is bookkeeping: it must not make a coordinator's concurrent action stale."""
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    for i in range(6):
        _import(sessions, _doc(i, 3, "B"))
    sweep(sessions, START, full=True)
    with sessions() as s:
        app_id, before = s.execute(select(Application.id, Application.version_id)
                                   .where(Application.stage.in_(pipeline.SWEPT_STAGES)).order_by(Application.id)).first()
    with transaction(sessions) as s:
        s.execute(update(Application).where(Application.id == app_id).values(checked_as_of=None))
    assert sweep(sessions, START, full=True)["rescheduled"] == 1
    with sessions() as s:
        app = s.get(Application, app_id)
        assert (app.version_id, app.checked_as_of) == (before, START)


def test_when_the_rules_changed_every_next_check_is_computed_again(sessions):
    """A day computed under the old rules proves nothing under the new ones (a validity period may
    have shortened): the full pass after a rules change computes each again."""
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    for i in range(6):
        _import(sessions, _doc(i, 4, "R"))
    sweep(sessions, START, full=True)
    far = START + timedelta(days=5000)
    with transaction(sessions) as s:
        s.execute(update(Application).where(Application.stage.in_(pipeline.SWEPT_STAGES)).values(next_check_on=far))
    with sessions() as s:
        ids = pipeline.open_application_ids(s)
    assert ids
    pipeline.advance_batch(sessions, ids, _cfg(START))  # same rules: a stored day stands until it comes
    with sessions() as s:
        assert set(s.scalars(select(Application.next_check_on).where(Application.id.in_(ids)))) == {far}
    pipeline.advance_batch(sessions, ids, _cfg(START), rules_changed=True)
    with sessions() as s:
        assert far not in set(s.scalars(select(Application.next_check_on).where(Application.id.in_(ids))))
