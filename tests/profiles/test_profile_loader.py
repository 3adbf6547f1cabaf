"""Association profiles are strict: every bad profile is refused with the file and the field named.

Each case is one change to a valid profile and the field the error must name (issue 20, item 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from endorse.profiles import (
    ProfileError,
    load_profile,
    load_profiles,
    placeholder_host,
    placeholder_links,
    to_yaml,
)
from endorse.rulebook import default_library

GOOD = {
    "association": "MI-AIMH",
    "full_name": "Michigan Association for Infant Mental Health",
    "short_name": "MI-AIMH",
    "coordinator": {"name": "Mia Lopez", "email": "mlopez@mi-aimh.org"},
    "sender": {"name": "MI-AIMH Endorsement", "email": "endorsement@mi-aimh.org"},
    "signature": "Mia Lopez, Endorsement® coordinator\nMichigan Association for Infant Mental Health",
    "public_base_url": "https://endorse.mi-aimh.org",
    "time_zone": "America/Detroit",
}


def _write(folder: Path, data, name: str = "MI-AIMH.profile.yaml") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True))
    return path


def _with(change: dict, drop: tuple[str, ...] = ()) -> dict:
    data = {**GOOD, **change}
    for k in drop:
        data.pop(k)
    return data


BAD_PROFILES = [  # (case, profile, field the error names, words in the problem)
    ("unknown key", _with({"reply_to": "x@mi-aimh.org"}), "reply_to", "unknown field"),
    ("misspelt nested key", _with({"sender": {"name": "S", "emial": "s@mi-aimh.org"}}), "sender.emial",
     "unknown field"),
    ("missing sender", _with({}, drop=("sender",)), "sender", "missing"),
    ("missing time zone", _with({}, drop=("time_zone",)), "time_zone", "missing"),
    ("sender not an email", _with({"sender": {"name": "S", "email": "endorsement at mi-aimh"}}), "sender.email",
     "not an email address"),
    ("coordinator email with a display name", _with({"coordinator": {"name": "M", "email": "Mia <m@mi-aimh.org>"}}),
     "coordinator.email", "not an email address"),
    ("a name over two lines would add a header", _with({"sender": {"name": "S\nBcc: all@x.org", "email": "s@mi-aimh.org"}}),
     "sender.name", "one line"),
    ("unknown time zone", _with({"time_zone": "Michigan"}), "time_zone", "unknown time zone"),
    ("time zone with a hint", _with({"time_zone": "US/Detriot"}), "time_zone", "unknown time zone"),
    ("base URL without scheme", _with({"public_base_url": "endorse.mi-aimh.org"}), "public_base_url", "http(s)"),
    ("base URL with a query", _with({"public_base_url": "https://x.org/?a=1"}), "public_base_url", "no query"),
    ("number for a name", _with({"short_name": 12}), "short_name", ""),
    ("empty signature", _with({"signature": ""}), "signature", ""),
    ("phone over two lines", _with({"phone": "555\n0100"}), "phone", "one line"),
    ("website not a web address", _with({"website": "javascript:alert(1)"}), "website", "http(s)"),
    ("association not the file's", _with({"association": "CT-AIMH"}), "association", "file named for 'MI-AIMH'"),
]


@pytest.mark.parametrize("case,data,field,words", BAD_PROFILES, ids=[c[0] for c in BAD_PROFILES])
def test_a_bad_profile_is_refused_naming_the_file_and_the_field(tmp_path, case, data, field, words):
    path = _write(tmp_path, data)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert err.value.path == str(path)
    assert err.value.key == field
    assert words in err.value.problem
    assert str(path) in str(err.value) and field in str(err.value)


def test_yaml_that_is_not_a_mapping_or_has_duplicate_keys_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="must be a mapping"):
        load_profile(_write(tmp_path, "- just\n- a list\n"))
    text = yaml.safe_dump(GOOD, allow_unicode=True) + "time_zone: America/New_York\n"
    with pytest.raises(ProfileError, match="duplicate key"):
        load_profile(_write(tmp_path, text))


def test_a_profile_for_an_association_without_a_rulebook_is_refused(tmp_path):
    _write(tmp_path, _with({"association": "XX-AIMH"}), name="XX-AIMH.profile.yaml")
    with pytest.raises(ProfileError, match="no rulebook for 'XX-AIMH'"):
        load_profiles(tmp_path, default_library().associations)


def test_a_good_profile_loads_and_survives_being_written_back(tmp_path):
    assert load_profile(_write(tmp_path, {**GOOD, "phone": None, "website": None})).phone is None
    profile = load_profile(_write(tmp_path, {**GOOD, "phone": "(734) 785-7700", "website": "https://mi-aimh.org"}))
    assert profile.sender_header() == "MI-AIMH Endorsement <endorsement@mi-aimh.org>"
    again = load_profile(_write(tmp_path, to_yaml(profile)))
    assert again == profile
    assert "signature: |" in to_yaml(profile)  # a signature of two lines stays a readable block


def test_the_shipped_sample_profiles_load_and_do_not_change_the_rulebook():
    lib = default_library()
    profiles = load_profiles(lib.rules_dir / "associations", lib.associations)
    assert set(profiles) == set(lib.associations) - {lib.baseline.data["association"]}
    # Profiles are not rules: the rulebook digest recorded with decisions ignores them.
    assert all(not p.name.endswith(".profile.yaml") for p in (b.path for b in lib.overlays.values()))


PLACEHOLDERS = [  # (address, refused?)
    ("http://127.0.0.1:8000/rate/x", True), ("http://localhost/rate/x", True), ("http://[::1]:80/", True),
    ("https://endorse.localhost/", True), ("http://0.0.0.0:8000", True), ("https://mi-aimh.example.org/", True),
    ("endorsement@ct-aimh.example.org", True), ("https://example.com", True),
    ("https://endorse.mi-aimh.org/rate/x", False), ("endorsement@mi-aimh.org", False),
    ("https://example.organic.org", False),
]


@pytest.mark.parametrize("address,refused", PLACEHOLDERS, ids=[p[0] for p in PLACEHOLDERS])
def test_production_knows_loopback_and_example_addresses(address, refused):
    assert (placeholder_host(address) is not None) is refused


def test_placeholder_links_are_found_in_an_email_body():
    text = "Rate here: http://127.0.0.1:8000/rate/abc and see https://www.mi-aimh.org/endorsement."
    assert placeholder_links(text) == ["http://127.0.0.1:8000/rate/abc: 127.0.0.1 is this machine (loopback)"]
