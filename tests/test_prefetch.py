"""``ingest.prefetched``: the read-ahead thread in front of the writer (IMAP sync)."""

from __future__ import annotations

import threading
import time

import pytest

from tracker.ingest import prefetched
from tracker.store import RawItem


def item(n: int, size: int = 10) -> RawItem:
    return RawItem(source="test", folder="INBOX", key=str(n), raw=b"x" * size)


def test_items_come_out_in_order_and_all_of_them() -> None:
    assert [i.key for i in prefetched((item(n) for n in range(100)), budget=1000, count=7)] == [
        str(n) for n in range(100)
    ]


def test_the_reader_stays_within_its_count_and_bytes() -> None:
    made: list[int] = []

    def source():
        for n in range(50):
            made.append(n)
            yield item(n, size=100)

    taken = 0
    for got in prefetched(source(), budget=350, count=5):
        time.sleep(0.002)  # let the reader run ahead as far as it may
        taken += 1
        # waiting: at most 3 items (350 bytes); one more may be in the reader's hand
        assert len(made) - taken <= 3 + 1, (len(made), taken)
    assert taken == 50


def test_an_item_larger_than_the_budget_still_passes() -> None:
    assert len(list(prefetched((item(n, size=10_000) for n in range(3)), budget=100, count=10))) == 3


def test_an_error_comes_after_the_items_before_it() -> None:
    def source():
        yield item(1)
        yield item(2)
        raise ConnectionResetError("server went away")

    got = []
    with pytest.raises(ConnectionResetError, match="server went away"):
        for i in prefetched(source(), budget=1000, count=10):
            got.append(i.key)
    assert got == ["1", "2"]


def test_stopping_early_stops_the_reader_before_returning() -> None:
    made: list[int] = []

    def source():
        for n in range(1000):
            made.append(n)
            yield item(n)

    stream = prefetched(source(), budget=10_000, count=4)
    assert next(stream).key == "0"
    stream.close()  # as when the writer fails: the source is the caller's again
    assert not any(t.name == "tracker-prefetch" for t in threading.enumerate())
    assert len(made) <= 1 + 4 + 1
