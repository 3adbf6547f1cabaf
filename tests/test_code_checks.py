"""The code has no unused imports or variables and no syntax errors (ruff's F and E9 rules)."""

from __future__ import annotations

import subprocess
import sys

from endorse.settings import PROJECT_ROOT


def test_ruff_finds_no_unused_names_or_syntax_errors():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F,E9", "--output-format", "concise",
                          "endorse", "endorse_cli", "tasks", "flows", "models", "web", "bench", "scripts", "tests"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
