"""Shared fixtures. Area-specific fixtures live in tests/support/ and are imported by the
tests that need them."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def write_config(folder: Path, body: str = "") -> Path:
    """Write a minimal valid tracker.toml in ``folder`` (plus ``body``) and return its path."""
    path = folder / "tracker.toml"
    path.write_text(
        f'database = "{folder / "tracker.db"}"\n' + body
        + ("" if "[coalition]" in body else '\n[coalition]\nname = "Collectif"\n'
           'addresses = ["coordination@collectif.example.org"]\ndomains = ["collectif.example.org"]\n'),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.fail(f"{CORPORA} is missing: the shared corpora sit beside the repository")
    return CORPORA


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)
