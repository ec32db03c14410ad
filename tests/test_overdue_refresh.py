"""The stored overdue flag follows the clock, even when no mail arrives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from click.testing import CliRunner

from tests.conftest import write_config
from tracker import config as config_module
from tracker import store
from tracker.thread import refresh_overdue, rethread
from tracker.cli import cli

CORRESPONDENT = """
[[correspondents]]
name = "Ministère de l'Intérieur"
domains = ["interieur.gouv.fr"]
deadline = "30 days"
"""


def letter(n: int, sent: datetime) -> bytes:
    return (
        "From: Coordination <coordination@collectif.example.org>\n"
        "To: Cabinet <cabinet@interieur.gouv.fr>\n"
        f"Subject: Demande n°{n}\n"
        f"Date: {format_datetime(sent)}\n"
        f"Message-ID: <{n}.overdue@collectif.example.org>\n"
        "Content-Type: text/plain; charset=utf-8\n\nMadame la Ministre,\n"
    ).encode()


def test_a_due_date_passing_without_mail_sets_the_flag(tmp_path):
    config_path = write_config(tmp_path, CORRESPONDENT)
    now = datetime.now(timezone.utc)
    (tmp_path / "old.eml").write_bytes(letter(1, now - timedelta(days=40)))
    (tmp_path / "new.eml").write_bytes(letter(2, now - timedelta(days=3)))
    result = CliRunner().invoke(cli, ["--config", str(config_path), "import", str(tmp_path / "old.eml"), str(tmp_path / "new.eml")])
    assert result.exit_code == 0, result.output
    config = config_module.load(config_path)
    db = store.open_db(config.database)
    flags = dict(db.execute("select subject, overdue from threads").fetchall())
    assert flags == {"Demande n°1": 1, "Demande n°2": 0}

    # as the database looks after a month of syncs that brought nothing: flags as of then
    db.execute("update threads set overdue = 0")
    rethread(db, config, [])
    assert dict(db.execute("select subject, overdue from threads").fetchall()) == flags
    # and a month later, the second letter is overdue too
    assert refresh_overdue(db, now + timedelta(days=30)) == 1
    assert dict(db.execute("select subject, overdue from threads").fetchall()) == {
        "Demande n°1": 1, "Demande n°2": 1}
