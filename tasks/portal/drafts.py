"""The portfolio, section by section: rows added and removed, details, agreements, uploads; the live
checklist of the draft (the evaluator's own, on the draft as a document); and submission, which hands
the document to intake exactly as ``endorse import`` does.

Every save is one transaction with its audit entry. The draft lives in the database (``Portfolio.body``,
the document as far as it is filled in); nothing of it is kept in the browser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from endorse.clock import now_for
from endorse.db import transaction
from endorse.documents import ApplicationDocument, DocumentError, describe_validation_error, parse_document
from endorse.renewals import RenewalDocument
from endorse.rulebook import RulebookLibrary, asked_questions
from endorse.text import single_line
from models import Endorsement, Portfolio, PortfolioUpload, record_audit
from tasks.eligibility.evaluation import MET, NOT_APPLICABLE, PENDING, UNMET, Evaluation, RequirementResult, evaluate
from tasks.intake.records import save_document
from tasks.portal.access import Access, PortfolioNotFound, locate
from tasks.portal.fields import APPLICATION_SECTIONS, RENEWAL_SECTIONS, TRAINING, RowErrors, Section, parse_row
from tasks.portal.tables import TableError, read_table
from tasks.renewal.evaluation import evaluate_renewal
from tasks.renewal.renewals import record_renewal_in

MAX_ROWS_PER_SECTION = 500
# A short description for a coordinator: a page or two. Plain text, PDF or a Word document.
DESCRIPTION_MAX_BYTES = 200_000
DESCRIPTION_TYPES = {
    "text/plain": (".txt",),
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
}


class AlreadySubmitted(Exception):
    """The portfolio was submitted: it changes only after a coordinator reopens it."""


class NotReady(ValueError):
    """Submission refused: what the applicant still has to do (requirement results)."""

    def __init__(self, blocking: list[RequirementResult]):
        self.blocking = blocking
        super().__init__("; ".join(f"{r.id}: {r.detail}" for r in blocking))


def sections_for(kind: str) -> Mapping[str, Section]:
    return APPLICATION_SECTIONS if kind == "application" else RENEWAL_SECTIONS


def _section(p: Portfolio, key: str) -> Section:
    section = sections_for(p.kind).get(key)
    if section is None:
        raise PortfolioNotFound  # not a section of this kind of portfolio: the same answer as a bad link
    return section


def role_choices(library: RulebookLibrary, p: Portfolio, as_of: date) -> dict[str, str] | None:
    """The rater roles the applicant's category names, in the rulebook's words (None before a category)."""
    category = p.body.get("category")
    if p.kind != "application" or not category:
        return None
    rules = library.category_rules(p.association_code, category, as_of)
    roles: list[str] = []
    ref_rule = rules.rules.get("references")
    for pattern in getattr(ref_rule, "patterns", ()):
        for slot in pattern.slots:
            roles += [*slot.roles, *[r for rs in slot.conditional_roles.values() for r in rs]]
    return {r: rules.role_wording.get(r, r.replace("_", " ")) for r in dict.fromkeys(roles)}


def _editable(s: Session, access: Access, as_of: date) -> Portfolio:
    p = locate(s, access, as_of, for_update=True)
    if p.status == "submitted":
        raise AlreadySubmitted
    return p


def _audit(s: Session, p: Portfolio, access: Access, action: str, **details: Any) -> None:
    record_audit(s, actor=access.actor if access.coordinator else f"applicant:{p.email_normalized}", action=action,
                 entity_type="portfolio", entity_id=p.id, **details)


def _save_body(p: Portfolio, body: dict) -> None:
    p.body = body
    flag_modified(p, "body")


# --- saving sections ------------------------------------------------------------------------------


def add_row(sessions: sessionmaker[Session], access: Access, section_key: str, values: Mapping[str, Any], *,
            library: RulebookLibrary, as_of: date) -> None:
    """One row into a section (raises RowErrors naming each field; nothing is written then)."""
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        section = _section(p, section_key)
        row = parse_row(section, values, role_choices(library, p, as_of))
        rows = list(p.body.get(section.key, []))
        if len(rows) >= MAX_ROWS_PER_SECTION:
            raise RowErrors({"row": f"at most {MAX_ROWS_PER_SECTION} rows in a section"})
        _save_body(p, {**p.body, section.key: [*rows, row]})
        _audit(s, p, access, "portfolio.row_added", section=section.key)


def remove_row(sessions: sessionmaker[Session], access: Access, section_key: str, index: int, *, as_of: date) -> None:
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        section = _section(p, section_key)
        rows = list(p.body.get(section.key, []))
        if not 0 <= index < len(rows):
            raise RowErrors({"row": "that row is no longer there (the page was out of date)"})
        del rows[index]
        _save_body(p, {**p.body, section.key: rows})
        _audit(s, p, access, "portfolio.row_removed", section=section.key, index=index)


@dataclass(frozen=True)
class ImportReport:
    added: int
    errors: list[str]  # "row 4, hours: write a number, for example 7.5"


def import_training(sessions: sessionmaker[Session], access: Access, filename: str, data: bytes, *,
                    as_of: date) -> ImportReport:
    """Training rows from a CSV or XLSX file (columns: title, hours, completed_on, topics). Every row is
    checked first; any error and nothing is added, with an error per row and field."""
    filename = single_line(filename or "upload", "file name")[:200]
    try:
        table = read_table(filename, data)
    except TableError as exc:
        return ImportReport(0, [str(exc)])
    rows, errors = [], []
    for line, values in table:
        try:
            rows.append(parse_row(TRAINING, values))
        except RowErrors as exc:
            errors += [f"row {line}, {k}: {v}" for k, v in exc.errors.items()]
    if not table:
        errors.append(f"{filename}: no rows under the header")
    if errors:
        return ImportReport(0, errors)
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        if p.kind not in ("application", "renewal"):
            raise PortfolioNotFound
        existing = list(p.body.get("training", []))
        if len(existing) + len(rows) > MAX_ROWS_PER_SECTION:
            return ImportReport(0, [f"{filename}: at most {MAX_ROWS_PER_SECTION} training rows in a portfolio"])
        _save_body(p, {**p.body, "training": [*existing, *rows]})
        _audit(s, p, access, "portfolio.training_imported", file=filename, rows=len(rows))
    return ImportReport(len(rows), [])


def save_details(sessions: sessionmaker[Session], access: Access, values: Mapping[str, str], *,
                 library: RulebookLibrary, as_of: date) -> None:
    """The single answers: name, category and the applicant's statements (or, for a renewal, what they
    do). Raises RowErrors naming the field."""
    errors: dict[str, str] = {}
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        body = dict(p.body)
        try:
            body["name"] = single_line(values.get("name", ""), "name")
        except ValueError as exc:
            errors["name"] = str(exc).removeprefix("name: ")
        flags = ("is_supervisor", "no_supervisor_or_rsc_provider_available") if p.kind == "application" else \
            ("provides_rsc", "provides_direct_service", "masters_prepared")
        for flag in flags:
            body[flag] = values.get(flag) == "yes"
        if p.kind == "application":
            category = values.get("category", "")
            if category not in library.categories:
                errors["category"] = f"choose one of {', '.join(library.categories)}"
            else:
                body["category"] = category
            endorsement = values.get("endorsement") or None
            from tasks.portal.fields import _endorsements

            if endorsement is not None and endorsement not in _endorsements():
                errors["endorsement"] = "choose an endorsement category or none"
            body["endorsement"] = endorsement
        if errors:
            raise RowErrors(errors)
        _save_body(p, body)
        _audit(s, p, access, "portfolio.details_saved", category=body.get("category"))


def sign_agreements(sessions: sessionmaker[Session], access: Access, signed: Mapping[str, bool], *, as_of: date) -> None:
    """The agreements signed in the form, dated today (unticking withdraws the signature)."""
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        body = dict(p.body)
        if p.kind == "application":
            agreements = dict(body.get("agreements", {}))
            for key in ("code_of_ethics_signed_on", "endorsement_agreement_signed_on"):
                if signed.get(key):
                    agreements.setdefault(key, as_of.isoformat())
                else:
                    agreements.pop(key, None)
            body["agreements"] = agreements
        elif signed.get("code_of_ethics_signed_on"):
            body.setdefault("code_of_ethics_signed_on", as_of.isoformat())
        else:
            body.pop("code_of_ethics_signed_on", None)
        _save_body(p, body)
        _audit(s, p, access, "portfolio.agreements_signed",
               signed=sorted(k for k, v in signed.items() if v))


def upload_description(sessions: sessionmaker[Session], access: Access, question: str, filename: str,
                       content_type: str, data: bytes, *, library: RulebookLibrary, as_of: date) -> None:
    """A short description for a question the coordinator decides: size- and type-checked, then kept
    (a new upload for the same question replaces the old)."""
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    errors = {}
    kind = DESCRIPTION_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if not data:
        errors["description"] = "choose a file to upload"
    elif len(data) > DESCRIPTION_MAX_BYTES:
        errors["description"] = f"the file is {len(data) // 1000} kB; at most {DESCRIPTION_MAX_BYTES // 1000} kB"
    elif kind is None or not filename.lower().endswith(kind):
        errors["description"] = "upload a plain text (.txt), PDF (.pdf) or Word (.docx) file"
    elif not _looks_like(kind[0], data):
        errors["description"] = f"the file is not the {kind[0]} it says it is"
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        if question not in open_questions(library, p, as_of):
            errors["question"] = "not a question your category waits on"
        if errors:
            raise RowErrors(errors)
        for old in s.scalars(select(PortfolioUpload).where(PortfolioUpload.portfolio_id == p.id,
                                                           PortfolioUpload.question == question)):
            s.delete(old)
        s.add(PortfolioUpload(portfolio_id=p.id, question=question, filename=single_line(filename, "file name")[:200],
                              content_type=content_type.split(";")[0].strip().lower(), size=len(data), data=data))
        _audit(s, p, access, "portfolio.description_uploaded", question=question, size=len(data))


def _looks_like(extension: str, data: bytes) -> bool:
    if extension == ".pdf":
        return data.startswith(b"%PDF-")
    if extension == ".docx":
        return data.startswith(b"PK\x03\x04")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def open_questions(library: RulebookLibrary, p: Portfolio, as_of: date) -> dict[str, Any]:
    """The determination questions the applicant's category waits on: key → the rulebook's question."""
    category = p.body.get("category")
    if p.kind != "application" or not category:
        return {}
    rules = library.category_rules(p.association_code, category, as_of)
    return {q: rules.questions[q] for q in asked_questions(rules)}


# --- the draft as a document, and its checklist ------------------------------------------------------


def application_document(p: Portfolio, *, submitted_on: date | None = None) -> str | None:
    """The draft as an application document (JSON), or None until a category and a name are given.
    Raters are 'requested': they are asked once the application is submitted."""
    b = p.body
    if not b.get("category") or not b.get("name"):
        return None
    doc = {"id": p.application_id, "association": p.association_code, "category": b["category"],
           "applicant": {"name": b["name"], "email": p.email, "endorsement": b.get("endorsement"),
                         "is_supervisor": bool(b.get("is_supervisor")),
                         "no_supervisor_or_rsc_provider_available": bool(b.get("no_supervisor_or_rsc_provider_available"))},
           "agreements": b.get("agreements", {}),
           **{key: b.get(key, []) for key in ("memberships", "education", "training", "work", "leadership_activities", "rsc")},
           "references": [{**r, "status": "requested"} for r in b.get("references", [])]}
    if submitted_on is not None:
        doc["submitted_on"] = submitted_on.isoformat()
    return json.dumps(doc)


def renewal_document(p: Portfolio) -> str:
    b = p.body
    doc = {"id": p.application_id, "association": p.association_code, "category": b["category"], "year": b["year"],
           "person": {"name": b["name"], "email": p.email}, "endorsed_on": b["endorsed_on"],
           "endorsement_number": b.get("endorsement_number"), "due_on": b.get("due_on"),
           **{k: bool(b.get(k)) for k in ("provides_rsc", "provides_direct_service", "masters_prepared")},
           "code_of_ethics_signed_on": b.get("code_of_ethics_signed_on"),
           **{key: b.get(key, []) for key in ("memberships", "training", "rsc")}}
    return json.dumps(doc)


@dataclass(frozen=True)
class Checklist:
    evaluation: Evaluation | None
    blocking: list[RequirementResult] = field(default_factory=list)  # what the applicant must still do
    awaiting_others: list[RequirementResult] = field(default_factory=list)  # what others supply after submission
    problem: str = ""  # why there is no checklist yet

    @property
    def can_submit(self) -> bool:
        return self.evaluation is not None and not self.blocking


def checklist(library: RulebookLibrary, p: Portfolio, as_of: date) -> Checklist:
    """The live checklist of the draft: the evaluator's requirements, and which of them the applicant must
    still meet before submitting (all but what only others supply: the rulebook's ``supplied_by_others``,
    and questions a coordinator decides)."""
    if p.kind == "renewal":
        doc = RenewalDocument.model_validate_json(renewal_document(p))
        ev = evaluate_renewal(doc, library, int(p.body["year"]))
        # A renewal is recorded either way (endorse renewal record): what is unmet is listed and emailed.
        return Checklist(ev, [], [r for r in ev.requirements if r.status in (UNMET, PENDING)])
    raw = application_document(p)
    if raw is None:
        return Checklist(None, problem="Give your name and choose a category: the checklist starts from them.")
    try:
        doc = ApplicationDocument.model_validate_json(raw)
    except ValidationError as exc:  # rows are checked as they are added; this is only a safety net
        return Checklist(None, problem="; ".join(describe_validation_error(exc)))
    ev = evaluate(doc, library, as_of)
    rules = library.category_rules(p.association_code, doc.category, as_of)
    by_others = set(rules.settings["supplied_by_others"])
    # A requirement pending on a question the coordinator has still to answer (the checklist names it).
    questions_of: dict[str, list[str]] = {}
    for q in asked_questions(rules):
        questions_of.setdefault(rules.questions[q].requirement, []).append(q)
    blocking, waiting = [], []
    for r in ev.requirements:
        if r.status in (MET, NOT_APPLICABLE):
            continue
        awaits_coordinator = any(f"({q})" in r.detail for q in questions_of.get(r.id, ()))
        if r.status == PENDING and (r.id in by_others or awaits_coordinator):
            waiting.append(r)
        else:
            blocking.append(r)
    return Checklist(ev, blocking, waiting)


# --- submission ----------------------------------------------------------------------------------------


def submit(sessions: sessionmaker[Session], access: Access, *, library: RulebookLibrary, as_of: date) -> str:
    """Submit the portfolio: the same validation and the same document as ``endorse import``, saved by
    intake in one transaction with the audit entries. Returns the application (or renewal) id; the caller
    asks for a reconcile, as after an import. A renewal is recorded as ``endorse renewal record`` does."""
    with transaction(sessions) as s:
        p = _editable(s, access, as_of)
        actor = access.actor if access.coordinator else f"applicant:{p.email_normalized}"
        where = f"portfolio {p.application_id}"
        if p.kind == "renewal":
            from endorse.renewals import parse_renewal

            doc = parse_renewal(renewal_document(p), where)
            outcome = record_renewal_in(s, doc, library, as_of=as_of, actor=actor)
            _save_body(p, {**p.body, "last_outcome": {"status": outcome.status, "unmet": outcome.unmet,
                                                      "on": as_of.isoformat()}})
            # Unmet: recorded and emailed, and the portfolio stays open to add what is missing and file again.
            if outcome.status != "unmet":
                p.status, p.submitted_at = "submitted", now_for(as_of)
            _audit(s, p, access, "portfolio.submitted", renewal=outcome.status)
            return p.application_id
        raw = application_document(p, submitted_on=as_of)
        if raw is None:
            raise DocumentError(where, ["field applicant.name or category: give your name and choose a category"])
        doc = parse_document(raw, where)
        library.check_document(doc, where)
        blocking = checklist(library, p, as_of).blocking
        if blocking:
            raise NotReady(blocking)
        save_document(s, doc, actor=actor, source_name="web portfolio")
        p.status, p.submitted_at = "submitted", now_for(as_of)
        _audit(s, p, access, "portfolio.submitted", application_id=doc.id)
        return doc.id


def endorsement_of(s: Session, p: Portfolio) -> Endorsement | None:
    return s.get(Endorsement, p.endorsement_id) if p.endorsement_id else None


# --- what a page of the portfolio shows --------------------------------------------------------------


@dataclass(frozen=True)
class CategoryOption:
    code: str
    name: str
    requires: list[tuple[str, str]]  # (requirement title, source) of what the association's rules ask


def category_options(library: RulebookLibrary, association: str, as_of: date) -> list[CategoryOption]:
    """Each category with what it requires under the association's rulebook, each with its source."""
    out = []
    for code in library.categories:
        rules = library.category_rules(association, code, as_of)
        out.append(CategoryOption(code, library.category_info(code)["name"],
                                  [(d.title, rules.rules[d.id].source) for d in rules.order if d.id in rules.rules]))
    return out


