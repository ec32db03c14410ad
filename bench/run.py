"""The benchmark harness: tracker against its peers on the same mailboxes, in one run.

    python -m bench                            # 1,000, 10,000 and 100,000 messages
    python -m bench --sizes 1000,10000         # quicker
    python -m bench --sizes 200 --quick --output -   # the CI smoke run (prints only)

For each size a realistic Maildir is generated (letters to ministries, replies,
auto-replies, acknowledgements, other mail; several charsets; PDF letters; the
size mix of a real mailbox), then measured, each as its own process:

- ``tracker import`` (messages/s, peak memory of the whole process tree) beside
  ``notmuch new`` on the same Maildir and flanker alone in one process (the
  parse-only ceiling per core); an import again (nothing new);
- ``tracker sync`` from a loopback Dovecot serving the same Maildir beside
  ``mbsync`` pulling it (bench/sync.py's setup);
- ``tracker rethread`` (everything) and ``tracker report unanswered`` on the
  imported database;
- Datasette page latencies on that database, in process (bench/datasette.py's
  pages: a thread, the unanswered query, a search, the home page);
- once, an import of a mailbox with six 30 MB attachments (peak memory).

The table goes to stdout and, with the machine, versions and date, to
docs/benchmarks.md (``--output``). Figures taken while other work runs on the
machine are noisy: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

DEFAULT_SIZES = [1_000, 10_000, 100_000]
OUTPUT = common.ROOT / "docs" / "benchmarks.md"


def tracker_cmd(config: Path, *args: str) -> list[str]:
    return common.python_cmd("from tracker.cli import main; main()") + ["--config", str(config), *args]


def tracker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(common.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Results:
    """Figures by measure and size, with notes on what could not be measured."""

    def __init__(self) -> None:
        self.values: dict[str, dict[int, object]] = {}
        self.notes: list[str] = []
        self.appendix: list[tuple[str, str]] = []

    def put(self, measure: str, size: int, value: object) -> None:
        self.values.setdefault(measure, {})[size] = value
        print(f"    {measure}: {common.table(['x'], [[value]]).splitlines()[-1].strip('| ')}", file=sys.stderr)

    def save(self, path: Path, started: str) -> None:
        """The figures as JSON (for --merge), written after every size."""
        path.write_text(json.dumps({
            "values": {k: {str(s): v for s, v in by_size.items()} for k, by_size in self.values.items()},
            "notes": self.notes, "big": getattr(self, "big", None),
            "generator": getattr(self, "generator", None), "started": started,
            "appendix": self.appendix,
        }, indent=1), encoding="utf-8")

    def get(self, measure: str, size: int) -> object:
        return self.values.get(measure, {}).get(size)


def _step(results: Results, what: str, size: int, fn) -> object:
    """Run one measurement; a failure becomes a note, not the end of the run."""
    started = time.perf_counter()
    print(f"  {what} ...", end="", flush=True, file=sys.stderr)
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - one peer failing must not lose the other figures
        print(f" failed: {exc}", file=sys.stderr)
        results.notes.append(f"{size:,} messages, {what}: not measured ({type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''})")
        if os.environ.get("TRACKER_BENCH_DEBUG"):
            traceback.print_exc()
        return None
    print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return value


REPEATS = 3  # alternated rounds of tracker import and notmuch new, up to REPEAT_UP_TO messages
REPEAT_UP_TO = 10_000


def _median(runs: list[common.Measurement]) -> common.Measurement | None:
    """The run of median time, with the highest peak memory of all the runs."""
    if not runs:
        return None
    middle = sorted(runs, key=lambda m: m.seconds)[(len(runs) - 1) // 2]
    return dataclasses.replace(middle, peak_tree_mb=max(m.peak_tree_mb for m in runs))


def measure_size(
    size: int, work: Path, results: Results, *, quick: bool, seed: int, profile: bool = False
) -> None:
    """Every measurement at one mailbox size."""
    print(f"{size:,} messages:", file=sys.stderr)
    maildir, generator = common.build_mailbox(work / "Maildir", size, seed=seed)
    common.settle(maildir)
    count = common.count_messages(maildir)
    disk = sum(f.stat().st_size for f in maildir.rglob("*") if f.is_file())
    results.put("mailbox", size, f"{count:,} msgs, {disk / 2**20:,.0f} MB")
    results.generator = generator
    imports = work / "import"
    imports.mkdir()

    # tracker and notmuch alternate, several times where a run is short: on a shared machine
    # the speed of the moment moves a single run's ratio by a fifth or more
    rounds = 1 if size > REPEAT_UP_TO else 2 if quick else REPEATS
    trackers, notmuchs = [], []
    for round_ in range(rounds):
        steps = [("tracker import", trackers, lambda: common.measure_import(maildir, imports)),
                 ("notmuch new", notmuchs, lambda: common.measure_notmuch(maildir, work))]
        for name, runs, run in steps[:: 1 if round_ % 2 == 0 else -1]:
            measured = _step(results, name if rounds == 1 else f"{name} ({round_ + 1}/{rounds})", size, run)
            if measured is not None:
                runs.append(measured)
    imported, notmuch = _median(trackers), _median(notmuchs)
    config = imports / "tracker.toml"
    if imported is not None:
        results.put("tracker import (msg/s)", size, imported.rate(count))
        results.put("tracker import (s per 1,000 msgs)", size, imported.seconds / count * 1000)
        results.put("tracker import peak memory (MB)", size, imported.peak_tree_mb)
        results.put("tracker import CPU (ms per msg)", size, imported.cpu_seconds / count * 1000)
        stored = _sqlite_count(imports / "tracker.db", "select count(*) from raw_messages")
        if stored != count:
            results.notes.append(f"{size:,} messages: tracker stored {stored} raw messages of {count}")
    if notmuch is not None:
        results.put("notmuch new (msg/s)", size, notmuch.rate(count))
        results.put("notmuch new peak memory (MB)", size, notmuch.peak_tree_mb)
        results.put("notmuch new CPU (ms per msg)", size, notmuch.cpu_seconds / count * 1000)
        if imported is not None:
            results.put("**tracker import / notmuch new** (speed)", size, f"{notmuch.seconds / imported.seconds:.2f}x")
            if len(trackers) > 1 and len(notmuchs) == len(trackers):
                ratios = sorted(n.seconds / t.seconds for t, n in zip(trackers, notmuchs))
                results.put("tracker import / notmuch new, each round", size,
                            f"{ratios[0]:.2f}x–{ratios[-1]:.2f}x ({len(ratios)} rounds)")
    parsed = _step(results, "flanker alone", size, lambda: common.measure_parse_only(maildir))
    if parsed is not None:
        measured, parsed_count = parsed
        results.put("flanker alone, 1 process (msg/s)", size, measured.rate(parsed_count))
        results.put("flanker alone CPU (ms per msg)", size, measured.cpu_seconds / parsed_count * 1000)
        if imported is not None:
            results.put("tracker import / flanker alone (speed)", size,
                        f"{measured.seconds / parsed_count * count / imported.seconds:.2f}x")
    if imported is None:
        return
    again = _step(results, "tracker import again", size, lambda: common.run_measured(
        tracker_cmd(config, "import", "--quiet", str(maildir)), env=tracker_env()))
    if again is not None:
        results.put("tracker import again, nothing new (s)", size, again.seconds)
    rethread = _step(results, "tracker rethread", size, lambda: common.run_measured(
        tracker_cmd(config, "rethread", "--quiet"), env=tracker_env()))
    if rethread is not None:
        results.put("tracker rethread, everything (s)", size, rethread.seconds)
        results.put("tracker rethread peak memory (MB)", size, rethread.peak_tree_mb)
    report = _step(results, "tracker report unanswered", size, lambda: common.run_measured(
        tracker_cmd(config, "report", "unanswered", "--format", "json"), env=tracker_env()))
    if report is not None:
        results.put("tracker report unanswered (s)", size, report.seconds)
    _step(results, "tracker sync and mbsync", size, lambda: _sync(maildir, work, count, size, results))
    _step(results, "Datasette pages", size, lambda: _datasette(config, size, results, repeat=3 if quick else 9))
    if profile:
        (work / "profile").mkdir()
        table = _step(results, "py-spy profile of tracker import", size,
                      lambda: common.profile_import(maildir, work / "profile"))
        if table is not None:
            results.appendix.append((f"Where the time goes: tracker import of {size:,} messages", table))
    results.put("measured at (UTC), load average", size,
                f"{dt.datetime.now(dt.timezone.utc):%H:%M}, {os.getloadavg()[0]:.1f}")


def _sqlite_count(database: Path, sql: str) -> int:
    """``sql``'s count over a database and its private store (raw bytes live there)."""
    import sqlite3

    from tracker.config import private_path

    conn = sqlite3.connect(str(database))
    if private_path(database).exists():
        conn.execute("attach database ? as private", [str(private_path(database))])
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _sync(maildir: Path, work: Path, count: int, size: int, results: Results) -> None:
    """``tracker sync`` and ``mbsync`` from one loopback Dovecot (bench/sync.py's setup)."""
    from bench import sync as sync_bench

    os.chmod(work, 0o755)  # Dovecot runs as nobody
    server, user = sync_bench.serve(maildir, work / "dovecot")
    try:
        config = sync_bench.tracker_config(work / "sync", server, user)
        first = sync_bench.tracker_sync(config)
        mbsync = sync_bench.mbsync(sync_bench.mbsync_config(work / "mbsync", server, user))
        again = sync_bench.tracker_sync(config)
    finally:
        server.stop()
    results.put("tracker sync, first run (msg/s)", size, first.rate(count))
    results.put("mbsync, first run (msg/s)", size, mbsync.rate(count))
    results.put("**tracker sync / mbsync** (speed)", size, f"{mbsync.seconds / first.seconds:.2f}x")
    results.put("tracker sync peak memory (MB)", size, first.peak_tree_mb)
    results.put("tracker sync CPU (ms per msg)", size, first.cpu_seconds / count * 1000)
    results.put("mbsync CPU (ms per msg)", size, mbsync.cpu_seconds / count * 1000)
    results.put("tracker sync again, nothing new (s)", size, again.seconds)
    synced = _sqlite_count(work / "sync" / "tracker.db", "select count(*) from raw_messages")
    if synced != count:
        results.notes.append(f"{size:,} messages: tracker sync stored {synced} raw messages of {count}")


