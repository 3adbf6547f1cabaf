"""A rater's side: open a rating link, save a draft, submit or decline. The web form calls these.

Every path looks the request up by the hash of the presented token; an unknown, expired or replaced
link gives the same ``LinkNotFound`` whatever the reason, so a probe learns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from endorse import links
from endorse.clock import now_for
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import Application, Association, Rating, RatingAnswer, ReferenceRequest, record_audit
from tasks.mail.outbox import queue_email

NOT_ENOUGH_INFORMATION = "na"


class LinkNotFound(Exception):
    """Unknown, expired or replaced link: one answer for all."""


class AlreadySubmitted(Exception):
    pass


class RatingInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class RatingInput(BaseModel):
    """What a rater sends: one answer per area (a score or 'na'), plus the questions around it."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str] = Field(default_factory=dict)  # "domain_key/area_key" -> "1".."4" | "na"
    known_for_months: int | None = Field(default=None, ge=0, le=1200)
    relationship: str | None = Field(default=None, max_length=200)
    recommendation: Literal["recommend", "recommend_with_reservations", "do_not_recommend"] | None = None
    comments: str | None = Field(default=None, max_length=20_000)
    attested: bool = False


@dataclass(frozen=True)
class FormArea:
    key: str  # "domain/area"
    name: str


@dataclass(frozen=True)
class FormDomain:
    name: str
    kind: str
    areas: tuple[FormArea, ...]


@dataclass(frozen=True)
class RatingFormSpec:
    request_id: int
    application_id: str
    applicant_name: str
    category: str
    category_name: str
    association_name: str
    role: str
    domains: tuple[FormDomain, ...]
    scale: dict
    max_insufficient: int
    max_insufficient_source: str  # the rulebook's citation for the limit, stated on the form
    status: str  # requested | submitted | declined

    def insufficient_count(self, data: RatingInput) -> int:
        return sum(1 for v in data.answers.values() if v == NOT_ENOUGH_INFORMATION)

    def would_not_count(self, data: RatingInput) -> bool:
        """More "not enough information" answers than the rulebook allows: submitted, it does not count."""
        return self.insufficient_count(data) > self.max_insufficient


def find_request(s: Session, token: str, as_of: date, *, for_update: bool = False) -> ReferenceRequest:
    """The open or answered request behind a link, as of a day (expired links are not found)."""
    if not links.well_formed(token):
        raise LinkNotFound
    query = select(ReferenceRequest).where(ReferenceRequest.token_hash == links.hash_token(token))
    if for_update:  # writers queue on the request row, so two submissions cannot both pass the status check
        query = query.with_for_update()
    else:  # the form reads the rating (draft or answer) next: in the same query
        query = query.options(joinedload(ReferenceRequest.rating))
    req = s.scalars(query).first()
    if req is None or not links.matches(token, req.token_hash):
        raise LinkNotFound
    now = now_for(as_of)
    expires = req.token_expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)) < now:
        raise LinkNotFound
    if req.status in ("cancelled", "expired"):
        raise LinkNotFound
    return req


def form_spec(s: Session, req: ReferenceRequest, library: RulebookLibrary, as_of) -> RatingFormSpec:
    # One query for what the form shows of the application and its association (every rater opening a
    # link pays for it: no ORM objects needed).
    app = s.execute(select(Application.id, Application.association_code, Application.category,
                           Application.applicant_name, Association.name.label("association_name"))
                    .join(Association, Association.code == Application.association_code)
                    .where(Application.id == req.application_id)).one()
    rules = library.category_rules(app.association_code, app.category, as_of)
    status = req.status
    if req.rating is not None and req.rating.submitted_at is not None:
        status = "declined" if req.rating.declined_reason else "submitted"
    return RatingFormSpec(
        request_id=req.id, application_id=app.id, applicant_name=app.applicant_name, category=app.category,
        category_name=library.category_info(app.category)["name"],
        association_name=app.association_name, role=req.role, domains=_form_domains(library, app.category),
        scale=rules.settings["rating_scale"],
        max_insufficient=int(rules.settings["max_insufficient_information"]),
        max_insufficient_source=rules.setting_sources.get("max_insufficient_information", ""), status=status)


def _form_domains(library: RulebookLibrary, category: str) -> tuple[FormDomain, ...]:
    """Only the domains of the applicant's category (an IMHM track): raters are not asked outside it.
    The same for every link of a category: built once per rulebook library."""
    return library.derived(("rating_form_domains", category), lambda: tuple(
        FormDomain(d.name, d.area_kind, tuple(FormArea(f"{d.key}/{a.key}", a.name) for a in d.areas))
        for d in library.competency_domains_for(category)))


def validate_rating(spec: RatingFormSpec, data: RatingInput, *, final: bool) -> dict[str, str]:
    """Field errors in plain words (empty when the rating can be saved / submitted)."""
    errors: dict[str, str] = {}
    allowed = {str(i) for i in range(int(spec.scale["min"]), int(spec.scale["max"]) + 1)} | {NOT_ENOUGH_INFORMATION}
    keys = {a.key for d in spec.domains for a in d.areas}
    for k, v in data.answers.items():
        if k not in keys:
            errors[k] = "not an area of this form"
        elif v not in allowed:
            errors[k] = "choose a rating or 'not enough information'"
    if final:
        for d in spec.domains:
            for a in d.areas:
                if a.key not in data.answers:
                    errors.setdefault(a.key, f"rate “{a.name}” or choose 'not enough information'")
        if data.known_for_months is None:
            errors["known_for_months"] = "say how long you have known the applicant"
        if not data.relationship:
            errors["relationship"] = "say in what role you know the applicant"
        if data.recommendation is None:
            errors["recommendation"] = "choose a recommendation"
        if not data.attested:
            errors["attested"] = "confirm the attestation to submit"
    return errors


