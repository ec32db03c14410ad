"""The invariant of issue 14, by property: a bounce, delay warning, delivery notice, feedback
report or auto-reply is never a reply, whatever its sender resolves to.

The messages are the fixtures of tests/fixtures/bounces/ of those kinds (less the known
misses of test_bounces); hypothesis moves their sender to a correspondent's domain, the
coalition's, or elsewhere, and the folder they were found in. Machine reports (bounces,
delay and success notices, feedback) also get reply prefixes on their subject, as relays
and forwarding rules add them; an auto-reply known only by its subject does not ("RE:
Abwesenheitsnotiz" is what a person writes back).

A delivery report placed nowhere: test_bounces.test_a_bounce_placed_nowhere_stays_a_bounce_and_answers_nothing."""

from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from tracker.parse import parse_message
from tracker.parse.classify import classify

from .test_bounces import BOUNCES, CONFIG, KNOWN_MISSES, MANIFEST

NEVER_REPLIES = sorted(
    e["file"] for e in MANIFEST
    if e["kind"] in ("bounce", "delayed", "delivered", "feedback", "auto_reply") and e["file"] not in KNOWN_MISSES
)
KIND_OF = {e["file"]: e["kind"] for e in MANIFEST}
DOMAINS = ["interieur.gouv.fr", "justice.gouv.fr", "culture.gouv.fr", "collectif.example.org",
           "mail.example.net", "prefecture-police-paris.interieur.gouv.fr"]
PREFIXES = ["", "RE: ", "Re : ", "TR: ", "AW: ", "Fwd: "]
_FROM = re.compile(rb"(?im)^(from:[^\r\n]*?)([\w.+-]+)@[\w.-]+")
_SUBJECT = re.compile(rb"(?im)^subject:[ \t]*")


def variant(raw: bytes, domain: str, prefix: str, folder: str) -> tuple[bytes, str]:
    raw = _FROM.sub(lambda m: m.group(1) + m.group(2) + b"@" + domain.encode(), raw, count=1)
    raw = _SUBJECT.sub(lambda m: m.group(0) + prefix.encode(), raw, count=1)
    return raw, folder


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(NEVER_REPLIES),
    domain=st.sampled_from(DOMAINS),
    prefix=st.sampled_from(PREFIXES),
    folder=st.sampled_from(["INBOX", "INBOX.Archives", "Junk"]),
)
def test_no_delivery_notice_nor_auto_reply_is_a_reply(name: str, domain: str, prefix: str, folder: str) -> None:
    if KIND_OF[name] == "auto_reply":
        prefix = ""
    raw, folder = variant((BOUNCES / name).read_bytes(), domain, prefix, folder)
    direction, kind = classify(parse_message(raw), folder, CONFIG)
    assert kind != "reply", (name, domain, prefix)
    if direction == "outgoing":
        assert kind != "letter", (name, domain, prefix)  # our own server's report opens no thread