def _datasette(config_path: Path, size: int, results: Results, *, repeat: int) -> None:
    """Median latency of tracker's Datasette pages on the imported database, in process."""
    import sqlite3

    from datasette.utils import tilde_encode

    from bench.datasette import timed
    from tracker import config as config_module
    from tracker import web as publish

    config = config_module.load(config_path)
    conn = sqlite3.connect(str(config.database))
    thread_ids = [r[0] for r in conn.execute(
        "select thread_id from thread_messages group by thread_id having count(*) >= 2 limit 500")]
    conn.close()
    ds = publish.make_datasette(config)
    asyncio.run(ds.invoke_startup())
    rng = random.Random(7)
    pages = [
        ("a thread page", [f"/tracker/threads/{tilde_encode(t)}" for t in rng.sample(thread_ids, min(3, len(thread_ids)))]),
        ("unanswered (JSON)", ["/tracker/unanswered.json?_shape=array"]),
        ("search (HTML)", ["/tracker/search?q=hebergement+mineurs"]),
        ("home page", ["/"]),
    ]
    for label, paths in pages:
        times: list[float] = []
        for path in paths:
            timed(ds, path, 1)  # warm the page cache
            times += timed(ds, path, repeat)
        if times:
            results.put(f"Datasette {label} (median ms)", size, statistics.median(times))


