"""TLS to the IMAP server: certificates are verified by default; a private CA is trusted only
through mailbox.ca_file. Dovecot serves a trustme certificate (imaps and STARTTLS)."""

from __future__ import annotations

import pytest
import trustme

from tests.conftest import write_config
from tests.support.dovecot import PASSWORD, dovecot_tls, french_letters  # noqa: F401
from tracker import config as config_module
from tracker import store
from tracker.sources import imap
from tracker.store import sync as imap_sync


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("TRACKER_TEST_IMAP_PASSWORD", PASSWORD)


def sync(tmp_path, server, user, security, extra=""):
    config = config_module.load(write_config(tmp_path, server.mailbox_toml(
        user, security=security, extra=extra)))
    db = store.open_db(config.database)
    summary = imap_sync.sync(db, config, workers=1)
    return summary, db


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_self_signed_refused_by_default_accepted_with_ca_file(tmp_path, dovecot_tls, security):
    server = dovecot_tls
    user = server.add_user()
    server.deliver(user, french_letters(3, seed=31))
    with pytest.raises(imap.SyncError) as refused:
        sync(tmp_path, server, user, security)
    message = str(refused.value)
    assert "TLS certificate of 127.0.0.1" in message and "could not be verified" in message
    assert "set mailbox.ca_file" in message

    summary, db = sync(tmp_path, server, user, security, f'ca_file = "{server.ca_file}"')
    assert summary.new == 3
    assert db.execute("select count(*) from messages").fetchone()[0] == 3


def test_ca_file_of_another_ca_is_refused(tmp_path, dovecot_tls):
    server = dovecot_tls
    user = server.add_user()
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(imap.SyncError, match="check that mailbox.ca_file"):
        sync(tmp_path, server, user, "ssl", f'ca_file = "{other}"')


def test_plain_ssl_to_a_starttls_port_says_what_to_check(tmp_path, dovecot_tls):
    server = dovecot_tls
    user = server.add_user()
    toml = server.mailbox_toml(user, security="ssl", extra=f'ca_file = "{server.ca_file}"')
    toml = toml.replace(f"port = {server.tls_port}", f"port = {server.port}")
    config = config_module.load(write_config(tmp_path, toml))
    config.mailbox.timeout = 5
    with pytest.raises(imap.SyncError, match="mailbox.security"):
        imap_sync.sync(store.open_db(config.database), config, workers=1)


def test_missing_ca_file_is_named(tmp_path, dovecot_tls):
    server = dovecot_tls
    user = server.add_user()
    with pytest.raises(imap.SyncError, match="mailbox.ca_file: cannot load .*nowhere.pem"):
        sync(tmp_path, server, user, "ssl", f'ca_file = "{tmp_path / "nowhere.pem"}"')