@dataclass(frozen=True)
class PortfolioPage:
    portfolio_id: int
    kind: str
    status: str
    application_id: str
    association: str
    email: str
    body: dict
    sections: Mapping[str, Section]
    rows: dict[str, list[dict[str, str]]]  # section → its rows as text
    checklist: Checklist
    role_choices: dict[str, str] | None
    questions: dict[str, Any]
    uploads: dict[str, tuple[str, int]]  # question → (file name, size)
    categories: list[CategoryOption]


def portfolio_page(s: Session, access: Access, library: RulebookLibrary, as_of: date) -> PortfolioPage:
    from tasks.portal.fields import row_text

    p = locate(s, access, as_of)
    sections = sections_for(p.kind)
    uploads = {u.question: (u.filename, u.size) for u in s.scalars(
        select(PortfolioUpload).where(PortfolioUpload.portfolio_id == p.id).order_by(PortfolioUpload.id))}
    return PortfolioPage(
        portfolio_id=p.id, kind=p.kind, status=p.status, application_id=p.application_id,
        association=p.association_code, email=p.email, body=dict(p.body), sections=sections,
        rows={k: [row_text(sec, r) for r in p.body.get(k, [])] for k, sec in sections.items()},
        checklist=checklist(library, p, as_of), role_choices=role_choices(library, p, as_of),
        questions=open_questions(library, p, as_of), uploads=uploads,
        categories=category_options(library, p.association_code, as_of) if p.kind == "application" else [])


