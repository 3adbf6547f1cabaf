"""Strict loading of the rulebooks in ``rules/`` (see rules/README.md for the format).

The loader only parses and checks; it knows nothing of what a rule means. Every rule node is a
mapping with ``source`` and ``effective_from`` or a list of such dated versions, and its parameters
are validated against the parameter model of its requirement kind, so a misspelt key is an error
naming the file and the key rather than a silently ignored rule.

Why one module of ~700 lines: it is the one schema of the rulebook (a parameter model per
requirement kind, the category and association models, the overlay merge), read top to bottom like
rules/README.md; the models refer to one another and to the same validators.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from endorse.documents import _iso_date


class RulebookError(Exception):
    """A rulebook file that cannot be used; names the file and the key."""

    def __init__(self, path: Path | str, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: {key}: {problem}")


# --- YAML: duplicate keys are errors; dates stay strings so that we check them ourselves ---------


# The C parser (libyaml) when PyYAML has it: the same safe construction, several times faster.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeBase):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Drop the implicit timestamp resolver: "2026-13-01" must become our error, not a crash or a string.
_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    try:
        with path.open("rb") as fh:
            return yaml.load(fh, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise RulebookError(path, where, str(getattr(exc, "problem", exc))) from None
    except OSError as exc:
        raise RulebookError(path, "(file)", f"cannot read ({exc.strerror})") from None


# --- parameter models, one per requirement kind -------------------------------------------------


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Dated(_Params):
    source: str = Field(min_length=3)
    effective_from: date
    effective_until: date | None = None

    @field_validator("effective_from", "effective_until", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        return None if v is None else _iso_date(v)


DegreeLevel = Literal["none", "bachelors", "masters"]


class WorkSpec(_Params):
    """A body of work experience: which kinds count, and how much is needed."""

    label: str
    kinds: list[str]
    min_years: float = Field(gt=0)
    paid_only: bool = True
    # With paid_only: unpaid (volunteer) records of these kinds count too once a coordinator accepts
    # them under this determination question (e.g. IFA's supervised volunteer experience).
    unpaid_counts_if: str | None = None
    after: DegreeLevel = "none"
    min_families_served: int | None = None
    internship_credit: "InternshipCredit | None" = None


class InternshipCredit(_Params):
    kinds: list[str]
    supervisor_set: str
    max_years: float = Field(gt=0)
    determination: str | None = None  # the reviewers' consideration of the internship description


class EducationRule(_Dated):
    credentials: list[str]
    # Credentials that count only on top of one in ``credentials`` (a university certificate on a master's).
    only_on_top: list[str] = []
    alternative_work: WorkSpec | None = None


class TranscriptsRule(_Dated):
    official_required: bool = True


class TrainingRule(_Dated):
    min_hours: float = Field(gt=0)
    typical_hours: float | None = None
    topic: str | None = None  # None: every training record counts


class WorkExperienceRule(_Dated):
    components: list[WorkSpec] = Field(min_length=1)


class LeadershipRule(_Dated):
    levels: list[str]
    min_activities: int = Field(ge=0)
    min_outside_paid_work: int = Field(ge=0, default=0)  # activities not part of paid work
    min_years: float | None = Field(gt=0, default=None)  # calendar time of the activities, paid and unpaid


class ProviderException(_Params):
    """Providers outside the set who count once a coordinator answers a question (IFS's master's-prepared IFS)."""

    endorsements: list[str] = Field(min_length=1)
    determination: str


class WhileProviding(_Params):
    """RS/C counts only on days covered by records of these work kinds."""

    kinds: list[str] = Field(min_length=1)
    label: str


class RscHoursRule(_Dated):
    min_hours: float = Field(gt=0)
    provider_set: str | None = None
    # No set: every provider must be approved by a coordinator under this question (LEVELS-AIMH).
    provider_determination: str | None = None
    provider_exception: ProviderException | None = None
    while_providing: WhileProviding | None = None
    after: DegreeLevel = "none"
    window_max_months: int = Field(gt=0)
    window_min_months: int = Field(ge=0)


class RscAboutProvidingRule(_Dated):
    min_hours: float = Field(gt=0)
    of: str  # the requirement id whose window is used (rsc_hours)


ApplicantFact = Literal["applicant_is_supervisor", "no_supervisor_or_rsc_provider_available"]


class Slot(_Params):
    roles: list[str] = Field(min_length=1)
    # A rater in any other role fills it too when endorsed in the endorsed_rater rule's set, or vetted
    # where that rule allows vetting (IFA: the endorsed-or-vetted rater may hold any role).
    any_role_if_endorsed_or_vetted: bool = False
    # Roles that fill this slot only when a named fact about the applicant holds.
    conditional_roles: dict[Literal["applicant_is_supervisor"], list[str]] = {}


class Pattern(_Params):
    name: str
    slots: list[Slot] = Field(min_length=1)
    only_if: ApplicantFact | None = None  # a pattern open only when the applicant states this


class ReferencesRule(_Dated):
    patterns: list[Pattern] = Field(min_length=1)


class EndorsedRaterRule(_Dated):
    rater_set: str
    vetting_allowed: bool = False


class AgreementRule(_Dated):
    field: Literal["code_of_ethics_signed_on", "endorsement_agreement_signed_on"]


class MembershipRule(_Dated):
    associations: Literal["any"] | list[str] = "any"


class ExamRule(_Dated):
    essay_track: str


class RenewalTrainingRule(_Dated):
    min_hours: float = Field(gt=0)
    topic: str | None = None
    only_if_provides_rsc: bool = False
    only_if_masters_prepared: bool = False  # IFS: only those with a master's who provide RS/C


class RscStep(_Params):
    from_years_endorsed: int = Field(ge=0)
    min_hours: float = Field(ge=0)
    # Peer supervision counts from this step on, with peers endorsed in these categories.
    peer_consultation_with: list[str] = []
    # Shown as a warning when no hours are required but the person provides direct service or RS/C.
    advice: str | None = None


class RenewalRscRule(_Dated):
    # The hours needed can change with the years endorsed (e.g. IMHM-C after 3 years).
    schedule: list[RscStep] = Field(min_length=1)


class RenewalMembershipRule(_Dated):
    associations: Literal["any"] | list[str] = "any"


class RenewalAgreementRule(_Dated):
    pass


KIND_MODELS: dict[str, type[_Dated]] = {
    "education": EducationRule,
    "transcripts": TranscriptsRule,
    "training_hours": TrainingRule,
    "work_experience": WorkExperienceRule,
    "leadership": LeadershipRule,
    "rsc_hours": RscHoursRule,
    "rsc_about_providing_hours": RscAboutProvidingRule,
    "references": ReferencesRule,
    "endorsed_rater": EndorsedRaterRule,
    "agreement": AgreementRule,
    "membership": MembershipRule,
    "exam": ExamRule,
    "renewal_training": RenewalTrainingRule,
    "renewal_rsc": RenewalRscRule,
    "renewal_membership": RenewalMembershipRule,
    "renewal_agreement": RenewalAgreementRule,
}
SECTIONS = ("requirements", "renewal")  # a category's initial requirements, and its annual renewal


class EndorsementSet(_Dated):
    members: list[str]


class DeterminationQuestion(_Dated):
    """A judgment the seeds leave to a coordinator; rules name it, and wait on it until recorded."""

    question: str = Field(min_length=3)
    requirement: str  # the requirement it gates (shown beside it on the checklist)


class Setting(_Dated):
    value: Any


class RequirementDef(_Params):
    id: str
    kind: str
    title: str

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KIND_MODELS:
            raise ValueError(f"unknown requirement kind {v!r}")
        return v


class CompetencyArea(_Params):
    key: str
    name: str
    kind: Literal["knowledge", "skill"] | None = None


class CompetencyDomain(_Params):
    key: str
    name: str
    area_kind: Literal["knowledge", "skill", "mixed"]
    areas: list[CompetencyArea] = Field(min_length=1)
    # A domain that applies only to some categories of the set (IMHM designation codes); absent: all.
    applies_to: list[str] | None = None
    source: str | None = None


class CompetencySet(_Dated):
    competency_set: str
    applies_to: list[str]
    domains: list[CompetencyDomain] = Field(min_length=1)


# --- resolved views -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRules:
    """Everything the evaluator needs for one association, category and as-of date."""

    association: str
    category: str
    as_of: date
    order: tuple[RequirementDef, ...]
    rules: Mapping[str, Any]  # requirement id -> validated params (absent: not applicable)
    sets: Mapping[str, frozenset[str]]
    set_sources: Mapping[str, str]
    settings: Mapping[str, Any]
    role_wording: Mapping[str, str]
    digest: str
    category_source: str = ""
    renewal_order: tuple[RequirementDef, ...] = ()
    renewal_rules: Mapping[str, Any] = field(default_factory=dict)
    setting_sources: Mapping[str, str] = field(default_factory=dict)  # setting -> its citation, for pages that state it
    # Determination questions in force: key -> DeterminationQuestion.
    questions: Mapping[str, "DeterminationQuestion"] = field(default_factory=dict)
    # What the evaluator works out from these rules alone (a slot's roles, the best filling of the
    # slots for a given set of raters' roles), kept here so that it is worked out once per association,
    # category and as-of date and never shared with another's. Not part of the rules' identity.
    derived: dict = field(default_factory=dict, compare=False, repr=False, hash=False)


def asked_questions(rules: CategoryRules) -> list[str]:
    """The determination questions the category's rules wait on, in checklist order."""
    out: list[str] = []
    for d in rules.order:
        r = rules.rules.get(d.id)
        if r is None:
            continue
        specs = [*getattr(r, "components", []), *([r.alternative_work] if getattr(r, "alternative_work", None) else [])]
        named = [getattr(r, "provider_determination", None),
                 getattr(getattr(r, "provider_exception", None), "determination", None),
                 *[s.unpaid_counts_if for s in specs],
                 *[s.internship_credit.determination for s in specs if s.internship_credit is not None]]
        out += [q for q in named if q and q in rules.questions and q not in out]
    return out


