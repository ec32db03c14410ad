"""The report and digest fixtures: tests/fixtures/report/*.eml imported through the real
pipeline (`tracker import`: parse, classify, store, rethread) into a fresh database.

``build`` imports once; ``clone`` copies that database beside a new config (another
language, an SMTP server), which is much faster than importing again.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import FIXTURES, write_config
from tracker.cli import cli

CORRESPONDENTS = """
timezone = "Europe/Paris"

[deadlines]
default = "2 months"
holidays = "FR"

[[correspondents]]
name = "Ministère de l'Intérieur"
short_name = "Intérieur"
domains = ["interieur.gouv.fr"]

[[correspondents]]
name = "Ministère de la Justice"
short_name = "Justice"
domains = ["justice.gouv.fr"]
deadline = "10 working days"

[[correspondents]]
name = "Ministère de la Santé"
short_name = "Santé"
domains = ["sante.gouv.fr"]

[[correspondents]]
name = "Défenseur des droits"
short_name = "Défenseur des droits"
domains = ["defenseurdesdroits.fr"]
"""

DIGEST = """
[digest]
to = ["bureau@collectif.example.org"]
from = "tracker@collectif.example.org"
base_url = "https://tracker.example.org/suivi"
"""


def build(folder: Path, language: str = "fr", extra: str = DIGEST) -> Path:
    """Import the report fixtures into ``folder/tracker.db``; return the config's path."""
    config_path = write_config(folder, f'language = "{language}"\n' + CORRESPONDENTS + extra)
    result = CliRunner().invoke(
        cli, ["--config", str(config_path), "import", str(FIXTURES / "report")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return config_path


def clone(config_path: Path, folder: Path, language: str = "fr", extra: str = DIGEST) -> Path:
    """A copy of ``config_path``'s database in ``folder``, with a new config around it."""
    source = config_path.parent / "tracker.db"
    with sqlite3.connect(source) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
    conn.close()
    shutil.copyfile(source, folder / "tracker.db")
    return write_config(folder, f'language = "{language}"\n' + CORRESPONDENTS + extra)
