from __future__ import annotations

import pytest

from endorse.rulebook import load_rulebooks
from endorse.settings import PROJECT_ROOT


@pytest.fixture(scope="session")
def library():
    return load_rulebooks(PROJECT_ROOT / "rules")
