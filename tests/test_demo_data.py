"""The demo correspondence: deterministic, importable, and a truth file that holds together.

The threading tests score tracker against ``truth.json``; these tests check the data itself:
every case of issue 4 is there in several variants, the truth only names messages that exist,
and its statuses follow from its own replies, acknowledgements and bounces.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import sqlite3
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from tracker import config as config_module
from tracker import demo
from tracker.demo import bulk
from tracker.demo import generate as gen
from tracker.demo.mime import french_date
from tests.support.snapshot import connect as connect_store

REQUIRED_CASES = [
    "to_several", "cc_bodies", "cc_unconfigured_address", "cc_body_reply", "reminder_with_headers",
    "reminder_headerless", "reply_headerless", "reply_linked:both", "reply_linked:in_reply_to",
    "reply_linked:references", "subject_prefix:RE :", "subject_prefix:TR :", "subject_prefix:Réf. :",
    "subject_prefix:Rép. :", "new_subject_cites_date", "objet_quoted_in_body", "cites_letter_reference",
    "human_accuse_reception", "html_only", "pdf_reply", "pdf_attached", "multipart_alternative",
    "auto_reply:rfc3834", "auto_reply:x_autoreply", "auto_reply:exchange_subject",
    "auto_reply:precedence", "acknowledgement:accuse", "acknowledgement:ar",
    "auto_submitted_acknowledgement", "newsletter", "after_deadline", "file_before_letter",
    "bcc_copy_in_inbox", "second_reply", "ambiguous", "reply_linked:missing_parent",
    "subject_of_reminder", "delivered_twice", "subject_prefix:TR : RE :", "dsn:postfix",
    "dsn:exchange", "objet_wrapped",
    # tracker.demo.situations
    "same_subject_days", "same_subject_months", "two_members", "same_day_pair", "reminder_of_older",
    "reminder_style:cites_date", "reminder_style:no_date", "reminder_style:in_words",
    "reminder_style:with_headers", "noreply_pdf", "names_subject:relatif", "names_subject:concernant",
    "names_subject:au_sujet", "names_subject:objet_pdf", "names_subject:partial",
    "names_subject:subject_line", "cites_date_in_body",
]
ONCE_IS_ENOUGH = {"cc_body_auto_reply", "new_subject_cites_numeric_date"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    truth = gen.generate(out)
    return out, truth


@pytest.fixture(scope="module")
def parsed(generated) -> dict[str, email.message.EmailMessage]:
    out, truth = generated
    return {
        m["message_id"]: email.message_from_bytes(
            (out / "mailbox" / m["files"][0]).read_bytes(), policy=email.policy.default
        )
        for m in truth["messages"]
    }


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"
    }


def test_regenerating_gives_the_shipped_files_byte_for_byte(generated):
    out, _ = generated
    shipped = tree(demo.HERE)
    assert shipped, "tracker/demo holds no generated files"
    assert tree(out) == shipped, (
        "tracker/demo differs from a fresh run: regenerate it with "
        "`python -m tracker.demo.generate tracker/demo` and commit"
    )


def test_another_seed_gives_another_correspondence(tmp_path, generated):
    _, truth = generated
    other = gen.generate(tmp_path, seed=2, letters=40)
    assert {m["message_id"] for m in other["messages"]}.isdisjoint(
        m["message_id"] for m in truth["messages"]
    )


def test_sizes_and_dates(generated):
    out, truth = generated
    counts = truth["counts"]
    assert counts["letters"] >= 150
    assert counts["correspondents_written_to"] >= 10
    assert len(truth["correspondents"]) >= 10
    size = sum(p.stat().st_size for p in (out / "mailbox").rglob("*") if p.is_file())
    assert size < 3 * 1024 * 1024
    as_of = date.fromisoformat(truth["as_of"])
    assert as_of < date(2026, 11, 26)
    dates = [datetime.fromisoformat(m["date"]) for m in truth["messages"]]
    assert max(dates).date() < as_of
    assert (max(dates) - min(dates)).days > 600
    offsets = Counter(m["date"][-6:] for m in truth["messages"])
    assert offsets["+01:00"] > 50 and offsets["+02:00"] > 50


def test_config_matches_the_truth_and_resolves_by_longest_domain(generated):
    out, truth = generated
    config = config_module.load(out / "tracker.toml")
    assert config.database == out / "tracker.db"
    assert [c.name for c in config.correspondents] == [c["name"] for c in truth["correspondents"]]
    assert any(c.deadline and c.deadline.unit == "working_days" for c in config.correspondents)

    def resolve(address: str) -> str | None:
        address = address.lower()
        for c in config.correspondents:
            if address in c.addresses:
                return c.name
        domain = address.rpartition("@")[2]
        best = max(
            ((len(d), c.name) for c in config.correspondents for d in c.domains
             if domain == d or domain.endswith("." + d)),
            default=None,
        )
        return best[1] if best else None

    police = [m for m in truth["messages"] if m["from"].endswith("prefecture-police-paris.interieur.gouv.fr")]
    assert police, "no message from the sub-domain body"
    for m in truth["messages"]:
        if m["direction"] == "incoming" and m["kind"] != "bounce":
            assert resolve(m["from"]) == m["correspondent"], m["message_id"]
    for t in truth["threads"]:
        assert resolve(t["address"]) == t["correspondent"]


def test_every_referenced_message_exists_and_the_statuses_follow(generated, parsed):
    out, truth = generated
    messages = {m["message_id"]: m for m in truth["messages"]}
    assert len(messages) == len(truth["messages"])
    for m in truth["messages"]:
        for rel in m["files"]:
            assert (out / "mailbox" / rel).is_file()
        assert parsed[m["message_id"]]["Message-ID"].strip("<>") == m["message_id"]
        for letter, name in m["threads"]:
            assert messages[letter]["kind"] == "letter"
    keys = set()
    for t in truth["threads"]:
        key = (t["letter"], t["correspondent"])
        assert key not in keys
        keys.add(key)
        for mid in [t["letter"], *t["replies"], *t["messages"], *t["reminders"]]:
            assert mid in messages, mid
        opened = datetime.fromisoformat(t["opened_at"])
        kinds = {mid: messages[mid]["kind"] for mid in t["messages"]}
        assert all(messages[mid]["kind"] == "reply" for mid in t["replies"])
        assert all(messages[mid]["correspondent"] == t["correspondent"] for mid in t["replies"])
        assert all(datetime.fromisoformat(messages[mid]["date"]) > opened for mid in t["replies"])
        if t["replies"] and t["reminders"]:
            first_reply = min(datetime.fromisoformat(messages[mid]["date"]) for mid in t["replies"])
            assert all(datetime.fromisoformat(messages[r]["date"]) < first_reply for r in t["reminders"])
        expected = (
            "bounced" if "bounce" in kinds.values()
            else "answered" if t["replies"]
            else "acknowledged" if "acknowledgement" in kinds.values()
            else "awaiting_reply"
        )
        assert t["status"] == expected, key
        assert t["overdue"] == (
            t["status"] in ("awaiting_reply", "acknowledged") and truth["as_of"] > t["due_at"]
        )
    statuses = Counter(t["status"] for t in truth["threads"])
    assert all(statuses[s] >= 3 for s in ("awaiting_reply", "acknowledged", "answered", "bounced"))
    assert sum("within_deadline" in t["cases"] for t in truth["threads"]) >= 3
    assert sum("never_answers" in t["cases"] for t in truth["threads"]) >= 3
    assert sum(t["answered_late"] for t in truth["threads"]) >= 3
    assert sum(t["overdue"] for t in truth["threads"]) >= 3


def test_every_case_is_there_in_several_variants(generated):
    _, truth = generated
    seen = Counter(case for m in truth["messages"] for case in m["cases"])
    missing = [case for case in REQUIRED_CASES if seen[case] < 2]
    assert not missing, f"cases with fewer than two variants: {missing}"
    assert all(seen[case] >= 1 for case in ONCE_IS_ENOUGH)
    charsets = {case for case in seen if case.startswith("charset:")}
    for wanted in ("utf-8/quoted-printable", "utf-8/base64", "utf-8/8bit", "iso-8859-1/8bit",
                   "iso-8859-1/quoted-printable", "windows-1252/8bit", "windows-1252/quoted-printable"):
        assert f"charset:{wanted}" in charsets
    kinds = Counter(m["kind"] for m in truth["messages"])
    assert set(kinds) == {"letter", "reply", "auto_reply", "acknowledgement", "bounce", "other"}


def test_headerless_replies_really_have_no_headers_and_come_from_another_address(generated, parsed):
    _, truth = generated
    threads = {(t["letter"], t["correspondent"]): t for t in truth["threads"]}
    headerless = [m for m in truth["messages"] if "reply_headerless" in m["cases"]]
    assert len(headerless) >= 20
    for m in headerless:
        msg = parsed[m["message_id"]]
        assert msg["In-Reply-To"] is None and msg["References"] is None
        for key in m["threads"]:
            assert m["from"] != threads[tuple(key)]["address"]
    for m in truth["messages"]:
        if "new_subject_cites_date" in m["cases"]:
            assert parsed[m["message_id"]]["Subject"].startswith("Votre courrier du ")
        if "human_accuse_reception" in m["cases"]:
            body = parsed[m["message_id"]].get_body(("plain", "html")).get_content()
            assert "J'accuse réception de votre courrier" in body.replace("\u2019", "'")
            assert m["kind"] == "reply"


def test_unmatched_replies_have_two_equally_plausible_threads(generated, parsed):
    _, truth = generated
    messages = {m["message_id"]: m for m in truth["messages"]}
    threads = {t["letter"]: t for t in truth["threads"]}
    assert len(truth["unmatched"]) >= 2
    for mid in truth["unmatched"]:
        m = messages[mid]
        assert m["kind"] == "reply" and m["threads"] == []
        assert parsed[mid]["In-Reply-To"] is None
        candidates = [threads[letter] for letter in truth["unmatched_candidates"][mid]]
        assert len(candidates) == 2
        assert {t["correspondent"] for t in candidates} == {m["correspondent"]}
        assert len({t["opened_at"][:10] for t in candidates}) == 1
        assert all(t["status"] != "answered" for t in candidates)


def test_the_situations_are_what_they_say(generated, parsed):
    """Same-subject pairs share a body and a subject; same-day pairs a body and a date; an
    older letter's reminder follows the answer to the newer one; do-not-reply answers cite the
    date and come with a PDF."""
    _, truth = generated
    messages = {m["message_id"]: m for m in truth["messages"]}
    threads = {t["letter"]: t for t in truth["threads"]}
    pairs: dict[tuple, list[dict]] = {}
    for t in truth["threads"]:
        if "same_subject" in t["cases"]:
            pairs.setdefault(("subject", t["correspondent"], t["subject"]), []).append(t)
        if "same_day_pair" in t["cases"]:
            pairs.setdefault(("day", t["correspondent"], t["opened_at"][:10]), []).append(t)
    assert len(pairs) >= 10 and all(len(p) == 2 for p in pairs.values())
    for (kind, _, _), (older, newer) in pairs.items():
        if kind == "day":
            assert older["subject"] != newer["subject"]
            continue
        assert older["opened_at"] < newer["opened_at"]
        for mid in older["reminders"]:
            assert "reminder_of_older" in messages[mid]["cases"]
            when = datetime.fromisoformat(messages[mid]["date"])
            assert any(datetime.fromisoformat(messages[r]["date"]) < when for r in newer["replies"])
    noreply = [m for m in truth["messages"] if "noreply_pdf" in m["cases"]]
    assert len(noreply) >= 10
    for m in noreply:
        msg = parsed[m["message_id"]]
        assert m["from"].startswith(("ne-pas-repondre@", "accuse-reception@")) and msg["In-Reply-To"] is None
        (letter, _), = m["threads"]
        assert french_date(date.fromisoformat(threads[letter]["opened_at"][:10])) in msg["Subject"]
        assert any(p.get_content_type() == "application/pdf" for p in msg.walk())


def test_cc_bodies_replies_answer_no_thread(generated):
    _, truth = generated
    cc_replies = [m for m in truth["messages"] if "cc_body_reply" in m["cases"]]
    assert cc_replies
    for m in cc_replies:
        assert m["kind"] == "reply" and m["threads"] == []


def test_bounces_are_real_delivery_reports(generated, parsed):
    _, truth = generated
    threads = {(t["letter"], t["correspondent"]): t for t in truth["threads"]}
    bounces = [m for m in truth["messages"] if m["kind"] == "bounce"]
    assert len(bounces) >= 3
    for m in bounces:
        msg = parsed[m["message_id"]]
        assert msg.get_content_type() == "multipart/report"
        (key,) = [tuple(k) for k in m["threads"]]
        thread = threads[key]
        status = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
        text = "\n".join(str(block) for block in status.get_payload())
        assert f"Final-Recipient: rfc822; {thread['address']}" in text
        assert "Action: failed" in text and "Status: 5.1.1" in text
        original = next(p for p in msg.walk() if p.get_content_type() in ("message/rfc822", "text/rfc822-headers"))
        assert f"<{thread['letter']}>" in original.as_string()
        letter = next(x for x in truth["threads"] if x["letter"] == thread["letter"] and x is not thread)
        assert letter, "a bounce must hit one recipient of a letter to several bodies"


def test_pdfs_have_a_text_layer_but_the_scans(generated, parsed):
    _, truth = generated
    scanned = {m["message_id"] for m in truth["messages"] if "scan_only_answer" in m["cases"]}
    count = scans = 0
    for message_id, msg in parsed.items():
        for part in msg.walk():
            if part.get_content_type() == "application/pdf":
                text = PdfReader(io.BytesIO(part.get_content())).pages[0].extract_text()
                if message_id in scanned:  # an image only: its words wait for OCR
                    assert text.strip() == "" and part.get_filename() == "scan_courrier.pdf"
                    scans += 1
                else:
                    assert "Objet" in text and "é" in text
                    count += 1
    assert count >= 20 and scans == 1


def test_declared_charsets_decode_to_french(generated, parsed):
    _, truth = generated
    for m in truth["messages"]:
        if any(c.startswith("charset:windows-1252") for c in m["cases"]) and m["kind"] == "reply":
            text = parsed[m["message_id"]].get_body(("plain",)).get_content()
            assert "é" in text and "\u2019" in text
            break
    else:
        pytest.fail("no windows-1252 reply")


def test_the_bundled_demo_imports_with_nothing_quarantined(tmp_path):
    config_path = demo.build(tmp_path)
    assert config_path == tmp_path / "tracker.toml"
    truth = json.loads(demo.TRUTH.read_text(encoding="utf-8"))
    with connect_store(tmp_path / "tracker.db") as conn:
        assert conn.execute("select count(*) from quarantine").fetchone()[0] == 0
        stored = dict(conn.execute("select message_id, direction from messages"))
        locations = conn.execute("select count(*) from message_locations").fetchone()[0]
    assert stored == {m["message_id"]: m["direction"] for m in truth["messages"]}
    assert locations == truth["counts"]["files"]
    demo.build(tmp_path)  # again: nothing new, nothing lost
    with connect_store(tmp_path / "tracker.db") as conn:
        assert conn.execute("select count(*) from messages").fetchone()[0] == len(stored)


def test_bulk_mailbox_is_deterministic_sized_and_importable(tmp_path):
    from tracker import store
    from tracker.store import ingest
    from tracker.sources import local

    bulk.generate_bulk(tmp_path / "a", 400, seed=3)
    bulk.generate_bulk(tmp_path / "b", 400, seed=3)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(files) == 400
    assert list((tmp_path / "a" / "cur").iterdir()) and list((tmp_path / "a" / ".Sent" / "cur").iterdir())
    sizes = sorted(p.stat().st_size for p in files)
    assert 2_000 <= sizes[len(sizes) // 2] <= 20_000
    assert sum(2_000 <= s <= 21_000 for s in sizes) >= 0.7 * len(sizes)
    config = config_module.load(demo.CONFIG)
    db = store.open_db(tmp_path / "bulk.db")
    items = local.items([tmp_path / "a"], lambda s, f: store.known_locations(db, s, f))
    with ingest.Ingester(db, config, workers=1) as ingester:
        summary = ingester.run(items)
    assert (summary.new, summary.quarantined) == (400, 0)
