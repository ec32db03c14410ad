"""Labels for reports, the digest and Datasette pages, in every language that has a catalog.

The words live in gettext catalogs, ``tracker/locale/<language>/LC_MESSAGES/tracker.po``
(compiled to .mo by Babel at first use): a stable dotted key (``status.awaiting_reply``,
``column.due_at``) is the msgid, the text its msgstr. Keys are a public contract (the Datasette
pages import them): add keys freely (in every catalog), never rename one. Plural forms follow
Babel's CLDR rules (``key.one``, ``key.few``, ``key.other``...), dates and month names Babel's
locale data. French is the default; an unknown language, or a key a catalog lacks, falls back
to French.

    >>> t("status.answered", "en")
    'answered'
    >>> plural("digest.subject.overdue", 3, "fr")
    '3 courriers en retard'
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_LANGUAGE = "fr"

LOCALE = Path(__file__).resolve().parent / "locale"
DOMAIN = "tracker"


def _compiled(language: str) -> Path:
    """The .mo file of ``language``, compiled from its .po by Babel at first use (and again when
    the .po is newer); beside the .po when that folder is writable, else in a cache folder."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    targets = [po.with_suffix(".mo"),
               Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tracker" / "locale" / f"{language}.mo"]
    for mo in targets:
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            return mo
    for mo in targets:
        try:
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=language, domain=DOMAIN)
            partial = mo.with_name(f".{mo.name}.{os.getpid()}")
            with partial.open("wb") as out:
                write_mo(out, catalog)
            partial.replace(mo)
            return mo
        except OSError:
            continue
    raise OSError(f"{po}: cannot compile the catalog (no writable folder for its .mo)")


