"""The least an email with a rating link needs: an application and one reference request."""

from __future__ import annotations

from endorse import links
from models import Application, ReferenceRequest
from tasks.records import person_for


def rating_request(s, association: str = "MI-AIMH") -> int:
    applicant = person_for(s, "Ada Applicant", f"ada@{association.lower()}-applicant.org", association=association)
    rater = person_for(s, "Ray Rater", "ray@rater.org", association=None)
    app = Application(id=f"{association}-T1", association_code=association, category="IMHS",
                      applicant_id=applicant.id, applicant_name=applicant.name, stage="references")
    s.add(app)
    s.flush()
    issued = links.issue("k", "rating")
    req = ReferenceRequest(application_id=app.id, position=1, rater_id=rater.id, rater_name=rater.name, role="colleague",
                           token_nonce=issued.nonce, token_hash=issued.token_hash)
    s.add(req)
    s.flush()
    return req.id
