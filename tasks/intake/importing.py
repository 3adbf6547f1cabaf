"""`endorse import`: documents into the database, each file all or nothing."""

from __future__ import annotations

from pathlib import Path

from endorse.db import default_session_factory, transaction, upgrade_database
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from tasks.intake.records import ensure_associations, save_document


def import_documents(docs: list[tuple[Path, ApplicationDocument]], *, actor: str, database_url: str | None = None) -> list[str]:
    """Import validated documents; each file is its own transaction. Returns one line per file."""
    library = default_library()
    for path, doc in docs:  # every document is checked before anything is written
        library.check_document(doc, str(path))
    upgrade_database(database_url)
    sessions = default_session_factory(database_url)
    with transaction(sessions) as s:
        ensure_associations(s, library)
    lines = []
    for path, doc in docs:
        with transaction(sessions) as s:
            outcome = save_document(s, doc, actor=actor, source_name=path.name)
        lines.append(f"{outcome.outcome:<9} {outcome.application_id}  ({path.name})")
    return lines