def big_attachments(work: Path, results: Results) -> None:
    """Peak memory of an import whose mailbox holds six 30 MB PDF attachments in a row."""
    from bench.common import COORDINATION, _address, _message, _pdf, synth_maildir

    maildir = synth_maildir(work / "Maildir-big", 200, seed=9)
    rng = random.Random(3)
    for i in range(6):
        raw = _message(
            rng, message_id=f"scan{i}@association.fr", date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
            sender=_address("Amélie Durand", "amelie@association.fr", rng), to=[COORDINATION], cc=[],
            subject="Dossier complet numérisé", body="Voir la pièce jointe.\n",
            attachment=(f"dossier-{i}.pdf", _pdf(rng, 30_000_000, "Dossier")),
        )
        (maildir / "cur" / f"1600000000.scan{i}.bench:2,S").write_bytes(raw)
    (work / "import-big").mkdir()
    measured = common.measure_import(maildir, work / "import-big")
    results.big = {"messages": common.count_messages(maildir), "seconds": measured.seconds,
                   "peak_mb": measured.peak_tree_mb}


def render(results: Results, sizes: list[int], started: str, took: float | None) -> str:
    """docs/benchmarks.md: the headline table, the machine, versions, notes."""
    headers = ["", *[f"{s:,}" for s in sizes]]
    order = [
        "mailbox",
        "tracker import (msg/s)", "notmuch new (msg/s)", "**tracker import / notmuch new** (speed)",
        "tracker import / notmuch new, each round",
        "flanker alone, 1 process (msg/s)", "tracker import / flanker alone (speed)",
        "tracker import CPU (ms per msg)", "notmuch new CPU (ms per msg)", "flanker alone CPU (ms per msg)",
        "tracker import (s per 1,000 msgs)", "tracker import peak memory (MB)", "notmuch new peak memory (MB)",
        "tracker import again, nothing new (s)",
        "tracker sync, first run (msg/s)", "mbsync, first run (msg/s)", "**tracker sync / mbsync** (speed)",
        "tracker sync CPU (ms per msg)", "mbsync CPU (ms per msg)",
        "tracker sync peak memory (MB)", "tracker sync again, nothing new (s)",
        "tracker rethread, everything (s)", "tracker rethread peak memory (MB)", "tracker report unanswered (s)",
    ]
    order.append("measured at (UTC), load average")
    order += sorted(k for k in results.values if k.startswith("Datasette"))
    order += [k for k in results.values if k not in order]
    order.append(order.pop(order.index("measured at (UTC), load average")))
    rows = [[name, *[results.get(name, s) for s in sizes]] for name in order if name in results.values]
    machine = common.machine()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {started} by `python -m bench --sizes {','.join(str(s) for s in sizes)}`"
        + (f" ({took / 60:.0f} min)" if took is not None else "")
        + f", on the mailboxes of `{getattr(results, 'generator', '?')}`.",
        "",
        f"Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['memory']} RAM, "
        f"Linux {machine['kernel']}, Python {machine['python']}"
        + (f"; load average at the end {machine['load']}." if took is not None else
           "; the load average when each size was measured is the table's last row."),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in common.versions().items()) + ".",
        "",
        "Ratios are the headline (peer's time / tracker's time: above 1x tracker is faster). "
        "Each figure is one run of a separate process, except `tracker import` and `notmuch new` "
        f"up to {REPEAT_UP_TO:,} messages: {REPEATS} rounds each, alternated, of which the median run "
        "is shown (with the highest peak memory), and the ratio of each round below it. Memory is "
        "the peak of the process tree's "
        "PSS (writer and parser workers together), sampled every 50 ms. CPU is user + system time "
        "of the process and its parser workers: wall times stretch when other work shares the "
        "machine, CPU per message much less so.",
        "",
        "The peers: `notmuch new` (C++, one process) parses every message's headers and indexes "
        "its text in Xapian, the closest peer to `tracker import` (which parses, classifies, "
        "stores raw and parsed rows with full-text search, and threads). flanker alone parses "
        "each file in one process and stores nothing: the pure-Python ceiling per core. "
        "`mbsync` only copies messages from IMAP to a Maildir, parsing nothing: it bounds "
        "the network and server side of `tracker sync`.",
        "",
        common.table(headers, rows),
        "",
    ]
    lines += _goals(results, sizes)
    big = getattr(results, "big", None)
    if big is not None:
        lines += [
            f"Large attachments: {big['messages']} messages of which six carry a 30 MB PDF: tracker import "
            f"{big['seconds']:.1f} s, peak memory {big['peak_mb']:.0f} MB (goal < 400 MB).",
            "",
        ]
    if results.notes:
        lines += ["Notes:", ""] + [f"- {note}" for note in results.notes] + [""]
    for title, text in results.appendix:
        lines += [f"## {title}", "", text.rstrip(), ""]
    return "\n".join(lines)