def save_rating(sessions: sessionmaker[Session], token: str, data: RatingInput, *, library: RulebookLibrary, as_of,
                submit: bool) -> str:
    """Save a draft or submit; returns 'draft_saved' or 'submitted'. One transaction, audited."""
    with transaction(sessions) as s:
        req = find_request(s, token, as_of, for_update=True)
        spec = form_spec(s, req, library, as_of)
        if spec.status != "requested":
            raise AlreadySubmitted
        errors = validate_rating(spec, data, final=submit)
        if errors:
            raise RatingInvalid(errors)
        rating = req.rating
        if rating is None:
            rating = Rating(reference_request_id=req.id)
            s.add(rating)
            s.flush()
        rating.known_for_months, rating.relationship_to_applicant = data.known_for_months, data.relationship
        rating.recommendation, rating.comments, rating.attested = data.recommendation, data.comments, data.attested
        existing = {(a.domain_key, a.area_key): a for a in rating.answers}
        for key, value in data.answers.items():
            domain_key, area_key = key.split("/", 1)
            score = None if value == NOT_ENOUGH_INFORMATION else int(value)
            ans = existing.get((domain_key, area_key))
            if ans is None:
                rating.answers.append(RatingAnswer(domain_key=domain_key, area_key=area_key, score=score))
            else:
                ans.score = score
        rating.insufficient_information_count = spec.insufficient_count(data)
        now = now_for(as_of)
        app = s.get(Application, req.application_id)
        if not submit:
            rating.draft_saved_at = now
            record_audit(s, actor=f"rater:{req.id}", action="rating.draft_saved", entity_type="reference_request",
                         entity_id=req.id, application_id=app.id)
            return "draft_saved"
        rating.submitted_at = now
        req.status = "submitted"
        app.needs_reconcile = True
        record_audit(s, actor=f"rater:{req.id}", action="rating.submitted", entity_type="reference_request",
                     entity_id=req.id, application_id=app.id, recommendation=data.recommendation,
                     insufficient_information=rating.insufficient_information_count)
        if spec.would_not_count(data):
            _rating_does_not_count(s, app, req, rating.insufficient_information_count, spec)
        if data.recommendation == "do_not_recommend":
            # Flagged for the application reviewers; the content stays confidential.
            record_audit(s, actor="system", action="rating.flagged_do_not_recommend", entity_type="reference_request",
                         entity_id=req.id, application_id=app.id)
        try:
            s.flush()
        except IntegrityError:  # a simultaneous submission won the race
            raise AlreadySubmitted from None
        return "submitted"


def decline_rating(sessions: sessionmaker[Session], token: str, reason: str, *, library: RulebookLibrary, as_of) -> None:
    with transaction(sessions) as s:
        req = find_request(s, token, as_of, for_update=True)
        spec = form_spec(s, req, library, as_of)
        if spec.status != "requested":
            raise AlreadySubmitted
        if not reason.strip():
            raise RatingInvalid({"declined_reason": "say briefly why you cannot rate"})
        rating = req.rating or Rating(reference_request_id=req.id)
        s.add(rating)
        rating.declined_reason, rating.submitted_at = reason.strip()[:2000], now_for(as_of)
        req.status = "declined"
        app = s.get(Application, req.application_id)
        app.needs_reconcile = True
        record_audit(s, actor=f"rater:{req.id}", action="rating.declined", entity_type="reference_request",
                     entity_id=req.id, application_id=app.id)
        _ask_for_another_rater(s, app, req, "the rater declined to rate")


def _rating_does_not_count(s: Session, app: Application, req: ReferenceRequest, na: int, spec: RatingFormSpec) -> None:
    record_audit(s, actor="system", action="rating.invalid_insufficient_information", entity_type="reference_request",
                 entity_id=req.id, application_id=app.id, not_enough_information=na)
    _ask_for_another_rater(s, app, req, "the rating could not be counted")


def _ask_for_another_rater(s: Session, app: Application, req: ReferenceRequest, why: str) -> None:
    """Tell the applicant to add a rater — never what the rating said — and the coordinator why."""
    from models import Association

    assoc = s.get(Association, app.association_code)
    ctx = {"applicant_name": app.applicant_name, "rater_name": req.rater_name, "application_id": app.id}
    queue_email(s, role="reference.add_rater", to_email=app.applicant.email, to_name=app.applicant_name,
                association=app.association_code, application_id=app.id, context=ctx,
                idempotency_key=f"reference.add_rater:{req.id}")
    queue_email(s, role="coordinator.rating_not_counted", to_email=assoc.coordinator_email,
                to_name=assoc.coordinator_name, association=app.association_code, application_id=app.id,
                context={**ctx, "why": why}, idempotency_key=f"coordinator.rating_not_counted:{req.id}")
