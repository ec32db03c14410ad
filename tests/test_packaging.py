"""An installed copy of tracker (a wheel, not the source folder) finds its templates: the
reports, the digest and the Datasette pages all render."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import asyncio, sys
from pathlib import Path
import tracker
from tracker import config, demo, paths
from tracker import web as publish
from tracker.report import reports as report
installed = Path(sys.argv[1])
assert Path(tracker.__file__).resolve().is_relative_to(installed), tracker.__file__
assert paths.templates().resolve() == (installed / "tracker_templates").resolve(), paths.templates()
settings = config.load(demo.build(Path(sys.argv[2])))
ds = publish.make_datasette(settings)
page = asyncio.run(ds.client.get("/"))
assert page.status_code == 200 and "tracker-static" in page.text, page.status_code
print("ok")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, unpacked as pip installs a pure-Python wheel."""
    out = tmp_path_factory.mktemp("wheel")
    # a copy without build/ and *.egg-info: setuptools would reuse files an earlier build left
    source = tmp_path_factory.mktemp("source") / "tracker"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "*.db*"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    if built.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{built.stderr[-2000:]}")
    wheel = next(out.glob("tracker-*.whl"))
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def run(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_carries_every_template(installed: Path) -> None:
    shipped = {p.relative_to(installed / "tracker_templates") for p in (installed / "tracker_templates").rglob("*")}
    source = {p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*")}
    assert source and source <= shipped


def test_an_installed_copy_renders_pages_reports_and_the_digest(installed: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    checked = run(installed, tmp_path, "-c", CHECK, str(installed), str(demo))
    assert checked.returncode == 0 and "ok" in checked.stdout, checked.stderr[-3000:]
    config = str(demo / "tracker.toml")
    html = run(installed, tmp_path, "-m", "tracker", "--config", config, "report", "unanswered", "--format", "html")
    assert html.returncode == 0 and "<table" in html.stdout, html.stderr[-3000:]
    digest = run(installed, tmp_path, "-m", "tracker", "--config", config, "digest", "--dry-run", "--force",
                 "--to", "coordination@example.org")
    assert digest.returncode == 0 and "text/html" in digest.stdout, digest.stderr[-3000:]