def _goals(results: Results, sizes: list[int]) -> list[str]:
    """The issue's goals, each checked against the figures (met / not met / not measured)."""

    def ratio(measure: str, size: int) -> float | None:
        value = results.get(measure, size)
        return float(str(value).rstrip("x")) if value is not None else None

    lines = ["Goals (issue 7), on this run:", ""]
    speed = [(s, ratio("**tracker import / notmuch new** (speed)", s)) for s in sizes]
    speed = [(s, r) for s, r in speed if r is not None]
    if speed:
        verdict = "met" if all(r >= 3 for _, r in speed) else "not met"
        lines.append("- import at least 3x faster than `notmuch new`: " + verdict + " ("
                     + ", ".join(f"{r:.2f}x at {s:,}" for s, r in speed) + ")")
    memory = [(s, results.get("tracker import peak memory (MB)", s)) for s in sizes]
    memory = [(s, m) for s, m in memory if m is not None]
    if memory:
        largest, peak = memory[-1]
        verdict = "met" if largest >= 100_000 and peak < 400 else ("not met" if peak >= 400 else "no run at 100,000")
        lines.append(f"- peak memory under 400 MB at 100,000 messages: {verdict} "
                     f"({', '.join(f'{m:.0f} MB at {s:,}' for s, m in memory)})")
    big = getattr(results, "big", None)
    if big is not None:
        lines.append(f"- peak memory under 400 MB with 30 MB attachments: "
                     f"{'met' if big['peak_mb'] < 400 else 'not met'} ({big['peak_mb']:.0f} MB)")
    # start-up weighs on the smallest sizes: compare from 10,000 up when there are two such sizes
    floor = 10_000 if sum(s >= 10_000 for s in sizes) >= 2 else 1000
    per_k = [(s, results.get("tracker import (s per 1,000 msgs)", s)) for s in sizes if s >= floor]
    per_k = [(s, v) for s, v in per_k if v is not None]
    if len(per_k) >= 2:
        growth = per_k[-1][1] / per_k[0][1]
        lines.append(f"- import time growing linearly: {'met' if growth <= 1.3 else 'not met'} "
                     f"(seconds per 1,000 messages: "
                     + ", ".join(f"{v:.1f} at {s:,}" for s, v in per_k)
                     + f"; {growth:.2f}x from the smallest to the largest; start-up weighs on small sizes)")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0],
        epilog="Example: python -m bench --sizes 1000,10000",
    )
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="mailbox sizes, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions, no 30 MB attachment run (the CI smoke test)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=str(OUTPUT),
                        help="where to write the Markdown ('-' for stdout only; default docs/benchmarks.md)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--json", type=Path, help="also save the figures as JSON here")
    parser.add_argument("--merge", type=Path, action="append", default=[],
                        help="add the sizes of an earlier run's --json to the table")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    started, clock = common.now_utc(), time.perf_counter()
    results = Results()
    print(common.machine_line(), file=sys.stderr)
    # profiled once, at the first size of at least 1,000 messages (py-spy, when installed)
    profiled = next((s for s in sizes if s >= 1000), None) if not args.quick else None
    for size in sizes:
        work = common.scratch(f"tracker-bench-{size}-")
        try:
            measure_size(size, work, results, quick=args.quick, seed=args.seed, profile=size == profiled)
            if args.json:
                results.save(args.json, started)
        finally:
            if args.keep:
                print(f"kept {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)
    if not args.quick:
        work = common.scratch("tracker-bench-big-")
        try:
            _step(results, "six 30 MB attachments", 0, lambda: big_attachments(work, results))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        results.save(args.json, started)
    took: float | None = time.perf_counter() - clock
    for path in args.merge:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if not sizes:
            # only re-rendering an earlier run: its date, generator and notes are the page's
            started, took = earlier["started"], None
            results.generator = earlier.get("generator")
        for measure, by_size in earlier["values"].items():
            for size, value in by_size.items():
                if int(size) not in sizes:
                    results.put(measure, int(size), value)
        merged = sorted({int(s) for by_size in earlier["values"].values() for s in by_size} - set(sizes))
        sizes = sorted(sizes + merged)
        results.notes += earlier["notes"]
        results.appendix += [tuple(a) for a in earlier.get("appendix", [])]
        if getattr(results, "big", None) is None and earlier.get("big"):
            results.big = earlier["big"]
        if started != earlier["started"]:
            results.notes.append(f"the {', '.join(f'{s:,}' for s in merged)} column(s): run of {earlier['started']}")
        sizes = sorted(set(sizes))
    text = render(results, sizes, started, took)
    print(text)
    if args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
