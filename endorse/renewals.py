"""The renewal document: one endorsed professional's year, in the style of the application document.

Schema: schema/renewal.schema.json (the tests check the two agree). Parsed strictly, like
applications: errors name the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, model_validator

from endorse.documents import (
    DocumentError,
    Endorsement,
    IsoDate,
    Membership,
    Person,
    Training,
    _Strict,
    describe_validation_error,
    nul_characters,
)


class RenewalRsc(_Strict):
    provider: Person
    hours: Annotated[float, Field(gt=0, le=1000)]
    start_on: IsoDate
    end_on: IsoDate
    format: str | None = None
    peer_consultation: bool = False  # with a peer endorsed at the same category

    @model_validator(mode="after")
    def _dates(self) -> "RenewalRsc":
        if self.end_on < self.start_on:
            raise ValueError("end_on is before start_on")
        return self


class RenewalDocument(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    association: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    category: Endorsement
    year: Annotated[int, Field(ge=2000, le=2100)]
    person: Person
    endorsed_on: IsoDate
    endorsement_number: str | None = None
    # The renewal due date (the anniversary); without it, the anniversary of endorsed_on in ``year``.
    due_on: IsoDate | None = None
    provides_rsc: bool = False
    provides_direct_service: bool = False
    masters_prepared: bool = False  # holds a master's or doctorate (IFS: RS/C training for providers)
    code_of_ethics_signed_on: IsoDate | None = None
    memberships: tuple[Membership, ...] = ()
    training: tuple[Training, ...] = ()
    rsc: tuple[RenewalRsc, ...] = ()


def parse_renewal(raw: bytes | str, path: str = "<input>") -> RenewalDocument:
    try:
        document = RenewalDocument.model_validate_json(raw)
        nul_characters(raw, path)
        return document
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise DocumentError(path, ["not valid JSON"]) from None
        raise DocumentError(path, describe_validation_error(exc)) from None


def load_renewal(path: str | Path) -> RenewalDocument:
    p = Path(path)
    try:
        return parse_renewal(p.read_bytes(), str(p))
    except OSError as exc:
        raise DocumentError(str(p), [f"cannot read file ({exc.strerror})"]) from None
