"""A coordinator's workbook of paper applications: one sheet per section, every row checked before
anything is written; any error and nothing is imported, with an error per sheet, row and field.

Sheets (the first row names the columns, as in the portfolio's fields):
``applications`` (id, category, name, email, is_supervisor, no_supervisor_or_rsc_provider_available,
code_of_ethics_signed_on, endorsement_agreement_signed_on, submitted_on), and ``education``, ``training``,
``work``, ``rsc``, ``leadership_activities``, ``memberships``, ``references``, each with a column
``application`` naming the application's id. The documents are saved by intake exactly as
``endorse import`` saves them (same validation, same document, audited).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import get_args

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.documents import DocumentError, RaterRole, parse_document
from endorse.rulebook import RulebookLibrary
from models import Application
from tasks.intake.records import save_document
from tasks.portal.fields import APPLICATION_SECTIONS, RowErrors, parse_row
from tasks.portal.tables import TableError, read_workbook

SHEET_ALIASES = {"leadership": "leadership_activities", "rs/c": "rsc"}
FLAGS = ("is_supervisor", "no_supervisor_or_rsc_provider_available")
YES = ("yes", "true", "1", "x")


@dataclass(frozen=True)
class WorkbookReport:
    documents: list  # the parsed application documents, in the sheet's order (empty when errors)
    errors: list[str]


def read_applications(filename: str, data: bytes, library: RulebookLibrary, *, association: str,
                      as_of: date) -> WorkbookReport:
    """Documents from a workbook (pure: nothing is written). Every sheet and row is checked; the report
    lists every problem, naming the sheet, the row as the spreadsheet numbers it and the field."""
    try:
        sheets = read_workbook(filename, data)
    except TableError as exc:
        return WorkbookReport([], [str(exc)])
    sheets = {SHEET_ALIASES.get(k, k): v for k, v in sheets.items()}
    errors: list[str] = []
    unknown = sorted(set(sheets) - {"applications", *APPLICATION_SECTIONS})
    if unknown:
        errors.append(f"{filename}: unknown sheet(s) {', '.join(unknown)} (sheets: applications, "
                      f"{', '.join(APPLICATION_SECTIONS)})")
    if "applications" not in sheets:
        return WorkbookReport([], errors + [f"{filename}: no sheet named 'applications'"])
    docs: dict[str, dict] = {}
    where: dict[str, int] = {}
    for line, row in sheets["applications"]:
        app_id = row.get("id", "").strip()
        problems = []
        if not app_id:
            problems.append("id: required")
        elif app_id in docs:
            problems.append(f"id: {app_id} is already on row {where[app_id]}")
        if problems:
            errors += [f"sheet applications, row {line}, {p}" for p in problems]
            continue
        where[app_id] = line
        doc = {"id": app_id, "association": association, "category": row.get("category", "").strip(),
               "applicant": {"name": row.get("name", "").strip(), "email": row.get("email", "").strip(),
                             **{f: row.get(f, "").strip().lower() in YES for f in FLAGS}},
               "agreements": {k: row[k].strip() for k in ("code_of_ethics_signed_on", "endorsement_agreement_signed_on")
                              if row.get(k, "").strip()},
               "submitted_on": row.get("submitted_on", "").strip() or as_of.isoformat()}
        docs[app_id] = doc
    roles = {r: r for r in get_args(RaterRole)}
    for key, section in APPLICATION_SECTIONS.items():
        for line, row in sheets.get(key, []):
            app_id = row.get("application", "").strip()
            if app_id not in docs:
                errors.append(f"sheet {key}, row {line}, application: {app_id or '(empty)'} is not an id of the "
                              f"applications sheet")
                continue
            try:
                parsed = parse_row(section, row, roles)
            except RowErrors as exc:
                errors += [f"sheet {key}, row {line}, {f}: {why}" for f, why in exc.errors.items()]
                continue
            if key == "references":
                parsed["status"] = "requested"  # paper raters are asked by the pipeline, as any others
            docs[app_id].setdefault(key, []).append(parsed)
    parsed_docs = []
    for app_id, doc in docs.items():
        try:
            document = parse_document(json.dumps(doc), f"sheet applications, row {where[app_id]} ({app_id})")
            library.check_document(document, f"sheet applications, row {where[app_id]} ({app_id})")
        except DocumentError as exc:
            errors += [f"{exc.path}: {p}" for p in exc.problems]
            continue
        parsed_docs.append(document)
    return WorkbookReport([] if errors else parsed_docs, errors)


def import_workbook(sessions: sessionmaker[Session], filename: str, data: bytes, library: RulebookLibrary, *,
                    association: str, as_of: date, actor: str) -> WorkbookReport:
    """Read and, only when every row is right, save every application in one transaction (all or
    nothing), each by intake as ``endorse import`` saves it and audited under the coordinator. An id
    that is another association's application is refused (its coordinators own it)."""
    report = read_applications(filename, data, library, association=association, as_of=as_of)
    if report.errors:
        return report
    with transaction(sessions) as s:
        theirs = [a.id for a in s.scalars(select(Application).where(
            Application.id.in_([d.id for d in report.documents]), Application.association_code != association))]
        if theirs:
            return WorkbookReport([], [f"sheet applications, id {i}: an application of another association has this id"
                                       for i in theirs])
        for d in report.documents:
            save_document(s, d, actor=actor, source_name=f"{filename} ({d.id})")
    return report