class _Labels(Mapping):
    """Every label of every catalog: ``LABELS[key][language]``; read from the gettext catalogs
    in ``tracker/locale/<language>/LC_MESSAGES/tracker.po`` at first use."""

    def __init__(self) -> None:
        self._table: dict[str, dict[str, str]] | None = None

    def _load(self) -> dict[str, dict[str, str]]:
        if self._table is None:
            table: dict[str, dict[str, str]] = {}
            for language in LANGUAGES:
                with _compiled(language).open("rb") as mo:
                    for key, text in gettext.GNUTranslations(mo)._catalog.items():
                        if key:  # the empty msgid is the catalog's header
                            table.setdefault(key, {})[language] = text
            self._table = table
        return self._table

    def __getitem__(self, key: str) -> dict[str, str]:
        return self._load()[key]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def _languages() -> tuple[str, ...]:
    found = sorted(p.parent.parent.name for p in LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple([DEFAULT_LANGUAGE] + [lang for lang in found if lang != DEFAULT_LANGUAGE])


# a language is a catalog: adding tracker/locale/<code>/LC_MESSAGES/tracker.po adds it
LANGUAGES = _languages()
LABELS: Mapping[str, dict[str, str]] = _Labels()


def _months(language: str) -> list[str]:
    from babel import Locale

    wide = Locale.parse(language).months["format"]["wide"]
    return [wide[number] for number in range(1, 13)]


class _Months(Mapping):
    """Month names by language, from Babel's CLDR data (``MONTHS["fr"][0] == "janvier"``)."""

    def __getitem__(self, language: str) -> list[str]:
        return _months(language)

    def __iter__(self):
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


MONTHS: Mapping[str, list[str]] = _Months()


def language_of(language: str | None) -> str:
    """``language`` if tracker speaks it, else French (the default)."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, language: str | None = DEFAULT_LANGUAGE, **params: object) -> str:
    """The label ``key`` in ``language`` ("fr" or "en"), with ``{params}`` filled in.

    An unknown key raises ``KeyError`` naming it (a typo should fail a test, not show
    a blank)."""
    try:
        entry = LABELS[key]
    except KeyError:
        raise KeyError(f"no label {key!r} in tracker.i18n.LABELS") from None
    text = entry.get(language_of(language)) or entry[DEFAULT_LANGUAGE]
    return text.format(**params) if params else text


def plural(key: str, count: int, language: str | None = DEFAULT_LANGUAGE, **params: object) -> str:
    """``key.<form>`` with ``{count}`` (and ``params``) filled in, the form chosen by Babel's (CLDR) plural rules
    for ``language`` ("one", "few", "many", "other"...; "other" when the catalog lacks that form),
    ``key.zero`` for 0 when the catalog has it. French takes the singular for 0 and 1 ("0 fil"),
    English only for 1."""
    language = language_of(language)
    if count == 0 and f"{key}.zero" in LABELS:
        return t(f"{key}.zero", language, count=count, **params)
    form = _plural_form(language, count)
    if f"{key}.{form}" not in LABELS or language not in LABELS[f"{key}.{form}"]:
        form = "other"
    return t(f"{key}.{form}", language, count=count, **params)


@lru_cache(maxsize=None)
def _locale(language: str):
    from babel import Locale

    return Locale.parse(language)


def _plural_form(language: str, count: int) -> str:
    return _locale(language).plural_form(abs(count))


def labels(prefix: str, language: str | None = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every label under ``prefix`` ("status", "column"...), keyed by what follows it:
    ``labels("status", "en")["answered"] == "answered"``."""
    start = prefix.rstrip(".") + "."
    return {key[len(start):]: t(key, language) for key in LABELS if key.startswith(start)}


def format_date(moment: date | datetime | None, language: str | None = DEFAULT_LANGUAGE,
                tz: ZoneInfo | None = None) -> str:
    """A day as people write it: "3 décembre 2026" / "3 December 2026". Aware datetimes
    are converted to ``tz`` first (the user's time zone); ``None`` gives ""."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        if tz is not None and moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        moment = moment.date()
    from babel.dates import format_date as babel_date

    language = language_of(language)
    shown = babel_date(moment, "d MMMM y", locale=language)
    # French writes the first of the month as an ordinal
    return "1er" + shown[1:] if language == "fr" and moment.day == 1 else shown


_FOLD = str.maketrans("éèêëàâäûüùôöîïç", "eeeeaaauuuooiic")
_MONTH_NUMBERS = {
    name.lower().translate(_FOLD)[:length]: number
    for names in MONTHS.values()
    for number, name in enumerate(names, 1)
    for length in (3, 4, len(name))
}
_MONTH_NUMBERS.update({"fevr": 2, "juil": 7, "sept": 9, "févr": 2, "1er": 1})


def parse_day(text: str, language: str | None = DEFAULT_LANGUAGE) -> date:
    """A day as a person writes it: "2026-11-20", "20/11/2026" (day first; "11/20/2026" in
    English when the first number cannot be a month), "20 novembre 2026", "1er mars 2026",
    "20 November 2026", "November 20, 2026". Raises ``ValueError`` with what to write,
    in ``language``."""
    cleaned = " ".join((text or "").strip().lower().replace(",", " ").split())
    try:
        return _parse_day(cleaned, language_of(language))
    except (ValueError, KeyError):
        raise ValueError(t("date.unreadable", language, text=(text or "").strip())) from None


def _parse_day(cleaned: str, language: str) -> date:
    if len(cleaned) == 10 and cleaned[4] == "-":
        return date.fromisoformat(cleaned)
    for separator in "/.-":
        parts = cleaned.split(separator)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            first, second, year = (int(p) for p in parts)
            if len(parts[2]) != 4:
                raise ValueError(cleaned)
            if language == "en" and second > 12:  # 11/20/2026, written the American way
                first, second = second, first
            return date(year, second, first)
    words = cleaned.split()
    if len(words) == 3:
        if words[0].isdigit() or words[0] == "1er":
            day, month, year = words
        else:  # November 20 2026
            month, day, year = words
        day = "1" if day == "1er" else day.removesuffix("st").removesuffix("nd").removesuffix("rd").removesuffix("th")
        if len(year) != 4:
            raise ValueError(cleaned)
        return date(int(year), _MONTH_NUMBERS[month.rstrip(".").translate(_FOLD)], int(day))
    raise ValueError(cleaned)
