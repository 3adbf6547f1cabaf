"""``endorse coordinator add --admin`` (issue 15, item 3): the association's first account is its admin
whatever the flag; a later one is an admin only with ``--admin``. ``endorse coordinator admin`` grants
and revokes the role (an admin of the same association only); ``coordinator deactivate`` and ``--revoke``
never leave an association without an admin. On SQLite and PostgreSQL."""

from __future__ import annotations

import io

from sqlalchemy import select

from endorse_cli.output import EXIT_INVALID, EXIT_OK
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


def _add(cli, monkeypatch, email: str, association: str = "MI-AIMH"):  # noqa: F811
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
    code, _, err = cli("coordinator", "add", "--association", association, "--name", email.split("@")[0],
                       "--email", email, "--password-stdin")
    assert code == EXIT_OK, err


def _active(sessions, email: str) -> bool:
    with sessions() as s:
        return s.scalars(select(CoordinatorAccount.active).join(Person, Person.id == CoordinatorAccount.person_id)
                         .where(Person.email_normalized == email)).one()


def test_an_admin_grants_and_revokes_the_role_and_the_last_admin_keeps_it(sessions, cli, monkeypatch):  # noqa: F811
    for email in ("ada@mi-aimh.org", "hal@mi-aimh.org"):
        _add(cli, monkeypatch, email)
    code, out, _ = cli("coordinator", "admin", "--email", "hal@mi-aimh.org", "--by", "ada@mi-aimh.org")
    assert code == EXIT_OK and "hal@mi-aimh.org is an admin of MI-AIMH" in out and _admin(sessions, "hal@mi-aimh.org")
    code, out, _ = cli("coordinator", "admin", "--email", "hal@mi-aimh.org", "--by", "ada@mi-aimh.org")
    assert code == EXIT_OK and "nothing changed" in out
    code, out, _ = cli("coordinator", "admin", "--email", "ada@mi-aimh.org", "--by", "hal@mi-aimh.org", "--revoke")
    assert code == EXIT_OK and not _admin(sessions, "ada@mi-aimh.org")
    code, _, err = cli("coordinator", "admin", "--email", "hal@mi-aimh.org", "--by", "hal@mi-aimh.org", "--revoke")
    assert code == EXIT_INVALID and "last admin" in err and _admin(sessions, "hal@mi-aimh.org")
    code, _, err = cli("coordinator", "deactivate", "--email", "hal@mi-aimh.org")
    assert code == EXIT_INVALID and "last admin" in err and _active(sessions, "hal@mi-aimh.org")
    code, _, _ = cli("coordinator", "deactivate", "--email", "ada@mi-aimh.org")  # not an admin now: may go
    assert code == EXIT_OK and not _active(sessions, "ada@mi-aimh.org")


def test_only_an_admin_of_the_same_association_changes_the_role(sessions, cli, monkeypatch):  # noqa: F811
    for email, association in (("ada@mi-aimh.org", "MI-AIMH"), ("hal@mi-aimh.org", "MI-AIMH"),
                               ("cal@ct-aimh.org", "CT-AIMH")):
        _add(cli, monkeypatch, email, association)
    code, _, err = cli("coordinator", "admin", "--email", "hal@mi-aimh.org", "--by", "hal@mi-aimh.org")
    assert code == EXIT_INVALID and "not an admin of MI-AIMH" in err
    code, _, err = cli("coordinator", "admin", "--email", "hal@mi-aimh.org", "--by", "cal@ct-aimh.org")
    assert code == EXIT_INVALID and "no coordinator account for hal@mi-aimh.org in CT-AIMH" in err
    code, _, err = cli("coordinator", "admin", "--email", "ada@mi-aimh.org", "--by", "nobody@example.org", "--revoke")
    assert code == EXIT_INVALID and "not an active coordinator account" in err
    assert not _admin(sessions, "hal@mi-aimh.org") and _admin(sessions, "ada@mi-aimh.org")
