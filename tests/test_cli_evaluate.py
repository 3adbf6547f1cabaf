"""`endorse evaluate PATH --as-of YYYY-MM-DD --json`: the contract of REQUIREMENTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from endorse.settings import PROJECT_ROOT

from .documents import EXAMPLE_PATH, INVALID_DOCUMENTS

ENDORSE = [sys.executable, "-m", "endorse_cli.main"]
REQUIREMENT_IDS = ["education", "transcripts", "training_hours", "rsc_training_hours", "dei_training_hours",
                   "work_experience", "leadership", "rsc_hours", "rsc_about_providing_hours", "references",
                   "endorsed_rater", "code_of_ethics", "endorsement_agreement", "membership", "exam"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ENDORSE, *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)


def test_evaluate_one_file_prints_one_object_with_every_requirement_once():
    out = run("evaluate", str(EXAMPLE_PATH), "--as-of", "2026-11-22", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"id", "association", "category", "as_of", "eligible", "requirements", "warnings"}
    assert (result["id"], result["association"], result["category"], result["as_of"]) == \
        ("CT-2026-014", "CT-AIMH", "IMHS", "2026-11-22")
    assert [r["id"] for r in result["requirements"]] == REQUIREMENT_IDS
    for r in result["requirements"]:
        assert set(r) == {"id", "status", "detail", "source"} and r["detail"] and r["source"]
    status = {r["id"]: r["status"] for r in result["requirements"]}
    # REQUIREMENTS.md: transcript awaited, 44 of 50 RS/C hours, one rating outstanding, no exam yet.
    assert status["transcripts"] == "pending"
    assert status["rsc_hours"] == "unmet"
    assert status["references"] == "pending"
    assert status["exam"] == "pending"
    assert result["eligible"] is False
    rsc = next(r for r in result["requirements"] if r["id"] == "rsc_hours")
    assert "44 of 50" in rsc["detail"] and rsc["source"].startswith("004 · IMHS")
    assert [w["id"] for w in result["warnings"]] == ["training_hours"]


def test_evaluate_a_folder_prints_an_array(tmp_path: Path):
    for i in range(3):
        doc = json.loads(EXAMPLE_PATH.read_text())
        doc["id"] = f"APP-{i}"
        (tmp_path / f"app-{i}.json").write_text(json.dumps(doc))
    out = run("evaluate", str(tmp_path), "--as-of", "2026-11-22", "--json")
    assert out.returncode == 0, out.stderr
    assert [r["id"] for r in json.loads(out.stdout)] == ["APP-0", "APP-1", "APP-2"]


def test_evaluate_without_json_prints_a_readable_table():
    out = run("evaluate", str(EXAMPLE_PATH), "--as-of", "2026-11-22")
    assert out.returncode == 0
    assert "CT-2026-014 · IMHS · CT-AIMH" in out.stdout and "source: 004 · IMHS" in out.stdout


@pytest.mark.parametrize("kind,raw,field", INVALID_DOCUMENTS, ids=[i[0] for i in INVALID_DOCUMENTS])
def test_invalid_document_exits_2_naming_file_and_field_and_prints_nothing(tmp_path: Path, kind, raw, field):
    bad = tmp_path / "bad-application.json"
    bad.write_bytes(raw)
    out = run("evaluate", str(bad), "--as-of", "2026-11-22", "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "bad-application.json" in out.stderr and field in out.stderr, out.stderr


def test_one_invalid_file_in_a_folder_means_no_output_at_all(tmp_path: Path):
    (tmp_path / "a.json").write_text(EXAMPLE_PATH.read_text())
    (tmp_path / "b.json").write_text("{")
    out = run("evaluate", str(tmp_path), "--as-of", "2026-11-22", "--json")
    assert out.returncode == 2 and out.stdout == "" and "b.json" in out.stderr


def test_bad_as_of_date_exits_2():
    out = run("evaluate", str(EXAMPLE_PATH), "--as-of", "2026-02-30", "--json")
    assert out.returncode == 2 and "--as-of" in out.stderr


def test_evaluate_writes_nothing_not_even_a_development_secret(tmp_path):
    # REQUIREMENTS.md: evaluate reads documents and rules, writes nothing. In development, loading the
    # settings makes a secret key in the data folder: evaluate must not load them for the rules folder.
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ENDORSE_")}
    env.update(ENDORSE_ENV="development", ENDORSE_DATA_DIR=str(data))
    code = ("import sys; sys.argv=['endorse','evaluate',%r,'--as-of','2026-11-22','--json'];"
            "from endorse_cli.main import main; import io, contextlib\n"
            "with contextlib.redirect_stdout(io.StringIO()): main()\n"
            "print('pydantic_settings' in sys.modules)") % str(EXAMPLE_PATH)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False" and out.stderr == ""
    assert list(data.iterdir()) == []


def test_evaluate_starts_without_prefect_the_web_stack_or_the_database():
    code = ("import sys, runpy; sys.argv=['endorse','evaluate',%r,'--as-of','2026-11-22','--json'];"
            "from endorse_cli.main import main; import io, contextlib\n"
            "with contextlib.redirect_stdout(io.StringIO()): main()\n"
            "heavy=[m for m in ('prefect','fastapi','sqlalchemy','pandas','uvicorn') if m in sys.modules]\n"
            "print(','.join(heavy))") % str(EXAMPLE_PATH)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
