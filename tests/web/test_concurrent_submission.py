"""Two simultaneous submissions of the same rating: exactly one is stored, the other is told it was
already submitted (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from endorse.rulebook import default_library
from models import AuditLog, Rating
from tasks.references.ratings import AlreadySubmitted, RatingInput, find_request, form_spec, save_rating

from .conftest import AS_OF


def test_two_simultaneous_submissions_store_exactly_one(sessions, rating_link):
    token, _ = rating_link
    library = default_library()
    with sessions() as s:
        spec = form_spec(s, find_request(s, token, AS_OF), library, AS_OF)
    data = RatingInput(answers={a.key: "3" for d in spec.domains for a in d.areas}, known_for_months=12,
                       relationship="student", recommendation="recommend", attested=True)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        barrier.wait()
        try:
            outcomes.append(save_rating(sessions, token, data, library=library, as_of=AS_OF, submit=True))
        except AlreadySubmitted:
            outcomes.append("already_submitted")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["already_submitted", "submitted"]
    with sessions() as s:
        assert len(s.scalars(select(Rating)).all()) == 1
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "rating.submitted")).all()) == 1
