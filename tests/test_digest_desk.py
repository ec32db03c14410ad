"""The digest says first how many messages wait for a person, with a link to the triage page
(the desk's queue: ``unmatched`` without what a person called "not an answer")."""

from __future__ import annotations

from tests.test_desk import demo, demo_source  # noqa: F401  (the fixtures)
from tracker.report import digest
from tracker.thread import desk


def test_the_digest_opens_with_the_messages_waiting_for_a_person(demo):  # noqa: F811
    config, db = demo
    config.digest.base_url = "https://suivi.example.org"
    count = desk.waiting_count(db)
    assert count >= 2
    html, text = digest.render(digest.build(db, config), config)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[2] == (f"{count} messages attendent qu'une personne les rattache à un fil : "
                        "https://suivi.example.org/-/desk/triage")
    body = html[html.index("<body"):]
    assert body.index("https://suivi.example.org/-/desk/triage") < body.index(digest.build(db, config)["subject"])

    first = db.execute(f"select message_id from {desk.WAITING}").fetchone()[0]
    desk.not_an_answer(db, first)
    _, text = digest.render(digest.build(db, config), config)
    assert f"{count - 1} message" in text.splitlines()[3] or f"{count - 1} message" in text


def test_a_quiet_queue_says_so_without_a_link(demo):  # noqa: F811
    config, db = demo
    for (message_id,) in db.execute(f"select message_id from {desk.WAITING}").fetchall():
        desk.not_an_answer(db, message_id)
    context = digest.build(db, config)
    html, text = digest.render(context, config)
    assert "Aucun message n'attend qu'une personne le rattache à un fil." in text
    assert "/-/desk/triage" not in text and "/-/desk/triage" not in html
