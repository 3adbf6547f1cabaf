"""The command line in groups (issue 14, step 4): ``endorse <group> <verb>``, the two contracts of
REQUIREMENTS.md unchanged, ``--json`` on the listings, shell completion, and every refusal one line
on stderr with exit 2 and no traceback, whichever way the command line is started."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from endorse.db import transaction
from endorse.documents import ApplicationDocument, load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from endorse_cli.app import RENAMED, command
from endorse_cli.main import EXIT_INVALID, EXIT_OK, main
from tasks.config import PipelineConfig
from tasks.intake.records import ensure_associations, save_document
from tasks.mail.outbox import queue_email
from tasks.pipeline.reconcile import reconcile_one
from tests.documents import EXAMPLE_PATH

RENEWALS = PROJECT_ROOT / "cohort" / "renewals"
ENTRY_POINTS = {  # the three ways a coordinator or a script starts it
    "the console script": [str(Path(sys.executable).parent / "endorse")],
    "python -m endorse_cli": [sys.executable, "-m", "endorse_cli"],
    "python -m endorse_cli.main": [sys.executable, "-m", "endorse_cli.main"],
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def leaves(cmd=None, path=("endorse",)):
    """Every command a coordinator can run, with its full name."""
    cmd = cmd or command()
    subcommands = getattr(cmd, "commands", None)
    if not subcommands:
        return [(" ".join(path), cmd)]
    return [leaf for name, sub in subcommands.items() for leaf in leaves(sub, (*path, name))]


# --- the groups -------------------------------------------------------------------------------------

@pytest.mark.parametrize("old,new", sorted(RENAMED.items()), ids=sorted(RENAMED))
def test_an_old_flat_name_is_refused_with_its_new_one_and_the_new_one_exists(capsys, old, new):
    code, out, err = run(capsys, old, "X")
    assert (code, out) == (EXIT_INVALID, "")
    assert err == f"endorse: '{old}' is now 'endorse {new}' (endorse {new} --help shows its options)\n"
    code, out, _ = run(capsys, *new.split(), "--help")
    assert code == EXIT_OK and f"endorse {new}" in out


@pytest.mark.parametrize("name,cmd", leaves(), ids=[n for n, _ in leaves()])
def test_every_command_says_what_it_is_for_in_one_sentence_first(name, cmd):
    first = (cmd.help or "").strip().split("\n\n")[0]
    assert first.endswith(".") and len(first) <= 100, f"{name}: {first!r}"


def test_no_module_of_the_command_line_is_over_500_lines():
    for path in (PROJECT_ROOT / "endorse_cli").rglob("*.py"):
        text = path.read_text()
        assert text.count("\n") <= 500 or "Why one module" in text, f"{path}: split it, or say why in its docstring"


# --- refusals: one line, exit 2, nothing written, no traceback ---------------------------------------

USAGE_ERRORS = [  # (case, argv, what the line says)
    ("a missing argument", ["rater", "add", "--name", "A", "--email", "a@x.org", "--role", "colleague", "--by", "c@x.org"],
     "Missing argument 'APPLICATION'"),
    ("a missing option", ["rater", "add", "APP-1", "--name", "A"], "Missing option"),
    ("a choice not offered", ["rater", "vet", "17", "--decision", "maybe", "--on", "2026-11-22", "--by", "c@x.org"],
     "'maybe' is not one of 'accepted', 'rejected'"),
    ("a number that is not one", ["rater", "resend", "seventeen", "--by", "c@x.org"],
     "Invalid value for 'REQUEST': Input should be a valid integer"),
    ("an unknown command", ["evaluat", "x"], "No such command 'evaluat'. Did you mean 'evaluate'?"),
    ("an unknown verb", ["outbox", "send"], "No such command 'send'"),
    ("an unknown option", ["sweep", "--fulll"], "No such option: --fulll"),
    ("a date that is not one", ["evaluate", str(EXAMPLE_PATH), "--as-of", "2026-02-30", "--json"],
     "--as-of: '2026-02-30' is not a date written YYYY-MM-DD"),
]


@pytest.mark.parametrize("case,argv,said", USAGE_ERRORS, ids=[c[0] for c in USAGE_ERRORS])
def test_a_usage_error_is_one_line_saying_what_to_do_with_exit_2(capsys, case, argv, said):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_INVALID, "")
    assert err.count("\n") == 1 and err.startswith("endorse: ") and said in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=list(ENTRY_POINTS))
def test_every_entry_point_refuses_in_one_line_with_exit_2(entry):
    for argv, said in ((["rater", "vet", "x", "--decision", "accepted"], "Invalid value for 'REQUEST'"),
                       (["evaluate", str(EXAMPLE_PATH), "--as-of", "22/11/2026"], "--as-of: '22/11/2026'")):
        out = subprocess.run([*ENTRY_POINTS[entry], *argv], capture_output=True, text=True, cwd=PROJECT_ROOT,
                             timeout=120)
        assert out.returncode == EXIT_INVALID and out.stdout == "", out.stderr
        assert out.stderr.count("\n") == 1 and said in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_group_without_a_verb_shows_its_verbs_and_exits_2(capsys):
    code, out, _ = run(capsys, "exam")
    assert code == EXIT_INVALID
    assert all(verb in out for verb in ("approve", "sitting", "enrol", "assign", "review-link", "retake"))


# --- the two contracts ------------------------------------------------------------------------------

def test_evaluate_json_is_byte_for_byte_the_indented_json_of_the_checklist(capsys):
    from tasks.eligibility.evaluation import evaluate

    code, out, _ = run(capsys, "evaluate", str(EXAMPLE_PATH), "--as-of", "2026-11-22", "--json")
    expected = evaluate(load_document(EXAMPLE_PATH), default_library(), date(2026, 11, 22)).to_dict()
    assert code == EXIT_OK and out == json.dumps(expected, ensure_ascii=False, indent=2) + "\n"


RENEWAL_FORMS = [  # (case, argv): the contract, the verb, options first
    ("the contract: renewal PATH --year YEAR --json", ["renewal", "{path}", "--year", "2027", "--json"]),
    ("the verb: renewal check PATH", ["renewal", "check", "{path}", "--year", "2027", "--json"]),
    ("the year first: renewal --year YEAR PATH", ["renewal", "--year", "2027", "{path}", "--json"]),
]


@pytest.mark.parametrize("path", [RENEWALS / "mi-aimh-imhm-c-renewed.json", RENEWALS], ids=["a file", "a folder"])
def test_renewal_falls_back_to_check_when_its_first_word_is_not_a_verb(capsys, path):
    printed = set()
    for _, argv in RENEWAL_FORMS:
        code, out, err = run(capsys, *(a.replace("{path}", str(path)) for a in argv))
        assert code == EXIT_OK, err
        printed.add(out)
    (out,) = printed  # the same bytes every way
    assert json.loads(out)


def test_renewal_record_is_still_reached_by_its_name(capsys):
    code, out, _ = run(capsys, "renewal", "record", "--help")
    assert code == EXIT_OK and "Record a renewal document against its endorsement" in out
    code, _, err = run(capsys, "renewal", "record", str(RENEWALS / "mi-aimh-imhm-c-renewed.json"))
    assert code == EXIT_INVALID and "Missing option '--by'" in err


def test_an_invalid_renewal_through_the_fallback_names_the_file_and_field(capsys, tmp_path):
    doc = json.loads((RENEWALS / "vaimh-imhm-p-renewed.json").read_text())
    doc["training"][0]["hours"] = -1
    bad = tmp_path / "bad-renewal.json"
    bad.write_text(json.dumps(doc))
    code, out, err = run(capsys, "renewal", str(bad), "--year", "2027")
    assert (code, out) == (EXIT_INVALID, "") and "bad-renewal.json" in err and "training[0].hours" in err


# --- listings: a table, or the same data with --json ------------------------------------------------

@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    """``endorse …`` in this process against the test's database (the process's engines are closed
    before and after: each test's database is another one)."""
    from endorse.db import close_databases
    from endorse.settings import get_settings

    close_databases()
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield lambda *argv: run(capsys, *argv)
    close_databases()
    get_settings.cache_clear()