# --- the coordinator's view of the portfolios of their association --------------------------------------------


@dataclass(frozen=True)
class PortfolioLine:
    portfolio_id: int
    kind: str
    status: str
    application_id: str
    email: str
    name: str
    category: str
    started_by: str
    updated_at: Any
    uploads: list[tuple[int, str, str]]  # (upload id, question, file name)


def portfolios_of(s: Session, association: str) -> list[PortfolioLine]:
    """Every portfolio of an association, the most recently changed first, with the descriptions
    uploaded for the coordinator's questions."""
    uploads: dict[int, list[tuple[int, str, str]]] = {}
    for u in s.execute(select(PortfolioUpload.id, PortfolioUpload.portfolio_id, PortfolioUpload.question,
                              PortfolioUpload.filename).join(Portfolio, Portfolio.id == PortfolioUpload.portfolio_id)
                       .where(Portfolio.association_code == association).order_by(PortfolioUpload.id)):
        uploads.setdefault(u.portfolio_id, []).append((u.id, u.question, u.filename))
    return [PortfolioLine(p.id, p.kind, p.status, p.application_id, p.email, p.body.get("name") or "",
                          p.body.get("category") or "", p.started_by, p.updated_at, uploads.get(p.id, []))
            for p in s.scalars(select(Portfolio).where(Portfolio.association_code == association)
                               .order_by(Portfolio.updated_at.desc(), Portfolio.id.desc()))]


def description_for(s: Session, association: str, upload_id: int) -> PortfolioUpload:
    """An uploaded description, for a coordinator of the portfolio's association (else LookupError)."""
    u = s.scalars(select(PortfolioUpload).join(Portfolio, Portfolio.id == PortfolioUpload.portfolio_id)
                  .where(PortfolioUpload.id == upload_id, Portfolio.association_code == association)).first()
    if u is None:
        raise LookupError(f"upload {upload_id}: none of your association's portfolios has it")
    return u
