"""``endorse coordinator add --admin`` (issue 15, item 3): the association's first account is its admin
whatever the flag; a later one is an admin only with ``--admin``. On SQLite and PostgreSQL."""

from __future__ import annotations

import io

from sqlalchemy import select

from endorse_cli.output import EXIT_OK
from models import CoordinatorAccount, Person
from tests.cli.test_command_groups import cli  # noqa: F401  (fixture)


def _admin(sessions, email: str) -> bool:
    with sessions() as s:
        return s.scalars(select(CoordinatorAccount.is_admin).join(Person, Person.id == CoordinatorAccount.person_id)
                         .where(Person.email_normalized == email)).one()


def test_first_account_is_admin_and_a_later_one_only_with_the_flag(sessions, cli, monkeypatch):  # noqa: F811
    def add(email: str, *flags: str):
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
        return cli("coordinator", "add", "--association", "MI-AIMH", "--name", email.split("@")[0], "--email", email,
                   "--password-stdin", *flags)

    assert add("first@mi-aimh.org")[0] == EXIT_OK
    assert add("second@mi-aimh.org")[0] == EXIT_OK
    code, out, _ = add("third@mi-aimh.org", "--admin")
    assert code == EXIT_OK and "(admin)" in out
    assert [_admin(sessions, e) for e in ("first@mi-aimh.org", "second@mi-aimh.org", "third@mi-aimh.org")] == \
        [True, False, True]
