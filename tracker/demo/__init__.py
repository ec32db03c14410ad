"""The bundled demo: a fictional coalition's two years of correspondence with public bodies.

``mailbox/``, ``tracker.toml`` and ``truth.json`` beside this file are written by
``python -m tracker.demo.generate tracker/demo`` (see ``generate.py``); ``build`` turns them into
a ready database without any server or account.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAILBOX = HERE / "mailbox"
CONFIG = HERE / "tracker.toml"
TRUTH = HERE / "truth.json"


def build(target: Path, *, source: Path | None = None, workers: int | None = None) -> Path:
    """Make a demo database in ``target`` and return the path of its config.

    ``source`` is a folder written by ``generate()`` (default: the bundled demo, beside this
    file). Copies its config to ``target/tracker.toml`` (database ``target/tracker.db``),
    imports the bundled Maildir as ``tracker import`` does, then re-threads everything and
    reads the scanned answers as ``tracker ocr`` does (without Tesseract they wait at the
    triage, and ``tracker status`` says why). An existing ``target/tracker.db`` is reused:
    importing again adds nothing.
    """
    from .. import config as config_module
    from .. import store
    from .. import thread as threader
    from ..store import ingest
    from ..store import ocr
    from ..sources import local

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    source = Path(source) if source else HERE
    mailbox = source / "mailbox"
    if not mailbox.is_dir():
        raise FileNotFoundError(
            f"{mailbox}: the demo mailbox is missing; reinstall tracker, or regenerate it with "
            f"`python -m tracker.demo.generate {HERE}`"
        )
    config_path = target / "tracker.toml"
    shutil.copyfile(source / "tracker.toml", config_path)
    config = config_module.load(config_path)
    db = store.open_db(config.database, private=config.private_database)
    try:
        items = local.items([mailbox], lambda source, folder: store.known_locations(db, source, folder))
        with ingest.Ingester(db, config, workers=workers) as ingester:
            ingester.run(items)
        threader.rethread(db, config, None)
        ocr.work(db, config, rethread=lambda ids: threader.rethread(db, config, ids))
    finally:
        db.close()
    return config_path
