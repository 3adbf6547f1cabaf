"""An exam sitting from the coordinator's side: open a sitting, enrol the approved candidates under
codes, take in multiple-choice results and essays from the exam platform's CSV files, hold back
essays that could reveal their writer, and start a retake after the waiting period.

Imports are all or nothing: every bad line is reported with its line number and field, and a file
with any bad line changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from endorse.text import comparable, single_line
from models import Application, Essay, ExamAttempt, ExamSitting, Person, WorkRecord, record_audit
from tasks.eligibility.stages import ELIGIBILITY_REVIEW, EXAM, NOT_ENDORSED, check_allowed

# Candidate codes avoid letters and digits people confuse (0/O, 1/I/L) when they read them out.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class ImportRejected(ValueError):
    """A file with bad lines: nothing was written. ``problems`` are 'FILE line N, field: message'."""

    def __init__(self, path: str, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Enrolment:
    enrolled: list[tuple[str, str]]  # (application id, candidate code)
    skipped: list[tuple[str, str]]  # (application id, why)
    nobody_because: str | None = None  # when nobody was enrolled: why, in a coordinator's words


def open_sitting(sessions: sessionmaker[Session], library: RulebookLibrary, *, association: str, name: str,
                 opens_on: date, closes_on: date, actor: str) -> int:
    name = single_line(name, "name")  # it appears in email subjects
    if closes_on < opens_on:
        raise ValueError(f"the sitting closes ({closes_on}) before it opens ({opens_on})")
    pass_mark = library.setting(association, "pass_mark_percent", opens_on)
    with transaction(sessions) as s:
        sitting = ExamSitting(association_code=association, name=name, opens_on=opens_on, closes_on=closes_on,
                              pass_mark_percent=Decimal(str(pass_mark)))
        s.add(sitting)
        s.flush()
        record_audit(s, actor=actor, action="exam.sitting_opened", entity_type="exam_sitting", entity_id=sitting.id,
                     association=association, name=name, opens_on=opens_on.isoformat(), closes_on=closes_on.isoformat(),
                     pass_mark_percent=float(pass_mark))
        return sitting.id


def record_essay_prompt(sessions: sessionmaker[Session], library: RulebookLibrary, sitting_id: int, track: str,
                        text: str, *, actor: str) -> bool:
    """The vignette a track's candidates answered in a sitting, shown to reviewers beside each essay.
    One transaction, audited; the same text again changes nothing (returns False)."""
    text = text.strip()
    if not text:
        raise ValueError("the prompt is empty")
    if len(text) > 20_000:
        raise ValueError("the prompt is longer than 20,000 characters")
    if track not in {library.category_info(c).get("exam_track") for c in library.categories} - {None}:
        raise ValueError(f"{track!r} is not an exam track")
    with transaction(sessions) as s:
        sitting = s.get(ExamSitting, sitting_id)
        if sitting is None:
            raise LookupError(f"no exam sitting {sitting_id}")
        prompts = dict(sitting.essay_prompts or {})
        if prompts.get(track) == text:
            return False
        prompts[track] = text
        sitting.essay_prompts = prompts  # a new dict: JSON columns see reassignment, not mutation
        record_audit(s, actor=actor, action="exam.prompt_recorded", entity_type="exam_sitting", entity_id=sitting_id,
                     track=track, characters=len(text))
        return True


def _new_code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)) + "-" + \
            "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
        if code not in taken:
            taken.add(code)
            return code


def enrol_candidates(sessions: sessionmaker[Session], sitting_id: int, library: RulebookLibrary, *, as_of: date,
                     actor: str) -> Enrolment:
    """Every application of the sitting's association that is in the exam stage and has no attempt
    waiting for results gets a new attempt under a fresh random code (a code says nothing about the
    candidate). Idempotent: a second run enrols nobody twice."""
    enrolled, skipped = [], []
    with transaction(sessions) as s:
        sitting = s.get(ExamSitting, sitting_id)
        if sitting is None:
            raise LookupError(f"no exam sitting {sitting_id}")
        taken = set(s.scalars(select(ExamAttempt.candidate_code).where(ExamAttempt.sitting_id == sitting_id)))
        apps = s.scalars(select(Application).where(Application.association_code == sitting.association_code,
                                                   Application.stage == EXAM).order_by(Application.id)).all()
        for app in apps:
            rule = library.category_rules(app.association_code, app.category, as_of).rules.get("exam")
            if rule is None:
                continue
            latest = _latest_attempt(s, app.id)
            if latest is not None and latest.sitting_id == sitting_id:
                continue
            if latest is not None and latest.multiple_choice_percent is None and latest.essay_result is None \
                    and latest.sitting_id is not None:
                skipped.append((app.id, f"already enrolled in sitting {latest.sitting_id}"))
                continue
            if latest is not None and latest.sitting_id is None and latest.multiple_choice_percent is None \
                    and latest.essay_result is None:
                attempt = latest  # the attempt a retake opened: it joins this sitting
            else:
                attempt = ExamAttempt(application_id=app.id, attempt_number=(latest.attempt_number + 1 if latest else 1),
                                      candidate_code="")
                s.add(attempt)
            attempt.sitting_id, attempt.candidate_code = sitting_id, _new_code(taken)
            attempt.approved_on = app.exam_approved_on
            s.flush()
            s.add(Essay(attempt_id=attempt.id, track=rule.essay_track, text=""))
            record_audit(s, actor=actor, action="exam.enrolled", entity_type="exam_attempt", entity_id=attempt.id,
                         application_id=app.id, sitting_id=sitting_id, attempt_number=attempt.attempt_number)
            enrolled.append((app.id, attempt.candidate_code))
        why = None if enrolled else _why_nobody(s, sitting, apps, skipped)
    return Enrolment(enrolled, skipped, why)


def _why_nobody(s: Session, sitting: ExamSitting, approved: list[Application], skipped: list) -> str:
    assoc = sitting.association_code
    if skipped:
        return f"every approved applicant of {assoc} is already enrolled in another sitting"
    if approved:
        return f"every approved applicant of {assoc} is already enrolled in this sitting"
    waiting = s.scalars(select(Application.id).where(Application.association_code == assoc,
                                                     Application.stage == ELIGIBILITY_REVIEW)).all()
    hint = (f" ({len(waiting)} in eligibility review, waiting for approval: endorse exam approve APPLICATION "
            f"--on DATE --by EMAIL)" if waiting else "")
    return f"no applicant of {assoc} is approved for the exam{hint}"


def _latest_attempt(s: Session, application_id: str) -> ExamAttempt | None:
    return s.scalars(select(ExamAttempt).where(ExamAttempt.application_id == application_id)
                     .order_by(ExamAttempt.attempt_number.desc())).first()


def _read_csv(path: Path, required: tuple[str, ...]):
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ImportRejected(str(path), ["the file does not exist"]) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ImportRejected(str(path), [f"not a readable CSV file: {str(exc).splitlines()[0]}"]) from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ImportRejected(str(path), [f"line 1: missing column(s) {', '.join(missing)} "
                                         f"(found: {', '.join(frame.columns) or 'none'})"])
    return frame


def _attempts_by_code(s: Session, sitting_id: int) -> dict[str, ExamAttempt]:
    if s.get(ExamSitting, sitting_id) is None:
        raise LookupError(f"no exam sitting {sitting_id}")
    return {a.candidate_code: a for a in s.scalars(select(ExamAttempt).where(ExamAttempt.sitting_id == sitting_id))}


def _code_problem(code: str, line: int, seen: dict[str, int], attempts: dict, sitting_id: int) -> str | None:
    """What is wrong with a line's candidate code (empty, repeated, not in the sitting), if anything."""
    if not code:
        return f"line {line}, candidate_code: empty"
    if code in seen:
        return f"line {line}, candidate_code: {code} already on line {seen[code]}"
    seen[code] = line
    if code not in attempts:
        return f"line {line}, candidate_code: {code} is not a candidate of sitting {sitting_id}"
    return None


