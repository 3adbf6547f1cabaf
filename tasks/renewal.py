"""Annual renewal, the pipeline side: notices before the due date, and lapse after the grace period.

Which hours a renewal needs (training, RS/C, DEI) is evaluated per renewal submission; here the
pipeline only makes sure no endorsement lapses silently: every endorsed professional is told before
the deadline, and an endorsement with no accepted renewal after the grace period is marked lapsed,
audited and the professional told.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from models import Endorsement, Person, Renewal, record_audit
from tasks.outbox import queue_email
from tasks.pipeline import PipelineConfig, _now_for


def _settings(cfg: PipelineConfig, association: str | None) -> dict:
    code = association or cfg.library.baseline.data["association"]
    return cfg.library.category_rules(code, cfg.library.categories[0], cfg.as_of).settings


def _renewed(s: Session, endorsement: Endorsement) -> bool:
    year = endorsement.renewal_due_on.year
    return s.scalars(select(Renewal.id).where(Renewal.endorsement_id == endorsement.id, Renewal.year == year,
                                              Renewal.status.in_(("met", "reinstated")))).first() is not None


def send_renewal_notices(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """A notice N days before the renewal is due (association setting), once per endorsement and N."""
    sent = 0
    with transaction(sessions) as s:
        rows = s.execute(select(Endorsement, Person).join(Person, Person.id == Endorsement.person_id).where(
            Endorsement.origin == "granted", Endorsement.status == "active",
            Endorsement.renewal_due_on.is_not(None), Endorsement.renewal_due_on >= cfg.as_of)).all()
        for e, person in rows:
            days = (e.renewal_due_on - cfg.as_of).days
            if days not in _settings(cfg, e.association_code)["renewal_notice_days_before"] or _renewed(s, e):
                continue
            queue_email(s, role="renewal.notice", to_email=person.email, to_name=person.name,
                        association=e.association_code, application_id=None,
                        idempotency_key=f"renewal.notice:{e.id}:{e.renewal_due_on.isoformat()}:{days}",
                        context={"person_name": person.name, "category_name": cfg.library.category_info(e.category)["name"],
                                 "endorsement_number": e.number, "due_on": e.renewal_due_on.isoformat(),
                                 "days": days})
            sent += 1
    return sent


def lapse_unrenewed(sessions: sessionmaker[Session], cfg: PipelineConfig) -> int:
    """Endorsements past due plus the grace period without an accepted renewal become lapsed."""
    lapsed = 0
    now = _now_for(cfg.as_of)
    with transaction(sessions) as s:
        rows = s.execute(select(Endorsement, Person).join(Person, Person.id == Endorsement.person_id).where(
            Endorsement.origin == "granted", Endorsement.status == "active",
            Endorsement.renewal_due_on < cfg.as_of)).all()
        for e, person in rows:
            grace = int(_settings(cfg, e.association_code)["renewal_grace_days"])
            if cfg.as_of <= e.renewal_due_on + timedelta(days=grace) or _renewed(s, e):
                continue
            e.status = "lapsed"
            record_audit(s, actor=cfg.actor, action="endorsement.lapsed", entity_type="endorsement", entity_id=e.id,
                         application_id=e.application_id, due_on=e.renewal_due_on.isoformat(), grace_days=grace,
                         at=now.isoformat())
            queue_email(s, role="renewal.lapsed", to_email=person.email, to_name=person.name,
                        association=e.association_code, application_id=None,
                        idempotency_key=f"renewal.lapsed:{e.id}:{e.renewal_due_on.isoformat()}",
                        context={"person_name": person.name, "category_name": cfg.library.category_info(e.category)["name"],
                                 "endorsement_number": e.number, "due_on": e.renewal_due_on.isoformat()})
            lapsed += 1
    return lapsed
