"""`tracker report unanswered` and `tracker report responsiveness` on a correspondence whose
answers are known: tests/fixtures/report/*.eml, imported through the real pipeline
(import -> parse -> classify -> store -> rethread).

What the fixtures hold (dates in Europe/Paris; every file is named for what it shows):

- Intérieur (2 months): a letter of 3 September, never answered, reminded on 15 October
  (the reminder does not restart the clock): due 3 November, overdue from 4 November.
- One letter of 1 October To Intérieur and Santé: two threads, each due 1 December.
- Justice (10 working days): a letter of Friday 6 November. 11 November is a public
  holiday, so it is due on Monday 23 November (20 November if the holiday were ignored).
  Another letter of 20 October bounced (DSN for inconnu@justice.gouv.fr).
- Santé (2 months): four letters answered after 10, 20, 30 and 41 days, one unanswered
  (5 October, due 5 December), plus the shared letter of 1 October.
- Défenseur des droits: letters answered after 14 and 24 days, one sent on 27 November.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import correspondence
from tracker.report import reports as report
from tracker.cli import cli
from tracker.config import load

INTERIEUR, JUSTICE = "Ministère de l'Intérieur", "Ministère de la Justice"
SANTE, DEFENSEUR = "Ministère de la Santé", "Défenseur des droits"
RDV = "Demande de rendez-vous : accueil des victimes à Paris"
HEBERGEMENT = "Hébergement d'urgence des victimes"
TEMOINS = "Protection des témoins"


@pytest.fixture(scope="module")
def french(tmp_path_factory) -> Path:
    return correspondence.build(tmp_path_factory.mktemp("report-fr"))


@pytest.fixture(scope="module")
def english(tmp_path_factory, french) -> Path:
    return correspondence.clone(french, tmp_path_factory.mktemp("report-en"), "en")


def tracker(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def unanswered(config_path: Path, as_of: str) -> dict:
    return json.loads(tracker(config_path, "report", "unanswered", "--as-of", as_of, "--format", "json"))


def overdue_pairs(data: dict) -> list[tuple[str, str]]:
    return [(thread["correspondent"], thread["subject"]) for thread in data["overdue"]]


# --- unanswered ----------------------------------------------------------------------------


def test_a_letter_is_not_overdue_on_its_due_day_and_is_the_day_after(french):
    on_due_day = unanswered(french, "2026-11-03")
    assert on_due_day["overdue"] == []
    assert on_due_day["as_of"] == "2026-11-03T23:59:59+01:00"

    day_after = unanswered(french, "2026-11-04")
    assert overdue_pairs(day_after) == [(INTERIEUR, RDV)]
    (thread,) = day_after["overdue"]
    # the reminder of 15 October did not restart the clock
    assert thread["due_at"] == "2026-11-03T23:59:59+01:00"
    assert thread["opened_at"] == "2026-09-03T10:00:00+02:00"
    assert thread["last_letter_at"] == "2026-10-15T10:00:00+02:00"
    assert thread["days_waiting"] == 62  # 3 September to 4 November
    assert thread["status"] == "awaiting_reply" and thread["overdue"] is True
    assert thread["recipients"] == ["cabinet@interieur.gouv.fr"]
    # the same object as `tracker threads`, plus days_waiting
    for key in ("id", "correspondent", "subject", "status", "opened_at", "last_letter_at",
                "last_reply_at", "due_at", "overdue", "messages", "days_waiting"):
        assert key in thread
    assert [m["kind"] for m in thread["messages"]] == ["letter", "letter"]


def test_working_days_skip_the_armistice_holiday(french):
    # 10 working days from Friday 6 November: 9, 10, (11 is a holiday), 12, 13, 16 ... 23
    for day in ("2026-11-21", "2026-11-23"):
        assert (JUSTICE, TEMOINS) not in overdue_pairs(unanswered(french, day)), day
    after = unanswered(french, "2026-11-24")
    assert (JUSTICE, TEMOINS) in overdue_pairs(after)
    thread = next(t for t in after["overdue"] if t["subject"] == TEMOINS)
    assert thread["due_at"] == "2026-11-23T23:59:59+01:00"
    assert thread["days_waiting"] == 18


def test_overdue_letters_come_oldest_first_and_one_letter_to_two_bodies_is_two_threads(french):
    data = unanswered(french, "2026-12-02")
    pairs = overdue_pairs(data)
    assert pairs[0] == (INTERIEUR, RDV)
    assert sorted(pairs[1:3]) == [(INTERIEUR, HEBERGEMENT), (SANTE, HEBERGEMENT)]
    assert pairs[3] == (JUSTICE, TEMOINS)
    assert len(pairs) == 4  # Santé's letter of 5 October is due on 5 December
    waiting = [t["days_waiting"] for t in data["overdue"]]
    assert waiting == sorted(waiting, reverse=True) == [90, 62, 62, 26]
    santé = next(t for t in data["overdue"] if t["correspondent"] == SANTE)
    assert santé["recipients"] == ["secretariat@sante.gouv.fr"]


def test_a_bounced_letter_is_in_its_own_section_and_not_overdue(french):
    data = unanswered(french, "2026-12-02")
    assert [(t["correspondent"], t["subject"], t["status"]) for t in data["bounced"]] == [
        (JUSTICE, "Demande de statistiques", "bounced")
    ]
    assert data["bounced"][0]["recipients"] == ["inconnu@justice.gouv.fr"]
    assert "Demande de statistiques" not in [t["subject"] for t in data["overdue"]]
    # before the letter was sent, there was nothing to bounce
    assert unanswered(french, "2026-10-19")["bounced"] == []


def test_text_csv_and_html_say_the_same_in_french(french):
    text = tracker(french, "report", "unanswered", "--as-of", "2026-11-24")
    assert text.startswith("Courriers en retard au 24 novembre 2026")
    assert "jours d'attente" in text and "Courriers non distribués" in text
    lines = text.splitlines()
    assert lines.index(next(l for l in lines if RDV in l)) < lines.index(next(l for l in lines if TEMOINS in l))
    assert "Corps confidentiel" not in text  # never a letter's body

    rows = list(csv.reader(io.StringIO(tracker(french, "report", "unanswered", "--as-of", "2026-11-24",
                                               "--format", "csv-comma"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["section", "id", "jours d'attente", "échéance"]
    assert [(r[0], r[header.index("objet")], r[2]) for r in body] == [
        ("en retard", RDV, "82"), ("en retard", TEMOINS, "18"),
        ("non distribué", "Demande de statistiques", ""),
    ]

    html = tracker(french, "report", "unanswered", "--as-of", "2026-11-24", "--format", "html")
    tables = TableReader.read(html)
    assert [row[3] for row in tables["overdue"][1:]] == [RDV, TEMOINS]
    assert tables["bounced"][1][2] == "inconnu@justice.gouv.fr"
    assert '<html lang="fr">' in html


def test_english_labels_by_config(english):
    text = tracker(english, "report", "unanswered", "--as-of", "2026-11-24")
    assert text.startswith("Overdue letters as of 24 November 2026")
    assert "days waiting" in text and "Bounced letters" in text and "awaiting reply" in text


def test_an_unreadable_as_of_says_what_to_write(french):
    result = CliRunner().invoke(cli, ["--config", str(french), "report", "unanswered", "--as-of", "3/11/2026"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


# --- responsiveness ------------------------------------------------------------------------


def responsiveness(config_path: Path, as_of: str) -> dict[str, dict]:
    data = json.loads(
        tracker(config_path, "report", "responsiveness", "--as-of", as_of, "--format", "json")
    )
    return {row["correspondent"]: row for row in data["correspondents"]}


def test_responsiveness_known_answers(french):
    rows = responsiveness(french, "2026-11-30")
    santé = rows[SANTE]
    assert (santé["letters"], santé["replied"], santé["overdue_now"]) == (6, 4, 0)
    assert santé["reply_rate"] == pytest.approx(4 / 6, abs=1e-4)
    # the 95% Wilson interval of 4 successes in 6 trials (published value: 0.300 to 0.903)
    assert santé["reply_rate_low"] == pytest.approx(0.3000, abs=5e-4)
    assert santé["reply_rate_high"] == pytest.approx(0.9032, abs=5e-4)
    assert santé["median_days"] == 25  # 10, 20, 30, 41
    assert santé["p90_days"] == 41
    assert santé["too_few"] is False

    défenseur = rows[DEFENSEUR]
    assert (défenseur["letters"], défenseur["replied"], défenseur["median_days"], défenseur["p90_days"]) == (
        3, 2, 19, 24,
    )
    assert défenseur["too_few"] is True
    # the bounced letter never reached Justice: it does not count against it
    assert (rows[JUSTICE]["letters"], rows[JUSTICE]["replied"], rows[JUSTICE]["overdue_now"]) == (1, 0, 1)
    assert rows[JUSTICE]["median_days"] is None
    assert (rows[INTERIEUR]["letters"], rows[INTERIEUR]["overdue_now"]) == (2, 1)


def test_responsiveness_on_a_past_day_ignores_what_came_later(french):
    rows = responsiveness(french, "2026-08-01")
    santé = rows[SANTE]
    # letters of 1 June, 15 June, 1 July, answered after 10, 20, 30 days; 3 August not yet sent
    assert (santé["letters"], santé["replied"], santé["median_days"], santé["p90_days"]) == (3, 3, 20, 30)
    assert santé["too_few"] is True
    assert rows[INTERIEUR]["letters"] == 0


def test_responsiveness_text_marks_too_few_in_each_language(french, english):
    text = tracker(french, "report", "responsiveness", "--as-of", "2026-11-30")
    santé_line = next(line for line in text.splitlines() if line.startswith(SANTE))
    défenseur_line = next(line for line in text.splitlines() if line.startswith(DEFENSEUR))
    assert "trop peu pour conclure" in défenseur_line
    assert "trop peu pour conclure" not in santé_line
    assert "67\u202f%" in santé_line and "30–90\u202f%" in santé_line  # rate, 95% interval
    english_text = tracker(english, "report", "responsiveness", "--as-of", "2026-11-30")
    assert "too few to say" in english_text
    assert "67%         30–90%" in next(line for line in english_text.splitlines() if line.startswith(SANTE))

    rows = list(csv.DictReader(io.StringIO(
        tracker(french, "report", "responsiveness", "--as-of", "2026-11-30", "--format", "csv-comma"))))
    by_name = {row["destinataire"]: row for row in rows}
    assert by_name[SANTE]["délai médian (jours)"] == "25"
    assert by_name[DEFENSEUR]["remarque"] == "trop peu pour conclure"

    html = tracker(french, "report", "responsiveness", "--as-of", "2026-11-30", "--format", "html")
    table = TableReader.read(html)["responsiveness"]
    assert [row[0] for row in table[1:]] == [INTERIEUR, JUSTICE, SANTE, DEFENSEUR]


def test_wilson_interval_edges():
    assert report.wilson(0, 0) is None
    low, high = report.wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = report.wilson(10, 10)
    assert high == pytest.approx(1) and low == pytest.approx(0.7225, abs=1e-4)
    assert report.nearest_rank([3, 1, 2], 0.9) == 3
    assert report.nearest_rank([], 0.9) is None


# --- the Datasette views agree with the report ---------------------------------------------


def test_views_agree_with_the_report_today(french):
    config = load(french)
    from tracker import store

    db = store.open_db(config.database)
    now = report.parse_as_of(None, config)
    expected = [t.id for t in report.unanswered(db, config, now).overdue]
    conn = sqlite3.connect(config.database)
    assert sorted(row[0] for row in conn.execute("select id from unanswered")) == sorted(expected)
    # days waiting are calendar days in both (a UTC view may differ by one around midnight)
    report_days = {t.id: t.days_waiting for t in report.unanswered(db, config, now).overdue}
    assert report_days
    for thread_id, days in conn.execute("select id, days_waiting from unanswered"):
        assert abs(days - report_days[thread_id]) <= (0 if now.hour not in (0, 23) else 1), thread_id
    rows = {r.correspondent: r for r in report.responsiveness(db, config, now)}
    # the views know no --as-of: leave out bodies with messages dated after the clock
    future = {name for (name,) in conn.execute(
        "select distinct t.correspondent from threads t join thread_messages tm on tm.thread_id = t.id "
        "join messages m on m.message_id = tm.message_id where julianday(m.date) > julianday('now')"
    )}
    compared = 0
    for name, letters, replied, median, p90 in conn.execute(
        "select correspondent, letters, replied, median_days, p90_days from responsiveness"
    ):
        if name in future:
            continue
        compared += 1
        row = rows[name]
        assert (letters, replied) == (row.letters, row.replied), name
        assert (median, p90) == (row.median_days, row.p90_days), name
    assert compared >= 3


class TableReader(HTMLParser):
    """Tables by id: a list of rows, each a list of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None

    @classmethod
    def read(cls, html: str) -> dict[str, list[list[str]]]:
        reader = cls()
        reader.feed(html)
        return reader.tables

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = dict(attrs).get("id", str(len(self.tables)))
            self.tables[self.current] = []
        elif tag == "tr" and self.current:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.current:
            self.tables[self.current][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def test_the_report_agrees_with_tracker_threads_on_a_past_day(french):
    for day in ("2026-11-04", "2026-11-24"):
        threads = json.loads(tracker(french, "threads", "--as-of", day, "--format", "json"))
        overdue = {t["id"]: t for t in threads if t["overdue"]}
        report_overdue = {t["id"]: t for t in unanswered(french, day)["overdue"]}
        assert report_overdue.keys() == overdue.keys(), day
        for tid, thread in overdue.items():
            mine = report_overdue[tid]
            for key in ("correspondent", "subject", "status"):
                assert mine[key] == thread[key], (day, key)
            # the report speaks the user's time zone; the instants are the same
            for key in ("opened_at", "last_letter_at", "due_at"):
                assert datetime.fromisoformat(mine[key]) == datetime.fromisoformat(thread[key])
            assert [(m["message_id"], m["kind"]) for m in mine["messages"]] == [
                (m["message_id"], m["kind"]) for m in thread["messages"]
            ]


def test_csv_cells_never_run_as_spreadsheet_formulas():
    assert report.spreadsheet_safe('=HYPERLINK("http://x","clic")') == '\'=HYPERLINK("http://x","clic")'
    assert report.spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert report.spreadsheet_safe("Demande de rendez-vous") == "Demande de rendez-vous"
    assert report.spreadsheet_safe(42) == 42
