"""Exam sittings from the coordinator's side (issue #5 · 1): enrolment under random codes, the
multiple-choice CSV (every bad line reported with its line and field, nothing half-imported), and
the pass mark per association."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from endorse.rulebook import default_library
from models import AuditLog, Essay, ExamAttempt, ExamSitting
from tasks.exam.intake import ImportRejected, enrol_candidates, import_essays, import_multiple_choice
from tests.exam.conftest import AS_OF, write_csv

LIB = default_library()


def _mc(sessions) -> dict[str, float | None]:
    with sessions() as s:
        return {a.candidate_code: (None if a.multiple_choice_percent is None else float(a.multiple_choice_percent))
                for a in s.scalars(select(ExamAttempt).where(ExamAttempt.sitting_id.is_not(None)))}


def test_candidates_are_enrolled_once_under_codes_that_say_nothing_about_them(sessions, sitting):
    again = enrol_candidates(sessions, sitting.id, LIB, as_of=AS_OF, actor="coordinator:test")
    assert again.enrolled == []
    for code in sitting.codes.values():
        assert code.count("-") == 1 and len(code) == 9
        for who in sitting.identities + list(sitting.apps.values()):
            assert who.lower()[:4] not in code.lower()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Essay)) == 2


def test_the_sitting_takes_the_associations_pass_mark(sessions, sitting):
    with sessions() as s:
        mark = s.get(ExamSitting, sitting.id).pass_mark_percent
    assert float(mark) == LIB.setting("MI-AIMH", "pass_mark_percent", AS_OF) == 80


BAD_LINES = [
    # (rows after the header, the problem reported)
    ([("{IMHS}", "91"), ("ZZZZ-ZZZZ", "70")], "line 3, candidate_code: ZZZZ-ZZZZ is not a candidate of sitting"),
    ([("{IMHS}", "ninety")], "line 2, percent: 'ninety' is not a number"),
    ([("{IMHS}", "101")], "line 2, percent: 101 is not between 0 and 100"),
    ([("{IMHS}", "-1")], "line 2, percent: -1 is not between 0 and 100"),
    ([("{IMHS}", "NaN")], "line 2, percent: NaN is not between 0 and 100"),
    ([("{IMHS}", "88"), ("{IMHS}", "90")], "line 3, candidate_code: {IMHS} already on line 2"),
    ([("", "88")], "line 2, candidate_code: empty"),
]


@pytest.mark.parametrize("rows,problem", BAD_LINES, ids=[p.split(":")[0] + ":" + p.split(":")[1][:18] for _, p in BAD_LINES])
def test_a_bad_line_in_the_multiple_choice_file_is_named_and_nothing_is_imported(sessions, sitting, tmp_path, rows, problem):
    fill = {"{IMHS}": sitting.codes["IMHS"]}
    rows = [tuple(fill.get(v, v) for v in r) for r in rows] + [(sitting.codes["IMHM-C"], "85")]
    path = write_csv(tmp_path / "mc.csv", "candidate_code,percent", rows)
    before = _mc(sessions)
    with pytest.raises(ImportRejected) as exc:
        import_multiple_choice(sessions, sitting.id, path, actor="coordinator:test")
    expected = problem.replace("{IMHS}", sitting.codes["IMHS"])
    assert any(p.startswith(expected) for p in exc.value.problems), exc.value.problems
    assert str(path) in str(exc.value)
    assert _mc(sessions) == before  # the good line was not imported either
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)
                        .where(AuditLog.action == "exam.multiple_choice_recorded")) == 0


def test_every_bad_line_is_reported_at_once(sessions, sitting, tmp_path):
    path = write_csv(tmp_path / "mc.csv", "candidate_code,percent",
                     [("NOPE-NOPE", "50"), (sitting.codes["IMHS"], "x"), (sitting.codes["IMHM-C"], "200")])
    with pytest.raises(ImportRejected) as exc:
        import_multiple_choice(sessions, sitting.id, path, actor="coordinator:test")
    assert [p.split(",")[0] for p in exc.value.problems] == ["line 2", "line 3", "line 4"]


@pytest.mark.parametrize("content,problem", [
    ("code,score\nX,1\n", "line 1: missing column(s) candidate_code, percent"),
    ("", "not a readable CSV file"),
    ('candidate_code,percent\n"unterminated,80\n', "not a readable CSV file"),
])
def test_a_file_that_is_not_the_expected_csv_is_refused(sessions, sitting, tmp_path, content, problem):
    path = tmp_path / "mc.csv"
    path.write_text(content)
    with pytest.raises(ImportRejected, match=r"mc\.csv") as exc:
        import_multiple_choice(sessions, sitting.id, path, actor="coordinator:test")
    assert problem in exc.value.problems[0]


def test_good_results_are_recorded_with_percent_signs_and_spaces_tolerated(sessions, sitting, tmp_path):
    path = write_csv(tmp_path / "mc.csv", "candidate_code,percent",
                     [(sitting.codes["IMHS"].lower(), " 86.5 %"), (sitting.codes["IMHM-C"], "79.99")])
    assert import_multiple_choice(sessions, sitting.id, path, actor="coordinator:test") == 2
    assert _mc(sessions) == {sitting.codes["IMHS"]: 86.5, sitting.codes["IMHM-C"]: 79.99}


@pytest.mark.parametrize("bad_text,problem", [("   ", "line 3, essay: empty"),
                                               ("Kind\x00words", "line 3, essay: contains a NUL character")],
                         ids=["empty essay", "NUL character (PostgreSQL cannot store it)"])
def test_an_essay_file_with_a_bad_essay_changes_nothing(sessions, sitting, tmp_path, bad_text, problem):
    with sessions() as s:
        before = {e.id: e.text for e in s.scalars(select(Essay))}
    path = write_csv(tmp_path / "e.csv", "candidate_code,essay",
                     [(sitting.codes["IMHS"], "A new text"), (sitting.codes["IMHM-C"], bad_text)])
    with pytest.raises(ImportRejected, match=problem):
        import_essays(sessions, sitting.id, path, LIB, actor="coordinator:test", as_of=AS_OF)
    with sessions() as s:
        assert {e.id: e.text for e in s.scalars(select(Essay))} == before
