"""The least an email with a rating link needs: an application and one reference request."""

from __future__ import annotations

from endorse import links
from models import Application, ReferenceRequest
from tasks.records import upsert_person


def rating_request(s, association: str = "MI-AIMH") -> int:
    applicant = upsert_person(s, "Ada Applicant", f"ada@{association.lower()}-applicant.org")
    rater = upsert_person(s, "Ray Rater", "ray@rater.org")
    app = Application(id=f"{association}-T1", association_code=association, category="IMHS",
                      applicant_id=applicant.id, stage="references")
    s.add(app)
    s.flush()
    issued = links.issue("k", "rating")
    req = ReferenceRequest(application_id=app.id, position=1, rater_id=rater.id, role="colleague",
                           token_nonce=issued.nonce, token_hash=issued.token_hash)
    s.add(req)
    s.flush()
    return req.id
