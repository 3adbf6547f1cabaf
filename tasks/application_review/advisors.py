"""Application advisors (003 · Leadership: "application advisor or reviewer"; 004 · Glossary, EASy): a
coordinator pairs an applicant's application with an advisor, who reads the portfolio and the live
checklist through a secure link (never the ratings) and leaves notes the applicant sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.clock import now_for
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import AdvisorNote, AdvisorPairing, Application, Person, record_audit
from tasks.application_review.portfolio import Portfolio, portfolio
from tasks.application_review.rounds import settings_for
from tasks.intake.records import person_for
from tasks.mail.outbox import queue_email
from tasks.references.ratings import LinkNotFound

LINK_PURPOSE = "advisor"
MAX_NOTE = 5000


@dataclass(frozen=True)
class AdvisorPage:
    pairing_id: int
    advisor_name: str
    portfolio: Portfolio
    notes: tuple[dict, ...]


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def pair_advisor(sessions: sessionmaker[Session], library: RulebookLibrary, application_id: str, *, name: str,
                 email: str, as_of: date, secret_key: str, actor: str, association: str | None = None) -> int:
    """Pair (one transaction, audited) and email the advisor their link. Pairing the same advisor again
    changes nothing. Returns the pairing id."""
    if not name.strip() or "@" not in email:
        raise ValueError("name and email: give the advisor's name and email address")
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None or (association is not None and app.association_code != association):
            raise LookupError(f"no application {application_id!r}")
        advisor = person_for(s, name.strip(), email.strip(), association=app.association_code)
        if advisor.id == app.applicant_id:
            raise ValueError("email: an applicant cannot advise themself")
        found = s.scalars(select(AdvisorPairing).where(AdvisorPairing.application_id == app.id,
                                                       AdvisorPairing.advisor_id == advisor.id)).first()
        if found is not None and found.active:
            return found.id
        days = int(settings_for(library, app.association_code, as_of)["advisor_link_expiry_days"])
        link = links.issue(secret_key, LINK_PURPOSE)
        until = now_for(as_of) + timedelta(days=days)
        if found is None:
            pairing = AdvisorPairing(application_id=app.id, advisor_id=advisor.id, paired_by=actor,
                                     paired_at=now_for(as_of), token_nonce=link.nonce, token_hash=link.token_hash,
                                     token_expires_at=until)
            s.add(pairing)
        else:  # paired again after the pairing ended: a new link (the old one stays dead)
            pairing = found
            pairing.active, pairing.paired_by, pairing.paired_at = True, actor, now_for(as_of)
            pairing.token_nonce, pairing.token_hash, pairing.token_expires_at = link.nonce, link.token_hash, until
            pairing.ended_on = pairing.ended_by = pairing.ended_reason = None
        s.flush()
        record_audit(s, actor=actor, action="advisor.paired", entity_type="advisor_pairing", entity_id=pairing.id,
                     application_id=app.id, advisor_id=advisor.id, again=found is not None)
        queue_email(s, role="advisor.paired", to_email=advisor.email, to_name=name.strip(),
                    association=app.association_code, application_id=app.id, link_kind="advisor",
                    link_ref_id=pairing.id,
                    idempotency_key=f"advisor.paired:{pairing.id}" + (f":{link.token_hash[:16]}" if found else ""),
                    context={"advisor_name": name.strip(), "applicant_name": app.applicant_name,
                             "category_name": library.category_info(app.category)["name"],
                             "expires_on": _aware(pairing.token_expires_at).date().isoformat()})
        return pairing.id


def find_pairing(s: Session, token: str, as_of: date) -> AdvisorPairing:
    if not links.well_formed(token):
        raise LinkNotFound
    p = s.scalars(select(AdvisorPairing).where(AdvisorPairing.token_hash == links.hash_token(token))).first()
    if p is None or not p.active or not links.matches(token, p.token_hash) or _aware(p.token_expires_at) < now_for(as_of):
        raise LinkNotFound
    return p


def notes_for(s: Session, application_id: str) -> tuple[dict, ...]:
    """The advisors' notes on an application, oldest first: what the applicant is shown."""
    rows = s.execute(select(AdvisorNote, Person.name).join(AdvisorPairing, AdvisorPairing.id == AdvisorNote.pairing_id)
                     .join(Person, Person.id == AdvisorPairing.advisor_id)
                     .where(AdvisorNote.application_id == application_id).order_by(AdvisorNote.id)).all()
    return tuple({"advisor": name, "text": n.text, "written_at": n.written_at} for n, name in rows)


def advisor_page(s: Session, token: str, library: RulebookLibrary, as_of: date) -> AdvisorPage:
    p = find_pairing(s, token, as_of)
    app = s.get(Application, p.application_id)
    # Ratings never: the advisor accompanies the applicant, who may have waived access to them.
    return AdvisorPage(p.id, s.get(Person, p.advisor_id).name, portfolio(s, app, library, as_of, with_ratings=False),
                       notes_for(s, app.id))


def leave_note(sessions: sessionmaker[Session], token: str, text: str, *, as_of: date) -> None:
    text = text.strip()
    if not text:
        raise ValueError("note: write something first")
    if len(text) > MAX_NOTE:
        raise ValueError(f"note: at most {MAX_NOTE} characters")
    with transaction(sessions) as s:
        p = find_pairing(s, token, as_of)
        note = AdvisorNote(pairing_id=p.id, application_id=p.application_id, text=text, written_at=now_for(as_of))
        s.add(note)
        s.flush()
        record_audit(s, actor=f"advisor:{p.advisor_id}", action="advisor.note_left", entity_type="advisor_note",
                     entity_id=note.id, application_id=p.application_id)


def end_pairing(sessions: sessionmaker[Session], application_id: str, advisor_id: int, *, reason: str, on: date,
                actor: str, association: str | None = None) -> str:
    """The coordinator ends an advisor's pairing with an application: recorded (when, by whom, why) and
    audited in one transaction; the advisor's link opens nothing from then on (its nonce is replaced
    too, so not even an email still in the outbox carries a working link). The notes they left stay
    with the applicant. Returns the advisor's name."""
    if not reason.strip():
        raise ValueError("reason: say why the pairing ends (it is kept with the pairing)")
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None or (association is not None and app.association_code != association):
            raise LookupError(f"no application {application_id!r}")
        p = s.scalars(select(AdvisorPairing).where(AdvisorPairing.application_id == app.id,
                                                   AdvisorPairing.advisor_id == advisor_id).with_for_update()).first()
        if p is None:
            raise LookupError(f"{application_id} has no advisor #{advisor_id}")
        name = s.get(Person, p.advisor_id).name
        if not p.active:
            return name  # already ended: running it again changes nothing
        dead = links.issue(links.new_nonce(), LINK_PURPOSE)  # under a key nobody holds
        p.active, p.token_nonce, p.token_hash = False, dead.nonce, dead.token_hash
        p.ended_on, p.ended_by, p.ended_reason = on, actor, reason.strip()[:2000]
        record_audit(s, actor=actor, action="advisor.ended", entity_type="advisor_pairing", entity_id=p.id,
                     application_id=app.id, advisor_id=p.advisor_id, reason=p.ended_reason)
        return name
