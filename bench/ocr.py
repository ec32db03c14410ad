"""OCR placement: headerless answers whose only evidence is a scanned PDF, read by Tesseract.

    python -m bench.ocr                 # 40 answers among 48 letters (issue 17's goal)
    python -m bench.ocr --answers 12    # the size the test suite runs

The correspondence is tests/test_ocr_accuracy.py's: 48 letters to four ministries under close
subjects, the first N answered by a do-not-reply address with a two-line body and a one-page
scan (tracker.demo.scans). Prints how many answers the import placed (none should be), how
many ``tracker ocr`` then placed in the right thread and in a wrong one, the pages read per
minute and the CPU per page of the whole ``tracker ocr`` process tree.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_ocr_accuracy import build  # noqa: E402


def _placements(database: Path) -> dict[str, str | None]:
    db = sqlite3.connect(database)
    thread_of = dict(db.execute("select message_id, thread_id from thread_messages"))
    return {m: thread_of.get(m) for (m,) in db.execute("select message_id from messages")}


def _tracker(config: Path, *args: str) -> tuple[float, float]:
    """Run ``tracker`` in a child; its wall seconds and the CPU seconds of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), *args], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=40, help="answers by scan, 8 to 48 (default 40)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        folder = Path(tmp)
        config, expected = build(folder, args.answers)
        _tracker(config, "import", "--quiet", str(folder / "mail"))
        before = _placements(folder / "tracker.db")
        wall, cpu = _tracker(config, "ocr")
        after = _placements(folder / "tracker.db")

    def placed(where: dict[str, str | None]) -> tuple[int, int]:
        right = sum(1 for a, letter in expected.items() if where[a] is not None and where[a] == where[letter])
        wrong = sum(1 for a, letter in expected.items() if where[a] is not None and where[a] != where[letter])
        return right, wrong

    pages = len(expected)
    print(f"{pages} headerless answers, each a one-page scan, among 48 letters")
    print("after the import: {} right, {} wrong".format(*placed(before)))
    right, wrong = placed(after)
    print(f"after tracker ocr: {right} right ({100 * right / pages:.1f}%), {wrong} wrong")
    print(f"tracker ocr: {wall:.1f} s, {60 * pages / wall:.1f} pages/min, {cpu / pages:.2f} s CPU/page")
    return 0 if right >= 0.95 * pages and wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
