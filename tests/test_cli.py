"""Every command explains itself: help text with an example, clean errors, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tracker.cli import cli


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


COMMANDS = list(all_commands(cli))


def test_the_contract_commands_exist():
    names = {" ".join(path) for path, _ in COMMANDS}
    expected = {"sync", "import", "threads", "report unanswered", "report responsiveness",
                "digest", "mark", "serve", "demo", "letter"}
    assert expected <= names, f"missing commands: {sorted(expected - names)}"


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example(path, command):
    assert command.help and command.help.strip(), f"tracker {' '.join(path)} has no help text"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    if not isinstance(command, click.Group):
        assert "tracker " in result.output and "xample" in result.output, (
            f"tracker {' '.join(path)} --help shows no example"
        )


def test_bad_config_is_one_line_naming_file_and_key(tmp_path):
    path = tmp_path / "tracker.toml"
    path.write_text('langage = "fr"\n[coalition]\naddresses = ["a@b.org"]\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(path), "import", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr and "langage" in result.stderr and '"language"' in result.stderr


def test_a_damaged_database_is_one_line_not_a_traceback(tmp_path):
    from tests.conftest import write_config

    config = write_config(tmp_path)
    (tmp_path / "tracker.db").write_bytes(b"this is not a database" * 100)
    for command in (["threads", "--format", "json"], ["report", "unanswered"]):
        result = subprocess.run(
            [sys.executable, "-m", "tracker", "--config", str(config), *command],
            capture_output=True, text=True,
        )
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert "database error on" in result.stderr and str(tmp_path / "tracker.db") in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["rethread"], ["mark", "t-0", "--closed"], ["digest", "--dry-run"]])
def test_writing_commands_wait_for_no_one_they_exit_75(tmp_path, command):
    """rethread, mark and digest take the same run lock as sync and import."""
    from tests.conftest import write_config
    from tracker import store
    from tracker.store import lock

    config = write_config(tmp_path)
    store.open_db(tmp_path / "tracker.db").conn.close()
    with lock.run_lock(tmp_path / "tracker.db", "sync"):
        result = subprocess.run(
            [sys.executable, "-m", "tracker", "--config", str(config), *command],
            capture_output=True, text=True,
        )
    assert result.returncode == 75, result.stderr
    assert "another tracker run is in progress (sync" in result.stderr


def test_bad_answered_on_date_names_the_option(tmp_path):
    from tests.conftest import write_config
    from tracker import store

    config = write_config(tmp_path)
    store.open_db(tmp_path / "tracker.db").conn.close()
    result = CliRunner().invoke(cli, ["--config", str(config), "mark", "t-0", "--answered-on", "bad"])
    assert result.exit_code == 2 and "--answered-on" in result.output and "--as-of" not in result.output


def test_a_run_does_not_import_numpy_or_pandas(tmp_path):
    """sqlite-utils imports them when installed, for types tracker never hands it: a run
    (here an import of the demo mailbox, then a report) must start without them."""
    from tracker import demo
    from tests.conftest import write_config

    config = write_config(tmp_path)
    mailbox = Path(demo.__file__).resolve().parent / "mailbox"
    code = (
        "import sys\n"
        "from tracker.cli import cli\n"
        "for args in (['import', '--quiet', sys.argv[2]], ['report', 'unanswered']):\n"
        "    try:\n"
        "        cli(['--config', sys.argv[1], *args])\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "print(sorted(n for n in ('numpy', 'pandas', 'sqlite_utils') if sys.modules.get(n) is not None))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(config), str(mailbox)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['sqlite_utils']"
