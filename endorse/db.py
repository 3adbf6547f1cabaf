"""Engines, sessions and transactions; migrations run programmatically (no alembic CLI needed)."""

from __future__ import annotations

import atexit
import weakref
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from endorse.settings import PROJECT_ROOT, get_settings


# Every engine made here, so that exit can close them (below).
_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def make_engine(url: str | None = None, **kwargs) -> Engine:
    engine = _make_engine(url or get_settings().sqlalchemy_url, **kwargs)
    _ENGINES.add(engine)
    return engine


def close_databases() -> None:
    """Close every engine of this process. SQLite first folds its write-ahead log back into the
    database file: a copied or inspected ``endorse.sqlite3`` then holds the final state, not an
    ``endorse.sqlite3-wal`` beside it. Runs at exit; safe to call twice."""
    for engine in list(_ENGINES):
        path = engine.url.database
        # A test may have removed the file already: connecting would create an empty one.
        if engine.dialect.name == "sqlite" and path and path != ":memory:" and Path(path).exists():
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        engine.dispose()
        _ENGINES.discard(engine)
    default_session_factory.cache_clear()


atexit.register(close_databases)


def _make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")  # SQLite ignores foreign keys unless asked
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        # A unit of work (``transaction()``) takes SQLite's write lock up front (BEGIN IMMEDIATE) so
        # two writers queue on the busy timeout instead of one failing half-way; reads stay deferred.
        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("endorse_write") else "BEGIN")

        # Let SQLAlchemy emit our BEGIN rather than pysqlite's implicit one.
        @event.listens_for(engine, "connect", insert=True)
        def _no_implicit_begin(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll everything back if it raises."""
    session = factory()
    try:
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={"endorse_write": True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str | None = None) -> None:
    """Create or upgrade the database to the latest migration."""
    from alembic import command

    url = url or get_settings().sqlalchemy_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def dialect_insert(session: Session):
    """The dialect's ``insert`` (with ``on_conflict_do_nothing``/``_do_update``) for the session's database:
    an insert-if-absent or an upsert is one statement, safe when two runs do it at once."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project supports these two
        raise RuntimeError(f"no insert … on conflict for {name}")
    return insert


@lru_cache(maxsize=4)
def default_session_factory(url: str | None = None) -> sessionmaker[Session]:
    return session_factory(make_engine(url))
