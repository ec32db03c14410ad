"""The label table every report, digest and Datasette page reads."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from tracker import i18n
from tracker.thread.status import STATUSES


def test_every_label_exists_in_both_languages_and_differs_from_its_key():
    for key, entry in i18n.LABELS.items():
        assert set(entry) == set(i18n.LANGUAGES), key
        assert all(text.strip() for text in entry.values()), key


def test_every_status_has_a_label():
    assert set(i18n.labels("status", "fr")) == set(STATUSES)
    assert i18n.labels("status", "en")["acknowledged"] == "acknowledged"


def test_french_is_the_default_and_unknown_languages_fall_back_to_it():
    assert i18n.t("report.too_few") == "trop peu pour conclure"
    assert i18n.t("report.too_few", "en") == "too few to say"
    assert i18n.t("report.too_few", "de") == "trop peu pour conclure"


def test_unknown_key_names_itself():
    with pytest.raises(KeyError, match="report.nope"):
        i18n.t("report.nope", "fr")


@pytest.mark.parametrize(
    "count, fr, en",
    [(0, "aucun courrier en retard", "no overdue letters"), (1, "1 courrier en retard", "1 overdue letter"),
     (3, "3 courriers en retard", "3 overdue letters")],
)
def test_plural(count, fr, en):
    assert i18n.plural("digest.subject.overdue", count, "fr") == fr
    assert i18n.plural("digest.subject.overdue", count, "en") == en


def test_format_date_in_the_users_time_zone():
    paris = ZoneInfo("Europe/Paris")
    # 23:30 UTC on 31 December is already 1 January in Paris
    late = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)
    assert i18n.format_date(late, "fr", paris) == "1er janvier 2027"
    assert i18n.format_date(late, "en", ZoneInfo("UTC")) == "31 December 2026"
    assert i18n.format_date(date(2026, 8, 15), "fr") == "15 août 2026"
    assert i18n.format_date(None, "fr") == ""


def test_plural_without_a_zero_form_follows_each_language():
    assert i18n.plural("unit.days", 0, "fr") == "0 jour"
    assert i18n.plural("unit.days", 0, "en") == "0 days"
