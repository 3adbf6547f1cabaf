"""The systemd units in deploy/systemd/ run each piece exactly as `endorse up` does (endorse/stack.py),
from the fixed install path, and every unit the README names exists."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from endorse.settings import PROJECT_ROOT
from endorse.stack import deploy_args, web_args, work_pool_args, worker_args

UNITS = PROJECT_ROOT / "deploy" / "systemd"
INSTALL = "/opt/endorse"


def _service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((UNITS / name).read_text())
    return parser["Service"]


def _exec(name: str) -> list[list[str]]:
    # configparser keeps the last of repeated keys: read every ExecStart= line ourselves.
    return [shlex.split(line.split("=", 1)[1]) for line in (UNITS / name).read_text().splitlines()
            if line.startswith("ExecStart=")]


@pytest.mark.parametrize("unit, program, args", [
    ("endorse-worker@.service", "prefect", worker_args("endorse-worker-%i")),
    ("endorse-web.service", "uvicorn", web_args("127.0.0.1", 8000, 2)),
], ids=["worker", "web"])
def test_a_long_running_unit_runs_what_endorse_up_runs(unit, program, args):
    (argv,) = _exec(unit)
    assert argv == [f"{INSTALL}/.venv/bin/{program}", *args]
    assert _service(unit)["WorkingDirectory"] == INSTALL


def test_the_deploy_unit_creates_the_pool_and_deploys_prefect_yaml_as_endorse_up_does():
    assert _exec("endorse-deploy.service") == [[f"{INSTALL}/.venv/bin/prefect", *work_pool_args()],
                                               [f"{INSTALL}/.venv/bin/prefect", *deploy_args(Path(INSTALL) / "prefect.yaml")]]


def test_only_the_prefect_server_reads_prefects_database_url():
    for unit in sorted(UNITS.glob("*.service")):
        files = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("EnvironmentFile=")]
        wants_db = unit.name in ("endorse-prefect-server.service", "endorse-up.service")
        assert ("/etc/endorse/prefect-server.env" in files) == wants_db, unit.name


def test_the_readme_names_only_units_that_exist():
    import re

    readme = (PROJECT_ROOT / "README.md").read_text()
    named = set(re.findall(r"endorse[-a-z@0-9]*\.(?:service|target)", readme))
    assert named, "the README's 'Outgrowing one machine' names the units"
    for name in named:
        assert (UNITS / re.sub(r"@\d+\.", "@.", name)).exists(), name