@dataclass
class _RawBook:
    path: Path
    data: dict


@dataclass
class RulebookLibrary:
    """All rulebooks of one ``rules/`` folder, validated at load time."""

    rules_dir: Path
    baseline: _RawBook
    overlays: dict[str, _RawBook]
    requirement_defs: tuple[RequirementDef, ...]
    competencies: dict[str, CompetencySet]
    digest: str
    renewal_defs: tuple[RequirementDef, ...] = ()
    _cache: dict = field(default_factory=dict)

    @property
    def associations(self) -> tuple[str, ...]:
        return (self.baseline.data["association"], *sorted(self.overlays))

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.baseline.data["categories"])

    def derived(self, key: tuple, build: Callable[[], Any]) -> Any:
        """What a caller derives from these rules alone (a form's layout, say), built once per library:
        the rule files cannot change under a loaded library."""
        key = ("derived", *key)
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def category_rules(self, association: str, category: str, as_of: date) -> CategoryRules:
        key = (association, category, as_of)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(association, category, as_of)
            self._cache[key] = hit
        return hit

    def check_document(self, doc: Any, path: str) -> None:
        """Refuse a document whose association or category has no rulebook (names file and field)."""
        from endorse.documents import DocumentError

        problems = []
        if doc.association not in self.associations:
            problems.append(f"field association: unknown association {doc.association!r} "
                            f"(known: {', '.join(self.associations)})")
        if doc.category not in self.categories:
            problems.append(f"field category: unknown category {doc.category!r} "
                            f"(known: {', '.join(self.categories)})")
        if not problems:
            known = self.all_questions(doc.association)
            for i, d in enumerate(getattr(doc, "determinations", ()) or ()):
                if d.question not in known:
                    problems.append(f"field determinations[{i}].question: unknown question {d.question!r} "
                                    f"(known to {doc.association}: {', '.join(sorted(known)) or 'none'})")
        if problems:
            raise DocumentError(path, problems)

    def all_questions(self, association: str) -> set[str]:
        """Every determination question key an association's rulebooks define (any date)."""
        return {k for b in self._books_for(association) for k in (b.data.get("determination_questions") or {})}

    def category_info(self, category: str) -> dict:
        """Name, level, competency set and exam track of a category (baseline data)."""
        cat = self.baseline.data["categories"].get(category)
        if cat is None:
            raise KeyError(category)
        return {k: v for k, v in cat.items() if k != "requirements"}

    def competency_set_for(self, category: str) -> CompetencySet:
        name = self.baseline.data["categories"][category]["competency_set"]
        return self.competencies[name]

    def competency_domains_for(self, category: str) -> tuple[CompetencyDomain, ...]:
        """The domains a rater of ``category`` answers: those of its set that apply to the category."""
        return tuple(d for d in self.competency_set_for(category).domains
                     if d.applies_to is None or category in d.applies_to)

    def setting(self, association: str, name: str, as_of: date) -> Any:
        return self.category_rules(association, self.categories[0], as_of).settings[name]

    # The baseline is one association (ALLIANCE); others overlay it.
    def _books_for(self, association: str) -> list[_RawBook]:
        base_code = self.baseline.data["association"]
        if association == base_code:
            return [self.baseline]
        overlay = self.overlays.get(association)
        if overlay is None:
            raise RulebookError(self.rules_dir, association, "no rulebook for this association")
        return [self.baseline, overlay]

    def _resolve(self, association: str, category: str, as_of: date) -> CategoryRules:
        books = self._books_for(association)
        sets: dict[str, frozenset[str]] = {}
        set_sources: dict[str, str] = {}
        settings: dict[str, Any] = {}
        setting_sources: dict[str, str] = {}
        questions: dict[str, DeterminationQuestion] = {}
        found: dict[str, dict[str, Any]] = {"requirements": {}, "renewal": {}}
        kinds = {d.id: d.kind for d in (*self.requirement_defs, *self.renewal_defs)}
        for book in books:
            for name, node in (book.data.get("endorsement_sets") or {}).items():
                v = _in_force(node, as_of)
                if v is not None:
                    sets[name] = frozenset(v["members"])
                    set_sources[name] = v["source"]
            for name, node in (book.data.get("settings") or {}).items():
                v = _in_force(node, as_of)
                if v is not None:
                    settings[name] = v["value"]
                    setting_sources[name] = v["source"]
            for name, node in (book.data.get("determination_questions") or {}).items():
                v = _in_force(node, as_of)
                if v is not None:
                    questions[name] = DeterminationQuestion.model_validate(v)
            cat = (book.data.get("categories") or {}).get(category)
            if cat is None:
                continue
            for section in SECTIONS:
                rules = found[section]
                for req_id, node in (cat.get(section) or {}).items():
                    v = _in_force(node, as_of)
                    if v is None:
                        continue
                    if v.get("not_applicable"):
                        rules.pop(req_id, None)
                        continue
                    merged = {**rules[req_id].model_dump(), **v} if req_id in rules and book is not books[0] else v
                    rules[req_id] = KIND_MODELS[kinds[req_id]].model_validate(merged)
        if category not in self.baseline.data["categories"]:
            raise RulebookError(self.baseline.path, category, "unknown category")
        return CategoryRules(
            association=association,
            category=category,
            as_of=as_of,
            order=self.requirement_defs,
            rules=found["requirements"],
            sets=sets,
            set_sources=set_sources,
            settings=settings,
            role_wording=self.baseline.data.get("role_wording", {}).get("roles", {}),
            digest=self.digest,
            category_source=self.baseline.data["categories"][category]["source"],
            renewal_order=self.renewal_defs,
            renewal_rules=found["renewal"],
            questions=questions,
            setting_sources=setting_sources,
        )


