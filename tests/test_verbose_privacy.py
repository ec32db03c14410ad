"""`tracker -v sync` against a real Dovecot: tracker's own progress on stderr, and not one
byte of what the messages say (imapclient logs whole responses at DEBUG)."""

from __future__ import annotations

import time

from tests.support.dovecot import dovecot_module  # noqa: F401
from tests.test_imap_cli import finish, setup, tracker

BODY_MARKER = "Victime-hebergee-rue-des-Lilas-7f41"
SUBJECT_MARKER = "Objet-confidentiel-93c2"


def test_verbose_sync_logs_no_message_content(dovecot_module, tmp_path):  # noqa: F811
    user = dovecot_module.add_user()
    raw = (
        "From: Cabinet <cabinet@interieur.gouv.fr>\r\nTo: coordination@collectif.example.org\r\n"
        f"Subject: {SUBJECT_MARKER}\r\nMessage-ID: <v1@interieur.gouv.fr>\r\n"
        "Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n"
        f"Madame, la personne {BODY_MARKER} est en securite.\r\n"
    ).encode()
    dovecot_module.deliver(user, [raw])
    time.sleep(1.2)  # Dovecot re-reads its passwd-file at most once a second
    config = setup(tmp_path, dovecot_module, user, extra='folders = ["INBOX"]')
    code, out, err = finish(tracker(config, "-v", "sync"))
    assert code == 0, err
    assert "1 new" in out + err, out + err
    for marker in (BODY_MARKER, SUBJECT_MARKER, "BODY[]", "FETCH"):
        assert marker not in err, f"{marker!r} on stderr at -v"
