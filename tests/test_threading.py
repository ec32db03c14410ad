"""Per-recipient threads on small hand-made mailboxes, imported through the real pipeline
(`tracker import`), read back through `tracker threads --format json`, changed with
`tracker mark` and `tracker rethread`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_config
from tracker import config as config_module
from tracker.cli import cli
from tracker.config import Correspondent
from tracker.parse.evidence import Resolver
from tracker.thread import thread_id

COALITION = "coordination@collectif.example.org"
CORRESPONDENTS = """
timezone = "Europe/Paris"
[deadlines]
default = "2 months"
holidays = "FR"

[[correspondents]]
name = "Ministère de l'Intérieur"
short_name = "Intérieur"
addresses = ["secretariat.cabinet@interieur.gouv.fr"]
domains = ["interieur.gouv.fr"]

[[correspondents]]
name = "Préfecture de police de Paris"
short_name = "Préfecture de police"
domains = ["prefecture-police-paris.interieur.gouv.fr"]
deadline = "45 days"

[[correspondents]]
name = "Ministère de la Justice"
short_name = "Justice"
domains = ["justice.gouv.fr"]
"""
CONTRACT_KEYS = {
    "id", "correspondent", "subject", "status", "opened_at", "last_letter_at", "last_reply_at",
    "due_at", "overdue", "messages",
    # issue 18: reshuffles, the duty to acknowledge, meetings (DESIGN.md's contract lists them)
    "written_to", "carried_over", "acknowledgement_due_at", "acknowledged_at", "acknowledgement_overdue",
    "meetings",
}


def eml(
    message_id: str,
    sender: str,
    to: str,
    subject: str,
    date: str,
    body: str = "Madame, Monsieur,\n",
    *,
    cc: str | None = None,
    in_reply_to: str | None = None,
    extra: str = "",
) -> str:
    headers = [
        f"Message-ID: <{message_id}>",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {date}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if cc:
        headers.append(f"Cc: {cc}")
    if in_reply_to:
        headers += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    return "\n".join(headers) + ("\n" + extra.strip() if extra else "") + "\n\n" + body + "\n"


def dsn(message_id: str, failed: str, original: str | None, date: str) -> str:
    quoted = f"""
--B
Content-Type: text/rfc822-headers

Message-ID: <{original}>
From: {COALITION}
To: {failed}
Subject: Demande
""" if original else ""
    return f"""Message-ID: <{message_id}>
From: MAILER-DAEMON@mail.collectif.example.org
To: {COALITION}
Subject: Undelivered Mail Returned to Sender
Date: {date}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=utf-8

Votre message n'a pas pu être remis.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.collectif.example.org