def _in_force(node: Any, as_of: date) -> dict | None:
    """The version of a node in force on ``as_of`` (already validated at load time)."""
    versions = node if isinstance(node, list) else [node]
    best = None
    for v in versions:
        if v["effective_from"] <= as_of and (v.get("effective_until") is None or as_of < v["effective_until"]):
            if best is None or v["effective_from"] > best["effective_from"]:
                best = v
    return best


# --- loading and checking -----------------------------------------------------------------------

_TOP_BASELINE = {"association", "name", "source", "effective_from", "requirements", "renewal_requirements",
                 "role_wording", "endorsement_sets", "settings", "determination_questions", "categories"}
_TOP_OVERLAY = {"association", "name", "extends", "source", "effective_from", "endorsement_sets",
                "settings", "determination_questions", "categories"}
_CATEGORY_KEYS = {"source", "name", "level", "competency_set", "exam_track", "requirements", "renewal"}


def _check_keys(path: Path, where: str, data: Any, allowed: set[str], required: set[str]) -> None:
    if not isinstance(data, dict):
        raise RulebookError(path, where, "must be a mapping")
    for k in data:
        if k not in allowed:
            raise RulebookError(path, f"{where}.{k}" if where else str(k), "unknown key")
    for k in required:
        if k not in data:
            raise RulebookError(path, f"{where}.{k}" if where else str(k), "required key is missing")


