"""A throwaway PostgreSQL 15 cluster on a loopback port of its own, for the test session.

initdb into a temp dir, pg_ctl start on 127.0.0.1 (sockets in the temp dir, nothing shared with a
system cluster), and remove everything at the end. As root, the server runs as the `postgres` user
(initdb refuses root). A missing PostgreSQL is an error, never a skip: scripts/ensure-system-deps
installs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

PG_BIN = Path(os.environ.get("ENDORSE_PG_BIN", "/usr/lib/postgresql/15/bin"))
# port → restart the cluster (pg_ctl restart -m fast: every connection dropped), for fault tests
RESTARTS: dict[int, Callable[[], None]] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    _ensure_user()
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database ``endorse_test`` on a private cluster."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): run scripts/ensure-system-deps")
    root = Path(tempfile.mkdtemp(prefix="endorse-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        _ensure_user()
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    try:
        subprocess.run(_as_server_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "endorse", "-A", "trust",
                                        "-E", "UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True)
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c synchronous_commit=off " \
               f"-c full_page_writes=off -c max_connections=200"
        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                                        str(root / "server.log"), "-w", "-t", "60", "start"]),
                       check=True, capture_output=True)
        _wait_for(port)
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=endorse dbname=postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE endorse_test")
        RESTARTS[port] = lambda: subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "server.log"),
                             "-m", "fast", "-w", "-t", "60", "restart"]), check=True, capture_output=True)
        yield f"postgresql+psycopg://endorse@127.0.0.1:{port}/endorse_test"
    finally:
        RESTARTS.pop(port, None)
        if data.exists():
            subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _ensure_user() -> None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{port}")


def create_database(base_url: str, name: str) -> str:
    """A fresh database on the same cluster (one per test module keeps tests independent)."""
    import psycopg

    host_part = base_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_part.split(":")
    with psycopg.connect(f"host={host} port={port} user=endorse dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def restart_cluster(url: str) -> None:
    """Restart the throwaway cluster behind ``url`` (a fault: every open connection is dropped)."""
    from sqlalchemy.engine import make_url

    RESTARTS[make_url(url).port]()
