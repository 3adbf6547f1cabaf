"""The portfolio's sections as fields: how a row typed into a form, a CSV line or a spreadsheet row
becomes a row of the application (or renewal) document, with an error per field in plain words.

Pure: no database. The rows are checked by the document's own models (``endorse.documents``), so a
row accepted here is a row ``endorse import`` would accept. The words for choices are presentation
(the rater roles' words come from the rulebook's ``role_wording``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from endorse import documents as d
from endorse.renewals import RenewalRsc

CREDENTIAL_WORDS = {"coursework": "Academic coursework", "cda": "CDA certificate", "associate": "Associate degree",
                    "bachelors": "Bachelor's degree", "masters": "Master's degree", "doctorate": "Doctorate",
                    "graduate_certificate": "Graduate certificate or post-graduate specialization"}
WORK_WORDS = {"infant_related": "Work with infants, toddlers and families",
              "prevention_early_intervention": "Prevention or early intervention promoting infant mental health",
              "imh_relationship_services": "Relationship-focused infant mental health services (infant and parent)",
              "graduate_internship": "Graduate internship",
              "rsc_provision": "Providing reflective supervision/consultation (RS/C) to others",
              "policy_leadership": "Leading policy or program administration",
              "university_leadership": "University teaching and/or research"}
AFTER_WORDS = {"none": "Before any degree", "bachelors": "After my bachelor's degree", "masters": "After my master's degree"}
TOPIC_WORDS = {"relationship_based": "Relationship-based (infant mental health)", "rsc_didactic": "About providing RS/C",
               "dei": "Diversity, equity and inclusion"}
LEVEL_WORDS = {"local": "Local", "regional": "Regional", "state": "State", "national": "National"}
FORMAT_WORDS = {"individual": "Individual", "group": "Group"}
YES_NO = {"yes": "Yes", "no": "No"}


@dataclass(frozen=True)
class Field:
    name: str  # the document's key; "provider.name" for a nested one
    label: str
    kind: str = "text"  # text | email | date | number | integer | choice | topics | check | yes_no
    required: bool = True
    choices: Mapping[str, str] | None = None
    help: str = ""


@dataclass(frozen=True)
class Section:
    key: str  # the document's list (or "" for a section of single values)
    title: str
    fields: tuple[Field, ...]
    model: type[BaseModel] | None  # what one row must be
    intro: str = ""


def _endorsements() -> dict[str, str]:
    return {e: e for e in get_args(d.Endorsement)}


EDUCATION = Section("education", "Education", (
    Field("institution", "Institution"),
    Field("credential", "What you earned", "choice", choices=CREDENTIAL_WORDS),
    Field("degree", "Degree or field (e.g. MSW)", required=False),
    Field("conferred_on", "Conferred on (or expected on)", "date", required=False),
    Field("transcript.official", "I am asking this institution to send an official transcript to the association",
          "check", required=False),
), d.Education, "Each degree or course of study you claim. The association needs an official transcript of each, "
                "sent by the institution itself.")
TRAINING = Section("training", "Training", (
    Field("title", "Title"),
    Field("hours", "Hours", "number"),
    Field("completed_on", "Completed on", "date"),
    Field("topics", "What it was about", "topics", required=False, choices=TOPIC_WORDS),
), d.Training, "In-service training, conferences and courses, one row each (or upload a CSV or XLSX file).")
WORK = Section("work", "Work", (
    Field("employer", "Employer"),
    Field("role", "Your role", required=False),
    Field("kind", "Kind of work", "choice", choices=WORK_WORDS),
    Field("start_on", "From", "date"),
    Field("end_on", "To (empty: ongoing)", "date", required=False),
    Field("paid", "Paid work", "yes_no", choices=YES_NO),
    Field("after", "When", "choice", required=False, choices=AFTER_WORDS),
    Field("families_served", "Families served with an infant or toddler", "integer", required=False),
    Field("supervisor_endorsement", "Your supervisor's endorsement (internships)", "choice", required=False,
          choices=_endorsements()),
), d.Work)
# Who provided RS/C, how much and when: the same in an application and in a renewal.
_RSC_RECEIVED = (
    Field("provider.name", "Provider's name"),
    Field("provider.email", "Provider's email", "email"),
    Field("provider.endorsement", "Provider's endorsement", "choice", required=False, choices=_endorsements()),
    Field("hours", "Hours", "number"),
    Field("start_on", "From", "date"),
    Field("end_on", "To", "date"),
    Field("format", "Format", "choice", required=False, choices=FORMAT_WORDS),
)
RSC = Section("rsc", "Reflective supervision/consultation (RS/C)", (
    *_RSC_RECEIVED,
    Field("after", "When", "choice", required=False, choices=AFTER_WORDS),
    Field("about_providing_rsc_hours", "Of these, hours about the RS/C you provide", "number", required=False),
), d.RSC, "RS/C you received: who provided it, how many hours, over which dates.")
LEADERSHIP = Section("leadership_activities", "Leadership", (
    Field("description", "What you did"),
    Field("level", "Level", "choice", choices=LEVEL_WORDS),
    Field("start_on", "From", "date", required=False),
    Field("end_on", "To", "date", required=False),
    Field("part_of_paid_work", "Part of your paid work?", "yes_no", required=False, choices=YES_NO),
), d.Leadership)
MEMBERSHIPS = Section("memberships", "Memberships", (
    Field("association", "Association (e.g. MI-AIMH)"),
    Field("expires_on", "Membership current until", "date"),
), d.Membership)
REFERENCES = Section("references", "References", (
    Field("rater.name", "Rater's name"),
    Field("rater.email", "Rater's email", "email"),
    Field("role", "How they know you", "choice"),  # choices: the rulebook's role wording
    Field("rater.endorsement", "Their endorsement, if any", "choice", required=False, choices=_endorsements()),
    Field("waived_access", "I waive my right to see this rating", "check", required=False),
), d.Reference, "Name three raters. The association emails each of them a link once you submit.")
RENEWAL_RSC = Section("rsc", "Reflective supervision/consultation (RS/C) this year", (
    *_RSC_RECEIVED,
    Field("peer_consultation", "Peer consultation with someone endorsed in my category", "check", required=False),
), RenewalRsc)

APPLICATION_SECTIONS = {s.key: s for s in (EDUCATION, TRAINING, WORK, RSC, LEADERSHIP, MEMBERSHIPS, REFERENCES)}
RENEWAL_SECTIONS = {s.key: s for s in (TRAINING, RENEWAL_RSC, MEMBERSHIPS)}


class RowErrors(ValueError):
    """A row that cannot be taken: field name → what is wrong, in plain words."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _number(raw: str, integer: bool) -> float | int:
    text = raw.strip().replace(",", ".") if not integer else raw.strip()
    if integer:
        if not text.isascii() or not text.isdigit():
            raise ValueError("write a whole number, for example 12")
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise ValueError("write a number, for example 7.5") from None
    if not math.isfinite(value):
        raise ValueError("write a number, for example 7.5")
    return value


