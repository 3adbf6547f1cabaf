"""``endorse exam …``: approval and results, sittings, the platform's CSVs, essay reviewers and their
assignment, in the order a sitting runs: approve, sitting, enrol, mc and essays, release, reviewer,
assign, review-link, reviewer-console, prompt, record, retake."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from endorse_cli.commands.common import (
    AsOf,
    By,
    Json,
    NoReconcile,
    On,
    after_event,
    as_of_date,
    coordinator,
    parse_date,
    refusals,
    secret,
    sessions,
)
from endorse_cli.output import EXIT_OK

app = typer.Typer(no_args_is_help=True, help="The exam: approve candidates, run a sitting, review essays, record results.")

Application = Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's id")]
Sitting = Annotated[int, typer.Argument(metavar="SITTING", help="the sitting's number (endorse exam sitting prints it)")]
CsvFile = Annotated[str, typer.Argument(metavar="FILE", help="the exam platform's CSV export")]


@app.command("approve")
@refusals
def approve(application: Application, on: On, by: By, no_reconcile: NoReconcile = False) -> int:
    """Approve an applicant in eligibility review to sit the exam (after you have read the file).

    The next sitting's enrolment takes them.
    """
    from tasks.exam.results import approve_for_exam

    approve_for_exam(sessions(), application, approved_on=parse_date(on, "--on"), actor=coordinator(by))
    print(f"{application} approved to sit the exam")
    after_event(application, no_reconcile=no_reconcile)
    return EXIT_OK


class Essay(str, Enum):
    passed = "pass"
    failed = "fail"
    pending = "pending"


@app.command("record")
@refusals
def record(
    application: Application,
    taken_on: Annotated[str, typer.Option("--taken-on", metavar="YYYY-MM-DD", help="the day of the exam")],
    by: By,
    multiple_choice: Annotated[Optional[float], typer.Option("--multiple-choice", help="the percent scored")] = None,
    essay: Annotated[Optional[Essay], typer.Option("--essay", help="the essay's result")] = None,
    no_reconcile: NoReconcile = False,
) -> int:
    """Record exam results by hand.

    For an exam taken outside a sitting run here (multiple-choice percent, essay result); a sitting's
    results come in with `endorse exam mc` and the essay reviews.
    """
    from tasks.exam.results import record_exam_result

    record_exam_result(sessions(), application, multiple_choice_percent=multiple_choice,
                       essay_result=essay.value if essay else None, taken_on=parse_date(taken_on, "--taken-on"),
                       actor=coordinator(by))
    print(f"exam result recorded for {application}")
    after_event(application, no_reconcile=no_reconcile)
    return EXIT_OK


@app.command("sitting")
@refusals
def sitting(
    association: Annotated[str, typer.Option("--association", help="whose sitting (e.g. MI-AIMH)")],
    name: Annotated[str, typer.Option("--name", help="e.g. Spring 2027")],
    opens_on: Annotated[str, typer.Option("--opens-on", metavar="YYYY-MM-DD")],
    closes_on: Annotated[str, typer.Option("--closes-on", metavar="YYYY-MM-DD")],
    by: By,
) -> int:
    """Open an exam sitting.

    It prints the sitting's number, which the other exam commands take.
    """
    from endorse.rulebook import default_library
    from tasks.exam.intake import open_sitting

    sitting_id = open_sitting(sessions(), default_library(), association=association, name=name,
                              opens_on=parse_date(opens_on, "--opens-on"), closes_on=parse_date(closes_on, "--closes-on"),
                              actor=coordinator(by))
    print(f"exam sitting {sitting_id} opened: {name}")
    return EXIT_OK


@app.command("enrol")
@refusals
def enrol(sitting: Sitting, by: By, as_of: AsOf = None, json: Json = False) -> int:
    """Enrol every approved candidate of the sitting's association.

    Each gets a random candidate code (the exam platform knows them by it, never by name).
    """
    from endorse.rulebook import default_library
    from endorse_cli.display import print_json, print_table
    from endorse_cli.output import enrolment_line
    from tasks.exam.intake import enrol_candidates

    out = enrol_candidates(sessions(), sitting, default_library(), as_of=as_of_date(as_of), actor=coordinator(by))
    if json:
        print_json({"enrolled": [{"application": a, "candidate_code": c} for a, c in out.enrolled],
                    "not_enrolled": [{"application": a, "why": w} for a, w in out.skipped],
                    "nobody_because": None if out.enrolled else out.nobody_because})
        return EXIT_OK
    print_table(("application", "candidate code or why not"),
                [(a, c) for a, c in out.enrolled] + [(a, f"not enrolled: {w}") for a, w in out.skipped])
    print(enrolment_line(len(out.enrolled), out.nobody_because))
    return EXIT_OK


@app.command("mc")
@refusals
def multiple_choice(
    sitting: Sitting, file: CsvFile, by: By,
    taken_on: Annotated[Optional[str], typer.Option("--taken-on", metavar="YYYY-MM-DD")] = None,
) -> int:
    """Take in the multiple-choice results from the exam platform's CSV.

    Its columns are candidate_code,percent. Any bad line: every problem is listed and nothing is imported.
    """
    from tasks.exam.intake import import_multiple_choice

    n = import_multiple_choice(sessions(), sitting, file, actor=coordinator(by),
                               taken_on=parse_date(taken_on, "--taken-on") if taken_on else None)
    print(f"{n} multiple-choice results recorded from {file}")
    return EXIT_OK


@app.command("essays")
@refusals
def essays(sitting: Sitting, file: CsvFile, by: By, as_of: AsOf = None) -> int:
    """Take in the essays from the exam platform's CSV.

    Its columns are candidate_code,essay. An essay that names its writer or employer is held for you to
    release (endorse exam release), so that review stays blind.
    """
    from endorse.rulebook import default_library
    from tasks.exam.intake import import_essays

    out = import_essays(sessions(), sitting, file, default_library(), actor=coordinator(by), as_of=as_of_date(as_of))
    print(f"{out.received} essays received from {file}")
    for code, reason in out.flagged:
        print(f"  held for you: {code}: {reason} (see endorse exam release)")
    return EXIT_OK


@app.command("release")
@refusals
def release(
    essay: Annotated[int, typer.Argument(metavar="ESSAY", help="the held essay's number")],
    by: By,
    redacted_file: Annotated[Optional[str], typer.Option(
        "--redacted-file", metavar="FILE", help="the essay's text with the revealing words removed")] = None,
    as_of: AsOf = None,
) -> int:
    """Release a held essay for review.

    As it is, or with --redacted-file: the text without the words that gave its writer away.
    """
    from pathlib import Path

    from endorse.rulebook import default_library
    from tasks.exam.intake import clear_essay_flag

    text = Path(redacted_file).read_text(encoding="utf-8") if redacted_file else None
    clear_essay_flag(sessions(), essay, default_library(), actor=coordinator(by), as_of=as_of_date(as_of),
                     redacted_text=text)
    print(f"essay {essay} released for review" + (" with the redacted text" if text else ""))
    return EXIT_OK


@app.command("reviewer")
@refusals
def reviewer(
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    by: By,
    employer: Annotated[Optional[str], typer.Option("--employer", help="their employer (no essay from it goes to them)")] = None,
    max_load: Annotated[int, typer.Option("--max-load", help="essays they review at most")] = 10,
    min_load: Annotated[int, typer.Option(
        "--min-load", help="essays the reviewer should get at least, when a round allows (default 0: none)")] = 0,
    trained: Annotated[bool, typer.Option("--trained/--no-trained", help="trained to review essays")] = True,
    sitting: Annotated[Optional[int], typer.Option("--sitting", help="available for this sitting")] = None,
) -> int:
    """Register an essay reviewer, or change their load.

    With --sitting, also their availability for that sitting (the assignment plans with it).
    """
    from tasks.exam.reviewers import register_reviewer, reviewer_input

    given = reviewer_input(name=name, email=email, employer=employer, max_load=max_load, min_load=min_load)
    out = register_reviewer(sessions(), given, trained=trained, sitting_id=sitting, by=by)
    print(f"reviewer #{out.person_id} {out.name}: trained={trained}, max load {max_load}"
          + (f", min load {min_load}" if min_load else "")
          + (f", available for sitting {sitting}" if sitting is not None else ""))
    return EXIT_OK


@app.command("assign")
@refusals
def assign(
    sitting: Sitting,
    csv: Annotated[Optional[str], typer.Option("--csv", metavar="FILE", help="also write the plan to this CSV file")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="create the assignments and email the reviewers")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="your email (needed with --apply)")] = None,
    as_of: AsOf = None,
    json: Json = False,
) -> int:
    """The optimal essay-reviewer assignment for a sitting.

    First a dry run (nothing written: read the table, or --csv); then --apply --by EMAIL creates it and
    sends each reviewer one link.
    """
    from endorse.rulebook import default_library
    from tasks.exam.review import apply_sitting
    from tasks.exam.sitting_plan import plan_sitting

    day = as_of_date(as_of)
    if apply and not by:
        raise ValueError("--apply needs --by COORDINATOR_EMAIL (who applied it goes in the audit log)")
    if apply:
        rnd = apply_sitting(sessions(), sitting, default_library(), as_of=day, secret_key=secret(),
                            actor=coordinator(by))
    else:
        with sessions()() as s:
            rnd = plan_sitting(s, sitting, default_library(), day)
    if csv:
        rnd.plan.to_csv(csv)
    if json:
        from endorse_cli.display import print_json

        print_json(_plan_json(rnd, apply))
        return EXIT_OK
    _print_plan(rnd, apply)
    if csv:
        print(f"written to {csv}")
    return EXIT_OK


def _plan_json(rnd, applied: bool) -> dict:
    plan, codes = rnd.plan, rnd.candidate_codes
    lo, mean, hi = plan.load_stats
    return {"sitting": rnd.sitting.id, "applied": applied,
            "assignments": [{**row, "candidate_code": codes[row["essay_id"]]} for row in plan.to_rows()],
            "total_cost": plan.total_cost, "load": {"min": lo, "mean": mean, "max": hi},
            "not_covered": [{"candidate_code": codes[u[0]], "needs": u[1], "why": u[2]} for u in plan.uncovered],
            "without_preferred": [{"candidate_code": codes[w.essay_id], "why": w.reason} for w in plan.without_preferred],
            "below_minimum": [{"reviewer": m.reviewer_id, "missing": m.missing, "why": m.reason}
                              for m in plan.short_of_minimum],
            "held": [{"essay": h.essay_id, "candidate_code": h.candidate_code, "why": h.reason} for h in rnd.held]}


def _print_plan(rnd, applied: bool) -> None:
    from endorse_cli.display import print_table

    plan, codes = rnd.plan, rnd.candidate_codes
    print(("applied" if applied else "dry run (nothing written; add --apply --by EMAIL to send)") +
          f": sitting {rnd.sitting.id} {rnd.sitting.name}")
    print_table(("candidate", "track", "reviewer", "their endorsement", "preferred"),
                ((codes[row["essay_id"]], row["track"], f"#{row['reviewer_id']}", row["reviewer_endorsement"],
                  "preferred" if row["preferred"] else "") for row in plan.to_rows()))
    lo, mean, hi = plan.load_stats
    print(f"{len(plan.to_rows())} new assignments; total cost {plan.total_cost}; "
          f"reviewer load min/mean/max {lo}/{mean:.1f}/{hi}")
    for u in plan.uncovered:
        print(f"  not covered: {codes[u[0]]} needs {u[1]} more: {u[2]}")
    print(f"{len(plan.without_preferred)} essays without a preferred reviewer (of their own track)")
    for w in plan.without_preferred:
        print(f"  no preferred reviewer: {codes[w.essay_id]}: {w.reason}")
    for m in plan.short_of_minimum:
        print(f"  below minimum load: reviewer #{m.reviewer_id} gets {m.missing} fewer than their minimum: {m.reason}")
    for h in rnd.held:
        print(f"  held: essay {h.essay_id} ({h.candidate_code}): {h.reason}")


@app.command("review-link")
@refusals
def review_link(
    sitting: Sitting,
    reviewer: Annotated[int, typer.Argument(metavar="REVIEWER", help="the reviewer's number")],
    by: By, as_of: AsOf = None,
) -> int:
    """A new review link for a reviewer of a sitting, emailed to them.

    The old one stops working. Use it when a reviewer lost theirs or it was forwarded.
    """
    from endorse.rulebook import default_library
    from tasks.exam.review import regenerate_review_link

    regenerate_review_link(sessions(), sitting, reviewer, default_library(), as_of=as_of_date(as_of),
                           secret_key=secret(), actor=coordinator(by))
    print(f"new link queued for reviewer #{reviewer}; the old one no longer works")
    return EXIT_OK


@app.command("reviewer-console")
@refusals
def reviewer_console(
    reviewer: Annotated[int, typer.Argument(metavar="REVIEWER", help="the reviewer's number")],
    by: By, as_of: AsOf = None,
    regenerate: Annotated[bool, typer.Option("--regenerate", help="a new link; the old one stops working")] = False,
) -> int:
    """Email a reviewer their one link to everything assigned to them, in every sitting and association.

    Run again, it sends the same link; --regenerate sends a new one and the old stops working.
    """
    from endorse.rulebook import default_library
    from tasks.reviewer_console import send_console_link

    outcome = send_console_link(sessions(), reviewer, default_library(), as_of=as_of_date(as_of), secret_key=secret(),
                                actor=coordinator(by), regenerate=regenerate)
    print({"issued": f"console link queued for reviewer #{reviewer}",
           "replaced": f"new console link queued for reviewer #{reviewer}; the old one no longer works",
           "resent": f"the same console link queued again for reviewer #{reviewer}"}[outcome])
    return EXIT_OK


@app.command("prompt")
@refusals
def prompt(
    sitting: Sitting,
    track: Annotated[str, typer.Argument(metavar="TRACK", help="the exam track, e.g. IMHS or IMHM-C")],
    file: Annotated[str, typer.Argument(metavar="FILE", help="a text file with the vignette the track answered")],
    by: By,
) -> int:
    """Record the vignette a track answered in a sitting: reviewers read it beside each essay."""
    from pathlib import Path

    from endorse.rulebook import default_library
    from tasks.exam.intake import record_essay_prompt

    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the prompt ({exc})") from None
    changed = record_essay_prompt(sessions(), default_library(), sitting, track, text, actor=coordinator(by))
    print(f"prompt of the {track} track recorded for sitting {sitting}" if changed
          else f"sitting {sitting} already has this {track} prompt: nothing changed")
    return EXIT_OK


@app.command("retake")
@refusals
def retake(application: Application, by: By, as_of: AsOf = None) -> int:
    """Reopen a candidate who failed for a retake, once the association's waiting period is over.

    Then enrol them in the next sitting.
    """
    from endorse.rulebook import default_library
    from tasks.exam.intake import start_retake

    start_retake(sessions(), application, default_library(), as_of=as_of_date(as_of), actor=coordinator(by))
    print(f"{application} reopened for a retake; enrol it in the next sitting (endorse exam enrol)")
    return EXIT_OK
