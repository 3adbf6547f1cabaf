"""`endorse import`: documents into the database, each file all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from endorse.db import default_session_factory, transaction, upgrade_database
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from tasks.intake.records import ensure_associations, save_document

FILES_PER_TRANSACTION = 200


def import_documents(docs: list[tuple[Path, ApplicationDocument]], *, actor: str, database_url: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Import validated documents, each file all or nothing. Returns one line per file.

    Files share a transaction by the hundred (a commit per file was much of the cost of a large
    import), each inside its own savepoint: a file that fails leaves nothing of itself, the files
    before it are committed, and the error stops the import as it always did."""
    library = default_library()
    for path, doc in docs:  # every document is checked before anything is written
        library.check_document(doc, str(path))
    upgrade_database(database_url)
    sessions = default_session_factory(database_url)
    with transaction(sessions) as s:
        ensure_associations(s, library)
    lines: list[str] = []
    for i in range(0, len(docs), FILES_PER_TRANSACTION):
        failure = None
        with transaction(sessions) as s:
            for path, doc in docs[i:i + FILES_PER_TRANSACTION]:
                try:
                    with s.begin_nested():
                        outcome = save_document(s, doc, actor=actor, source_name=path.name)
                except Exception as exc:  # noqa: BLE001 - re-raised once the files before it are committed
                    failure = exc
                    break
                lines.append(f"{outcome.outcome:<9} {outcome.application_id}  ({path.name})")
        if failure is not None:
            raise failure
        if progress is not None:
            progress(len(lines), len(docs))
    return lines
