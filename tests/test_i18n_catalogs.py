"""The labels come from gettext catalogs (tracker/locale/*/LC_MESSAGES/tracker.po) compiled by
Babel at first use; plural forms follow Babel's CLDR rules; a translator adds a language with a
catalog only."""

from __future__ import annotations

import shutil
from datetime import date

from babel.messages.pofile import read_po

from tracker import i18n


def _catalog(language):
    with (i18n.LOCALE / language / "LC_MESSAGES" / "tracker.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


def test_french_and_english_catalogs_have_the_same_keys_and_no_empty_text():
    fr, en = _catalog("fr"), _catalog("en")
    assert set(fr) == set(en) and len(fr) > 150
    assert all(fr.values()) and all(en.values())
    assert set(i18n.LABELS) == set(fr)
    assert i18n.t("status.answered", "fr") == fr["status.answered"] == "répondu"


def test_plural_and_dates_by_babel():
    assert i18n.plural("page.days", 0, "fr") == "0 jour"
    assert i18n.plural("page.days", 1, "en") == "1 day" and i18n.plural("page.days", 0, "en") == "0 days"
    assert i18n.plural("page.days", 1_000_000, "fr") == "1000000 jours"  # CLDR "many" falls back to other
    assert i18n.format_date(date(2026, 3, 1), "fr") == "1er mars 2026"
    assert i18n.format_date(date(2026, 12, 3), "en") == "3 December 2026"
    assert i18n.MONTHS["fr"][7] == "août"


def test_a_translator_adds_a_language_with_a_catalog_only(tmp_path, monkeypatch):
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE, locale, ignore=shutil.ignore_patterns("*.mo"))
    polish = locale / "pl" / "LC_MESSAGES"
    polish.mkdir(parents=True)
    text = (locale / "en" / "LC_MESSAGES" / "tracker.po").read_text("utf-8")
    text = text.replace('msgstr "answered"', 'msgstr "odpowiedziano"').replace("Language: en", "Language: pl")
    text += '\nmsgid "page.days.few"\nmsgstr "{count} dni"\n'
    polish.joinpath("tracker.po").write_text(text, "utf-8")
    monkeypatch.setattr(i18n, "LOCALE", locale)
    monkeypatch.setattr(i18n, "LANGUAGES", i18n._languages())
    monkeypatch.setattr(i18n, "LABELS", i18n._Labels())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert "pl" in i18n.LANGUAGES
    assert i18n.t("status.answered", "pl") == "odpowiedziano"
    assert i18n.plural("page.days", 3, "pl") == "3 dni"  # Polish "few" (CLDR), not "other"
    assert i18n.plural("page.days", 5, "pl") == "5 days"  # "many": not translated, falls back to other
    assert (polish / "tracker.mo").exists()  # compiled at first use
