"""`tracker import` says how many symbolic links it left out, and reads nothing they point at."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import write_config
from tests.test_private_store import message


def test_the_import_summary_counts_links_out_of_the_folder(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.eml").write_bytes(message(1))
    box = tmp_path / "lettres"
    box.mkdir()
    (box / "ok.eml").write_bytes(message(2))
    (box / "link.eml").symlink_to(outside / "secret.eml")
    (box / "loop").symlink_to(box)
    config = write_config(tmp_path)
    done = subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "import", str(box)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 imported, 0 already known, 0 quarantined"), done.stdout
    assert "2 symbolic links skipped" in done.stdout, done.stdout