def _validate_versions(path: Path, where: str, node: Any, model: type[BaseModel], partial: bool) -> list[dict]:
    """Validate a node (mapping or list of dated versions); dates become ``date`` objects in place."""
    versions = node if isinstance(node, list) else [node]
    if not versions:
        raise RulebookError(path, where, "empty list of versions")
    out = []
    for i, v in enumerate(versions):
        key = f"{where}[{i}]" if isinstance(node, list) else where
        if not isinstance(v, dict):
            raise RulebookError(path, key, "must be a mapping")
        for required in ("source", "effective_from"):
            if required not in v:
                raise RulebookError(path, f"{key}.{required}", "required key is missing")
        try:
            if partial:
                # An overlay gives only what differs: check names, types of what it gives, and dates.
                _Dated.model_validate({k: v[k] for k in ("source", "effective_from", "effective_until") if k in v})
                unknown = set(v) - set(model.model_fields) - {"not_applicable"}
                if unknown:
                    raise RulebookError(path, f"{key}.{sorted(unknown)[0]}", "unknown key")
            else:
                model.model_validate(v)
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in e["loc"])
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
            raise RulebookError(path, f"{key}.{loc}" if loc else key, msg) from None
        v = dict(v)
        v["effective_from"] = _iso_date_or_error(path, f"{key}.effective_from", v["effective_from"])
        if v.get("effective_until") is not None:
            v["effective_until"] = _iso_date_or_error(path, f"{key}.effective_until", v["effective_until"])
        out.append(v)
    starts = [v["effective_from"] for v in out]
    if len(set(starts)) != len(starts):
        raise RulebookError(path, where, "two versions share an effective_from date")
    return out if isinstance(node, list) else out[0]  # type: ignore[return-value]


