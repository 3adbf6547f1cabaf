"""Intake: application documents into the database (each file all or nothing) and back out of it as
documents; the people they name, whose own record changes only through people.py (what a document
says about a person is a claim on that application)."""

from tasks.intake.importing import import_documents
from tasks.intake.people import change_person, claim_for, record_endorsement
from tasks.intake.records import ensure_associations, load_documents, person_for, save_document

__all__ = [
    "change_person",
    "claim_for",
    "ensure_associations",
    "import_documents",
    "load_documents",
    "person_for",
    "record_endorsement",
    "save_document",
]
