"""The endorsement number the decision makes always fits its column, on both databases: the longest
association code, category and application id (64, as application.schema.json allows) the models allow (a
40-character column refused the simulated Alliance's decisions on PostgreSQL)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from models import Application, Association, Endorsement, Person
from tasks.decision.decisions import endorsement_number

def test_the_longest_endorsement_number_is_stored(sessions):
    code = "A" * Association.__table__.c.code.type.length
    app = SimpleNamespace(association_code=code, category="C" * Application.__table__.c.category.type.length,
                          id="9" * Application.__table__.c.id.type.length)  # 64, as the schema allows
    number = endorsement_number(app, date(2026, 11, 30))
    with sessions() as s, s.begin():
        s.add(Association(code=code, name="An association with the longest code"))
        s.flush()
        person = Person(name="Pat Long", email="pat.long@example.org", email_normalized="pat.long@example.org")
        s.add(person)
        s.flush()
        s.add(Endorsement(person_id=person.id, category="IFS", association_code=code, number=number,
                          origin="granted"))
    with sessions() as s:
        assert s.query(Endorsement).one().number == number
