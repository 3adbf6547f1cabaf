"""`endorse evaluate FOLDER --json` over several processes (issue 17): the same bytes as one process,
in the files' order, and a bad file anywhere still means exit 2, its name, and nothing printed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.generate import applications
from endorse.settings import PROJECT_ROOT

ENDORSE = [sys.executable, "-m", "endorse_cli.main"]
FILES = 900  # enough for the folder to be spread (endorse_cli.commands.checklists.PARALLEL_FROM)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ENDORSE, *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)


def _folder(tmp_path):
    for d in applications(FILES, seed=17):
        (tmp_path / f"{d['id']}.json").write_text(json.dumps(d))
    return tmp_path


def test_a_folder_over_two_processes_prints_what_one_process_prints(tmp_path):
    folder = _folder(tmp_path)
    one = run("evaluate", str(folder), "--as-of", "2026-11-22", "--json", "--workers", "1")
    two = run("evaluate", str(folder), "--as-of", "2026-11-22", "--json", "--workers", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout
    ids = [r["id"] for r in json.loads(two.stdout)]
    assert ids == sorted(ids) and len(ids) == FILES


@pytest.mark.parametrize("bad", ["GEN-000800", "GEN-000100"], ids=["in a worker's share", "in this process's share"])
def test_a_bad_file_in_any_share_stops_everything(tmp_path, bad):
    folder = _folder(tmp_path)
    (folder / f"{bad}.json").write_text(f'{{"id": "{bad}", "association": "MI-AIMH"}}')
    out = run("evaluate", str(folder), "--as-of", "2026-11-22", "--json", "--workers", "2")
    assert out.returncode == 2 and out.stdout == ""
    assert f"{bad}.json" in out.stderr and "category" in out.stderr


def test_workers_must_be_a_number_of_processes():
    out = run("evaluate", str(PROJECT_ROOT / "cohort"), "--workers", "0", "--json")
    assert out.returncode == 2 and "--workers" in out.stderr and out.stdout == ""


def test_a_folder_in_one_line_over_two_processes_prints_what_one_process_prints(tmp_path):
    folder = _folder(tmp_path)
    one = run("evaluate", str(folder), "--as-of", "2026-11-22", "--json", "--compact", "--workers", "1")
    two = run("evaluate", str(folder), "--as-of", "2026-11-22", "--json", "--compact", "--workers", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout and one.stdout.count("\n") == 1
    assert len(json.loads(two.stdout)) == FILES
