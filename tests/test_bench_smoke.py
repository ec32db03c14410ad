"""The benchmark harness runs end to end at its smallest size (figures printed, not asserted).

It exercises every measurement of ``python -m bench``: tracker import beside
notmuch new and flanker alone, import again, rethread, the unanswered report,
tracker sync beside mbsync from a loopback Dovecot, and Datasette pages. A
measurement that fails is a note in the output: here that fails the test, so
the harness cannot rot unnoticed. The speed itself is not asserted (CI machines
vary); docs/benchmarks.md holds a real run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_harness_runs_every_measurement_at_its_smallest_size() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "120", "--quick", "--output", "-"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    print(run.stdout)
    assert run.returncode == 0, run.stderr[-3000:]
    assert ": not measured (" not in run.stdout, run.stdout[run.stdout.find("Notes:"):]
    for measure in (
        "tracker import (msg/s)",
        "notmuch new (msg/s)",
        "flanker alone, 1 process (msg/s)",
        "tracker import peak memory (MB)",
        "tracker sync, first run (msg/s)",
        "mbsync, first run (msg/s)",
        "tracker rethread, everything (s)",
        "tracker report unanswered (s)",
        "Datasette a thread page (median ms)",
    ):
        row = next((line for line in run.stdout.splitlines() if measure in line), None)
        assert row is not None, f"{measure} missing from the table:\n{run.stdout}"
        assert re.search(r"\|\s*[\d,.]+x?\s*\|\s*$", row), f"no figure in: {row}"
    assert "Machine: " in run.stdout and "Versions: " in run.stdout
    # small sizes alternate tracker and notmuch (two rounds when quick): each round's ratio
    row = next(line for line in run.stdout.splitlines() if "notmuch new, each round" in line)
    assert re.search(r"[\d.]+x–[\d.]+x \(2 rounds\)", row), row


def test_the_median_round_is_shown_with_the_highest_peak_memory() -> None:
    from bench import common
    from bench.run import _median

    runs = [common.Measurement(seconds, peak, peak, 0) for seconds, peak in ((3.0, 100), (1.0, 300), (2.0, 200))]
    middle = _median(runs)
    assert (middle.seconds, middle.peak_tree_mb) == (2.0, 300)
    assert _median(runs[:2]).seconds == 1.0  # of two, the faster
    assert _median([]) is None
