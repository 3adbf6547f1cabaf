"""`endorse backup PATH` / `endorse restore PATH`: the application database to a file and back.

SQLite through its online backup API (a consistent copy while the app runs; the WAL included);
PostgreSQL through ``pg_dump`` / ``pg_restore`` in the custom format (PostgreSQL 15's binaries, as
the test cluster uses). A restore refuses a database that already holds rows unless forced, and
refuses a file that is not a backup of the target's kind, naming the file; then it upgrades the
schema to this version's migrations. The password of a PostgreSQL URL travels in PGPASSWORD, never
on a command line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect, make_url, text

PG_BIN = Path(os.environ.get("ENDORSE_PG_BIN", "/usr/lib/postgresql/15/bin"))
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"  # the custom format's first bytes (pg_dump -Fc)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message names the file or the database."""


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError(f"{url}: an in-memory SQLite database has nothing to back up")
    return Path(path)


def _pg_tool(tool: str, url: str, *args: str) -> subprocess.CompletedProcess:
    binary = PG_BIN / tool
    if not binary.exists():
        raise BackupError(f"{binary}: not found (PostgreSQL 15 client tools; set ENDORSE_PG_BIN to their folder)")
    u = make_url(url)
    env = {**os.environ, "PGHOST": u.host or "", "PGPORT": str(u.port or 5432), "PGUSER": u.username or "",
           "PGDATABASE": u.database or ""}
    if u.password:
        env["PGPASSWORD"] = u.password
    return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True)


def _write_atomically(path: Path, force: bool, write) -> None:
    if path.exists() and not force:
        raise BackupError(f"{path}: already exists (--force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def backup(url: str, path: Path, *, force: bool = False) -> str:
    """Write a backup of the database at ``url`` to ``path``; returns what was done, in one line."""
    path = Path(path)
    if _is_sqlite(url):
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"{source}: no such database")

        def write(target: Path) -> None:
            src, dst = sqlite3.connect(source), sqlite3.connect(target)
            try:
                src.backup(dst)  # a consistent copy even while the app writes
            finally:
                dst.close()
                src.close()
        _write_atomically(path, force, write)
        return f"backed up {source} to {path} (SQLite online backup, {path.stat().st_size} bytes)"

    def dump(target: Path) -> None:
        done = _pg_tool("pg_dump", url, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}")
        if done.returncode != 0:
            raise BackupError(f"pg_dump of {make_url(url).database} failed: {done.stderr.strip()}")
    _write_atomically(path, force, dump)
    return f"backed up {make_url(url).database} to {path} (pg_dump custom format, {path.stat().st_size} bytes)"


def rows_in(url: str) -> int:
    """Rows in the database's tables, the migration bookkeeping aside (0 for a fresh database)."""
    from endorse.db import make_engine

    if _is_sqlite(url) and not _sqlite_path(url).exists():
        return 0
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            return sum(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in names)
    finally:
        engine.dispose()


def _has_tables(url: str) -> bool:
    from endorse.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _check_file(path: Path, sqlite: bool) -> None:
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    with path.open("rb") as fh:
        head = fh.read(16)
    want, kind = (SQLITE_MAGIC, "a SQLite database") if sqlite else (PG_DUMP_MAGIC, "a pg_dump custom-format archive")
    if not head.startswith(want):
        other = "a pg_dump archive" if head.startswith(PG_DUMP_MAGIC) else \
            "a SQLite database" if head.startswith(SQLITE_MAGIC) else "neither kind of backup"
        raise BackupError(f"{path}: not {kind} (it is {other}); the target database is "
                          f"{'SQLite' if sqlite else 'PostgreSQL'}")


def restore(url: str, path: Path, *, force: bool = False) -> str:
    """Replace the database at ``url`` with the backup in ``path``; returns what was done, in one line."""
    from endorse.db import close_databases, upgrade_database

    path = Path(path)
    sqlite = _is_sqlite(url)
    _check_file(path, sqlite)
    held = rows_in(url)
    if held and not force:
        raise BackupError(f"{_describe(url)} is not empty ({held} rows): restore {path} over it with --force")
    close_databases()  # nothing of this process holds the target open while it is replaced
    if sqlite:
        _restore_sqlite(path, _sqlite_path(url))
    else:
        _restore_postgres(path, url, clean=_has_tables(url))
    upgrade_database(url)  # a backup from an older version gets this version's migrations
    return f"restored {path} into {_describe(url)} ({rows_in(url)} rows)"


def _restore_sqlite(path: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        try:
            ok = src.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path}: not a readable SQLite database ({exc})") from None
        if ok != "ok":
            raise BackupError(f"{path}: damaged SQLite database ({ok})")
        if "alembic_version" not in tables:
            raise BackupError(f"{path}: a SQLite database, but not an endorse one (no alembic_version table)")
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # page by page, replacing the whole target
        finally:
            dst.close()
    finally:
        src.close()


def _restore_postgres(path: Path, url: str, *, clean: bool) -> None:
    listed = _pg_tool("pg_restore", url, "--list", str(path))
    if listed.returncode != 0:
        raise BackupError(f"{path}: not a readable pg_dump archive ({listed.stderr.strip()})")
    if "alembic_version" not in listed.stdout:
        raise BackupError(f"{path}: a pg_dump archive, but not of an endorse database (no alembic_version table)")
    args = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", f"--dbname={make_url(url).database}"]
    if clean:  # a migrated (possibly forced, non-empty) target: its objects go first, in the same transaction
        args += ["--clean", "--if-exists"]
    done = _pg_tool("pg_restore", url, *args, str(path))
    if done.returncode != 0:
        raise BackupError(f"pg_restore of {path} into {make_url(url).database} failed (nothing changed): "
                          f"{done.stderr.strip()[-2000:]}")


def _describe(url: str) -> str:
    return str(_sqlite_path(url)) if _is_sqlite(url) else f"database {make_url(url).database!r}"
