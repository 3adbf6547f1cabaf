"""`endorse simulate`: a year of an association's (or the whole Alliance's) activity, generated from
the rulebooks with a seed and lived through the real stack, day by day on the project's clock.

- `plan.py` — the seeded year: who applies when, how each rater, reviewer, coordinator and endorsed
  professional behaves (pure: the same seed gives the same year).
- `actors.py` — the one adapter through which simulated people act: raters and reviewers over HTTP
  from the links in their email, coordinators on the web where a page exists and through the CLI
  otherwise (the list is in its docstring, to switch to the workbench later).
- `year.py` — the stack (`endorse up`'s pieces), the day loop, the seeded faults.
- `verdicts.py` — the canonical dump, audit counts, mail by Message-ID, stages against history, and
  the markdown report with its plots.
"""

from __future__ import annotations


def verdicts_of(result, database_url: str, baseline_dump=None) -> tuple[dict, dict]:
    """(the verdicts in words, the canonical dump) of a finished year."""
    from endorse.db import make_engine, session_factory
    from endorse_cli.simulate.verdicts import audit_counts, canonical_dump, compare_dumps, mail_verdict, stage_verdict

    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        dump = canonical_dump(database_url)
        mail = mail_verdict(sessions, result.mail_folder)
        wrong = stage_verdict(sessions)
        audits = audit_counts(sessions)
    finally:
        engine.dispose()
    words = {
        "mail": (f"{mail['delivered']} Message-IDs at the sink, {mail['sent_in_outbox']} sent in the outbox; "
                 f"missing {len(mail['missing'])}, unknown {len(mail['unknown'])}, "
                 f"delivered more than once {len(mail['duplicates'])} {sorted(mail['duplicates'])[:10]}; "
                 f"not sent: {mail['not_sent'] or 'none'}"),
        "stages": "every application in the stage its history ends in" if not wrong else "; ".join(wrong[:10]),
        "audit entries by kind": ", ".join(f"{k} {n}" for k, n in sorted(audits.items())),
    }
    if baseline_dump is not None:
        diff = compare_dumps(baseline_dump, dump)
        words["database against the fault-free run"] = "equal, table by table" if not diff else "; ".join(
            f"{t}: {d['only_first']} rows only fault-free, {d['only_second']} only faulted "
            f"(e.g. {d['examples_first'][:1]} / {d['examples_second'][:1]})" for t, d in diff.items())
    return words, {"dump": dump, "mail": mail, "wrong_stages": wrong, "audits": audits}
