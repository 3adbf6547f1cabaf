"""Verdicts on a simulated year, and its report.

- The canonical dump: every table's rows as sorted tuples of the columns that mean the same in two
  runs of one seed. Left out, each for its reason: surrogate integer keys and the integer keys that
  point at them (PostgreSQL sequences skip numbers on a rolled-back insert), real-time timestamps
  (the wall clock, not the simulated one), what a retry changes by design (attempts, last error),
  and what is random by design (link nonces and hashes, candidate codes, password hashes, session
  versions, Message-IDs: `make_msgid` puts the time, the process id and a random number in each; the
  idempotency key beside it is what names a message in both runs).
- Audit entries counted by kind (action).
- Mail by Message-ID at the sink: every message the outbox marks sent arrived; a Message-ID seen
  twice is listed (at-least-once: a process killed between the server's OK and the commit sends
  those again, with the same Message-ID).
- Stages against history: each application's stage is the last `stage.changed` entry's target.
"""

from __future__ import annotations

from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import DateTime, Integer, create_engine, select, text

VOLATILE = {"attempts", "last_error", "token_hash", "token_nonce", "candidate_code", "password_hash",
            "session_version", "failed_sign_ins", "locked_until", "evaluated_at", "secret", "nonce",
            "profile_digest", "rulebook_digest", "digest", "next_attempt_at", "sent_at", "created_at", "at",
            "message_id", "flow_run_id"}


def canonical_dump(database_url: str) -> dict[str, Counter]:
    from models import Base

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if database_url.startswith("postgresql://") else database_url)
    out: dict[str, Counter] = {}
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                keep = [c for c in table.columns if not _volatile(c)]
                rows = conn.execute(select(*keep)).all() if keep else []
                out[table.name] = Counter(tuple(_plain(v) for v in r) for r in rows)
            version = conn.execute(text("select version_num from alembic_version")).scalar()
            out["alembic_version"] = Counter([(version,)])
    finally:
        engine.dispose()
    return out


def _volatile(column) -> bool:
    if column.name in VOLATILE or column.name.endswith("_at"):
        return True
    if isinstance(column.type, DateTime):
        return True
    if isinstance(column.type, Integer) and (column.primary_key or column.foreign_keys):
        return True
    return column.name.endswith("_id") and isinstance(column.type, Integer)


def _plain(value):
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return value


def compare_dumps(a: dict[str, Counter], b: dict[str, Counter]) -> dict[str, dict]:
    """Per table that differs: rows only in the first, only in the second (a few of each)."""
    diff = {}
    for table in sorted(set(a) | set(b)):
        only_a, only_b = a.get(table, Counter()) - b.get(table, Counter()), b.get(table, Counter()) - a.get(table, Counter())
        if only_a or only_b:
            diff[table] = {"only_first": sum(only_a.values()), "only_second": sum(only_b.values()),
                           "examples_first": list(only_a)[:3], "examples_second": list(only_b)[:3]}
    return diff


def audit_counts(sessions) -> Counter:
    from sqlalchemy import func

    from models import AuditLog

    with sessions() as s:
        return Counter(dict(s.execute(select(AuditLog.action, func.count()).group_by(AuditLog.action)).all()))


def message_id(message) -> str:
    """The Message-ID as the outbox stored it (a long one arrives folded over two lines)."""
    return "".join(str(message["Message-ID"] or "").split())


def mail_verdict(sessions, folder: Path) -> dict:
    from models import OutboxMessage

    parser = BytesParser(policy=policy.default)
    seen = Counter(message_id(parser.parsebytes(p.read_bytes(), headersonly=True))
                   for p in sorted(Path(folder).glob("*.eml")))
    with sessions() as s:
        sent = set(s.scalars(select(OutboxMessage.message_id).where(OutboxMessage.status.in_(("sent", "bounced")))))
        unsent = Counter(s.scalars(select(OutboxMessage.status).where(OutboxMessage.status.not_in(("sent", "bounced")))))
    return {"delivered": len(seen), "sent_in_outbox": len(sent), "missing": sorted(sent - set(seen)),
            "unknown": sorted(set(seen) - sent), "duplicates": {m: n for m, n in seen.items() if n > 1},
            "not_sent": dict(unsent)}


def stage_verdict(sessions) -> list[str]:
    """Applications whose stage is not the one their audited history ends in."""
    from models import Application, AuditLog

    wrong = []
    with sessions() as s:
        last: dict[str, str] = {}
        for app_id, details in s.execute(select(AuditLog.application_id, AuditLog.details)
                                         .where(AuditLog.action == "stage.changed").order_by(AuditLog.id)):
            last[app_id] = details.get("to_stage")
        for app in s.scalars(select(Application)):
            expected = last.get(app.id)
            if expected is not None and expected != app.stage:
                wrong.append(f"{app.id}: stage {app.stage}, history ends in {expected}")
            if expected is None and app.stage not in ("received", "submitted", "intake"):
                wrong.append(f"{app.id}: stage {app.stage} with no stage change in its history")
    return wrong


# --- the report ----------------------------------------------------------------------------------


