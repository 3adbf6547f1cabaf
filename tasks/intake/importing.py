"""`endorse import`: documents into the database, each file all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from endorse.db import default_session_factory, transaction, upgrade_database
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from tasks.intake.bulk import (
    Prepared,
    ensure_people,
    insert_new_applications,
    prepare,
    stored_digests,
    update_changed_applications,
)
from tasks.intake.records import ensure_associations, save_document

FILES_PER_TRANSACTION = 1000


def import_documents(docs: list[tuple[Path, ApplicationDocument]], *, actor: str, database_url: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Import validated documents, each file all or nothing. Returns one line per file.

    Every document is checked before anything is written. Files then go in by the thousand, one
    transaction each: the new applications of a batch in one multi-row INSERT per table
    (``tasks.intake.bulk``), the changed ones merged likewise. Should the database
    refuse a batch, it is written again file by file, each in its own savepoint, so that the files
    before the failing one are committed, the failing file leaves nothing, and its error stops the
    import as it always did. ``progress(done, total)`` is called after each batch."""
    library = default_library()
    for path, doc in docs:
        library.check_document(doc, str(path))
    upgrade_database(database_url)
    sessions = default_session_factory(database_url)
    with transaction(sessions) as s:
        ensure_associations(s, library)
    lines: list[str] = []
    for i in range(0, len(docs), FILES_PER_TRANSACTION):
        batch = [prepare(path.name, doc) for path, doc in docs[i:i + FILES_PER_TRANSACTION]]
        try:
            with transaction(sessions) as s:
                outcomes = _write_batch(s, batch, actor=actor)
        except DBAPIError:  # the database refused something in the batch: found again, file by file, below
            outcomes = None
        if outcomes is None:
            outcomes, failure = _write_one_by_one(sessions, batch, actor=actor)
            lines += _lines(batch, outcomes)
            if failure is not None:
                raise failure
        else:
            lines += _lines(batch, outcomes)
        if progress is not None:
            progress(len(lines), len(docs))
    return lines


def _lines(batch: list[Prepared], outcomes: list[str]) -> list[str]:
    return [f"{outcome:<9} {item.doc.id}  ({item.source_name})" for item, outcome in zip(batch, outcomes)]


def _write_batch(s: Session, batch: list[Prepared], *, actor: str) -> list[str]:
    """The batch in the caller's transaction; the outcome of each file, in order."""
    stored = stored_digests(s, [item.doc.id for item in batch])
    outcomes: list[str] = []
    new: list[Prepared] = []
    changed: list[Prepared] = []
    again: list[Prepared] = []
    in_batch: set[str] = set()
    for item in batch:
        app_id = item.doc.id
        if app_id in in_batch:  # the same id twice in one import: the later file is an update of the first
            outcomes.append("later")
            again.append(item)
        elif app_id not in stored:
            outcomes.append("created")
            new.append(item)
        elif stored[app_id] == item.digest:
            outcomes.append("unchanged")
        else:
            outcomes.append("updated")
            changed.append(item)
        in_batch.add(app_id)
    # People in file order, so that whoever is new takes the name of the first file naming them.
    people = ensure_people(s, [item.doc for item, o in zip(batch, outcomes) if o != "unchanged"])
    insert_new_applications(s, new, people, actor=actor)
    update_changed_applications(s, changed, people, actor=actor)
    later = iter(save_document(s, item.doc, actor=actor, source_name=item.source_name).outcome for item in again)
    return [next(later) if o == "later" else o for o in outcomes]


def _write_one_by_one(sessions, batch: list[Prepared], *, actor: str) -> tuple[list[str], Exception | None]:
    """The slow, exact path: each file in its own savepoint. Stops at the first file that fails."""
    outcomes: list[str] = []
    with transaction(sessions) as s:
        for item in batch:
            try:
                with s.begin_nested():
                    outcomes.append(save_document(s, item.doc, actor=actor, source_name=item.source_name).outcome)
            except Exception as exc:  # noqa: BLE001 - returned, raised once the files before it are committed
                return outcomes, exc
    return outcomes, None
