"""Regenerate the saved histories: ``python -m tests.histories.record [pytest args…]``.

Runs every test that uses the time-skipping environment with ``SOJOURN_RECORD_HISTORIES=1``;
each workflow those tests start leaves its history under ``tests/histories/<workflow type>/``
(see ``recorder.py`` for names and for when a history counts as new). Existing files are never
touched. If any test fails, the files this run wrote are removed again: only journeys that
behaved as their tests expect become the reference. Commit the new files with the change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.histories.recorder import ENV_VAR, ROOT

# Every module whose tests run journeys on the time-skipping server.
PATHS = [
    "tests/workflows",
    "tests/messaging/test_journeys.py",
    "tests/segments/test_enrollment.py",
    "tests/segments/test_lookup.py",
    "tests/channels/test_cart_escalation.py",
]


def saved() -> set[Path]:
    return set(ROOT.rglob("*.json"))


def main(argv: list[str]) -> int:
    """Run the journey tests recording histories; print the files written."""
    before = saved()
    env = {**os.environ, ENV_VAR: "1"}
    # The replay test reads what this run is writing; it has nothing to record.
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        *PATHS,
        "--ignore=tests/workflows/test_replay.py",
    ]
    code = subprocess.run([*args, *argv], env=env).returncode
    new = sorted(saved() - before)
    if code != 0:
        for path in new:
            path.unlink()
        sys.stderr.write(f"tests failed (exit {code}); removed the {len(new)} new histories\n")
        return code
    for path in new:
        sys.stdout.write(f"new  {path.relative_to(ROOT.parent.parent)}\n")
    sys.stdout.write(f"{len(new)} new histories, {len(before)} kept\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
