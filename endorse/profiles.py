"""Association profiles: who an association is to the people it writes to.

One file per association beside its rulebook, ``rules/associations/<CODE>.profile.yaml`` (or in
``ENDORSE_PROFILES_DIR``): full and short name, the coordinator people reply to, the sender address,
the signature under every email, the public address of the web pages, the time zone. The rulebook
says what an applicant must show; the profile says who is asking. The loader is as strict as the
rulebook loader: an unknown or misspelt key is an error naming the file and the field.

``endorse setup`` writes a first profile; ``tasks.records.ensure_associations`` copies profiles into
the ``association`` rows that emails and pages read (the database stays the source of truth).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from endorse.rulebook import RulebookError, read_yaml

PROFILE_SUFFIX = ".profile.yaml"
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
# Hosts that must never appear in a link sent to a real person (ENDORSE_ENV=production).
PLACEHOLDER_DOMAINS = ("example.org", "example.com", "example.net")


class ProfileError(RulebookError):
    """A profile that cannot be used; names the file and the field (exit 2 like a bad rulebook)."""


class ProductionRefusal(ValueError):
    """ENDORSE_ENV=production and something would reach real people with a placeholder or no profile."""


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _one_line(value: str | None) -> str | None:
    # A name goes into an email header: a line break there would let a profile add headers.
    if value is None:
        return None
    if "\n" in value or "\r" in value:
        raise ValueError("must be on one line")
    return value.strip()


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)

    _check_name = field_validator("name")(_one_line)
    _check_email = field_validator("email")(_email)


class AssociationProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    association: str = Field(min_length=1, max_length=32)
    full_name: str = Field(min_length=1, max_length=200)
    short_name: str = Field(min_length=1, max_length=40)
    # Replies to any email reach this person (Reply-To); they also get the system's own notices.
    coordinator: Contact
    # The From of every email; often a no-reply or shared mailbox of the association.
    sender: Contact
    # Closes every email, plain text and HTML (one line each).
    signature: str = Field(min_length=1, max_length=1000)
    # Where the links in emails point; absent: ENDORSE_PUBLIC_BASE_URL (one server for all associations).
    public_base_url: str | None = None
    # Dates in letters and due dates are the association's calendar days.
    time_zone: str
    phone: str | None = Field(default=None, max_length=40)
    website: str | None = None

    _check_names = field_validator("full_name", "short_name", "phone")(_one_line)

    @field_validator("public_base_url", "website")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) address")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r}: no query or fragment (links are built under it)")
        return value.rstrip("/")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = sorted(z for z in available_timezones() if z.split("/")[-1].lower() == value.split("/")[-1].lower())
            hint = f" (did you mean {close[0]}?)" if close else " (an IANA name such as America/Detroit)"
            raise ValueError(f"unknown time zone {value!r}{hint}") from None
        return value

    def sender_header(self) -> str:
        from email.utils import formataddr

        return formataddr((self.sender.name, self.sender.email))


def profile_path(folder: Path, code: str) -> Path:
    return Path(folder) / f"{code}{PROFILE_SUFFIX}"


def load_profile(path: Path | str) -> AssociationProfile:
    path = Path(path)
    try:
        raw = read_yaml(path)
    except ProfileError:
        raise
    except RulebookError as exc:  # unreadable file, bad YAML, a duplicate key
        raise ProfileError(exc.path, exc.key, exc.problem) from None
    if not isinstance(raw, dict):
        raise ProfileError(path, "(file)", "must be a mapping of fields (association, full_name, …)")
    try:
        profile = AssociationProfile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A misspelt key also makes the real one "missing": name the misspelling.
        e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
        field = ".".join(map(str, e["loc"])) or "(file)"
        msg = {"extra_forbidden": "unknown field", "missing": "missing"}.get(e["type"], e["msg"])
        raise ProfileError(path, field, msg.removeprefix("Value error, ")) from None
    expected = path.name[: -len(PROFILE_SUFFIX)]
    if profile.association != expected:
        raise ProfileError(path, "association", f"{profile.association!r} in a file named for {expected!r}")
    return profile


def load_profiles(folder: Path | str, known_associations: tuple[str, ...] | None = None) -> dict[str, AssociationProfile]:
    """Every ``*.profile.yaml`` of a folder; a profile for an association without a rulebook is an error."""
    out: dict[str, AssociationProfile] = {}
    for p in sorted(Path(folder).glob(f"*{PROFILE_SUFFIX}")):
        profile = load_profile(p)
        if known_associations is not None and profile.association not in known_associations:
            raise ProfileError(p, "association", f"no rulebook for {profile.association!r} "
                                                 f"(known: {', '.join(known_associations)})")
        out[profile.association] = profile
    return out


def profiles_dir(library=None) -> Path:
    """``ENDORSE_PROFILES_DIR`` if set, else beside the rulebooks."""
    from endorse.settings import get_settings

    settings = get_settings()
    if settings.profiles_dir is not None:
        return settings.profiles_dir
    rules = library.rules_dir if library is not None else settings.rules_dir
    return Path(rules) / "associations"


def digest(profile: AssociationProfile) -> str:
    return hashlib.sha256(profile.model_dump_json().encode()).hexdigest()


def to_yaml(profile: AssociationProfile) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _text(dumper, value: str):
        # A signature of several lines stays readable (and editable) as a block.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _Dumper.add_representer(str, _text)
    data = profile.model_dump(exclude_none=True)
    head = (f"# Profile of {profile.association}: who writes to applicants, raters and reviewers, and where\n"
            f"# their links point (format: endorse/profiles.py). Written by `endorse setup`; edit freely.\n")
    return head + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# --- what production refuses ----------------------------------------------------------------------


def placeholder_host(url_or_email: str) -> str | None:
    """Why this address must not reach a real person, or None: loopback hosts and example domains."""
    value = url_or_email.strip()
    host = (value.rsplit("@", 1)[-1] if "@" in value and "://" not in value else urlsplit(value).hostname or "")
    host = host.lower().rstrip(".")
    if host in ("localhost", "0.0.0.0") or host.endswith(".localhost"):
        return f"{host} is this machine (loopback)"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return f"{host} is this machine (loopback)"
    except ValueError:
        pass
    for domain in PLACEHOLDER_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return f"{host} is a placeholder domain ({domain})"
    return None


_URL = re.compile(r"https?://[^\s<>\"')]+")


def placeholder_links(*texts: str) -> list[str]:
    """Every link in the texts that points at loopback or an example domain, with the reason."""
    found = []
    for text in texts:
        for url in _URL.findall(text):
            why = placeholder_host(url)
            if why and f"{url}: {why}" not in found:
                found.append(f"{url}: {why}")
    return found


def refuse_in_production(*, association: str | None, has_profile: bool, link_base: str | None,
                         texts: tuple[str, ...]) -> None:
    """What queueing an email checks when ENDORSE_ENV=production (raises ProductionRefusal)."""
    problems = []
    if association is not None and not has_profile:
        problems.append(f"{association} has no profile: run `endorse setup --association {association}` "
                        f"or add {association}{PROFILE_SUFFIX} beside its rulebook")
    if link_base is not None and (why := placeholder_host(link_base)):
        problems.append(f"its link would start with {link_base} ({why}): set public_base_url in the profile "
                        "or ENDORSE_PUBLIC_BASE_URL")
    problems += [f"it links to {p}" for p in placeholder_links(*texts)]
    if problems:
        raise ProductionRefusal("ENDORSE_ENV=production refuses this email: " + "; ".join(problems))