def write_report(folder: Path, result, verdicts: dict, sessions) -> Path:
    """report.md with its plots beside it (matplotlib, Agg)."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(folder, result, sessions)
    p = result.plan.profile
    summary = (f"{len(p.associations)} association(s) ({', '.join(dict.fromkeys(p.associations))}), "
               f"{len(result.plan.arrivals)} applications arriving from {p.start} to {p.end}, "
               f"{len(result.plan.prologue)} endorsed the year before; the scheduled sweep (on the worker) and the "
               f"renewal run every {p.sweep_every_days} simulated day(s), an incremental sweep on each day an event "
               f"marked an application, the outbox whenever a message is queued; {len(result.days)} days lived. "
               f"Wall time {result.wall_seconds:.0f} s.")
    busy = [d for d in result.days if d.sweep or d.delivered]
    slowest = sorted(result.days, key=lambda d: -d.seconds)[:5]
    days = (f"{len(busy)} of {len(result.days)} days started a flow run; the days took "
            f"{sum(d.seconds for d in result.days):.0f} s in all, the slowest "
            + ", ".join(f"{d.day} ({d.seconds:.0f} s{', ' + '+'.join(d.faults) if d.faults else ''})" for d in slowest)
            + ".")
    lines = [f"# A simulated year: profile `{p.name}`, seed {result.plan.seed}", "", summary, "", days, "",
             "## Verdicts", ""]
    for name, v in verdicts.items():
        lines.append(f"- **{name}**: {v}")
    lines += ["", "## The year in numbers", ""] + [f"- {k}: {v}" for k, v in figures(result, sessions).items()]
    lines += ["", "## Faults survived", ""] + [f"- {f}" for f in result.faults_survived or ["none injected"]]
    lines += ["", "## What people did", "", "| act | count |", "|---|---|"]
    lines += [f"| {k} | {n} |" for k, n in sorted(result.people_counts.items())]
    lines += ["", "## Plots", ""] + [f"![{name}]({path.name})" for name, path in plots]
    out = folder / "report.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def _plots(folder: Path, result, sessions) -> list[tuple[str, Path]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    made = []
    days = [d.day for d in result.days]
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(days, _cumulative([d.arrivals for d in result.days]), label="applications arrived")
    ax.plot(days, _cumulative([d.delivered for d in result.days]), label="emails delivered")
    ax.legend()
    ax.set_title("Throughput (cumulative, by simulated day)")
    made.append(("throughput", _save(fig, folder / "throughput.png")))
    durations, latencies = _stage_days_and_mail_seconds(sessions)
    fig, ax = plt.subplots(figsize=(8, 3))
    stages = sorted(durations)
    ax.boxplot([durations[s] for s in stages] or [[0]], tick_labels=stages or ["-"])
    ax.set_title("Time in stage (simulated days)")
    ax.tick_params(axis="x", labelrotation=30)
    made.append(("time in stage", _save(fig, folder / "time_in_stage.png")))
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.hist(latencies or [0], bins=30)
    ax.set_title("Mail latency (real seconds from queued to sent)")
    made.append(("mail latency", _save(fig, folder / "mail_latency.png")))
    fig, ax = plt.subplots(figsize=(8, 2.5))
    faulted = [(d.day, k) for d in result.days for k in d.faults]
    if faulted:
        ax.scatter([d for d, _ in faulted], [k for _, k in faulted])
    else:  # none injected (or a deadline stopped the year before its first day)
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Faults injected and survived")
    made.append(("faults", _save(fig, folder / "faults.png")))
    return made


def _stage_days_and_mail_seconds(sessions) -> tuple[dict[str, list[int]], list[float]]:
    """(simulated days each application spent in each stage it left, real seconds from queued to sent)."""
    from datetime import date

    from models import Application, AuditLog, OutboxMessage

    with sessions() as s:
        changes = s.execute(select(AuditLog.application_id, AuditLog.details).where(AuditLog.action == "stage.changed")
                            .order_by(AuditLog.id)).all()
        mail = s.execute(select(OutboxMessage.created_at, OutboxMessage.sent_at)
                         .where(OutboxMessage.sent_at.is_not(None))).all()
        ids = set(s.scalars(select(Application.id)))
    entered: dict[tuple[str, str], date] = {}
    durations: dict[str, list[int]] = {}
    for app_id, d in changes:
        if app_id not in ids or not d.get("as_of"):
            continue
        on = date.fromisoformat(d["as_of"])
        if (app_id, d["from_stage"]) in entered:
            durations.setdefault(d["from_stage"], []).append((on - entered[(app_id, d["from_stage"])]).days)
        entered[(app_id, d["to_stage"])] = on
    return durations, [(b - a).total_seconds() for a, b in mail]


def figures(result, sessions) -> dict:
    """The year in numbers (for `make bench`): throughput, time in stage, mail latency, faults."""
    from statistics import median, quantiles

    durations, latencies = _stage_days_and_mail_seconds(sessions)
    audits = audit_counts(sessions)
    lived = max(1, len(result.days))
    pct = quantiles(latencies, n=20) if len(latencies) > 1 else [0.0] * 19
    return {
        "days lived": len(result.days),
        "applications arrived": sum(d.arrivals for d in result.days),
        "applications a simulated day": round(sum(d.arrivals for d in result.days) / lived, 2),
        "rating requests issued": audits.get("reference.link_issued", 0),
        "ratings submitted": audits.get("rating.submitted", 0),
        "decisions recorded": audits.get("decision.recorded", 0),
        "renewals recorded": sum(n for k, n in audits.items() if k.startswith("renewal.")),
        "emails delivered": sum(d.delivered for d in result.days),
        "median simulated days in stage": {k: median(v) for k, v in sorted(durations.items())},
        "mail latency p50 s": round(pct[9], 1), "mail latency p95 s": round(pct[18], 1),
        "faults survived": len(result.faults_survived),
    }


def _cumulative(xs: list[int]) -> list[int]:
    out, total = [], 0
    for x in xs:
        total += x
        out.append(total)
    return out


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
