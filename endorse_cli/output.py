"""What coordinator commands print: one clear line (or a table) in a coordinator's words.

Pure functions from what a command got back to the text it prints; no raw dicts, no escapes, and a
count of zero says why. Kept apart from the commands so that each message has a test of its own. Also the exit codes, the
usage error (exit 2, nothing written) and the rows of the checklist table (``endorse evaluate``, ``renewal
check``, ``show``): main.py and every command group import them from here, so none imports another's internals.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad input from the command line or a file: exit 2 with the message, write nothing."""


_MARK = {"met": "ok", "unmet": "NO", "pending": "...", "not_applicable": "-"}


def checklist_heading(result: dict) -> str:
    """The line above a checklist: whose, which category and association, as of when, and the verdict."""
    return (f"{result['id']} · {result['category']} · {result['association']} · as of {result['as_of']} · "
            + ("ELIGIBLE" if result["eligible"] else "not eligible"))


def checklist_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """One table row a requirement: a mark to scan down, its id, its status, and what it found above
    the seed it comes from."""
    return [(_MARK[r["status"]], r["id"], r["status"], f"{r['detail']}\nsource: {r['source']}")
            for r in result["requirements"]]


SMTP_SETTINGS_HINT = ("set ENDORSE_SMTP_HOST and ENDORSE_SMTP_PORT (and ENDORSE_SMTP_TLS, ENDORSE_SMTP_USERNAME, "
                      "ENDORSE_SMTP_PASSWORD) to your mail server, or run a local sink: "
                      ".venv/bin/python -m endorse_cli.smtp_sink --port 8025")


def stage_words(stage: str) -> str:
    return stage.replace("_", " ")


def reconcile_line(application_id: str, outcome: dict) -> str:
    """After an event: where the application stands now and what moved it."""
    from tasks.eligibility.stages import FINAL_STAGES

    moves = outcome.get("transitions") or []
    stage = stage_words(outcome["stage"])
    if moves:
        return f"{application_id}: now in {stage} ({'; '.join(moves)})"
    if outcome["stage"] in FINAL_STAGES:
        return f"{application_id}: {stage} (decided: nothing more moves it)"
    return f"{application_id}: stays in {stage} (its checklist does not let it move yet)"


_SWEEP_EXTRAS = (
    ("reminders", "rating reminder(s)"),
    ("transcript_reminders", "transcript reminder(s)"),
    ("expired_links", "link(s) expired"),
    ("escalated", "overdue rating(s) escalated"),
    ("essay_reviews_reassigned", "essay review(s) reassigned"),
    ("reviewer_reminders", "reviewer reminder(s)"),
    ("overdue_ratings", "rating(s) overdue"),
)


def sweep_line(result: dict, as_of: str | None) -> str:
    day = f" as of {as_of}" if as_of else ""
    evaluated = result.get("evaluated", 0)
    # An incremental sweep (issue 17) looks only at applications due or marked.
    which = "open" if result.get("full", True) else "due or marked"
    if not evaluated:
        why = ("no application is open (endorse import FOLDER loads some)" if result.get("full", True) else
               "none is due or marked today (endorse sweep --full looks at every open application)")
        return f"sweep{day}: 0 applications evaluated: {why}"
    moved = result.get("transitions", 0)
    head = (f"sweep{day}: {evaluated} {which} application(s) evaluated, {moved} stage change(s)"
            + ("" if moved else " (no checklist changed enough to move an application)"))
    extras = [f"{result[k]} {words}" for k, words in _SWEEP_EXTRAS if result.get(k)]
    return head + ("; " + ", ".join(extras) if extras else "")


def delivery_line(report: dict, smtp_where: str, waiting: int) -> tuple[str, bool]:
    """The outcome of ``endorse outbox deliver`` and whether it went well (False: the command exits 1)."""
    if report.get("unreachable"):
        return (f"cannot reach SMTP at {smtp_where} ({report['unreachable']}) — {SMTP_SETTINGS_HINT}; "
                f"{waiting} email(s) wait in the outbox and will be sent once it answers", False)
    if not report.get("claimed"):
        later = f" ({waiting} queued for a later retry: endorse outbox list shows them)" if waiting else ""
        return f"0 emails sent: nothing is due in the outbox{later}", True
    parts = [f"{report['sent']} email(s) sent through {smtp_where}"]
    if report.get("retried"):
        parts.append(f"{report['retried']} will be retried (endorse outbox list shows the server's answer)")
    if report.get("failed"):
        parts.append(f"{report['failed']} failed for good (endorse outbox list --status failed)")
    return "; ".join(parts), not report.get("failed") and not report.get("retried")


def enrolment_line(count: int, nobody_because: str | None) -> str:
    if count:
        return f"{count} enrolled"
    return f"0 enrolled: {nobody_because or 'nobody to enrol'}"


def no_application(application_id: str, where: str, demo_data: str | None) -> str:
    hint = (f" (the demo's data is in {demo_data}: endorse --data {demo_data} show {application_id})"
            if demo_data else " (endorse import FOLDER loads applications)")
    return f"no application {application_id!r} in {where}{hint}"


def vetting_count_line(count: int) -> str:
    if count:
        return f"{count} rater(s) to vet"
    return "0 raters to vet: every proposed rater is endorsed or already vetted"


def outbox_count_line(count: int, statuses: list[str]) -> str:
    which = "/".join(statuses)
    if count:
        return f"{count} message(s) {which}"
    return f"0 messages {which}: every email in the outbox has another status (endorse outbox list --status sent lists those sent)"
