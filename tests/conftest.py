"""Test-wide setup: Prefect and the project's data folder point into a temp dir; database fixtures."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

# Before anything imports Prefect or the settings: no telemetry, no shared state with the developer.
_TMP = Path(tempfile.mkdtemp(prefix="endorse-tests-"))
os.environ.setdefault("PREFECT_HOME", str(_TMP / "prefect"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("ENDORSE_ENV", "test")
os.environ.setdefault("ENDORSE_DATA_DIR", str(_TMP / "var"))
os.environ.setdefault("ENDORSE_SECRET_KEY", "test-secret-key-for-the-suite-only")


# --- database fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster_url():
    from tests.pg_cluster import throwaway_cluster

    with throwaway_cluster() as url:
        yield url


def empty_database_url(request, tmp_path) -> str:
    """A new, empty database of the kind ``request.param`` names (nothing migrated yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'endorse.sqlite3'}"
    from tests.pg_cluster import create_database

    base = request.getfixturevalue("postgres_cluster_url")
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50] + f"_{os.getpid()}"
    return create_database(base, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty, migrated database of each kind, fresh for every test."""
    from endorse.db import upgrade_database

    url = empty_database_url(request, tmp_path)
    upgrade_database(url)
    return url


@pytest.fixture
def sessions(database_url):
    from endorse.db import make_engine, session_factory

    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()
