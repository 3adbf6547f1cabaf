"""``endorse setup``: a first association profile, the first coordinator account, a test email.

Interactive by default (every question has a default in brackets; Enter keeps it), and fully
scriptable: every answer has a flag, ``--yes`` takes the defaults of the rest without asking and
``--password-stdin`` reads the password from standard input. Nothing is written until every answer
is valid; a bad answer names the field.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from endorse_cli.output import UsageError

PASSWORD_MISMATCH = "the two passwords differ: nothing was changed"


def new_password(from_stdin: bool, *, ask=None) -> str:
    """A new password: one line of standard input for scripts, else asked twice (a typo is refused)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    ask = ask or getpass.getpass
    first = ask("Password (at least 12 characters): ")
    if ask("The same password again: ") != first:
        raise UsageError(PASSWORD_MISMATCH)
    return first


@dataclass(frozen=True)
class SetupFlags:
    """What was given on the command line; every answer not given is asked (or, with ``yes``, defaulted)."""

    association: str | None = None
    full_name: str | None = None
    short_name: str | None = None
    coordinator_name: str | None = None
    coordinator_email: str | None = None
    sender_name: str | None = None
    sender_email: str | None = None
    signature: str | None = None
    public_base_url: str | None = None
    time_zone: str | None = None
    phone: str | None = None
    website: str | None = None
    account_name: str | None = None
    account_email: str | None = None
    password_stdin: bool = False
    no_test_email: bool = False
    yes: bool = False


# The question behind each profile field: a typed answer the loader refuses is asked again.
QUESTIONS = {
    "full_name": "Full name", "short_name": "Short name",
    "coordinator.name": "Coordinator's name (replies go to them)", "coordinator.email": "Coordinator's email (Reply-To)",
    "sender.name": "Sender name (From)", "sender.email": "Sender address (From)",
    "signature": "Signature (\\n for a new line)", "public_base_url": "Public address of the web pages",
    "time_zone": "Time zone", "phone": "Phone shown under emails (optional)",
    "website": "Website shown under emails (optional)",
}


def _asker(args: SetupFlags, typed: dict[str, str | None]):
    """``ask(question, flag value, default)``; what was typed is kept in ``typed`` (asked once)."""
    def ask(label: str, given: str | None, default: str | None) -> str | None:
        if given is not None:
            return given
        if args.yes:
            return default
        if label not in typed:
            shown = f" [{default}]" if default else ""
            typed[label] = input(f"{label}{shown}: ").strip() or None
        return typed[label] or default
    return ask


def cmd_setup(args: SetupFlags) -> int:
    from endorse import profiles
    from endorse.db import transaction
    from endorse.rulebook import default_library
    from endorse.settings import get_settings
    from endorse_cli.output import SMTP_SETTINGS_HINT
    from models import Association
    from tasks.coordination.accounts import set_coordinator
    from tasks.intake.records import ensure_associations

    settings = get_settings()
    library = default_library()
    baseline = library.baseline.data["association"]
    choices = [c for c in library.associations if c != baseline]
    typed: dict[str, str | None] = {}
    ask = _asker(args, typed)

    code = ask(f"Association ({', '.join(choices)})", args.association, choices[0] if len(choices) == 1 else None)
    if code is None:
        raise UsageError(f"--association: which association? (known: {', '.join(choices)})")
    if code not in choices:
        raise UsageError(f"--association: {code!r} has no rulebook (known: {', '.join(choices)})")
    target = profiles.profile_path(profiles.profiles_dir(library), code)
    current = profiles.load_profile(target) if target.exists() else None
    book = library.overlays[code].data

    while True:
        raw = _profile_answers(ask, args, code, current, book["name"], settings.public_base_url)
        try:
            profile = _validated(target, raw)
            break
        except profiles.ProfileError as exc:
            label = QUESTIONS.get(exc.key)
            if label is None or label not in typed:  # a flag's value: asking again would not change it
                raise
            print(f"  {exc.problem}: please answer again")
            del typed[label]
    if settings.env == "production":
        problems = [f"{what}: {why}" for what, value in (("sender", profile.sender.email),
                                                         ("coordinator", profile.coordinator.email),
                                                         ("public_base_url", profile.public_base_url
                                                          or settings.public_base_url))
                    if (why := profiles.placeholder_host(value))]
        if problems:
            raise UsageError(f"{target}: ENDORSE_ENV=production refuses {'; '.join(problems)}")

    account_name = ask("Your name (coordinator account)", args.account_name, profile.coordinator.name)
    account_email = ask("Your email (you sign in with it)", args.account_email, profile.coordinator.email)
    if not account_name or not account_email:
        raise UsageError("--account-email: the coordinator account needs a name and an email")
    password = new_password(args.password_stdin)
    from endorse.auth import hash_password

    hash_password(password)  # refuses a short password before anything is written

    _write(target, profiles.to_yaml(profile))
    print(f"profile written: {os.path.relpath(target)}")
    from endorse.db import default_session_factory, upgrade_database

    upgrade_database()
    sessions = default_session_factory()
    with transaction(sessions) as s:
        ensure_associations(s, library)
    account_id = set_coordinator(sessions, association=code, name=account_name, email=account_email,
                                 password=password, actor="cli:setup")
    print(f"coordinator account #{account_id}: {account_email} for {code}")

    from tasks.mail.outbox import SmtpConfig

    smtp = SmtpConfig.from_settings(settings)
    if args.no_test_email:
        print("test email skipped (--no-test-email)")
        ok = True
    else:
        with sessions() as s:
            assoc = s.get(Association, code)
            em = smtp_check_message(assoc, account_name, account_email)
        try:
            asyncio.run(_send(smtp, em))
        except Exception as exc:  # noqa: BLE001 - every failure is reported the same way, with what to do
            print(f"cannot reach SMTP at {smtp.where} ({type(exc).__name__}: {exc}) — {SMTP_SETTINGS_HINT}; "
                  "the profile and the account are saved: run endorse setup again to send the test email")
            ok = False
        else:
            print(f"test email sent to {account_email} through {smtp.where}, from {em['From']} "
                  f"(replies to {em['Reply-To']}): check that it arrived")
            ok = True
    base = (profile.public_base_url or settings.public_base_url).rstrip("/")
    print("next:")
    print("  .venv/bin/endorse import FOLDER      load the association's application documents")
    print(f"  .venv/bin/endorse serve              then open {base}/coordinator/ and sign in as {account_email}")
    print(f"  edit {os.path.relpath(target)} at any time; ENDORSE_ENV=production refuses example.org and loopback links")
    return 0 if ok else 1


