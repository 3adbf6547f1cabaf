"""Intake: application documents into the database (each file all or nothing) and back out of it as
documents; the people, associations and endorsements they name."""

from tasks.intake.importing import import_documents
from tasks.intake.records import declare_endorsement, ensure_associations, load_documents, save_document, upsert_person

__all__ = [
    "declare_endorsement",
    "ensure_associations",
    "import_documents",
    "load_documents",
    "save_document",
    "upsert_person",
]
