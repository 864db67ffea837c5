"""``bench/segments.py`` runs end to end on a tiny base, and its SQL finds the naive members."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_segment_bench_runs_small(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.segments", "--contacts", "2000", "--events", "20000"]
        + ["--runs", "3", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # The bench asserts the naive baseline's member counts equal the SQL's before printing this.
    assert "same members" in done.stdout
    assert "events: 20,000 generated" in done.stdout
