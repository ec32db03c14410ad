"""Real bounces, delay warnings, success notices, feedback reports and auto-replies (issue 14).

Every message of tests/fixtures/bounces/MANIFEST.toml goes through parse_message and classify;
its kind and failed recipients are the ones its origin project's own test states (or, for
the files marked origin "tracker", the class of message we wrote it to show).
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from tracker.config import Config
from tracker.parse import parse_message
from tracker.parse.bounces import looks_like_report
from tracker.parse.classify import classify
from tracker.parse.dsn import _delivery_reports
from tracker.parse.records import ParsedMessage

from .conftest import FIXTURES
from .test_threading import COALITION, Mailbox, eml

BOUNCES = FIXTURES / "bounces"
MANIFEST = tomllib.loads((BOUNCES / "MANIFEST.toml").read_text(encoding="utf-8"))["message"]
CONFIG = Config(
    path=Path("tracker.toml"),
    database=Path("tracker.db"),
    coalition_addresses=[COALITION],
    coalition_domains=["collectif.example.org"],
)
# the manifest's kinds -> tracker's: delay warnings, success notices and feedback are "other"
KINDS = {"bounce": "bounce", "delayed": "other", "delivered": "other", "feedback": "other",
         "auto_reply": "auto_reply", "acknowledgement": "acknowledgement", "reply": "reply"}
# What tracker still gets wrong on this set, and why (strict: a fix must remove the line).
KNOWN_MISSES: dict[str, str] = {}


def failed_recipients(msg: ParsedMessage) -> set[str]:
    """The recipients the threader marks bounced (thread/keys.py ``_failed``)."""
    return {
        r.recipient.lower() for r in msg.delivery_reports
        if r.action == "failed" or r.status.startswith("5") or not (r.action or r.status)
    }


def read(entry: dict) -> tuple[str, set[str], ParsedMessage]:
    msg = parse_message((BOUNCES / entry["file"]).read_bytes())
    kind = classify(msg, "INBOX", CONFIG)[1]
    return kind, failed_recipients(msg) if kind == "bounce" else set(), msg


def test_manifest_lists_every_file_with_its_bytes() -> None:
    listed = {e["file"] for e in MANIFEST}
    assert listed == {p.name for p in BOUNCES.glob("*.eml")}
    for entry in MANIFEST:
        data = (BOUNCES / entry["file"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"]), entry["file"]
        assert entry["kind"] in KINDS and entry["origin"] and entry["licence"]
        assert entry["failed"] == [] or entry["kind"] == "bounce"


@pytest.mark.parametrize(
    "entry",
    [pytest.param(e, id=e["file"], marks=[pytest.mark.xfail(reason=KNOWN_MISSES[e["file"]], strict=True)]
                  if e["file"] in KNOWN_MISSES else []) for e in MANIFEST],
)
def test_fixture_kind_and_failed_recipients(entry: dict) -> None:
    kind, failed, _ = read(entry)
    assert kind == KINDS[entry["kind"]]
    assert failed == {a.lower() for a in entry["failed"]}  # none where the source names none


def four_figures() -> dict[str, float]:
    """Issue 14's four figures on this set: kinds right (%), bounces taken for replies
    (count), bounces with a failed recipient (%), failed addresses exactly right where the
    source names them (%). ``python -m tests.test_bounces`` prints them."""
    right = bounces = as_reply = with_failed = named = exact = 0
    for entry in MANIFEST:
        kind, failed, _ = read(entry)
        right += kind == KINDS[entry["kind"]]
        if entry["kind"] == "bounce":
            bounces += 1
            as_reply += kind == "reply"
            with_failed += bool(failed)
            if entry["failed"]:
                named += 1
                exact += failed == {a.lower() for a in entry["failed"]}
    return {
        "messages": len(MANIFEST), "kinds right": right, "kinds right %": 100 * right / len(MANIFEST),
        "bounces": bounces, "with a failed recipient": with_failed, "bounces taken for replies": as_reply,
        "bounces with a failed recipient %": 100 * with_failed / bounces,
        "named": named, "exactly right": exact, "failed addresses exactly right %": 100 * exact / named,
    }


def test_the_four_figures_of_issue_14() -> None:
    figures = four_figures()
    assert figures["bounces taken for replies"] == 0
    assert figures["kinds right %"] >= 98  # the goal of issue 14 on the acceptance set
    assert figures["bounces with a failed recipient %"] >= 95
    assert figures["failed addresses exactly right %"] >= 95


# the letter each bounce returns, as the bounce carries it
ORIGINALS = {
    "tracker__dsn-action-failure.eml": "a1.2025@collectif.example.org",  # message/rfc822
    "tracker__exchange-non-remis-french.eml": "a4.2025@collectif.example.org",  # text/rfc822-headers
    "tracker__italian-non-recapitabile.eml": "a6.2025@collectif.example.org",  # multipart/mixed, no report
    "tracker__dutch-onbestelbaar.eml": "a7.2025@collectif.example.org",
    "tracker__returned-mail-error-during-delivery-bare-mailer-daemon.eml": "a8.2025@collectif.example.org",
    "tracker__mail-could-not-be-delivered-mailer-daemon-empty.eml": "a9.2025@collectif.example.org",
    "tracker__failed-mail-to.eml": "a11.2025@collectif.example.org",  # quoted in plain text
    "tracker__opensmtpd-failed-multipart-mixed.eml": "a21.2025@collectif.example.org",  # multipart/mixed
    "bounce-email__mail-delivery-failure-full-mailbox-no-code.eml":
        "4b64d9fd8f537_18e83fa070dbb1b85499c1@xenon.swom.com.tmail",  # quoted with "> "
}


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_a_bounce_names_the_letter_it_returns(name: str) -> None:
    assert parse_message((BOUNCES / name).read_bytes()).original_message_id == ORIGINALS[name]


def test_non_conforming_dsn_fields_are_read() -> None:
    failure = parse_message((BOUNCES / "tracker__dsn-action-failure.eml").read_bytes())
    assert [(r.action, r.status) for r in failure.delivery_reports] == [("failed", "4.4.7")]
    smtp = parse_message((BOUNCES / "tracker__dsn-status-553-without-enhanced-code.eml").read_bytes())
    assert [(r.recipient, r.status) for r in smtp.delivery_reports] == [("cabinet@justice.gouv.fr", "5.0.0")]


def test_dsn_actions_as_servers_spell_them() -> None:
    """Old OpenSMTPD writes "Action: error"; some servers comment on the action."""
    text = ("Final-Recipient: rfc822; a@b.example\nAction: error\nStatus: 5.0.0\n\n"
            "Final-Recipient: rfc822; c@d.example\nAction: failed (bad destination mailbox address)\nStatus: 5.1.1\n\n"
            "Final-Recipient: rfc822; e@f.example\nAction: delayed; will retry\nStatus: 4.4.1\n")
    assert [(r.recipient, r.action) for r in _delivery_reports(text)] == [
        ("a@b.example", "failed"), ("c@d.example", "failed"), ("e@f.example", "delayed")]


def test_daemon_sender_without_a_domain_is_kept() -> None:
    for name in ("tracker__mail-could-not-be-delivered-mailer-daemon-empty.eml",
                 "tracker__returned-mail-error-during-delivery-bare-mailer-daemon.eml"):
        msg = parse_message((BOUNCES / name).read_bytes())
        assert msg.from_ is not None and msg.from_.address == "mailer-daemon"


def test_ordinary_mail_builds_no_stdlib_message() -> None:
    """The common path pays nothing: only delivery-report lookalikes go to flufl.bounce."""
    ordinary = parse_message(eml("r1@justice.gouv.fr", "cabinet@justice.gouv.fr", COALITION,
                                 "RE: Demande de rendez-vous", "Tue, 04 Mar 2025 09:00:00 +0100",
                                 "Madame, nous vous recevrons le 12 mars.\n").encode())
    assert not looks_like_report(ordinary)
    auto = parse_message((BOUNCES / "tracker__reponse-automatique.eml").read_bytes())
    assert not looks_like_report(auto)
    prose = parse_message((BOUNCES / "bounceparser__qmail-failure-notice.eml").read_bytes())
    assert looks_like_report(prose)


CULTURE = """
[[correspondents]]
name = "Ministère de la Culture"
domains = ["culture.gouv.fr"]
"""


def test_a_prose_bounce_marks_the_letter_it_quotes_bounced(tmp_path: Path) -> None:
    """The bounce quotes letter a8's headers; a later letter to the same address is not it."""
    box = Mailbox(tmp_path, CULTURE)
    letters = [
        box.write("Sent", eml("a8.2025@collectif.example.org", COALITION, "contact@culture.gouv.fr",
                              "Situation des victimes de traite : demande de rendez-vous",
                              "Mon, 03 Mar 2025 10:12:44 +0100")),
        box.write("Sent", eml("later@collectif.example.org", COALITION, "contact@culture.gouv.fr",
                              "Financement des associations", "Mon, 03 Mar 2025 16:00:00 +0100")),
    ]
    bounce = BOUNCES / "tracker__returned-mail-error-during-delivery-bare-mailer-daemon.eml"
    box.import_(*letters, bounce)
    threads = box.threads(as_of="2025-03-10")
    culture = "Ministère de la Culture"
    assert threads[("Situation des victimes de traite : demande de rendez-vous", culture)]["status"] == "bounced"
    assert threads[("Financement des associations", culture)]["status"] == "awaiting_reply"


