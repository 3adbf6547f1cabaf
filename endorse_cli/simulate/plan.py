"""The seeded year: pure functions from (profile, seed, rulebooks, cohort templates) to what happens.

Applications are the cohort's documents (cohort/, every category of every rulebook) re-dated to the
day they arrive, with new people in them, arriving as a fresh intake: raters named but not yet
asked, no exam taken, some transcripts still to come. Every choice a simulated person makes is drawn
from the run's seed and that person's identity alone (never from the order things happen in), so a
run with faults makes the same choices as the same seed without them.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from endorse.settings import PROJECT_ROOT

PROFILES_FILE = Path(__file__).with_name("profiles.yaml")
COHORT = PROJECT_ROOT / "cohort"
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIRST = ["Ada", "Ben", "Cora", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Milo", "Nia",
         "Omar", "Pia", "Quin", "Rae", "Sol", "Tess", "Uma", "Vic", "Wen", "Yara", "Zed"]
LAST = ["Abbott", "Baird", "Cruz", "Dlamini", "Eriksen", "Fonseca", "Greer", "Haddad", "Ito", "Jovanovic",
        "Kowalski", "Lindgren", "Moreau", "Nakamura", "Okoye", "Petrov", "Quispe", "Rossi", "Santos", "Tanaka"]


@dataclass(frozen=True)
class Profile:
    name: str
    associations: tuple[str, ...]
    applications: int
    endorsed_last_year: int
    start: date
    days: int
    sweep_every_days: int
    exam_sittings_per_year: int
    reviewers_per_association: int
    behaviour: dict
    # (simulated association, the shipped one whose rulebook it follows unchanged): see rulebooks.py
    follows: tuple[tuple[str, str], ...] = ()
    # the days of the year before on which its endorsed professionals were decided (renewals fall due
    # in as many waves of this year)
    prologue_waves: int = 4

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)


def load_profile(name: str, library) -> Profile:
    """A profile of profiles.yaml; an unknown name says which exist."""
    import yaml

    data = yaml.safe_load(PROFILES_FILE.read_text())
    behaviour = data.pop("behaviour")
    if name not in data:
        raise ValueError(f"--profile: no profile {name!r} in {PROFILES_FILE.name} (there are: {', '.join(data)})")
    p = data[name]
    known = tuple(a for a in library.associations if (PROJECT_ROOT / "rules" / "associations" / f"{a}.yaml").exists())
    follows: tuple[tuple[str, str], ...] = ()
    if p["associations"] == "all":
        # More associations than rulebooks: the extra ones are simulated associations of their own
        # (their own codes, coordinators and numbers), each following a shipped rulebook in turn.
        extra = max(0, int(p.get("association_count", len(known))) - len(known))
        # Short codes (S01-MI, …): the endorsement number holds the code, the category, the year and
        # the application id in 40 characters.
        follows = tuple((f"S{i + 1:02d}-{known[i % len(known)].split('-')[0][:4]}", known[i % len(known)])
                        for i in range(extra))
        associations = known + tuple(code for code, _ in follows)
    else:
        associations = tuple(p["associations"])
        unknown = [a for a in associations if a not in known]
        if unknown:
            raise ValueError(f"{PROFILES_FILE.name}: {name}: no rulebook for {', '.join(unknown)}")
    return Profile(name=name, associations=associations, applications=int(p["applications"]),
                   endorsed_last_year=int(p["endorsed_last_year"]), start=p["start"], days=int(p["days"]),
                   sweep_every_days=int(p["sweep_every_days"]), exam_sittings_per_year=int(p["exam_sittings_per_year"]),
                   reviewers_per_association=int(p["reviewers_per_association"]), behaviour=behaviour,
                   follows=follows, prologue_waves=int(p.get("prologue_waves", 4)))


def draw(seed: int, *identity: object) -> random.Random:
    """A random stream for one person's choices: from the seed and who they are, nothing else."""
    digest = hashlib.sha256(json.dumps([seed, *map(str, identity)]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def choose(rng: random.Random, shares: dict[str, float]) -> str:
    roll, total = rng.random() * sum(shares.values()), 0.0
    for kind, share in shares.items():
        total += share
        if roll < total:
            return kind
    return kind


@dataclass(frozen=True)
class Arrival:
    day: date
    document: dict

    @property
    def id(self) -> str:
        return self.document["id"]


@dataclass
class YearPlan:
    profile: Profile
    seed: int
    prologue: list[Arrival]  # endorsed the year before: complete applications, decided on their day
    arrivals: list[Arrival]
    sitting_days: dict[str, list[date]] = field(default_factory=dict)

    def arrivals_on(self, day: date) -> list[Arrival]:
        return [a for a in self.arrivals if a.day == day]

    def prologue_days(self) -> list[date]:
        return sorted({a.day for a in self.prologue})


def _templates() -> tuple[list[dict], list[dict]]:
    """(every cohort document, those EXPECTED.yaml says are eligible as they stand)."""
    import yaml

    expected = yaml.safe_load((COHORT / "EXPECTED.yaml").read_text())["applications"]
    eligible = {e["file"] for e in expected if e["eligible"]}
    docs = {p.name: json.loads(p.read_text()) for p in sorted(COHORT.glob("*.json"))}
    return list(docs.values()), [docs[f] for f in sorted(eligible) if f in docs]


def _shift(value, days: int):
    """Every date of a document moved by the same number of days (its durations stay as they were)."""
    if isinstance(value, dict):
        return {k: _shift(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    if isinstance(value, str) and ISO_DAY.match(value):
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    return value


def _last_event(value, key: str = "") -> date | None:
    """The latest day a document records something happening (a transcript received, a rating
    submitted, an exam taken): every date but a membership's expiry, which runs on past it."""
    if isinstance(value, dict):
        days = [_last_event(v, k) for k, v in value.items()]
    elif isinstance(value, list):
        days = [_last_event(v, key) for v in value]
    else:
        return date.fromisoformat(value) if isinstance(value, str) and ISO_DAY.match(value) \
            and not key.endswith("expires_on") else None
    return max((d for d in days if d is not None), default=None)


def _person(rng: random.Random, tag: str) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"{first}.{last}.{tag}@example.org".lower()


def make_application(template: dict, *, app_id: str, association: str, day: date, seed: int, behaviour: dict,
                     complete: bool) -> dict:
    """One applicant's document as it arrives on `day`; complete: as it stands on `day`, the day it is
    decided (its last transcript, rating or exam that day, so one sweep that day decides it)."""
    anchor = _last_event(template) if complete else date.fromisoformat(template["submitted_on"])
    doc = _shift(template, (day - anchor).days)
    rng = draw(seed, "application", app_id)
    old_association = doc["association"]
    doc["id"], doc["association"] = app_id, association
    for m in doc.get("memberships", []):
        if m.get("association") == old_association:
            m["association"] = association
    doc["applicant"]["name"], doc["applicant"]["email"] = _person(rng, app_id)
    for i, ref in enumerate(doc.get("references", [])):
        ref["rater"]["name"], ref["rater"]["email"] = _person(rng, f"{app_id}-r{i}")
        if not complete and ref.get("status") in ("submitted", "declined"):
            ref["status"] = "requested"
            for k in ("submitted_on", "insufficient_information_count", "recommendation", "declined_on"):
                ref.pop(k, None)
    if not complete:
        doc.pop("exam", None)
        awaited = rng.random() < behaviour["transcript_awaited"]
        for edu in doc.get("education", []):
            if awaited and edu.get("transcript", {}).get("official"):
                edu["transcript"]["received_on"] = None
    doc.pop("determinations", None) if not complete else None
    return doc


def plan_year(profile: Profile, seed: int) -> YearPlan:
    every, eligible = _templates()
    rng = random.Random(seed)
    arrivals = []
    for n in range(profile.applications):
        association = profile.associations[n % len(profile.associations)]
        day = profile.start + timedelta(days=rng.randrange(profile.days - 30))  # time to move before the year ends
        template = rng.choice(every)
        code = association.split("-")[0][:4]
        arrivals.append(Arrival(day, make_application(template, app_id=f"SIM-{code}-{n + 1:05d}", association=association,
                                                      day=day, seed=seed, behaviour=profile.behaviour, complete=False)))
    prologue = []
    year_before = profile.start - timedelta(days=365)
    endorsable = _endorsable(profile, eligible, seed)
    for n in range(profile.endorsed_last_year):
        association = profile.associations[n % len(profile.associations)]
        # Decided on one of the waves' days of the year before, so renewals come due in as many waves,
        # each on a day whose last renewal notice (7 days before) falls on a day the scheduled runs run.
        waves = profile.prologue_waves
        day = _notice_on_a_run_day(year_before + timedelta(days=30 + (364 // waves) * (n % waves)), profile)
        templates = endorsable[association]
        template = templates[n // len(profile.associations) % len(templates)]
        code = association.split("-")[0][:4]
        prologue.append(Arrival(day, make_application(template, app_id=f"PRE-{code}-{n + 1:05d}",
                                                      association=association, day=day, seed=seed,
                                                      behaviour=profile.behaviour, complete=True)))
    arrivals.sort(key=lambda a: (a.day, a.id))
    sittings = {}
    for association in dict.fromkeys(profile.associations):
        k = profile.exam_sittings_per_year
        sittings[association] = [profile.start + timedelta(days=(i + 1) * profile.days // (k + 1)) for i in range(k)]
    return YearPlan(profile, seed, prologue, arrivals, sittings)


def _endorsable(profile: Profile, eligible: list[dict], seed: int) -> dict[str, list[dict]]:
    """For each association, the cohort's eligible documents that its own rulebook endorses once they
    are its applicant's (a rater endorsement one association asks for and another does not): the
    year before's endorsed professionals are endorsed ones. A simulated association is judged by the
    rulebook it follows."""
    from endorse.documents import parse_document
    from endorse.rulebook import default_library
    from tasks.eligibility.evaluation import evaluate

    library, follows = default_library(), dict(profile.follows)
    by_rulebook: dict[str, list[dict]] = {}
    out = {}
    for association in dict.fromkeys(profile.associations):
        rulebook = follows.get(association, association)
        if rulebook not in by_rulebook:
            day = profile.start - timedelta(days=300)
            docs = [make_application(t, app_id=f"CHECK-{i}", association=rulebook, day=day, seed=seed,
                                     behaviour=profile.behaviour, complete=True) for i, t in enumerate(eligible)]
            by_rulebook[rulebook] = [t for t, d in zip(eligible, docs)
                                     if evaluate(parse_document(json.dumps(d)), library, day).eligible]
        if not by_rulebook[rulebook]:
            raise ValueError(f"no document of the cohort is endorsed under {rulebook}'s rulebook as it stands")
        out[association] = by_rulebook[rulebook]
    return out


def _notice_on_a_run_day(day: date, profile: Profile) -> date:
    from endorse.dates import add_years

    while (add_years(day, 1) - timedelta(days=7) - profile.start).days % profile.sweep_every_days:
        day += timedelta(days=1)
    return day


# --- what each person does -------------------------------------------------------------------------


@dataclass(frozen=True)
class RaterChoice:
    kind: str  # answer, late, decline, not_enough_information, bounce, never
    after_days: int  # days after the request reached them


def rater_choice(seed: int, behaviour: dict, rater_email: str, application_id: str) -> RaterChoice:
    rng = draw(seed, "rater", rater_email, application_id)
    kind = choose(rng, behaviour["raters"])
    after = {"answer": rng.randint(1, 20), "late": rng.randint(24, 40), "decline": rng.randint(1, 10),
             "not_enough_information": rng.randint(2, 20)}.get(kind, 0)
    return RaterChoice(kind, after)


def reviewer_choice(seed: int, behaviour: dict, reviewer_email: str, essay_key: str) -> tuple[str, int]:
    rng = draw(seed, "reviewer", reviewer_email, essay_key)
    return choose(rng, behaviour["essay_reviewers"]), rng.randint(2, 14)


def renewal_choice(seed: int, behaviour: dict, endorsement_number: str) -> str:
    return choose(draw(seed, "renewal", endorsement_number), behaviour["renewals"])


def coordinator_accepts(seed: int, share: float, *identity: object) -> bool:
    return draw(seed, "coordinator", *identity).random() < share


def renewal_document(*, number: str, association: str, category: str, year: int, due_on: date, endorsed_on: date,
                     name: str, email: str, met: bool) -> dict:
    """What an endorsed professional sends for the renewal year ending on `due_on` (met or hours short)."""
    start = due_on - timedelta(days=300)
    provides_rsc = category in ("IMHM-C",)
    training = [{"title": "Relationship-based practice series", "hours": 16 if met else 8,
                 "completed_on": start.isoformat(), "topics": ["relationship_based", "dei"]}]
    if provides_rsc:
        training.append({"title": "Providing RS/C", "hours": 3, "completed_on": start.isoformat(),
                         "topics": ["rsc_didactic"]})
    rsc = []
    if category in ("IFS", "IMHS", "IMHM-C"):
        rsc.append({"provider": {"name": "Lena Marsh", "email": "lena.marsh@example.org", "endorsement": "IMHM-C"},
                    "hours": 12, "start_on": start.isoformat(), "end_on": (start + timedelta(days=200)).isoformat(),
                    "format": "individual"})
    return {"id": f"REN-{number}-{year}", "association": association, "category": category, "year": year,
            "person": {"name": name, "email": email, "endorsement": category},
            "endorsed_on": endorsed_on.isoformat(), "endorsement_number": number, "provides_rsc": provides_rsc,
            "code_of_ethics_signed_on": start.isoformat(),
            "memberships": [{"association": association, "expires_on": (due_on + timedelta(days=365)).isoformat()}],
            "training": training, "rsc": rsc}