def test_outbox_list_json_gives_each_message_and_the_status_option_repeats(sessions, cli):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for i in range(3):
            queue_email(s, role="reference.reminder", to_email=f"r{i}@rater.org", to_name="R", association="MI-AIMH",
                        idempotency_key=f"u{i}", context={"rater_name": "R", "applicant_name": "A",
                                                           "category_name": "IMHS", "due_on": "2026-12-01"})
    code, out, _ = cli("outbox", "list", "--json")
    rows = json.loads(out)
    assert code == EXIT_OK and [(r["status"], r["to"], r["attempts"]) for r in rows] == \
        [("queued", f"r{i}@rater.org", 0) for i in range(3)]
    code, out, _ = cli("outbox", "list", "--status", "sent", "--status", "bounced", "--json")
    assert (code, json.loads(out)) == (EXIT_OK, [])
    code, out, _ = cli("outbox", "list")
    assert "r2@rater.org" in out and out.rstrip().endswith("3 message(s) failed/queued")


def test_determination_queue_json_names_the_question_awaited(sessions, cli):
    from tests.test_cli_determine import _volunteer_ifa  # an IFA applicant whose experience was unpaid

    _volunteer_ifa(sessions)
    cfg = PipelineConfig(library=default_library(), as_of=date.today(), secret_key="k", actor="system:test")
    reconcile_one(sessions, "CLI-IFA-1", cfg)  # its checklist now says the education requirement waits on you
    code, out, _ = cli("determination", "queue", "--json")
    assert code == EXIT_OK
    assert [(r["application"], r["question"], r["requirement"]) for r in json.loads(out)] == \
        [("CLI-IFA-1", "ifa_volunteer_experience", "education")]
    code, out, _ = cli("determination", "queue", "--association", "CT-AIMH", "--json")
    assert json.loads(out) == []


