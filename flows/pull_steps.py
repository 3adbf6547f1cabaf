"""The pull step of prefect.yaml, run by the worker before each flow run.

``{{ $ENDORSE_HOME }}`` in prefect.yaml would be filled in by ``prefect deploy`` from the deploying
shell (Prefect 3.8.8 templates ``$``-placeholders of pull steps at deploy time when the variable is
set there: prefect/cli/deploy/_core.py applies ``apply_values`` to the pull steps, and
``apply_values`` reads ``$`` names from ``os.environ``). A step with no placeholder is stored as
written and this function reads the variable on the worker, at run time.
"""

from __future__ import annotations

import os
from pathlib import Path


def enter_endorse_home() -> dict[str, str]:
    """Change to the checkout the worker runs from: ``ENDORSE_HOME`` on the worker, else the checkout
    of the endorse installed in the worker's Python (the usual case: one fixed install path)."""
    from endorse.settings import PROJECT_ROOT

    home = Path(os.environ.get("ENDORSE_HOME") or PROJECT_ROOT).expanduser().resolve()
    if not (home / "flows" / "sweep.py").is_file():
        raise FileNotFoundError(f"ENDORSE_HOME={home}: not an endorse checkout (no flows/sweep.py there)")
    os.chdir(home)
    return {"directory": str(home)}
