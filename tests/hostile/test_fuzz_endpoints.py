"""Fuzzing (hypothesis) of what outsiders can send (issue #7 · 2): the rating form, the review form, the
coordinator sign-in, and the multiple-choice import. Whatever arrives: no server error, and either a
complete change or none at all."""

from __future__ import annotations

import re
import string

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models import AuditLog, ExamAttempt, Rating, Review
from tests.web.conftest import make_web_app

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
field_values = st.one_of(text, st.sampled_from(["", "na", "0", "3", "4", "5", "-1", "1e9", "submit", "save", "yes",
                                                 "recommend", "pass", "fail", "\x00", "<script>", "' OR 1=1 --"]))
forms = st.dictionaries(st.one_of(st.sampled_from(["action", "known_for_months", "relationship", "recommendation",
                                                   "comments", "attested", "declined_reason", "csrf"]),
                                  st.text(string.ascii_lowercase + ":_/", max_size=40).map(lambda k: "answer:" + k)),
                        field_values, max_size=12)


# Fuzzing sends hundreds of requests a minute from one address (more when hypothesis replays and shrinks):
# the rate limiter would answer 429 and hide the handler under test. The limiter has its own tests.
UNLIMITED = 1_000_000


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_fuzzed_rating_forms_never_crash_and_never_half_save(sessions, rating_link):
    token, _ = rating_link
    client = TestClient(make_web_app(sessions, requests_per_minute=UNLIMITED), raise_server_exceptions=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/rate/{token}").text).group(1)

    @FUZZ
    @given(form=forms, with_csrf=st.booleans(), decline=st.booleans())
    def run(form, with_csrf, decline):
        data = {**form, **({"csrf": csrf} if with_csrf else {})}
        submitted_before = _count(sessions, Rating)
        r = client.post(f"/rate/{token}" + ("/decline" if decline else ""), data=data)
        assert r.status_code < 500, r.text[:500]
        with sessions() as s:
            for rating in s.scalars(select(Rating)):
                # A stored rating is either a draft or a complete, attested submission (or a decline with a reason).
                if rating.submitted_at is not None and not rating.declined_reason:
                    assert rating.attested and rating.recommendation and rating.known_for_months is not None
        assert _count(sessions, Rating) >= submitted_before

    run()


def test_fuzzed_review_forms_never_crash_and_store_only_complete_reviews(sessions, sitting):
    from tasks.exam.review import apply_sitting
    from endorse.rulebook import default_library
    from tests.exam.conftest import AS_OF, SECRET, reviewer_token
    from models import ReviewAssignment

    apply_sitting(sessions, sitting.id, default_library(), as_of=AS_OF, secret_key=SECRET, actor="test")
    client = TestClient(make_web_app(sessions, SECRET, AS_OF, requests_per_minute=UNLIMITED), raise_server_exceptions=False)
    with sessions() as s:
        a = s.scalars(select(ReviewAssignment)).first()
    token = reviewer_token(sessions, sitting.id, a.reviewer_id)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/review/{token}/essay/{a.id}").text).group(1)
    review_forms = st.dictionaries(
        st.one_of(st.sampled_from(["recommendation", "comments", "declined_reason"]),
                  st.sampled_from(["theoretical_foundations", "direct_service_skills", "working_with_others",
                                   "reflection", "leading_people", "x"]).map(lambda k: "score:" + k)),
        field_values, max_size=8)

    @FUZZ
    @given(form=review_forms, path=st.sampled_from([f"/review/{token}/essay/{a.id}",
                                                    f"/review/{token}/essay/{a.id}/decline",
                                                    f"/review/{token}/essay/999999", f"/review/{token}/essay/-1"]))
    def run(form, path):
        r = client.post(path, data={**form, "csrf": csrf})
        assert r.status_code < 500, r.text[:500]
        with sessions() as s:
            for review in s.scalars(select(Review)):
                assert review.recommendation in ("pass", "fail") and review.comments
                assert all(1 <= v <= 4 for v in review.scores.values())

    run()


def test_fuzzed_sign_ins_never_crash_and_never_sign_in(sessions):
    client = TestClient(make_web_app(sessions, requests_per_minute=UNLIMITED), raise_server_exceptions=False)

    @FUZZ
    @given(email=field_values, password=field_values, next_=field_values)
    def run(email, password, next_):
        page = client.get("/coordinator/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post("/coordinator/login", data={"csrf": csrf, "email": email, "password": password, "next": next_},
                        follow_redirects=False)
        assert r.status_code in (401, 403, 422), r.status_code
        assert "endorse_session" not in r.headers.get("set-cookie", "")

    from endorse.db import transaction
    from endorse.rulebook import default_library
    from tasks.intake.records import ensure_associations

    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    run()


def test_fuzzed_multiple_choice_files_are_imported_whole_or_not_at_all(sessions, sitting, tmp_path):
    from tasks.exam.intake import ImportRejected, import_multiple_choice

    codes = list(sitting.codes.values())
    cell = st.one_of(st.sampled_from(codes + ["", "X", "85", "100", "101", "-3", "NaN", "8O", "=1+1", "½"]), text)

    @FUZZ
    @given(rows=st.lists(st.tuples(cell, cell), max_size=6), header=st.sampled_from(
        ["candidate_code,percent", "percent,candidate_code", "code,percent", ""]))
    def run(rows, header):
        import csv
        import io

        buf = io.StringIO()
        if header:
            buf.write(header + "\n")
        csv.writer(buf).writerows(rows)
        path = tmp_path / "mc.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        before = _count(sessions, AuditLog)
        with sessions() as s:
            old = {a.candidate_code: a.multiple_choice_percent for a in s.scalars(select(ExamAttempt))}
        try:
            n = import_multiple_choice(sessions, sitting.id, path, actor="fuzz")
        except ImportRejected as exc:
            assert str(path) in str(exc)
            with sessions() as s:
                assert {a.candidate_code: a.multiple_choice_percent for a in s.scalars(select(ExamAttempt))} == old
            assert _count(sessions, AuditLog) == before
        else:
            assert n >= 1

    run()
