"""config/crontab.example and config/systemd/: the commands they run exist with the options
they pass, and the timers are what systemd accepts."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli

CONFIG = Path(__file__).resolve().parent.parent / "config"
UNITS = ["tracker-sync.service", "tracker-sync.timer", "tracker-digest.service", "tracker-digest.timer"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(CONFIG / "systemd" / name, encoding="utf-8")
    return parser


def scheduled_commands() -> list[list[str]]:
    commands = []
    for line in (CONFIG / "crontab.example").read_text(encoding="utf-8").splitlines():
        fields = line.split(None, 5)
        if line.strip() and not line.startswith("#") and "=" not in fields[0]:
            commands.append(shlex.split(fields[5]))
    for name in UNITS:
        if name.endswith(".service"):
            commands.append(shlex.split(unit(name)["Service"]["ExecStart"]))
    return commands


def test_every_scheduled_command_exists_with_its_options():
    commands = scheduled_commands()
    assert {c[-1] for c in commands} == {"sync", "digest"} and len(commands) == 4
    for command in commands:
        assert Path(command[0]).name == "tracker"
        result = CliRunner().invoke(cli, command[1:] + ["--help"])
        assert result.exit_code == 0, (command, result.output)


def test_each_timer_starts_its_service_and_systemd_reads_the_calendar():
    for name in ("tracker-sync", "tracker-digest"):
        timer = unit(f"{name}.timer")
        assert timer["Timer"]["Unit"] == f"{name}.service"
        assert timer["Timer"]["Persistent"] == "true"
        assert timer["Install"]["WantedBy"] == "timers.target"
        service = unit(f"{name}.service")
        assert service["Service"]["Type"] == "oneshot"
        assert "75" in service["Service"]["SuccessExitStatus"]  # the lock was held: not a failure
        if shutil.which("systemd-analyze") is None:
            pytest.skip("systemd-analyze is not installed")
        result = subprocess.run(
            ["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]],
            capture_output=True, text=True, timeout=30,
        )
        assert result.returncode == 0, result.stderr
