"""Alembic environment: the URL from the config (set by endorse.db) or from endorse.settings."""

from __future__ import annotations

from alembic import context

import models
from endorse.db import make_engine
from endorse.settings import get_settings

config = context.config
target_metadata = models.Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
    engine = make_engine(url)
    sqlite = url.startswith("sqlite")
    with engine.connect() as connection:
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign keys enforced, dropping
            # a table that rows refer to fails. Off for the migration (outside its transaction, or SQLite
            # ignores it), and every reference checked before it commits.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=sqlite,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("the migration left rows referring to rows that do not exist")
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    engine.dispose()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