def _iso_date_or_error(path: Path, key: str, value: Any) -> date:
    try:
        return _iso_date(value)
    except ValueError as exc:
        raise RulebookError(path, key, str(exc)) from None


def _load_book(path: Path, defs: dict[str, str] | None, base: dict | None) -> dict:
    data = read_yaml(path)
    is_overlay = base is not None
    _check_keys(path, "", data, _TOP_OVERLAY if is_overlay else _TOP_BASELINE,
                {"association", "name", "source", "effective_from"} | ({"extends"} if is_overlay else {"requirements", "categories"}))
    _iso_date_or_error(path, "effective_from", data["effective_from"])
    if is_overlay and data["extends"] != base["association"]:
        raise RulebookError(path, "extends", f"unknown base rulebook {data['extends']!r}")
    if not is_overlay:
        all_defs: dict[str, str] = {}
        for list_key in ("requirements", "renewal_requirements"):
            parsed = []
            for i, r in enumerate(data.get(list_key) or []):
                try:
                    d = RequirementDef.model_validate(r)
                except ValidationError as exc:
                    e = exc.errors(include_url=False)[0]
                    raise RulebookError(path, f"{list_key}[{i}].{'.'.join(map(str, e['loc']))}", e["msg"]) from None
                if d.id in all_defs:
                    raise RulebookError(path, f"{list_key}[{i}].id", f"duplicate requirement id {d.id!r}")
                all_defs[d.id] = d.kind
                parsed.append(d)
            data[list_key] = parsed
        defs = all_defs
        if "role_wording" in data:
            _check_keys(path, "role_wording", data["role_wording"], {"source", "roles"}, {"source", "roles"})
    assert defs is not None
    for name, node in (data.get("endorsement_sets") or {}).items():
        data["endorsement_sets"][name] = _validate_versions(path, f"endorsement_sets.{name}", node, EndorsementSet, False)
    for name, node in (data.get("settings") or {}).items():
        if is_overlay and name not in (base.get("settings") or {}):
            raise RulebookError(path, f"settings.{name}", "not a setting of the baseline")
        data["settings"][name] = _validate_versions(path, f"settings.{name}", node, Setting, False)
    for name, node in (data.get("determination_questions") or {}).items():
        where = f"determination_questions.{name}"
        data["determination_questions"][name] = _validate_versions(path, where, node, DeterminationQuestion, False)
        for v in node if isinstance(node, list) else [node]:
            if v["requirement"] not in defs:
                raise RulebookError(path, f"{where}.requirement", f"not a requirement id of the baseline: {v['requirement']!r}")
    for cat_name, cat in (data.get("categories") or {}).items():
        where = f"categories.{cat_name}"
        if is_overlay:
            if cat_name not in base["categories"]:
                raise RulebookError(path, where, "not a category of the baseline")
            _check_keys(path, where, cat, set(SECTIONS), set())
        else:
            _check_keys(path, where, cat, _CATEGORY_KEYS, {"source", "name", "competency_set", "requirements"})
        for section in SECTIONS:
            for req_id, node in (cat.get(section) or {}).items():
                rwhere = f"{where}.{section}.{req_id}"
                if req_id not in defs:
                    raise RulebookError(path, rwhere, "not a requirement id of the baseline")
                model = KIND_MODELS[defs[req_id]]
                partial = is_overlay and req_id in (base["categories"][cat_name].get(section) or {})
                cat[section][req_id] = _validate_versions(path, rwhere, node, model, partial)
    return data


