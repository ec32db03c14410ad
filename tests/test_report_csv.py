"""``--format csv`` is the CSV a French spreadsheet opens right (semicolons, UTF-8 BOM,
dd/mm/yyyy, French headers, formulas neutralized); ``csv-comma`` keeps the comma format."""

from __future__ import annotations

import csv
import io

from tests.test_report import tracker  # noqa: F401  (the CLI runner of the report tests)
from tests.test_report import french  # noqa: F401  (fixture)


def test_csv_for_french_spreadsheets(french):
    out = tracker(french, "report", "unanswered", "--as-of", "2026-11-24", "--format", "csv")
    assert out.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(out.lstrip("\ufeff")), delimiter=";"))
    assert "échéance" in rows[0] and "destinataire" in rows[0]
    assert len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows)
    due = rows[1][rows[0].index("échéance")]
    assert len(due) == 10 and due[2] == "/" and due[5] == "/", due


def test_csv_comma_stays_available(french):
    out = tracker(french, "report", "responsiveness", "--as-of", "2026-11-30", "--format", "csv-comma")
    assert not out.startswith("\ufeff") and ";" not in out.splitlines()[0]
    assert len(list(csv.reader(io.StringIO(out)))[0]) > 3
