"""Properties that must hold for any input (hypothesis, with bounded examples).

- Parsing never raises on arbitrary bytes (nor on real messages with bytes
  flipped, cut or inserted): it returns a record or raises ParseFailure, and
  ``ingest.parse_item`` never raises at all.
- Threading does not depend on the order messages arrive in, nor on how they
  are split between imports: the same mail gives the same conversations,
  threads and statuses (the whole database, minus clock columns, is compared).
- Threading again, and importing again, change nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import synth_messages, write_tracker_config
from tracker import config as config_module
from tracker import store
from tracker.parse import limits as parse_limits
from tracker.parse import message as parse
from tracker.store import ingest
from tracker.thread import rethread
from tracker.parse.records import ParsedMessage
from tracker.store import RawItem
from tests.support.snapshot import differences, snapshot

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _samples() -> list[bytes]:
    """Real-looking messages to mutate: generated ones and a few from the shared corpora."""
    found = [raw for _folder, raw in synth_messages(12, seed=11)]
    if CORPORA.is_dir():
        files = sorted(p for p in CORPORA.rglob("*") if p.is_file() and p.suffix in ("", ".eml", ".msg", ".txt"))
        found += [p.read_bytes()[:200_000] for p in files[:: max(1, len(files) // 20)]]
    return [raw for raw in found if raw]


SAMPLES = _samples()


def _check_parse(raw: bytes) -> None:
    try:
        parsed = parse.parse_message(raw)
    except parse_limits.ParseFailure as exc:
        assert str(exc), "a ParseFailure must say why (it is the quarantine reason)"
    else:
        assert isinstance(parsed, ParsedMessage)
        assert isinstance(parsed.message_id, str) and parsed.message_id.strip()
        assert parsed.size == len(raw)
    outcome = ingest.parse_item(raw)
    assert isinstance(outcome, (ParsedMessage, str))


@settings(max_examples=150, **SETTINGS)
@given(st.binary(max_size=3000))
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    _check_parse(raw)


HEADERY = st.sampled_from([
    b"\r\n", b"\n\n", b"\x00", b"=?utf-8?B?", b"=?iso-8859-1?Q?caf=E9?=", b"--", b"boundary=\"x\"",
    b"Content-Type: multipart/mixed; boundary=", b"Content-Transfer-Encoding: base64\r\n",
    b"charset=unknown-8bit", b"From: <>\r\n", b"Date: 31 Feb 99999\r\n", b"\xff\xfe", b"\xe9t\xe9",
    b"Message-ID: <a@b>\r\n", b"References: <" * 50,
])


@settings(max_examples=150, **SETTINGS)
@given(
    st.sampled_from(range(len(SAMPLES))),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=12),
    st.lists(st.tuples(st.floats(0, 1), HEADERY), max_size=4),
    st.floats(0.05, 1.0),
)
def test_parse_never_raises_on_damaged_messages(index, flips, inserts, keep) -> None:
    raw = bytearray(SAMPLES[index])
    for where, value in flips:
        if raw:
            raw[int(where * (len(raw) - 1))] = value
    for where, chunk in inserts:
        at = int(where * len(raw))
        raw[at:at] = chunk
    _check_parse(bytes(raw[: max(1, int(len(raw) * keep))]))


def test_parse_item_turns_any_failure_into_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a bug in the parser (any exception) becomes a quarantine reason, not a crash."""
    for error in (ValueError("x"), KeyError("x"), RecursionError(), UnicodeDecodeError("utf-8", b"", 0, 1, "x")):
        def boom(raw: bytes, error=error) -> ParsedMessage:
            raise error

        monkeypatch.setattr(parse, "parse_message", boom)
        assert isinstance(ingest.parse_item(b"Subject: x\r\n\r\nbody"), str)


# --------------------------------------------------------------- threading and re-import

MAIL = [
    RawItem("maildir", folder, f"/mail/{folder}/{index}", raw,
            dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=index))
    for index, (folder, raw) in enumerate(synth_messages(40, seed=5))
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("properties")
    return config_module.load(write_tracker_config(folder, folder / "unused.db"))


def _import(db, config, items: list[RawItem]):
    """What `tracker import` does: store, then thread what is new and anything left unthreaded."""
    with ingest.Ingester(db, config, workers=1, batch_size=7) as ingester:
        summary = ingester.run(items)
    rethread(db, config, summary.new_message_ids + store.unthreaded(db))
    return summary


def _database(config, runs: list[list[RawItem]]):
    db = store.open_db(":memory:")
    for items in runs:
        _import(db, config, items)
    return db


@pytest.fixture(scope="module")
def reference(config) -> dict:
    db = _database(config, [MAIL])
    expected = snapshot(db.conn)
    assert expected["threads"], "the sample mail should open threads"
    assert len({row[2] for row in expected["messages"]}) > 5, "the sample mail should hold conversations"
    return expected


@settings(max_examples=12, **SETTINGS)
@given(order=st.permutations(range(len(MAIL))), cuts=st.lists(st.integers(1, len(MAIL) - 1), max_size=3))
def test_threading_is_independent_of_order_and_of_import_boundaries(config, reference, order, cuts) -> None:
    items = [MAIL[i] for i in order]
    bounds = [0, *sorted(set(cuts)), len(items)]
    runs = [items[a:b] for a, b in zip(bounds, bounds[1:])]
    db = _database(config, runs)
    found = differences(reference, snapshot(db.conn))
    assert found == [], f"{len(runs)} imports in another order:\n" + "\n".join(found)


def test_rethreading_changes_nothing(config, reference) -> None:
    db = _database(config, [MAIL])
    rethread(db, config, None)
    assert differences(reference, snapshot(db.conn)) == []
    rethread(db, config, [item_id for (item_id,) in db.execute("select message_id from messages")])
    assert differences(reference, snapshot(db.conn)) == []


def test_reimporting_changes_nothing(config, reference) -> None:
    db = _database(config, [MAIL])
    # the same files again, parsed and written again (no known-location shortcut)
    summary = _import(db, config, list(reversed(MAIL)))
    assert summary.new == 0
    assert summary.known + summary.quarantined == len(MAIL)
    assert differences(reference, snapshot(db.conn)) == []


def test_a_message_found_in_two_folders_ends_the_same_whether_met_at_once_or_later(config) -> None:
    """Found in INBOX, then later in Sent (or the reverse): same as when both were met at once."""
    for first in MAIL[:3] + [i for i in MAIL if i.folder == "Sent"][:3]:
        other = "Sent" if first.folder == "INBOX" else "INBOX"
        copy = RawItem("maildir", other, f"/mail/{other}/copy", first.raw, first.arrived_at)
        together = snapshot(_database(config, [[first, copy]]).conn)
        apart = snapshot(_database(config, [[first], [copy]]).conn)
        assert differences(together, apart) == [], f"{first.key} then {copy.key}"


def test_a_message_in_inbox_and_sent_is_classified_the_same_whichever_folder_comes_first(config) -> None:
    first = next(i for i in MAIL if i.folder == "INBOX")
    copy = RawItem("maildir", "Sent", "/mail/Sent/copy", first.raw, first.arrived_at)
    inbox_first = snapshot(_database(config, [[first, copy]]).conn)
    sent_first = snapshot(_database(config, [[copy, first]]).conn)
    assert differences(inbox_first, sent_first) == []
