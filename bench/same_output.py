"""Whether a speed-up changed what ``endorse evaluate`` says: the same bytes before and after.

``python -m bench.same_output REV [N]`` writes N generated applications (default 10,000, as the
evaluate benchmark does), runs ``endorse evaluate FOLDER --json`` from the tree at git revision REV
and from this tree, indented and compact, on one process and spread over the cores, and compares
the output byte for byte. Exit status 0: identical; 1: the first differing checklist is printed.
Both run with this checkout's virtual environment; REV's code goes first on the import path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.evaluate import AS_OF
from bench.generate import applications

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [("indented, one process", ["--workers", "1"]), ("compact, one process", ["--compact", "--workers", "1"]),
            ("indented, all cores", [])]


def _evaluate(tree: Path, folder: Path, extra: list[str]) -> bytes:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "endorse_cli", "evaluate", str(folder), "--as-of", AS_OF.isoformat(), "--json",
           *extra]
    # From the folder of the checkout being run, so that no other tree's modules come first.
    return subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=tree).stdout


def _first_difference(before: bytes, after: bytes) -> str:
    old, new = json.loads(before), json.loads(after)
    if len(old) != len(new):
        return f"{len(old)} checklists before, {len(new)} after"
    for a, b in zip(old, new):
        if a != b:
            return f"{a['id']}:\n  before {json.dumps(a)}\n  after  {json.dumps(b)}"
    return "the same checklists written differently (spacing, key order or escaping)"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    rev, n = argv[0], int(argv[1]) if len(argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="endorse-same-output-") as tmp:
        before_tree, folder = Path(tmp) / "before", Path(tmp) / "apps"
        before_tree.mkdir()
        folder.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before_tree)], input=archive, check=True)
        for d in applications(n):
            (folder / f"{d['id']}.json").write_text(json.dumps(d))
        for name, extra in VARIANTS:
            before, after = _evaluate(before_tree, folder, extra), _evaluate(ROOT, folder, extra)
            if before != after:
                print(f"{name}: differs from {rev}; first difference: {_first_difference(before, after)}")
                return 1
            print(f"{name}: {len(after):,} bytes, identical to {rev}'s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