def _check_references(path: Path, data: dict, sets: set[str], questions: set[str]) -> None:
    """Named sets and determination questions that rules refer to must exist."""
    for cat_name, cat in (data.get("categories") or {}).items():
        for req_id, node in (cat.get("requirements") or {}).items():
            for v in node if isinstance(node, list) else [node]:
                names = [v.get("rater_set"), v.get("provider_set")]
                asked = [v.get("provider_determination"), (v.get("provider_exception") or {}).get("determination")]
                specs = [*(v.get("components") or []), v.get("alternative_work") or {}]
                for spec in specs:
                    names.append((spec.get("internship_credit") or {}).get("supervisor_set"))
                    asked += [spec.get("unpaid_counts_if"), (spec.get("internship_credit") or {}).get("determination")]
                where = f"categories.{cat_name}.requirements.{req_id}"
                for n in names:
                    if n is not None and n not in sets:
                        raise RulebookError(path, where, f"undefined endorsement set {n!r}")
                for q in asked:
                    if q is not None and q not in questions:
                        raise RulebookError(path, where, f"undefined determination question {q!r}")


def load_rulebooks(rules_dir: str | Path) -> RulebookLibrary:
    rules_dir = Path(rules_dir)
    base_path = rules_dir / "baseline.yaml"
    baseline = _load_book(base_path, None, None)
    defs = {d.id: d.kind for d in (*baseline["requirements"], *baseline.get("renewal_requirements", []))}
    base_sets = set(baseline.get("endorsement_sets") or {})
    base_questions = set(baseline.get("determination_questions") or {})
    _check_references(base_path, baseline, base_sets, base_questions)
    overlays: dict[str, _RawBook] = {}
    for p in sorted((rules_dir / "associations").glob("*.yaml")):
        if p.name.endswith(".profile.yaml"):  # an association's profile (endorse/profiles.py), not rules
            continue
        data = _load_book(p, defs, baseline)
        code = data["association"]
        if p.stem != code:
            raise RulebookError(p, "association", f"file name must be {code}.yaml")
        if code in overlays or code == baseline["association"]:
            raise RulebookError(p, "association", f"duplicate association {code!r}")
        _check_references(p, data, base_sets | set(data.get("endorsement_sets") or {}),
                          base_questions | set(data.get("determination_questions") or {}))
        overlays[code] = _RawBook(p, data)
    competencies: dict[str, CompetencySet] = {}
    for p in sorted((rules_dir / "competencies").glob("*.yaml")):
        raw = read_yaml(p)
        try:
            cs = CompetencySet.model_validate(raw)
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            raise RulebookError(p, ".".join(map(str, e["loc"])), msg) from None
        competencies[cs.competency_set] = cs
    for cat_name, cat in baseline["categories"].items():
        if cat["competency_set"] not in competencies:
            raise RulebookError(base_path, f"categories.{cat_name}.competency_set",
                                f"no competency set {cat['competency_set']!r} in rules/competencies")
    digest = _digest(rules_dir)
    return RulebookLibrary(
        rules_dir=rules_dir,
        baseline=_RawBook(base_path, baseline),
        overlays=overlays,
        requirement_defs=tuple(baseline["requirements"]),
        competencies=competencies,
        renewal_defs=tuple(baseline.get("renewal_requirements", [])),
        digest=digest,
    )


def _digest(rules_dir: Path) -> str:
    """A fingerprint of the rule files, recorded with every decision (profiles are not rules)."""
    h = hashlib.sha256()
    for p in sorted(q for q in rules_dir.rglob("*.yaml") if not q.name.endswith(".profile.yaml")):
        h.update(p.relative_to(rules_dir).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=4)
def default_library(rules_dir: str | None = None) -> RulebookLibrary:
    if rules_dir is None:
        rules_dir = _configured_rules_dir()
    return load_rulebooks(rules_dir)


def _configured_rules_dir() -> str:
    """The settings' rules folder. Where neither the environment (ENDORSE_RULES_DIR, any case, as
    pydantic-settings reads it) nor a .env file can set it, it is the project's rules/, known without
    loading the settings: ``endorse evaluate`` then neither imports pydantic-settings (a sixth of its
    start) nor makes the development secret key in the data folder (it writes nothing)."""
    import os

    if Path(".env").exists() or any(k.upper() == "ENDORSE_RULES_DIR" for k in os.environ):
        from endorse.settings import get_settings

        return str(get_settings().rules_dir)
    return str(Path(__file__).resolve().parent.parent / "rules")


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)