def test_rater_queue_and_show_print_json_for_scripts(sessions, cli):
    doc = load_document(PROJECT_ROOT / "cohort" / "orimha-ifa-vetted-rater.json")
    raw = doc.model_dump(mode="json")
    raw["references"][0]["rater"]["vetted_on"] = None  # not vetted yet: waits for the coordinator's call
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, ApplicationDocument.model_validate_json(json.dumps(raw)), actor="test")
    code, out, _ = cli("rater", "queue", "--json")
    queued = [r for r in json.loads(out) if r["email"] == "sobrien@example.com"]
    assert code == EXIT_OK and [r["application"] for r in queued] == [doc.id]
    code, out, _ = cli("rater", "queue")
    assert "sobrien@example.com" in out and "rater(s) to vet" in out
    code, out, _ = cli("show", doc.id, "--as-of", "2026-11-22", "--json")
    shown = json.loads(out)
    assert code == EXIT_OK and shown["checklist"]["id"] == doc.id and shown["stage"]
    assert {"determinations", "raters", "emails", "timeline"} <= set(shown)
    assert any(r["email"] == "sobrien@example.com" for r in shown["raters"])


# --- completion and progress ------------------------------------------------------------------------

def test_shell_completion_completes_groups_and_verbs():
    env = {**os.environ, "_ENDORSE_COMPLETE": "complete_bash", "COMP_WORDS": "endorse rater ", "COMP_CWORD": "2"}
    out = subprocess.run(ENTRY_POINTS["the console script"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["add", "replace", "resend", "vet", "queue"]
    script = subprocess.run([*ENTRY_POINTS["the console script"], "--show-completion", "bash"], capture_output=True,
                            text=True, timeout=120)
    assert script.returncode == 0 and "_endorse_completion" in script.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False], ids=["on a terminal", "piped"])
def test_a_progress_bar_is_drawn_on_a_terminal_only(monkeypatch, terminal):
    from endorse_cli.display import progress

    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with progress("importing", total=4) as advance:
        for done in range(1, 5):
            advance(done, 4)
    drawn = stderr.getvalue()
    assert ("importing" in drawn) is terminal
    assert drawn == "" or terminal


# --- the contracts start fast -----------------------------------------------------------------------

def test_evaluate_and_renewal_run_from_a_root_with_the_same_commands_options_and_help():
    whole, contracts = command(["show"]), command(["--data", "var", "evaluate"])
    assert set(contracts.commands) == {"evaluate", "renewal"}
    assert [p.opts for p in contracts.params] == [p.opts for p in whole.params]  # --data, completion, --help

    def shape(cmd):
        subs = getattr(cmd, "commands", {})
        return (cmd.help, [(p.opts, p.required, p.help) for p in cmd.params], {n: shape(c) for n, c in subs.items()})
    for name in ("evaluate", "renewal"):
        assert shape(contracts.commands[name]) == shape(whole.commands[name]), name


@pytest.mark.parametrize("argv", [["evaluate", str(EXAMPLE_PATH), "--as-of", "2026-11-22", "--json"],
                                  ["renewal", str(RENEWALS), "--year", "2027", "--json"]], ids=["evaluate", "renewal"])
def test_the_contracts_load_neither_rich_nor_the_other_commands(argv):
    code = ("import sys, io, contextlib\nfrom endorse_cli.main import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()): rc = main({argv!r})\n"
            "heavy = [m for m in ('rich', 'prefect', 'sqlalchemy', 'fastapi', 'uvicorn', 'pandas') if m in sys.modules]\n"
            "print(rc, ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert out.stdout.split() == ["0"], out.stdout + out.stderr


def test_exam_assign_json_is_the_dry_run_table_as_data(sessions, cli, tmp_path):
    from tests.exam.test_sitting_plan import AS_OF, _setup  # two essays and a pool of reviewers

    ids = _setup(sessions)
    code, out, _ = cli("exam", "assign", str(ids["sitting"]), "--as-of", AS_OF.isoformat(), "--json")
    plan = json.loads(out)
    assert code == EXIT_OK and (plan["sitting"], plan["applied"]) == (ids["sitting"], False)
    assert {a["candidate_code"] for a in plan["assignments"]} == {"CAND-1", "CAND-2"}
    assert {"total_cost", "load", "not_covered", "without_preferred", "below_minimum", "held"} <= set(plan)
    code, table, _ = cli("exam", "assign", str(ids["sitting"]), "--as-of", AS_OF.isoformat())
    assert f"{len(plan['assignments'])} new assignments; total cost {plan['total_cost']}" in table