def import_multiple_choice(sessions: sessionmaker[Session], sitting_id: int, path: str | Path, *, actor: str,
                           taken_on: date | None = None) -> int:
    """Multiple-choice results (columns ``candidate_code``, ``percent``) for a sitting's candidates."""
    from tasks.exam.review import send_exam_feedback

    path = Path(path)
    frame = _read_csv(path, ("candidate_code", "percent"))
    with transaction(sessions) as s:
        sitting = s.get(ExamSitting, sitting_id)
        attempts = _attempts_by_code(s, sitting_id)
        problems, parsed, seen = [], [], {}
        for i, row in enumerate(frame.itertuples(index=False), start=2):  # line 1 is the header
            code, raw = row.candidate_code.strip().upper(), row.percent.strip().rstrip("%").strip()
            problem = _code_problem(code, i, seen, attempts, sitting_id)
            if problem:
                problems.append(problem)
                continue
            try:
                value = Decimal(raw)
            except InvalidOperation:
                problems.append(f"line {i}, percent: {raw!r} is not a number")
                continue
            if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
                problems.append(f"line {i}, percent: {raw} is not between 0 and 100")
                continue
            parsed.append((attempts[code], value.quantize(Decimal("0.01"))))
        if problems:
            raise ImportRejected(str(path), problems)
        if not parsed:
            raise ImportRejected(str(path), ["no result lines"])
        for attempt, value in parsed:
            attempt.multiple_choice_percent = value
            attempt.taken_on = attempt.taken_on or taken_on or sitting.closes_on
            app = s.get(Application, attempt.application_id)
            app.needs_reconcile = True
            record_audit(s, actor=actor, action="exam.multiple_choice_recorded", entity_type="exam_attempt",
                         entity_id=attempt.id, application_id=app.id, percent=float(value), file=path.name)
            send_exam_feedback(s, attempt)
        return len(parsed)