Final-Recipient: rfc822; {failed}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown
{quoted}
--B--
"""


class Mailbox:
    """A tmp folder of .eml files (one folder per import) and the commands to run on them."""

    def __init__(self, root: Path, config_body: str = CORRESPONDENTS) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config_path = write_config(root, config_body)
        self.count = 0

    def write(self, folder: str, text: str) -> Path:
        self.count += 1
        path = self.root / folder / f"{self.count:03d}.eml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def run(self, *args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(self.config_path), *args])
        assert result.exit_code == 0, result.output
        return result.output

    def fail(self, *args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(self.config_path), *args])
        assert result.exit_code != 0, result.output
        return result.output

    def import_(self, *paths: Path) -> None:
        self.run("import", "--quiet", "--workers", "1", *map(str, paths))

    def threads(self, as_of: str | None = None) -> dict[tuple[str, str], dict]:
        """(subject, correspondent) -> thread, from `tracker threads --format json`."""
        found = json.loads(self.run("threads", "--format", "json", *(["--as-of", as_of] if as_of else [])))
        for thread in found:
            assert set(thread) == CONTRACT_KEYS
        return {(t["subject"], t["correspondent"]): t for t in found}

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "tracker.db")


def replies(thread: dict) -> list[str]:
    return [m["message_id"] for m in thread["messages"] if m["kind"] == "reply"]


INTERIEUR, PREFECTURE, JUSTICE = (
    "Ministère de l'Intérieur", "Préfecture de police de Paris", "Ministère de la Justice",
)


def test_resolver_exact_address_then_longest_domain() -> None:
    resolve = Resolver(
        [
            Correspondent("Intérieur", "Intérieur", ["cabinet@prefecture-police-paris.interieur.gouv.fr"], ["interieur.gouv.fr"]),
            Correspondent("Préfecture", "Préfecture", [], ["prefecture-police-paris.interieur.gouv.fr"]),
        ]
    )
    assert resolve("x@interieur.gouv.fr") == "interieur"
    assert resolve("X@Service.Interieur.Gouv.Fr") == "interieur"
    assert resolve("y@prefecture-police-paris.interieur.gouv.fr") == "prefecture"
    assert resolve("a@dgs.prefecture-police-paris.interieur.gouv.fr") == "prefecture"
    assert resolve("cabinet@prefecture-police-paris.interieur.gouv.fr") == "interieur"  # exact first
    assert resolve("x@notinterieur.gouv.fr") is None
    assert resolve("ami@association.example.net") is None
    assert resolve(None) is None


def test_thread_ids_are_short_stable_and_per_correspondent() -> None:
    first = thread_id("letter-1@collectif.example.org", "interieur")
    assert first == thread_id("letter-1@collectif.example.org", "interieur")
    assert first != thread_id("letter-1@collectif.example.org", "justice")
    assert first.startswith("t-") and len(first) == 12


def test_one_thread_per_to_correspondent_cc_is_not_expected_to_answer(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    sent = box.write("Sent", eml(
        "l1@collectif.example.org", COALITION,
        "secretariat.cabinet@interieur.gouv.fr, accueil@prefecture-police-paris.interieur.gouv.fr",
        "Hébergement des victimes", "Thu, 03 Oct 2024 10:00:00 +0200",
        cc="cabinet@justice.gouv.fr, ami@association.example.net",
    ))
    # the body only copied answers (headers and all): it does not answer the addressees
    cc_reply = box.write("INBOX", eml(
        "j1@justice.gouv.fr", "cabinet@justice.gouv.fr", COALITION, "RE: Hébergement des victimes",
        "Mon, 07 Oct 2024 09:00:00 +0200", in_reply_to="l1@collectif.example.org",
    ))
    reply = box.write("INBOX", eml(
        "p1@prefecture-police-paris.interieur.gouv.fr", "bureau@prefecture-police-paris.interieur.gouv.fr",
        COALITION, "RE: Hébergement des victimes", "Tue, 08 Oct 2024 09:00:00 +0200",
        in_reply_to="l1@collectif.example.org",
    ))
    friend = box.write("INBOX", eml(
        "a1@association.example.net", "ami@association.example.net", COALITION,
        "RE: Hébergement des victimes", "Tue, 08 Oct 2024 10:00:00 +0200", in_reply_to="l1@collectif.example.org",
    ))
    box.import_(sent, cc_reply, reply, friend)
    threads = box.threads(as_of="2024-10-10")
    assert set(threads) == {("Hébergement des victimes", INTERIEUR), ("Hébergement des victimes", PREFECTURE)}
    interieur = threads[("Hébergement des victimes", INTERIEUR)]
    prefecture = threads[("Hébergement des victimes", PREFECTURE)]
    assert interieur["status"] == "awaiting_reply" and replies(interieur) == []
    assert prefecture["status"] == "answered"
    assert replies(prefecture) == ["p1@prefecture-police-paris.interieur.gouv.fr"]
    assert interieur["id"] != prefecture["id"]
    assert interieur["due_at"].startswith("2024-12-03T23:59:59+01:00")  # 2 months, end of day
    # the copied body's answer waits for a person, with the reason
    rows = box.db().execute("select message_id, correspondent_id, reason from unmatched").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("j1@justice.gouv.fr", "justice")]
    assert "copied" in rows[0][2]


def test_reminder_stays_in_its_thread_and_does_not_restart_the_clock(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    paths = [
        box.write("Sent", eml("l1@collectif.example.org", COALITION, "secretariat.cabinet@interieur.gouv.fr",
                              "Titres de séjour des victimes", "Thu, 03 Oct 2024 10:00:00 +0200")),
        # a reminder written from scratch: no In-Reply-To, a prefix, same subject
        box.write("Sent", eml("l2@collectif.example.org", COALITION, "secretariat.cabinet@interieur.gouv.fr",
                              "Relance : Titres de séjour des victimes", "Mon, 02 Dec 2024 10:00:00 +0100")),
        # a different letter to another body under the same subject opens its own thread
        box.write("Sent", eml("l3@collectif.example.org", COALITION, "cabinet@justice.gouv.fr",
                              "Rappel : Titres de séjour des victimes", "Mon, 02 Dec 2024 11:00:00 +0100")),
    ]
    box.import_(paths[1])  # the reminder before its letter: a thread of its own, marked
    early = box.threads()[("Relance : Titres de séjour des victimes", INTERIEUR)]["id"]
    box.run("mark", early, "--closed", "--note", "vu au téléphone")
    box.import_(paths[2], paths[0])
    threads = box.threads(as_of="2024-12-10")
    # the letter renamed the thread; the mark followed it
    marked = box.db().execute("select distinct thread_id from marks").fetchall()
    assert marked == [(threads[("Titres de séjour des victimes", INTERIEUR)]["id"],)]
    interieur = threads[("Titres de séjour des victimes", INTERIEUR)]
    assert [m["message_id"] for m in interieur["messages"]] == ["l1@collectif.example.org", "l2@collectif.example.org"]
    assert interieur["opened_at"].startswith("2024-10-03")
    assert interieur["last_letter_at"].startswith("2024-12-02")
    assert interieur["due_at"].startswith("2024-12-03")
    assert interieur["overdue"] is True
    justice = threads[("Rappel : Titres de séjour des victimes", JUSTICE)]
    assert [m["message_id"] for m in justice["messages"]] == ["l3@collectif.example.org"]


def test_replies_without_headers_are_matched_by_evidence_or_left_for_triage(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    letters = [
        box.write("Sent", eml("l1@collectif.example.org", COALITION, "secretariat.cabinet@interieur.gouv.fr",
                              "Demande de rendez-vous", "Thu, 03 Oct 2024 10:00:00 +0200",
                              "N/Réf : CET-2024-017\nMadame la Ministre,\n")),
        box.write("Sent", eml("l2@collectif.example.org", COALITION, "secretariat.cabinet@interieur.gouv.fr",
                              "Mineurs non accompagnés", "Fri, 15 Nov 2024 10:00:00 +0100")),
        box.write("Sent", eml("l3@collectif.example.org", COALITION, "secretariat.cabinet@interieur.gouv.fr",
                              "Formation des agents", "Fri, 15 Nov 2024 11:00:00 +0100")),
    ]
    answers = [
        # from another address, a new subject citing the letter's date and reference
        box.write("INBOX", eml("r1@interieur.gouv.fr", "bureau.courrier@interieur.gouv.fr", COALITION,
                               "Votre courrier du 3 octobre 2024 - N/Réf : CAB/2024/1234",
                               "Mon, 18 Nov 2024 09:00:00 +0100",
                               "Madame,\nEn réponse à votre lettre (V/Réf : CET-2024-017), ...\n")),
        # "RE :" and the subject: enough
        box.write("INBOX", eml("r2@interieur.gouv.fr", "cabinet@interieur.gouv.fr", COALITION,
                               "RE : Mineurs non accompagnés", "Tue, 19 Nov 2024 09:00:00 +0100")),
        # cites a date two letters share: a person decides
        box.write("INBOX", eml("r3@interieur.gouv.fr", "cabinet@interieur.gouv.fr", COALITION,
                               "Votre courrier", "Wed, 20 Nov 2024 09:00:00 +0100",
                               "Madame,\nSuite à votre courrier du 15 novembre 2024, ...\n")),
    ]
    box.import_(*answers)
    box.import_(*letters)  # letters last: answers wait, then find their threads
    threads = box.threads()
    assert replies(threads[("Demande de rendez-vous", INTERIEUR)]) == ["r1@interieur.gouv.fr"]
    assert replies(threads[("Mineurs non accompagnés", INTERIEUR)]) == ["r2@interieur.gouv.fr"]
    assert replies(threads[("Formation des agents", INTERIEUR)]) == []
    db = box.db()
    message_id, candidates = db.execute("select message_id, candidates from unmatched").fetchone()
    assert message_id == "r3@interieur.gouv.fr"
    ranked = json.loads(candidates)
    assert {c["thread_id"] for c in ranked[:2]} == {
        threads[("Mineurs non accompagnés", INTERIEUR)]["id"], threads[("Formation des agents", INTERIEUR)]["id"]
    }
    # a person attaches it, with the first characters of the id; it survives rethread and re-import
    formation = threads[("Formation des agents", INTERIEUR)]["id"]
    box.run("mark", formation[:7], "--message", "r3@interieur.gouv.fr")
    for step in (lambda: box.run("rethread", "--quiet"), lambda: box.import_(*answers, *letters)):
        step()
        threads = box.threads()
        assert replies(threads[("Formation des agents", INTERIEUR)]) == ["r3@interieur.gouv.fr"]
        assert threads[("Formation des agents", INTERIEUR)]["status"] == "answered"
        assert db.execute("select count(*) from unmatched").fetchone()[0] == 0
    # the minister's adviser answered from a private address: attached, it stays attached
    private = box.write("INBOX", eml("x1@gmail.example.com", "conseiller@gmail.example.com", COALITION,
                                     "Notre échange", "Thu, 21 Nov 2024 09:00:00 +0100"))
    box.import_(private)
    mineurs = threads[("Mineurs non accompagnés", INTERIEUR)]["id"]
    box.run("mark", mineurs, "--message", "<x1@gmail.example.com>")
    box.run("rethread", "--quiet")
    assert replies(box.threads()[("Mineurs non accompagnés", INTERIEUR)]) == ["r2@interieur.gouv.fr", "x1@gmail.example.com"]
    assert "no message" in box.fail("mark", formation, "--message", "nope@example.org")
    assert "no thread" in box.fail("mark", "t-zzzz", "--closed")


def test_acknowledgements_auto_replies_and_bounces_are_not_replies(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    paths = [
        box.write("Sent", eml("l1@collectif.example.org", COALITION,
                              "secretariat.cabinet@interieur.gouv.fr, cabinet@justice.gouv.fr",
                              "Plan national d'action", "Thu, 03 Oct 2024 10:00:00 +0200")),
        box.write("INBOX", eml("ack@interieur.gouv.fr", "ne-pas-repondre@interieur.gouv.fr", COALITION,
                               "Accusé de réception : Plan national d'action", "Thu, 03 Oct 2024 10:05:00 +0200",
                               "Nous accusons réception de votre message.\n",
                               extra="Auto-Submitted: auto-generated")),
        box.write("INBOX", eml("ooo@interieur.gouv.fr", "secretariat.cabinet@interieur.gouv.fr", COALITION,
                               "Réponse automatique : Plan national d'action", "Thu, 03 Oct 2024 10:01:00 +0200",
                               "Je suis absente jusqu'au 14 octobre.\n", in_reply_to="l1@collectif.example.org",
                               extra="Auto-Submitted: auto-replied")),
        box.write("INBOX", dsn("dsn1@mail.collectif.example.org", "cabinet@justice.gouv.fr",
                               "l1@collectif.example.org", "Thu, 03 Oct 2024 10:02:00 +0200")),
    ]
    box.import_(*paths)
    threads = box.threads(as_of="2024-10-20")
    interieur = threads[("Plan national d'action", INTERIEUR)]
    justice = threads[("Plan national d'action", JUSTICE)]
    assert interieur["status"] == "acknowledged", interieur
    assert {m["kind"] for m in interieur["messages"]} == {"letter", "acknowledgement", "auto_reply"}
    assert replies(interieur) == []
    assert justice["status"] == "bounced"
    assert [m["kind"] for m in justice["messages"]] == ["letter", "bounce"]


def test_marks_answered_closed_reopened(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    box.import_(box.write("Sent", eml("l1@collectif.example.org", COALITION, "cabinet@justice.gouv.fr",
                                      "Indemnisation", "Thu, 03 Oct 2024 10:00:00 +0200")))
    tid = box.threads()[("Indemnisation", JUSTICE)]["id"]
    assert box.threads()[("Indemnisation", JUSTICE)]["overdue"] is True
    box.run("mark", tid, "--answered-on", "2024-11-04", "--note", "réponse papier")
    assert box.threads()[("Indemnisation", JUSTICE)]["status"] == "answered"
    assert box.threads(as_of="2024-11-01")[("Indemnisation", JUSTICE)]["status"] == "awaiting_reply"
    box.run("mark", tid, "--closed")
    assert box.threads()[("Indemnisation", JUSTICE)]["status"] == "closed"
    box.run("mark", tid, "--reopened")
    assert box.threads()[("Indemnisation", JUSTICE)]["status"] == "answered"
    box.run("rethread", "--quiet")
    assert box.threads()[("Indemnisation", JUSTICE)]["status"] == "answered"
    stored = box.db().execute("select status from threads where id = ?", [tid]).fetchone()[0]
    assert stored == "answered"
    assert "exactly one" in box.fail("mark", tid, "--closed", "--reopened")
    text = box.run("threads", "--format", "text")
    assert tid in text and "Indemnisation" in text


def test_config_change_and_rethread_without_reimport(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    paths = [
        box.write("Sent", eml("l1@collectif.example.org", COALITION, "cabinet@sante.gouv.fr",
                              "Accès aux soins", "Thu, 03 Oct 2024 10:00:00 +0200")),
        box.write("INBOX", eml("s1@sante.gouv.fr", "dgs@sante.gouv.fr", COALITION, "RE: Accès aux soins",
                               "Mon, 07 Oct 2024 10:00:00 +0200")),
    ]
    box.import_(*paths)
    assert box.threads() == {}  # not a configured body: kept, but no thread
    config = box.config_path.read_text(encoding="utf-8")
    box.config_path.write_text(
        config + '\n[[correspondents]]\nname = "Ministère de la Santé"\nshort_name = "Santé"\n'
        'domains = ["sante.gouv.fr"]\n', encoding="utf-8",
    )
    box.run("rethread", "--quiet")
    thread = box.threads()[("Accès aux soins", "Ministère de la Santé")]
    assert thread["status"] == "answered" and replies(thread) == ["s1@sante.gouv.fr"]
    names = {r[0] for r in box.db().execute("select id from correspondents")}
    assert names == {"interieur", "prefecture-de-police", "justice", "sante"}
    # a re-import into a new database gives the same thread id
    other = Mailbox(tmp_path / "again", box.config_path.read_text(encoding="utf-8").split("\n", 1)[1])
    other.import_(*paths)
    assert other.threads()[("Accès aux soins", "Ministère de la Santé")]["id"] == thread["id"]


def test_rethread_needs_a_database(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    assert "no database" in box.fail("rethread")


def test_commands_have_help_with_an_example() -> None:
    for command in ("threads", "rethread", "mark"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, result.output


def test_a_bounce_naming_no_letter_finds_the_letter_to_that_address(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    bounce = box.write("INBOX", dsn("dsn2@mail.collectif.example.org", "ancien.cabinet@justice.gouv.fr", None,
                                    "Thu, 03 Oct 2024 10:03:00 +0200"))
    letters = [
        box.write("Sent", eml("l1@collectif.example.org", COALITION,
                              "secretariat.cabinet@interieur.gouv.fr, ancien.cabinet@justice.gouv.fr",
                              "Formation des agents", "Thu, 03 Oct 2024 10:00:00 +0200")),
        box.write("Sent", eml("l2@collectif.example.org", COALITION, "cabinet@justice.gouv.fr",
                              "Accès aux droits", "Thu, 03 Oct 2024 10:01:00 +0200")),
    ]
    box.import_(bounce)  # before its letter
    box.import_(*letters)
    threads = box.threads(as_of="2024-10-20")
    assert threads[("Formation des agents", JUSTICE)]["status"] == "bounced"
    assert threads[("Formation des agents", INTERIEUR)]["status"] == "awaiting_reply"
    assert threads[("Accès aux droits", JUSTICE)]["status"] == "awaiting_reply"
    before = box.threads(as_of="2024-10-20")
    box.run("rethread", "--quiet")
    assert box.threads(as_of="2024-10-20") == before