def _put(out: dict, dotted: str, value: Any) -> None:
    head, _, rest = dotted.partition(".")
    if rest:
        _put(out.setdefault(head, {}), rest, value)
    else:
        out[head] = value


def parse_row(section: Section, values: Mapping[str, Any], role_choices: Mapping[str, str] | None = None) -> dict:
    """One row of ``section`` from text values (a form, a CSV line, a spreadsheet row): the document's
    row as JSON, checked by the document's model. Raises RowErrors naming each field."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for f in section.fields:
        raw = values.get(f.name)
        if f.kind == "topics":
            picked = raw if isinstance(raw, (list, tuple)) else [t for t in str(raw or "").replace(",", ";").split(";")]
            picked = [str(t).strip() for t in picked if str(t).strip()]
            unknown = [t for t in picked if t not in (f.choices or {})]
            if unknown:
                errors[f.name] = f"unknown topic {unknown[0]!r} (write {', '.join(f.choices or {})})"
            else:
                _put(out, f.name, sorted(set(picked)))
            continue
        text = "" if raw is None else str(raw).strip()
        if f.kind == "check":
            if text.lower() in ("yes", "true", "1", "on", "x"):
                _put(out, f.name, True)
            elif text.lower() not in ("", "no", "false", "0"):
                errors[f.name] = "write yes or no"
            continue
        if not text:
            if f.required:
                errors[f.name] = "required"
            continue
        try:
            if f.kind in ("number", "integer"):
                value: Any = _number(text, f.kind == "integer")
            elif f.kind == "yes_no":
                if text.lower() not in ("yes", "no", "true", "false"):
                    raise ValueError("write yes or no")
                value = text.lower() in ("yes", "true")
            elif f.kind == "choice":
                choices = role_choices if f.name == "role" and role_choices is not None else f.choices or {}
                if text not in choices:
                    raise ValueError(f"choose one of: {', '.join(choices)}")
                value = text
            else:  # text, email, date: the document's model checks them
                value = text
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        _put(out, f.name, value)
    if section is REFERENCES:
        out["status"] = "requested"  # the rater is asked once the application is submitted
    if errors:
        raise RowErrors(errors)
    if section.model is not None:
        try:
            section.model.model_validate_json(json.dumps(out))
        except ValidationError as exc:
            raise RowErrors(_field_errors(exc)) from None
    if section is REFERENCES:
        del out["status"]
    return out


def _field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors(include_url=False):
        loc = [str(p) for p in e["loc"] if not str(p).startswith("function-")]
        name = ".".join(loc) or "row"
        msg = d.error_message(e)
        if e["type"] == "missing":
            msg = "required"
        out.setdefault(name, msg)
    return out


def form_values(section: Section, form_items: list[tuple[str, Any]], prefix: str = "") -> dict[str, Any]:
    """The text values of one row from a posted form (topics may repeat)."""
    out: dict[str, Any] = {}
    for key, value in form_items:
        if not isinstance(value, str) or not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        f = next((f for f in section.fields if f.name == name), None)
        if f is None:
            continue
        if f.kind == "topics":
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def row_text(section: Section, row: Mapping[str, Any]) -> dict[str, str]:
    """A stored row back as the text of its fields (to show it, or put it back into the form)."""
    out = {}
    for f in section.fields:
        node: Any = row
        for part in f.name.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            out[f.name] = ""
        elif f.kind == "topics":
            out[f.name] = "; ".join(node)
        elif isinstance(node, bool):
            out[f.name] = "yes" if node else "no"
        elif isinstance(node, float) and node.is_integer():
            out[f.name] = str(int(node))
        else:
            out[f.name] = str(node)
    return out
