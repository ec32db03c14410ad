"""The config loader: valid files load, bad ones name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker import config
from tracker.config import ConfigError, Deadline, parse_deadline

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = '[coalition]\naddresses = ["coordination@example.org"]\n'


def test_example_config_loads_and_documents_every_key():
    loaded = config.load(ROOT / "config" / "tracker.example.toml")
    assert loaded.language == "fr"
    assert loaded.mailbox is not None and loaded.mailbox.password_env == "TRACKER_IMAP_PASSWORD"
    assert loaded.smtp is not None and loaded.smtp.security == "starttls"
    assert {c.short_name for c in loaded.correspondents} >= {"Intérieur", "Justice"}
    # the database path is relative to the folder above config/
    assert loaded.database == ROOT / "data" / "tracker.db"
    text = (ROOT / "config" / "tracker.example.toml").read_text(encoding="utf-8")
    for section, keys in config.SCHEMA.items():
        assert section in text, f"example config does not mention {section}"
        if isinstance(keys, list):
            keys = keys[0]
        if isinstance(keys, dict):
            for key in keys:
                assert key in text, f"example config does not document {section}.{key}"


def test_unknown_key_suggests_the_closest(tmp_path):
    path = write(tmp_path, MINIMAL + '[digest]\nbase_ulr = "https://x"\n')
    with pytest.raises(ConfigError) as error:
        config.load(path)
    message = str(error.value)
    assert str(path) in message and "digest.base_ulr" in message and '"base_url"' in message


def test_inline_password_is_refused_with_the_fix(tmp_path):
    path = write(
        tmp_path,
        MINIMAL + '[mailbox]\nhost = "imap.example.org"\npassword = "hunter2"\n',
    )
    with pytest.raises(ConfigError) as error:
        config.load(path)
    message = str(error.value)
    assert "mailbox.password" in message and "password_env" in message
    assert "password_file" in message and "hunter2" not in message


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="tracker.example.toml"):
        config.load(tmp_path / "nope.toml")


def test_bad_toml_names_the_file(tmp_path):
    path = write(tmp_path, "database = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path)


def test_clear_text_imap_only_on_loopback(tmp_path):
    body = MINIMAL + '[mailbox]\nhost = "imap.example.org"\nsecurity = "none"\npassword_env = "X"\n'
    with pytest.raises(ConfigError, match="loopback"):
        config.load(write(tmp_path, body))
    loaded = config.load(write(tmp_path, body.replace("imap.example.org", "127.0.0.1")))
    assert loaded.mailbox.security == "none" and loaded.mailbox.port == 143


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match="mailbox.port must be a whole number"):
        config.load(write(tmp_path, MINIMAL + '[mailbox]\nhost = "h"\nport = "993"\n'))


def test_correspondent_needs_addresses_or_domains(tmp_path):
    body = MINIMAL + '[[correspondents]]\nname = "Ministère"\n'
    with pytest.raises(ConfigError, match=r"correspondents\[0\] \(Ministère\)"):
        config.load(write(tmp_path, body))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2 months", Deadline(2, "months")),
        ("1 month", Deadline(1, "months")),
        ("30 days", Deadline(30, "days")),
        ("15 working days", Deadline(15, "working_days")),
        ("2 mois", Deadline(2, "months")),
        ("10 jours ouvrés", Deadline(10, "working_days")),
    ],
)
def test_deadlines(text, expected):
    assert parse_deadline(text) == expected


def test_bad_deadline_names_key(tmp_path):
    body = MINIMAL + '[deadlines]\ndefault = "soon"\n'
    with pytest.raises(ConfigError, match='deadlines.default = "soon"'):
        config.load(write(tmp_path, body))


def test_secret_from_env_and_file(tmp_path, monkeypatch):
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    body = MINIMAL + f'[mailbox]\nhost = "h"\npassword_file = "{secret_file}"\n'
    assert config.load(write(tmp_path, body)).mailbox.password() == "from-file"
    body = MINIMAL + '[mailbox]\nhost = "h"\npassword_env = "TRACKER_TEST_PW"\n'
    loaded = config.load(write(tmp_path, body))
    monkeypatch.delenv("TRACKER_TEST_PW", raising=False)
    with pytest.raises(ConfigError, match="TRACKER_TEST_PW is not set"):
        loaded.mailbox.password()
    monkeypatch.setenv("TRACKER_TEST_PW", "from-env")
    assert loaded.mailbox.password() == "from-env"


def test_auth_takes_hashes_not_passwords_and_distinct_users(tmp_path):
    good = "pbkdf2_sha256$480000$c2FsdA$aGFzaA"
    body = MINIMAL + f'[auth]\npassword_hashes = {{ "alice.b" = "{good}" }}\n'
    assert config.load(write(tmp_path, body)).auth.password_hashes == {"alice.b": good}
    with pytest.raises(ConfigError, match="not a password hash") as error:
        config.load(write(tmp_path, MINIMAL + '[auth]\npassword_hashes = { alice = "hunter2" }\n'))
    assert "hunter2" not in str(error.value)
    twins = MINIMAL + f'[auth]\npassword_hashes = {{ "alice.b" = "{good}", "alice_b" = "{good}" }}\n'
    with pytest.raises(ConfigError, match="differ only by"):
        config.load(write(tmp_path, twins))


def test_as_of_judges_everything_at_the_end_of_that_day(tmp_path):
    from datetime import date, datetime, timezone

    path = tmp_path / "tracker.toml"
    coalition = '[coalition]\nname = "C"\ndomains = ["c.example.org"]\n'
    path.write_text('database = "t.db"\ntimezone = "Europe/Paris"\nas_of = "2026-08-28"\n' + coalition, encoding="utf-8")
    loaded = config.load(path)
    assert loaded.as_of == date(2026, 8, 28)
    # 23:59:59 in Paris (UTC+2 in summer)
    assert loaded.now() == datetime(2026, 8, 28, 21, 59, 59, tzinfo=timezone.utc)
    path.write_text('database = "t.db"\n' + coalition, encoding="utf-8")
    unset = config.load(path)
    assert unset.as_of is None
    assert abs((unset.now() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_a_bad_as_of_names_the_file_the_key_and_the_fix(tmp_path):
    path = tmp_path / "tracker.toml"
    path.write_text('database = "t.db"\nas_of = "28/08/2026"\n[coalition]\nname = "C"\ndomains = ["c.example.org"]\n', encoding="utf-8")
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    message = str(error.value)
    assert str(path) in message and "as_of" in message and "YYYY-MM-DD" in message