def _profile_answers(ask, args, code: str, current, rulebook_name: str, deployment_url: str) -> dict:
    q = QUESTIONS
    full_name = ask(q["full_name"], args.full_name, current.full_name if current else rulebook_name)
    short_name = ask(q["short_name"], args.short_name, current.short_name if current else code)
    coord_name = ask(q["coordinator.name"], args.coordinator_name, current.coordinator.name if current else None)
    coord_email = ask(q["coordinator.email"], args.coordinator_email, current.coordinator.email if current else None)
    sender_name = ask(q["sender.name"], args.sender_name, current.sender.name if current else f"{short_name} Endorsement")
    sender_email = ask(q["sender.email"], args.sender_email, current.sender.email if current else coord_email)
    default_signature = (current.signature if current else
                         f"{coord_name}, Endorsement® coordinator\n{full_name}" if coord_name else None)
    signature = ask(q["signature"], args.signature, default_signature)
    base_url = ask(q["public_base_url"], args.public_base_url,
                   (current.public_base_url if current else None) or deployment_url)
    if base_url == deployment_url and not (current and current.public_base_url):
        base_url = None  # the deployment's ENDORSE_PUBLIC_BASE_URL, as before
    time_zone = ask(q["time_zone"], args.time_zone, current.time_zone if current else "America/New_York")
    phone = ask(q["phone"], args.phone, current.phone if current else None)
    website = ask(q["website"], args.website, current.website if current else None)
    return {"association": code, "full_name": full_name, "short_name": short_name,
            "coordinator": {"name": coord_name, "email": coord_email},
            "sender": {"name": sender_name, "email": sender_email},
            "signature": signature.replace("\\n", "\n") if signature else signature,
            "public_base_url": base_url, "time_zone": time_zone, "phone": phone, "website": website}


def _validated(target: Path, raw: dict):
    from pydantic import ValidationError

    from endorse.profiles import AssociationProfile, ProfileError

    missing = [k for k, v in (("coordinator.name", raw["coordinator"]["name"]),
                              ("coordinator.email", raw["coordinator"]["email"])) if not v]
    if missing:
        flag = "--" + missing[0].replace(".", "-").replace("_", "-")
        raise ProfileError(target, missing[0], f"missing (give {flag})")
    try:
        return AssociationProfile.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        raise ProfileError(target, ".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, ")) from None


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def smtp_check_message(assoc, to_name: str, to_email: str):
    """The test email, rendered and addressed exactly as the association's real emails are."""
    from email.utils import formataddr, make_msgid

    from endorse.mail import render
    from models import OutboxMessage
    from tasks.mail.outbox import build_message, profile_context

    sender = formataddr((assoc.sender_name or "", assoc.sender_email))
    mail = render("setup.test", {**profile_context(assoc), "sender": sender}, association=assoc.code)
    msg = OutboxMessage(role="setup.test", recipient_email=to_email, recipient_name=to_name, subject=mail.subject,
                        body_text=mail.text, body_html=mail.html, reply_to=assoc.coordinator_email,
                        message_id=make_msgid(domain=assoc.sender_email.split("@")[-1]))
    return build_message(msg, None, sender, assoc.timezone)


async def _send(smtp, em) -> None:
    from tasks.mail.outbox import send_now

    await send_now(smtp, em)