def test_a_bounce_placed_nowhere_stays_a_bounce_and_answers_nothing(tmp_path: Path) -> None:
    box = Mailbox(tmp_path, CULTURE)
    letter = box.write("Sent", eml("l1@collectif.example.org", COALITION, "contact@culture.gouv.fr",
                                   "Financement des associations", "Mon, 03 Mar 2025 16:00:00 +0100"))
    # a bounce from the ministry's own mail server, for an address no letter went to
    text = (BOUNCES / "tracker__permanent-delivery-failure.eml").read_text(encoding="utf-8")
    text = text.replace("postmaster@mail.example.net", "postmaster@culture.gouv.fr")
    bounce = box.write("INBOX", text.replace("\r\n", "\n"))
    box.import_(letter, bounce)
    (thread,) = box.threads(as_of="2025-03-10").values()
    assert thread["status"] == "awaiting_reply"
    assert [m["kind"] for m in thread["messages"]] == ["letter"]
    with box.db() as db:
        kinds = dict(db.execute("select message_id, kind from messages"))
        placed = {r[0] for r in db.execute("select message_id from thread_messages")}
    assert kinds["ndr.a12.2025@collectif.example.org"] == "bounce"
    assert "ndr.a12.2025@collectif.example.org" not in placed



def test_a_challenge_from_the_address_written_to_answers_nothing(tmp_path: Path) -> None:
    """Bluebottle answers from the very address the letter went to: the thread still waits."""
    box = Mailbox(tmp_path, CULTURE)
    letter = box.write("Sent", eml("l2@collectif.example.org", COALITION, "contact@culture.gouv.fr",
                                   "BLAH", "Mon, 03 Mar 2025 16:00:00 +0100"))
    text = (BOUNCES / "bounceparser__bluebottle-challenge-response.eml").read_text(encoding="utf-8")
    text = text.replace("exampleuser@bluebottle.com", "contact@culture.gouv.fr")
    text = text.replace("automated-bounces@example.com", COALITION)
    challenge = box.write("INBOX", text.replace("\r\n", "\n"))
    box.import_(letter, challenge)
    (thread,) = box.threads(as_of="2025-03-10").values()
    assert thread["status"] == "awaiting_reply"
    with box.db() as db:
        kinds = dict(db.execute("select message_id, kind from messages"))
    assert kinds["200908201215.n7KCFdp7026294@bb0.bluebottle.com"] == "auto_reply"

if __name__ == "__main__":
    for name, value in four_figures().items():
        print(f"{name}: {value:.1f}" if isinstance(value, float) else f"{name}: {value}")
