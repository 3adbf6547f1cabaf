"""The application document: what an association hands us, validated strictly.

Mirrors ``shared/application.schema.json`` (the tests check the two agree on every sample and on
every kind of invalid document). pydantic is used rather than a JSON-Schema validator because it is
an order of magnitude faster and its error locations name the exact field.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    Strict,
    ValidationError,
    model_validator,
)

from endorse.text import refuse_control_characters

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# As loose as JSON Schema's "email" format check: we must accept what the schema accepts. No control
# characters (an address goes into a header); one pattern, as a test per character cost 30 µs a document.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")


def _iso_date(value: Any) -> Any:
    # Only YYYY-MM-DD strings: no timestamps, no datetimes, and impossible dates (2026-02-30) fail.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date") from None


def _email(value: Any) -> Any:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address")
    return value


# pydantic's own strict date: from JSON only a "YYYY-MM-DD" string of a real calendar date (no
# timestamps, datetimes or numbers): the dates _iso_date accepts, checked in pydantic's core instead of
# by a call into Python for each of a document's twenty dates (10,000 documents: 0.32 s to validate
# instead of 0.44 s). Its errors are worded by _iso_date (error_message).
IsoDate = Annotated[date, Strict()]
Email = Annotated[str, BeforeValidator(_email), StringConstraints(max_length=254)]
# A name goes into email headers and subjects: one line, no control characters.
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(refuse_control_characters)]
Hours = Annotated[float, Field(gt=0)]

Endorsement = Literal[
    "IFA", "IFS", "IMHS", "IMHM-C", "IMHM-P", "IMHM-RF",
    "ECFA", "ECFS", "ECMHS", "ECMHM-C", "ECMHM-P", "ECMHM-RF",
]
DegreeLevel = Literal["none", "bachelors", "masters"]
Credential = Literal[
    "coursework", "cda", "associate", "bachelors", "masters", "doctorate", "graduate_certificate"
]
WorkKind = Literal[
    "infant_related", "prevention_early_intervention", "imh_relationship_services",
    "graduate_internship", "rsc_provision", "policy_leadership", "university_leadership",
]
RaterRole = Literal[
    "current_supervisor", "other_supervisor", "rsc_provider", "rsc_recipient", "supervisee",
    "colleague", "teacher", "trainer", "consultant", "department_chair", "student",
    "parent_or_service_recipient", "cda_mentor", "board_member",
]
ReferenceStatus = Literal["requested", "submitted", "declined"]
Recommendation = Literal["recommend", "recommend_with_reservations", "do_not_recommend"]
TrainingTopic = Literal["relationship_based", "rsc_didactic", "dei"]


class _Strict(BaseModel):
    # strict: no silent coercion ("12" is not 12, true is not 1). Nested objects ignore keys they do
    # not know because the schema allows them there; the top level forbids them, as the schema does.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class Person(_Strict):
    name: Name
    email: Email
    endorsement: Endorsement | None = None


class Applicant(Person):
    is_supervisor: bool = False
    # The applicant states that neither a current supervisor nor an RS/C provider is available to rate
    # them (opens IMHM-P's "three colleagues" pattern).
    no_supervisor_or_rsc_provider_available: bool = False


class Rater(Person):
    vetted_on: IsoDate | None = None


class Agreements(_Strict):
    code_of_ethics_signed_on: IsoDate | None = None
    endorsement_agreement_signed_on: IsoDate | None = None


class Membership(_Strict):
    association: str
    expires_on: IsoDate


class Transcript(_Strict):
    official: bool = False
    received_on: IsoDate | None = None


class Education(_Strict):
    institution: str
    credential: Credential
    degree: str | None = None
    conferred_on: IsoDate | None = None
    transcript: Transcript | None = None


class Training(_Strict):
    title: str
    hours: Annotated[float, Field(gt=0, le=2000)]
    completed_on: IsoDate
    topics: tuple[TrainingTopic, ...] = ()


class Work(_Strict):
    employer: str
    role: str | None = None
    kind: WorkKind
    start_on: IsoDate
    end_on: IsoDate | None = None
    paid: bool = True
    after: DegreeLevel | None = None
    families_served: Annotated[int, Field(ge=0)] | None = None
    supervisor_endorsement: Endorsement | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Work":
        if self.end_on is not None and self.end_on < self.start_on:
            raise ValueError("end_on is before start_on")
        return self


class Leadership(_Strict):
    description: str
    level: Literal["local", "regional", "state", "national"]
    start_on: IsoDate | None = None
    end_on: IsoDate | None = None
    # Whether the activity was part of the applicant's paid work (None: not said).
    part_of_paid_work: bool | None = None


class RSC(_Strict):
    provider: Person
    hours: Annotated[float, Field(gt=0, le=1000)]
    start_on: IsoDate
    end_on: IsoDate
    format: Literal["individual", "group"] | None = None
    after: DegreeLevel | None = None
    about_providing_rsc_hours: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "RSC":
        if self.end_on < self.start_on:
            raise ValueError("end_on is before start_on")
        if self.about_providing_rsc_hours is not None and self.about_providing_rsc_hours > self.hours:
            raise ValueError("about_providing_rsc_hours is more than hours")
        return self


class Reference(_Strict):
    rater: Rater
    role: RaterRole
    status: ReferenceStatus
    submitted_on: IsoDate | None = None
    insufficient_information_count: Annotated[int, Field(ge=0)] | None = None
    recommendation: Recommendation | None = None
    waived_access: bool = False


class Exam(_Strict):
    multiple_choice_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    essay_result: Literal["pass", "fail", "pending"] | None = None
    taken_on: IsoDate | None = None


class Determination(_Strict):
    """A coordinator's answer to a question the rules leave to them (rules/: determination_questions)."""

    question: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    by: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    decided_on: IsoDate
    accepted: bool
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ApplicationDocument(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # Checked against the rulebooks (``RulebookLibrary.check_document``), not a fixed list, so that
    # adding an association or a category is a change to rules/ only.
    association: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    submitted_on: IsoDate | None = None
    applicant: Applicant
    agreements: Agreements = Agreements()
    memberships: tuple[Membership, ...] = ()
    education: tuple[Education, ...] = ()
    training: tuple[Training, ...] = ()
    work: tuple[Work, ...] = ()
    leadership_activities: tuple[Leadership, ...] = ()
    rsc: tuple[RSC, ...] = ()
    references: tuple[Reference, ...] = ()
    exam: Exam | None = None
    determinations: tuple[Determination, ...] = ()


class DocumentError(Exception):
    """An application document that cannot be accepted; the message names the file and the field."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))

    def __reduce__(self):  # rebuilt from its parts when a worker process reports it
        return (type(self), (self.path, self.problems))


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


# pydantic's errors for a date field (IsoDate) that is not a "YYYY-MM-DD" real calendar date.
_DATE_ERRORS = frozenset({"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"})


def error_message(error: dict) -> str:
    """One of pydantic's errors about a document (or a part of one) in our words: a date field's in the
    words of the one rule for dates (_iso_date), a validator's without pydantic's "Value error, "."""
    if error["type"] in _DATE_ERRORS:
        try:
            _iso_date(error["input"])
        except ValueError as exc:
            return str(exc)
    return error["msg"].removeprefix("Value error, ")


def describe_validation_error(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = error_message(e)
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        problems.append(f"field {_field_path(loc)}: {msg}")
    return problems


def nul_characters(raw: bytes | str, path: str) -> None:
    """Refuse text holding NUL (``\\u0000``): PostgreSQL cannot store it in any text column, and no name or
    comment a person writes contains one. A byte search first, so sound documents pay almost nothing."""
    needle = "\\u0000" if isinstance(raw, str) else b"\\u0000"
    if needle not in raw:
        return
    import json

    found: list[str] = []

    def walk(node: Any, where: tuple[Any, ...]) -> None:
        if isinstance(node, str):
            if "\x00" in node:
                found.append(f"field {_field_path(where)}: contains a NUL character (\\u0000), which cannot be stored")
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*where, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*where, i))

    walk(json.loads(raw), ())
    if found:
        raise DocumentError(path, found)


def parse_document(raw: bytes | str, path: str = "<input>") -> ApplicationDocument:
    """Parse and validate one document; raise DocumentError naming the file and the field."""
    try:
        document = ApplicationDocument.model_validate_json(raw)
        nul_characters(raw, path)
        return document
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise DocumentError(path, [f"not valid JSON ({exc.errors()[0]['ctx'].get('error', '')})"]) from None
        if any(e["type"] == "model_type" and not e["loc"] for e in exc.errors()):
            raise DocumentError(path, ["the document must be a JSON object"]) from None
        raise DocumentError(path, describe_validation_error(exc)) from None


def load_document(path: str | Path) -> ApplicationDocument:
    p = Path(path)
    try:
        # Unbuffered: the file is read whole in one call (Path.read_bytes costs a third more a file).
        with open(p, "rb", buffering=0) as f:
            raw = f.readall()
    except OSError as exc:
        raise DocumentError(str(p), [f"cannot read file ({exc.strerror})"]) from None
    return parse_document(raw, str(p))


def document_paths(path: str | Path) -> list[Path]:
    """A file, or every ``*.json`` in a folder (sorted, not recursive)."""
    p = Path(path)
    if p.is_dir():
        # By name: the same order as comparing the paths (one folder), without pathlib's slow comparison.
        return sorted((q for q in p.iterdir() if q.suffix == ".json" and q.is_file()), key=lambda q: q.name)
    if not p.exists():
        raise DocumentError(str(p), ["no such file or folder"])
    return [p]