@dataclass(frozen=True)
class EssayIntake:
    received: int
    flagged: list[tuple[str, str]]  # (candidate code, reason) for the coordinator


def blindness_problems(text: str, applicant_name: str, employers: list[str], checks: list[str]) -> list[str]:
    """Why an essay's text could reveal its writer: their name, surname or employer appears in it
    (whole words, any letter case). Both sides are compared as a reader sees them (``comparable``:
    zero-width characters, look-alike letters, accents and odd spacing do not hide a name), and letters
    spaced out one by one ("J a n e  D o e", "D.o.e") are read joined. Pure, so the rule can be tested
    on its own."""
    found = []
    seen = f" {comparable(text)} "
    words = set(seen.split())
    spelled_out = _spelled_out_runs(seen.split())

    def contains(needle: str) -> bool:
        wanted = comparable(needle)
        if len(wanted.replace(" ", "")) < 3:
            return False
        joined = wanted.replace(" ", "")  # also as one word: "Maria<zero-width space>Lopez" reads "MariaLopez"
        return f" {wanted} " in seen or joined in words or any(joined in run for run in spelled_out)

    name = comparable(applicant_name)
    if "applicant_name" in checks and contains(name):
        found.append("the text contains the candidate's name")
    elif "applicant_surname" in checks and len(name.split()) > 1 and contains(name.split()[-1]):
        found.append("the text contains the candidate's surname")
    if "employer" in checks and any(contains(e) for e in employers if e):
        found.append("the text names the candidate's employer")
    return found


def _spelled_out_runs(words: list[str]) -> list[str]:
    """Runs of three or more one-letter words, joined: "j a n e d o e" → "janedoe"."""
    runs, current = [], []
    for w in words + [""]:
        if len(w) == 1:
            current.append(w)
            continue
        if len(current) >= 3:
            runs.append("".join(current))
        current = []
    return runs


def _blindness(s: Session, app: Application, text: str, checks: list[str]) -> list[str]:
    """The check against the name the application gives and the person's own record, if they differ."""
    employers = _employers_of(s, app)
    found = blindness_problems(text, app.applicant_name, employers, checks)
    if app.applicant.name != app.applicant_name:
        found += [r for r in blindness_problems(text, app.applicant.name, employers, checks) if r not in found]
    return found


def _employers_of(s: Session, app: Application) -> list[str]:
    names = list(s.scalars(select(WorkRecord.employer).where(WorkRecord.application_id == app.id)))
    person = s.get(Person, app.applicant_id)
    if person.employer:
        names.append(person.employer)
    return sorted({n.strip() for n in names if n and n.strip()})


def import_essays(sessions: sessionmaker[Session], sitting_id: int, path: str | Path, library: RulebookLibrary, *,
                  actor: str, as_of: date) -> EssayIntake:
    """Essays (columns ``candidate_code``, ``essay``) for a sitting's candidates. An essay whose text
    could reveal who wrote it is stored but held for the coordinator (see ``clear_essay_flag``)."""
    path = Path(path)
    frame = _read_csv(path, ("candidate_code", "essay"))
    with transaction(sessions) as s:
        sitting = s.get(ExamSitting, sitting_id)
        attempts = _attempts_by_code(s, sitting_id)
        checks = list(library.setting(sitting.association_code, "essay_blindness_checks", as_of))
        problems, parsed, seen = [], [], {}
        for i, row in enumerate(frame.itertuples(index=False), start=2):
            code, text = row.candidate_code.strip().upper(), row.essay.strip()
            problem = _code_problem(code, i, seen, attempts, sitting_id)
            if problem:
                problems.append(problem)
            elif not text:
                problems.append(f"line {i}, essay: empty")
            elif len(text) > 100_000:
                problems.append(f"line {i}, essay: {len(text)} characters, more than 100,000")
            elif "\x00" in text:  # PostgreSQL cannot store NUL; an essay a person wrote never holds one
                problems.append(f"line {i}, essay: contains a NUL character")
            else:
                parsed.append((attempts[code], text))
        if problems:
            raise ImportRejected(str(path), problems)
        flagged = []
        for attempt, text in parsed:
            app = s.get(Application, attempt.application_id)
            essay = s.scalars(select(Essay).where(Essay.attempt_id == attempt.id)).first()
            if essay is None:
                rule = library.category_rules(app.association_code, app.category, as_of).rules["exam"]
                essay = Essay(attempt_id=attempt.id, track=rule.essay_track, text="")
                s.add(essay)
            reasons = _blindness(s, app, text, checks)
            essay.text = text
            essay.flagged_reason = "; ".join(reasons) or None
            essay.flag_cleared_by = None
            s.flush()
            record_audit(s, actor=actor, action="exam.essay_received", entity_type="essay", entity_id=essay.id,
                         application_id=app.id, characters=len(text), flagged=bool(reasons), file=path.name)
            if reasons:
                flagged.append((attempt.candidate_code, essay.flagged_reason))
        return EssayIntake(len(parsed), flagged)


