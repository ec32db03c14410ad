"""Direction and kind of messages (tracker.classify) on real and French fixtures.

Real bounces come from the shared corpora (flanker, mail-ruby); the French cases are .eml
files in tests/fixtures/classify/, named ``<expected kind>-<what it shows>.eml``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from tracker.parse.classify import HEADERS_READ, classify, classify_row, fold, is_sent_folder
from tracker.config import Config
from tracker.parse import parse_message
from tracker.parse.records import Address, DeliveryReport, ParsedMessage

from .conftest import FIXTURES

CLASSIFY = FIXTURES / "classify"
CONFIG = Config(
    path=Path("tracker.toml"),
    database=Path("tracker.db"),
    coalition_addresses=["coordination@collectif.example.org"],
    coalition_domains=["collectif.example.org"],
)


def load(path: Path) -> ParsedMessage:
    return parse_message(path.read_bytes())


def test_parse_keeps_every_header_classify_reads():
    msg = load(CLASSIFY / "auto-reply-exchange-reponse-automatique.eml")
    assert {
        "auto-submitted",
        "x-auto-response-suppress",
        "x-ms-exchange-inbox-rules-loop",
        "x-ms-exchange-generated-message-source",
    } <= set(msg.headers)
    raw = (
        "From: a@b.fr\r\nSubject: s\r\nMessage-ID: <h@b.fr>\r\n"
        + "".join(f"{name}: x\r\n" for name in HEADERS_READ)
        + "\r\nbody\r\n"
    )
    assert set(HEADERS_READ) <= set(parse_message(raw.encode()).headers)


def row_of(msg: ParsedMessage, folder: str) -> dict:
    """A messages row as the store writes it (JSON columns as text)."""
    return {
        "from_address": msg.from_.address if msg.from_ else None,
        "subject": msg.subject,
        "body_text": msg.body_text,
        "headers": json.dumps(msg.headers, ensure_ascii=False),
        "delivery_reports": json.dumps([asdict(r) for r in msg.delivery_reports]),
        "is_delivery_report": int(msg.is_delivery_report),
        "folders": json.dumps([folder]),
    }


# --- French fixtures: the expected kind is the file name's prefix ---------------------------

FRENCH = sorted(CLASSIFY.glob("*.eml"))
PREFIXES = {
    "letter": "letter",
    "reply": "reply",
    "auto-reply": "auto_reply",
    "acknowledgement": "acknowledgement",
    "bounce": "bounce",
    "other": "other",
}


def expected_kind(path: Path) -> str:
    for prefix, kind in sorted(PREFIXES.items(), key=lambda p: -len(p[0])):
        if path.name.startswith(prefix + "-"):
            return kind
    raise AssertionError(f"{path.name}: name it <kind>-<what it shows>.eml")


def folder_for(path: Path) -> str:
    return "Éléments envoyés" if "sent-folder" in path.name else "INBOX"


def test_there_are_french_fixtures_of_every_kind():
    assert {expected_kind(p) for p in FRENCH} == set(PREFIXES.values())


@pytest.mark.parametrize("path", FRENCH, ids=[p.stem for p in FRENCH])
def test_french_fixture_kind(path):
    msg = load(path)
    direction, kind = classify(msg, folder_for(path), CONFIG)
    assert kind == expected_kind(path)
    outgoing = path.name.startswith(("letter-", "other-outgoing-"))
    assert direction == ("outgoing" if outgoing else "incoming")


@pytest.mark.parametrize("path", FRENCH, ids=[p.stem for p in FRENCH])
def test_a_stored_row_classifies_like_the_message(path):
    msg = load(path)
    folder = folder_for(path)
    assert classify_row(row_of(msg, folder), CONFIG) == classify(msg, folder, CONFIG)


def test_a_config_change_reclassifies_a_stored_row():
    # the coalition adds a member's personal address: her letters become outgoing letters
    msg = load(CLASSIFY / "letter-from-personal-address-in-sent-folder.eml")
    row = row_of(msg, "INBOX")
    assert classify_row(row, CONFIG) == ("incoming", "reply")
    changed = Config(
        path=CONFIG.path,
        database=CONFIG.database,
        coalition_addresses=CONFIG.coalition_addresses + ["marie.dupont@gmail.com"],
        coalition_domains=CONFIG.coalition_domains,
    )
    assert classify_row(row, changed) == ("outgoing", "letter")


# --- real bounces and reports from the shared corpora ----------------------------------------

FLANKER = "flanker-fixtures/tests/fixtures/messages/"
RUBY = "mail-ruby-fixtures/spec/fixtures/emails/"
REAL = [
    # path, kind, why
    (FLANKER + "bounce/mailbox-full.eml", "bounce", "AOL, multipart/report, Action: failed"),
    (FLANKER + "bounce/zed.eml", "bounce", "Postfix 'Undelivered Mail Returned to Sender'"),
    (FLANKER + "bounce/office365.eml", "bounce", "Office 365 'Undeliverable:' from postmaster"),
    (FLANKER + "bounce/gmail-invalid-address.eml", "bounce", "text/plain, X-Failed-Recipients"),
    (FLANKER + "bounce/gmail-no-dns.eml", "bounce", "text/plain, X-Failed-Recipients"),
    (FLANKER + "bounce/broken-mime.eml", "bounce", "text/plain from postmaster"),
    (FLANKER + "bounce/delayed.eml", "bounce", "'Returned mail: Cannot send message for 5 days'"),
    (FLANKER + "bounce/delayed-broken.eml", "bounce", "a bare message/delivery-status, no From"),
    (FLANKER + "bounce/no-mx.eml", "other", "'Delayed Mail (still being retried)': not a failure"),
    (FLANKER + "disposition-notification.eml", "auto_reply", "a read receipt is not a reply"),
    (FLANKER + "complaints/aol.eml", "other", "a feedback (spam complaint) report"),
    (FLANKER + "complaints/yahoo.eml", "other", "a feedback report, report-type folded"),
    (RUBY + "multipart_report_emails/multi_address_bounce1.eml", "bounce", "five failed"),
    (RUBY + "multipart_report_emails/multi_address_bounce2.eml", "bounce", "five failed"),
    (RUBY + "multipart_report_emails/multipart_report_multiple_status.eml", "bounce", "Postmaster"),
    (RUBY + "multipart_report_emails/report_530.eml", "bounce", "'Returned mail', failed"),
    (RUBY + "multipart_report_emails/report_422.eml", "other", "'Warning: could not send'"),
    (
        RUBY + "mime_emails/raw_email_with_mimepart_without_content_type.eml",
        "other",
        "a delay warning (warning-timeout)",
    ),
]


@pytest.mark.parametrize("relative,kind,why", REAL, ids=[Path(r[0]).stem for r in REAL])
def test_real_delivery_notices(corpora, relative, kind, why):
    msg = load(corpora / relative)
    assert classify(msg, "INBOX", CONFIG) == ("incoming", kind)


def test_real_ordinary_mail_is_not_taken_for_automatic_mail(corpora):
    # plain messages of the corpora, written by people, none of them to or from us
    names = [
        RUBY + "plain_emails/basic_email.eml",
        RUBY + "plain_emails/raw_email_reply.eml",
        FLANKER + "long-links.eml",  # a person (Thunderbird) writing from postmaster@
    ]
    for name in names:
        msg = load(corpora / name)
        assert classify(msg, "INBOX", CONFIG) == ("incoming", "reply"), name


# --- the rules, one message at a time ----------------------------------------------------------


def message(
    subject: str = "RE : Votre courrier",
    body: str = "Bonjour, voici notre réponse.",
    sender: str = "agent@interieur.gouv.fr",
    headers: dict | None = None,
    reports: list[DeliveryReport] | None = None,
    is_delivery_report: bool = False,
) -> ParsedMessage:
    return ParsedMessage(
        message_id="m@x",
        sha256="0",
        size=1,
        from_=Address(sender),
        subject=subject,
        body_text=body,
        headers=headers or {},
        delivery_reports=reports or [],
        is_delivery_report=is_delivery_report,
    )


RULES = [
    # name, message, kind
    ("a plain reply", message(), "reply"),
    ("Auto-Submitted: no is a person", message(headers={"auto-submitted": "no"}), "reply"),
    (
        "Auto-Submitted: auto-replied",
        message(headers={"auto-submitted": "auto-replied"}),
        "auto_reply",
    ),
    (
        "Auto-Submitted: auto-generated",
        message(headers={"auto-submitted": "Auto-Generated"}),
        "auto_reply",
    ),
    ("X-Autorespond", message(headers={"x-autorespond": "yes"}), "auto_reply"),
    (
        "X-Auto-Response-Suppress alone",
        message(headers={"x-auto-response-suppress": "All"}),
        "reply",
    ),
    (
        "Exchange OOF: suppress + mailbox rules agent",
        message(
            headers={
                "x-auto-response-suppress": "All",
                "x-ms-exchange-generated-message-source": "Mailbox Rules Agent",
            }
        ),
        "auto_reply",
    ),
    (
        "Out of Office AutoReply (Exchange 2003)",
        message("Out of Office AutoReply: Votre courrier"),
        "auto_reply",
    ),
    ("Abwesenheitsnotiz", message("Abwesenheitsnotiz: Votre courrier"), "auto_reply"),
    ("Absent : as a subject word", message("Absent : RE: Votre courrier"), "auto_reply"),
    ("[Absence] bracketed", message("[Absence] Votre courrier"), "auto_reply"),
    ("Absence de ... is a subject, not a word", message("Absence de réponse"), "reply"),
    (
        "an OOF subject in a reply's quoted subject",
        message("RE: Objet : réponse automatique"),
        "reply",
    ),
    ("AR : opening the subject", message("AR : votre courrier du 3 octobre"), "acknowledgement"),
    (
        "RE: Accusé de réception is a person",
        message("RE : Accusé de réception de votre demande"),
        "reply",
    ),
    (
        "an automatic RE: Accusé de réception",
        message("RE : Accusé de réception", headers={"auto-submitted": "auto-generated"}),
        "acknowledgement",
    ),
    (
        "an acknowledgement from a no-reply sender",
        message("Votre demande", "Nous avons bien reçu votre demande.", "noreply@sve.gouv.fr"),
        "acknowledgement",
    ),
    (
        "acknowledgement phrasing, long and substantive",
        message(
            body="Nous avons bien reçu votre courrier. " + "Voici notre position. " * 50
        ),
        "reply",
    ),
    (
        "an Exchange OOF with Precedence: bulk added by a transport rule",
        message(
            "RE : Votre courrier",
            "Je suis absent jusqu'au 4 novembre.",
            headers={"precedence": "bulk"},
        ),
        "auto_reply",
    ),
    (
        "Precedence: junk",
        message("Offre spéciale", "Promotions", headers={"precedence": "junk"}),
        "other",
    ),
    (
        "Precedence: bulk from a null return path is an autoresponder",
        message("Re: Votre courrier", "Thank you for your e-mail. I will endeavour to reply soon.",
                headers={"precedence": "bulk", "return-path": "<>"}),
        "auto_reply",
    ),
    (
        "Precedence: bulk with a return path stays bulk",
        message("Re: Votre courrier", "Thank you for your e-mail. I will endeavour to reply soon.",
                headers={"precedence": "bulk", "return-path": "<agent@interieur.gouv.fr>"}),
        "other",
    ),
    ("Precedence: list", message(headers={"precedence": "list"}), "other"),
    ("List-Id", message(headers={"list-id": "<info.interieur.gouv.fr>"}), "other"),
    (
        "DSN actions: one failed among delayed",
        message(
            "Delivery Status Notification",
            headers={"content-type": "multipart/report; report-type=delivery-status"},
            reports=[DeliveryReport("a@x", "delayed"), DeliveryReport("b@x", "failed")],
            is_delivery_report=True,
        ),
        "bounce",
    ),
    (
        "DSN actions: all delayed",
        message(
            "Delivery Status Notification",
            headers={"content-type": "multipart/report; report-type=delivery-status"},
            reports=[DeliveryReport("a@x", "delayed")],
            is_delivery_report=True,
        ),
        "other",
    ),
    (
        "DSN actions: delivered (a success notice)",
        message(
            "Remis : Votre courrier",
            sender="postmaster@interieur.gouv.fr",
            reports=[DeliveryReport("a@x", "delivered")],
            is_delivery_report=True,
        ),
        "other",
    ),
    (
        "Delivery Status Notification (Failure) with a null sender",
        message(
            "Delivery Status Notification (Failure)",
            sender="robot@x.org",
            headers={"return-path": "<>"},
        ),
        "bounce",
    ),
    (
        "a postmaster's automatic message is about delivery",
        message(
            "Votre message",
            sender="postmaster@x.gouv.fr",
            headers={"auto-submitted": "auto-replied"},
        ),
        "bounce",
    ),
    (
        "a MAILER-DAEMON is a mail system",
        message("Votre message", sender="MAILER-DAEMON"),
        "bounce",
    ),
    ("Non remis subject, but nothing automatic", message("Non remis : le dossier"), "reply"),
    (
        "a French delivery failure notification",
        message(
            "Notification d'état de la distribution (échec)",
            sender="x@y.fr",
            headers={"return-path": "<>"},
        ),
        "bounce",
    ),
    (
        "a French delay notification",
        message(
            "Notification d'état de la distribution (retard)",
            sender="x@y.fr",
            headers={"return-path": "<>"},
        ),
        "other",
    ),
    (
        "a téléservice's receipt that asks not to reply",
        message(
            "Dossier n° 1234",
            "Votre dossier a bien été déposé le 3 octobre. Merci de ne pas y répondre.",
            "contact@demarches.gouv.fr",
        ),
        "acknowledgement",
    ),
    (
        "a short receipt with nothing automatic about it is taken for a person's answer",
        message(
            "Dossier n° 1234",
            "Votre dossier a bien été déposé le 3 octobre.",
            "contact@demarches.gouv.fr",
        ),
        "reply",
    ),
    ("A.R. opening the subject", message("A.R. - demande n° 2025-12"), "acknowledgement"),
    (
        "an A.R.S. is an agency, not an A.R.",
        message("Votre courrier à l'A.R.S. d'Île-de-France"),
        "reply",
    ),
    (
        "a real answer titled 'Votre saisine du ...'",
        message("Votre saisine du 3 octobre 2025"),
        "reply",
    ),
    (
        "a real answer titled 'Confirmation de votre demande de rendez-vous'",
        message(
            "Confirmation de votre demande de rendez-vous",
            "Le ministre vous recevra le 4 novembre.",
        ),
        "reply",
    ),
    (
        "a real answer discussing 'la réponse automatique' of a service",
        message(body="La réponse automatique du téléservice sera corrigée d'ici décembre."),
        "reply",
    ),
    (
        "no accents where French wants them, a typographic apostrophe",
        message(
            "Votre message",
            "Ceci est un message automatique : nous accusons reception de l\u2019envoi.",
        ),
        "acknowledgement",
    ),
    (
        "decomposed accents (macOS) and a non-breaking space",
        message("Re\u0301ponse automatique\u00a0: Votre courrier", "Je suis absente."),
        "auto_reply",
    ),
]


# Challenge/response filters: the letter waits until its sender proves to be a person.
CHALLENGES = [
    (
        "Bluebottle's own header, from a person's address, no link",
        message(
            "Re: Demande de rendez-vous",
            "Your message is held until you confirm you are a person: reply to this message "
            "to be added to my allowed list.",
            sender="cabinet@justice.gouv.fr",
            headers={"x-bluebottle-request": "<1234>"},
        ),
        "auto_reply",
    ),
    (
        "the same words with no machine's mark are a person writing",
        message(
            "Re: Demande de rendez-vous",
            "Your message is held until you confirm you are a person: reply to this message "
            "to be added to my allowed list.",
            sender="cabinet@justice.gouv.fr",
        ),
        "reply",
    ),
    (
        "SpamArrest-style, from the very address written to, with a link",
        message(
            "RE: Demande de rendez-vous",
            "I apologize for this automatic reply to your email. To control spam, I now allow "
            "incoming messages only from senders I have approved beforehand. If you would like "
            "to be added to my list of approved senders, please fill out the short request form "
            "(see link below).\nhttps://www.spamarrest.com/a2/verify?x=1",
            sender="cabinet@justice.gouv.fr",
        ),
        "auto_reply",
    ),
    (
        "TMDA-style, no link: reply to confirm",
        message(
            "Re: Demande de rendez-vous (Please confirm your message)",
            "Your message has been held. To release your message, simply reply to this "
            "message; this is a one-time verification.",
            sender="agent-confirm+1234@interieur.gouv.fr",
            headers={"auto-submitted": "auto-replied"},
        ),
        "auto_reply",
    ),
    (
        "a 'verify you are human' sender",
        message(
            "Votre message est en attente",
            "Please verify you are human before your message is delivered: "
            "https://verify.example.net/c/77",
            sender="verify@mailguard.example.net",
        ),
        "auto_reply",
    ),
    (
        "Mailinblack-style, in French",
        message(
            "Votre message pour contact@culture.gouv.fr",
            "Bonjour, je suis protégé par un filtre anti-spam. Votre message est en attente. "
            "Merci de vous authentifier en cliquant sur le lien : https://x.mailinblack.com/a "
            "Cette authentification n'est nécessaire qu'une seule fois.",
            sender="contact@culture.gouv.fr",
        ),
        "auto_reply",
    ),
    (
        "Boxbe-style, sent as a delivery report with a 4.7.0 status",
        message(
            "Re: Demande de rendez-vous (Action Required)",
            "Your message has been waitlisted. Please add yourself to my Boxbe Guest List so "
            "your messages will go to my Inbox. https://www.boxbe.com/crs?tc=1",
            sender="noreply@boxbe.com",
            headers={"content-type": "multipart/report; report-type=delivery-status", "return-path": "<>"},
            reports=[DeliveryReport("cabinet@justice.gouv.fr", status="4.7.0")],
            is_delivery_report=True,
        ),
        "auto_reply",
    ),
    (
        "a real bounce: sender verification failed, not in the allowed list, 5.7.1",
        message(
            "Undelivered Mail Returned to Sender",
            "550 5.7.1 Sender verification failed: your address is not in the allowed list. "
            "To have your address added to the allowed list, see https://example.net/help",
            sender="mailer-daemon@mail.example.net",
            headers={"content-type": "multipart/report; report-type=delivery-status"},
            reports=[DeliveryReport("cabinet@justice.gouv.fr", action="failed", status="5.7.1")],
            is_delivery_report=True,
        ),
        "bounce",
    ),
    (
        "a DNSBL bounce in prose: 'if you are not a spammer, open http://...'",
        message(
            "Delivery Status Notification (Failure)",
            "Delivery to the following recipient failed permanently: info@example.lv "
            "550 5.7.1 blocked by a DNSBL. If you are not a spammer, open http://dnsbl.example.lv",
            sender="mailer-daemon@googlemail.com",
            headers={"return-path": "<>"},
            reports=[DeliveryReport("info@example.lv", action="failed")],
        ),
        "bounce",
    ),
    (
        "a real answer about a 'liste blanche', with a link",
        message(
            "RE: Vos courriels",
            "Madame, nos services ont ajouté votre adresse à la liste blanche de notre "
            "messagerie. Voir https://www.interieur.gouv.fr/messagerie",
        ),
        "reply",
    ),
]


# Out-of-office subjects as Outlook, old Exchange, Lotus and people write them, in the
# languages of the correspondents; the body alone says nothing.
OOO_SUBJECTS = [
    "Automatische Antwort: Ihre Anfrage", "Automatic Response: Votre courrier", "Auto Response: hi",
    "Autosvar: Henvendelse", "Réponse en absence : Votre courrier", "Hors du bureau : Votre courrier",
    "Absente jusqu'au 4 mars", "En congés jusqu'au 25/08", "Abwesenheit: Ihre Anfrage",
    "Fuori sede: richiesta", "Odpowiedź automatyczna: wniosek",
]


@pytest.mark.parametrize("subject", OOO_SUBJECTS)
def test_out_of_office_subjects(subject):
    assert classify(message(subject, "Merci de votre message."), "INBOX", CONFIG) == ("incoming", "auto_reply")


@pytest.mark.parametrize("subject", ["RE: Hors du bureau", "Absence prolongée de réponse", "Congés payés des agents"])
def test_a_subject_about_absence_is_no_out_of_office(subject):
    assert classify(message(subject, "Voici notre réponse."), "INBOX", CONFIG) == ("incoming", "reply")


# Delivery failures whose sender and return path say nothing (saved copies lose "Return-Path: <>").
UNMARKED_BOUNCES = [
    (
        "From: <> with a null return path, one line of text",
        message("", "You sent mail to a@b.c. That's not a valid user here.", sender="",
                headers={"return-path": "<>", "auto-submitted": "auto-replied"}),
        "bounce",
    ),
    (
        "a failure's subject and a mail system's words, from an ordinary address",
        message("Mail could not be delivered",
                "Your message could not be delivered to cabinet@justice.gouv.fr: user unknown.",
                sender="mailer@relay.justice.gouv.fr"),
        "bounce",
    ),
    (
        "Non remis, in French, from the ministry's relay",
        message("Non remis : Demande de rendez-vous",
                "Votre message n'a pas pu être remis à cabinet@justice.gouv.fr.",
                sender="relais@justice.gouv.fr"),
        "bounce",
    ),
    (
        "a postmaster with an ordinary return path, in prose",
        message("Votre message", "The mailbox cabinet@justice.gouv.fr does not exist.",
                sender="postmaster@justice.gouv.fr", headers={"return-path": "<postmaster@justice.gouv.fr>"}),
        "bounce",
    ),
    (
        "Exchange's MicrosoftExchange sender, auto-submitted",
        message("Undeliverable: Demande de rendez-vous", "Delivery has failed to these recipients or groups:",
                sender="microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@justice.gouv.fr",
                headers={"auto-submitted": "auto-generated"}),
        "bounce",
    ),
    (
        "a person forwarding a bounce is no bounce",
        message("TR: Non remis : Demande de rendez-vous",
                "Bonjour, je reçois ceci : votre message n'a pas pu être remis.",
                sender="agent@interieur.gouv.fr"),
        "reply",
    ),
]


@pytest.mark.parametrize("name,msg,kind", UNMARKED_BOUNCES, ids=[r[0] for r in UNMARKED_BOUNCES])
def test_unmarked_bounces(name, msg, kind):
    assert classify(msg, "INBOX", CONFIG) == ("incoming", kind)


@pytest.mark.parametrize("name,msg,kind", CHALLENGES, ids=[r[0] for r in CHALLENGES])
def test_challenge_response(name, msg, kind):
    assert classify(msg, "INBOX", CONFIG) == ("incoming", kind)


@pytest.mark.parametrize("name,msg,kind", RULES, ids=[r[0] for r in RULES])
def test_rule(name, msg, kind):
    assert classify(msg, "INBOX", CONFIG) == ("incoming", kind)


OUTGOING = [
    (
        "a letter",
        message("Demande de rendez-vous", sender="coordination@collectif.example.org"),
        "letter",
    ),
    (
        "from a sub-domain of the coalition",
        message("Demande", sender="marie@paris.collectif.example.org"),
        "letter",
    ),
    (
        "our out-of-office",
        message(
            "Réponse automatique : Votre courrier", sender="coordination@collectif.example.org"
        ),
        "other",
    ),
    (
        "our mailing",
        message("Nouvelles", sender="infos@collectif.example.org", headers={"precedence": "bulk"}),
        "other",
    ),
    (
        "our read receipt",
        message("Lu : Votre courrier", sender="coordination@collectif.example.org"),
        "other",
    ),
]


@pytest.mark.parametrize("name,msg,kind", OUTGOING, ids=[r[0] for r in OUTGOING])
def test_outgoing(name, msg, kind):
    assert classify(msg, "INBOX", CONFIG) == ("outgoing", kind)


@pytest.mark.parametrize(
    "folders,kind",
    [
        (["Drafts"], "other"),
        (["INBOX.Brouillons"], "other"),
        (["[Gmail]/Drafts"], "other"),
        (["Entwürfe"], "other"),
        (["Drafts", "Sent"], "letter"),  # sent after all
        (["Sent"], "letter"),
        (["INBOX"], "letter"),
    ],
)
def test_a_draft_is_no_letter(folders, kind):
    msg = message("Demande de rendez-vous", sender="coordination@collectif.example.org")
    row = {"from_address": msg.from_.address, "subject": msg.subject, "folders": json.dumps(folders)}
    assert classify_row(row, CONFIG) == ("outgoing", kind)
    assert classify(msg, folders[0], CONFIG) == ("outgoing", kind if len(folders) == 1 else "other")


def test_a_message_without_sender_is_incoming():
    msg = message()
    msg.from_ = None
    assert classify(msg, None, CONFIG) == ("incoming", "reply")


SENT_FOLDERS = [
    ("Sent", True),
    ("INBOX.Sent", True),
    ("[Gmail]/Sent Mail", True),
    ("Sent Items", True),
    ("Éléments envoyés", True),
    ("Messages envoyés", True),
    ("INBOX/Gesendete Objekte", True),
    ("Gesendet", True),
    ("INBOX", False),
    ("Presentations", False),
    ("Consent forms", False),
    ("Archives/2025", False),
    ("", False),
]


@pytest.mark.parametrize("folder,sent", SENT_FOLDERS)
def test_sent_folders(folder, sent):
    assert is_sent_folder(folder) is sent


def test_fold_ignores_case_accents_apostrophes_and_spaces():
    assert fold("  Accusé  de RÉCEPTION\u202f: l\u2019État ") == "accuse de reception : l'etat"


# --- the demo correspondence: its generator's truth is an independent oracle -------------------

DEMO = Path(__file__).resolve().parent.parent / "tracker" / "demo"


def test_every_demo_message_gets_the_kind_its_generator_meant():
    from tracker import config as config_module

    truth = json.loads((DEMO / "truth.json").read_text(encoding="utf-8"))
    config = config_module.load(DEMO / "tracker.toml")
    wrong = []
    for item in truth["messages"]:
        msg = parse_message((DEMO / "mailbox" / item["files"][0]).read_bytes())
        found = classify(msg, item["folders"][0], config)
        if found != (item["direction"], item["kind"]):
            wrong.append(
                (item["files"][0], item["cases"], (item["direction"], item["kind"]), found)
            )
    kinds = {item["kind"] for item in truth["messages"]}
    assert kinds == set(PREFIXES.values()), "the demo should hold every kind"
    assert wrong == []


def test_a_challenge_filters_own_header_is_kept_by_the_parser():
    from pathlib import Path
    from tracker.parse import parse_message

    raw = (Path(__file__).parent / "fixtures" / "bounces" / "bounceparser__bluebottle-challenge-response.eml").read_bytes()
    assert parse_message(raw).headers.get("x-bluebottle-request") == "<1234>"
