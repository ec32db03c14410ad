"""Import speed: ``tracker import`` beside flanker alone and ``notmuch new``, same Maildir.

    python bench/import.py                  # 20,000 generated messages
    python bench/import.py --messages 2000 --workers 2
    python bench/import.py --maildir ~/Maildir   # your own mail (read only)

Prints messages/s and peak memory of each. flanker alone in one process is the
parse-only ceiling per core; ``notmuch new`` (C, Xapian) is the peer to beat.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402


def measure(maildir: Path, workdir: Path, *, workers: int | None = None) -> dict[str, dict]:
    """Run the three importers on ``maildir``; figures keyed by what was measured."""
    count = common.count_messages(maildir)
    results: dict[str, dict] = {}
    tracker = common.measure_import(maildir, workdir, workers=workers)
    results["tracker import"] = _figures(tracker, count)
    parse, parsed = common.measure_parse_only(maildir)
    results["flanker parse-only, 1 process"] = _figures(parse, parsed)
    notmuch = common.measure_notmuch(maildir, workdir)
    results["notmuch new"] = _figures(notmuch, count)
    for figures in results.values():
        figures["vs notmuch"] = figures["msg/s"] / results["notmuch new"]["msg/s"]
    return results


def _figures(measured: common.Measurement, count: int) -> dict:
    return {
        "messages": count,
        "seconds": measured.seconds,
        "msg/s": measured.rate(count),
        "peak MB (tree PSS)": measured.peak_tree_mb,
    }


COLUMNS = ["messages", "seconds", "msg/s", "vs notmuch", "peak MB (tree PSS)"]


def render(results: dict[str, dict]) -> str:
    """The results as a table."""
    return common.table(["", *COLUMNS], [[name, *(f[c] for c in COLUMNS)] for name, f in results.items()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages to generate (default 20000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="tracker parser processes (default: one per core)")
    parser.add_argument("--maildir", type=Path, help="measure this Maildir instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)

    workdir = common.scratch()
    try:
        if args.maildir:
            maildir, generator = args.maildir.resolve(), "given"
        else:
            maildir, generator = common.build_mailbox(workdir / "Maildir", args.messages, seed=args.seed)
        print(f"{common.count_messages(maildir)} messages ({generator}), {common.machine_line()}")
        print(render(measure(maildir, workdir, workers=args.workers)))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