def clear_essay_flag(sessions: sessionmaker[Session], essay_id: int, library: RulebookLibrary, *, actor: str,
                     as_of: date, redacted_text: str | None = None) -> None:
    """The coordinator releases a held essay: with a redacted text (which must then pass the checks),
    or as it stands when the match was harmless (a surname that is also a common word)."""
    with transaction(sessions) as s:
        essay = s.get(Essay, essay_id)
        if essay is None:
            raise LookupError(f"no essay {essay_id}")
        if not essay.flagged_reason:
            raise ValueError(f"essay {essay_id} is not flagged")
        attempt = s.get(ExamAttempt, essay.attempt_id)
        app = s.get(Application, attempt.application_id)
        if redacted_text is not None:
            if "\x00" in redacted_text:  # as in import_essays: PostgreSQL cannot store NUL
                raise ValueError("the redacted text contains a NUL character")
            checks = list(library.setting(app.association_code, "essay_blindness_checks", as_of))
            still = _blindness(s, app, redacted_text, checks)
            if still:
                raise ValueError(f"the redacted text still fails the blindness check: {'; '.join(still)}")
            essay.text = redacted_text.strip()
        essay.flag_cleared_by = actor
        record_audit(s, actor=actor, action="exam.essay_flag_cleared", entity_type="essay", entity_id=essay.id,
                     application_id=app.id, redacted=redacted_text is not None, reason=essay.flagged_reason)


def start_retake(sessions: sessionmaker[Session], application_id: str, library: RulebookLibrary, *, as_of: date,
                 actor: str) -> date:
    """Reopen a failed candidate's application for a new exam attempt once the association's waiting
    period has passed; they join the next sitting they are enrolled in. Returns the first allowed day."""
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None:
            raise LookupError(f"no application {application_id!r}")
        latest = _latest_attempt(s, app.id)
        settings = library.category_rules(app.association_code, app.category, as_of).settings
        if app.stage != NOT_ENDORSED or latest is None or not _failed(latest, Decimal(str(settings["pass_mark_percent"]))):
            raise ValueError(f"{application_id} has no failed exam to retake (stage {app.stage})")
        wait = int(settings["exam_retake_wait_days"])
        taken = latest.taken_on or as_of
        allowed = taken + timedelta(days=wait)
        if as_of < allowed:
            raise ValueError(f"{application_id} may retake the exam from {allowed.isoformat()} "
                             f"({wait} days after the attempt of {taken.isoformat()})")
        check_allowed(app.stage, EXAM)
        record_audit(s, actor=actor, action="stage.changed", entity_type="application", entity_id=app.id,
                     application_id=app.id, from_stage=app.stage, to_stage=EXAM, reason="retake of the exam",
                     as_of=as_of.isoformat())
        app.stage, app.exam_approved_on, app.exam_approved_by, app.needs_reconcile = EXAM, as_of, actor, True
        attempt = ExamAttempt(application_id=app.id, attempt_number=latest.attempt_number + 1,
                              candidate_code="", approved_on=as_of)
        s.add(attempt)
        s.flush()
        record_audit(s, actor=actor, action="exam.retake_started", entity_type="exam_attempt", entity_id=attempt.id,
                     application_id=app.id, attempt_number=attempt.attempt_number)
        return allowed


def _failed(attempt: ExamAttempt, pass_mark: Decimal) -> bool:
    if attempt.essay_result == "fail":
        return True
    return attempt.multiple_choice_percent is not None and attempt.multiple_choice_percent < pass_mark
