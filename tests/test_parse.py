"""parse_message on fixtures that each show one thing a real message does.

The fixtures are in tests/fixtures/parse/, named for what they show; hostile
input is in test_hostile.py, the shared corpora in test_corpora.py.
"""

from __future__ import annotations

import logging
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.parse import ParseFailure, parse_message
from tracker.parse.headers import normalize_subject
from tracker.parse.text import decode_words, html_to_text
from tracker.parse.records import Address

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parse"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str):
    return parse_message(load(name))


# --- Message-ID, In-Reply-To, References -----------------------------------------------


def test_short_ids_are_kept_and_in_reply_to_is_read_beside_references():
    msg = parse("short-message-ids.eml")
    # flanker's message_id returns None for <a@b>, and its references drop In-Reply-To
    assert msg.message_id == "a@b"
    assert not msg.message_id_synthetic
    assert msg.in_reply_to == "parent@b"
    # "<not an id>" (whitespace) and "<nobrackets>" (no @) are not references; duplicates go
    assert msg.references == ["root@b", "middle@b"]


def test_a_message_without_message_id_gets_a_stable_id_from_its_bytes():
    raw = load("no-message-id.eml")
    first, second = parse_message(raw), parse_message(raw)
    assert first.message_id_synthetic
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@tracker.invalid")
    assert first.message_id.split("@")[0] == first.sha256[:32]
    changed = parse_message(raw.replace(b"Corps.", b"Autre corps."))
    assert changed.message_id != first.message_id
    assert "no Message-ID header" in first.defects


def test_a_looping_message_does_not_reference_itself():
    msg = parse_message(
        b"From: a@b.fr\nMessage-ID: <self@b.fr>\nIn-Reply-To: <self@b.fr>\n"
        b"References: <root@b.fr> <self@b.fr>\nSubject: x\n\nbody\n"
    )
    assert msg.references == ["root@b.fr"]
    assert msg.in_reply_to is None
    assert "the message refers to itself" in msg.defects


def test_absurdly_long_reference_lists_keep_the_root_and_the_latest():
    refs = " ".join(f"<id{n}@b.fr>" for n in range(500))
    msg = parse_message(f"From: a@b.fr\nReferences: {refs}\nSubject: x\n\nbody\n".encode())
    assert len(msg.references) == 100
    assert msg.references[0] == "id0@b.fr" and msg.references[-1] == "id499@b.fr"
    long_id = "x" * 300 + "@b.fr"
    msg = parse_message(f"From: a@b.fr\nIn-Reply-To: <{long_id}>\n\nbody\n".encode())
    assert msg.in_reply_to is None
    assert "In-Reply-To without a usable Message-ID" in msg.defects


# --- addresses and names ----------------------------------------------------------------


def test_encoded_word_display_names_and_a_character_split_across_two_words():
    msg = parse("encoded-word-names.eml")
    assert msg.from_ == Address("secretariat.cabinet@interieur.gouv.fr", "Ministère de l'Intérieur")
    assert msg.to == [
        Address("helene@collectif.example.org", "Hélène"),
        Address("jean@collectif.example.org", "Dupont, Jean"),
    ]
    assert msg.cc == [Address("eleonore@collectif.example.org", "Éléonore")]
    # the em dash's UTF-8 bytes are split between two base64 words
    assert msg.subject == "Réponse à votre lettre — été (suite)"
    assert msg.defects == []


@pytest.mark.parametrize("name", ["latin1-raw-headers.eml", "utf8-raw-headers.eml"])
def test_raw_8bit_headers_in_utf8_or_latin1(name):
    msg = parse(name)
    assert msg.from_ == Address("cabinet@sante.gouv.fr", "Ministère de la Santé")
    assert msg.subject == "Réponse à votre courrier"
    assert msg.subject_normalized == "réponse à votre courrier"
    assert msg.to[0] == Address("coordination@collectif.example.org", "Collectif")
    if name.startswith("latin1"):
        assert any("raw 8-bit subject header" in d for d in msg.defects)
    else:
        assert msg.to[1] == Address("helene@collectif.example.org", "Hélène Dupré")
        assert msg.defects == []


def test_one_bad_entry_does_not_lose_the_rest_of_the_list():
    msg = parse_message(
        b'From: a@b.fr\nTo: "Cabinet" <Cabinet@Interieur.gouv.fr>, pas une adresse, '
        b"Marie <marie@exemple.fr>\nSubject: x\n\nbody\n"
    )
    assert [a.address for a in msg.to] == ["cabinet@interieur.gouv.fr", "marie@exemple.fr"]
    assert msg.to[0].name == "Cabinet"
    assert any("unreadable To address" in d for d in msg.defects)


def test_several_to_headers_and_reply_to_sender_bcc():
    msg = parse_message(
        b"From: a@b.fr\nSender: Secretariat <sec@b.fr>\nReply-To: r1@b.fr, r2@b.fr\n"
        b"To: one@x.fr\nTo: two@x.fr\nBcc: hidden@x.fr\nSubject: x\n\nbody\n"
    )
    assert [a.address for a in msg.to] == ["one@x.fr", "two@x.fr"]
    assert [a.address for a in msg.reply_to] == ["r1@b.fr", "r2@b.fr"]
    assert msg.sender == Address("sec@b.fr", "Secretariat")
    assert [a.address for a in msg.bcc] == ["hidden@x.fr"]


def test_old_style_comment_names():
    msg = parse_message(b"From: barry@python.org (Barry A. Warsaw)\nSubject: x\n\nbody\n")
    assert msg.from_ == Address("barry@python.org", "Barry A. Warsaw")


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected, defect",
    [
        ("Tue, 14 May 2024 10:12:00 +0200", datetime(2024, 5, 14, 10, 12, tzinfo=timezone(timedelta(hours=2))), None),
        ("14 May 2024 10:12 -0330", datetime(2024, 5, 14, 10, 12, tzinfo=timezone(-timedelta(hours=3, minutes=30))), None),
        ("Tue, 14 May 2024 10:12:00 -0000", datetime(2024, 5, 14, 10, 12, tzinfo=timezone.utc), None),
        ("Tue, 14 May 2024 10:12:00", datetime(2024, 5, 14, 10, 12, tzinfo=timezone.utc), "without time zone"),
        ("2024-05-14T10:12:00+02:00", datetime(2024, 5, 14, 10, 12, tzinfo=timezone(timedelta(hours=2))), "ISO 8601"),
        ("Fri, 31 Feb 2023 10:00:00 +0100", None, "impossible Date"),
        ("Tue, 14 May 3609 10:12:00 +0200", None, "implausible year"),
        ("demain matin", None, "unreadable Date"),
    ],
)
def test_dates_keep_their_offset_or_are_none_with_a_defect(header, expected, defect):
    msg = parse_message(f"From: a@b.fr\nMessage-ID: <d@b.fr>\nDate: {header}\nSubject: x\n\nbody\n".encode())
    assert msg.date == expected
    if expected is not None:
        assert msg.date.utcoffset() == expected.utcoffset()
    if defect:
        assert any(defect in d for d in msg.defects), msg.defects
    else:
        assert msg.defects == []


# --- subjects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject, normalized",
    [
        ("Demande d'audience", "demande d'audience"),
        ("RE : Demande d'audience", "demande d'audience"),
        ("Re: Re: RE:Demande d'audience", "demande d'audience"),
        ("TR : RE: Demande d'audience", "demande d'audience"),
        ("TR: Fwd: Fw: Demande d'audience", "demande d'audience"),
        ("AW: WG: Demande d'audience", "demande d'audience"),
        ("Réf. : Rép. : Demande d'audience", "demande d'audience"),
        ("RE[2]: Re^3: Re(4): Demande d'audience", "demande d'audience"),
        ("[collectif-bureau] RE: [EXT] Demande   d'audience", "demande d'audience"),
        ("Réponse automatique : RE: Demande d'audience", "demande d'audience"),
        ("Automatic reply: Demande d'audience", "demande d'audience"),
        ("Accusé de réception : Demande d'audience", "demande d'audience"),
        ("Non remis : Demande d'audience", "demande d'audience"),
        ("Undeliverable: Demande d'audience", "demande d'audience"),
        ("  DEMANDE\u00a0D'AUDIENCE\t du 3 mai ", "demande d'audience du 3 mai"),
        ("Straße", "strasse"),
        # not prefixes: words that merely start like one
        ("Recours gracieux", "recours gracieux"),
        ("Travail: situation des mineurs", "travail: situation des mineurs"),
        ("Référé-liberté : audience", "référé-liberté : audience"),
        ("Re:", ""),
        ("", ""),
    ],
)
def test_normalize_subject(subject, normalized):
    assert normalize_subject(subject) == normalized


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("RrEeTtFfWwDdAa :：.[]()^0123456789éÉ\u00a0\tß")), max_size=40))
def test_normalize_subject_is_idempotent(subject):
    once = normalize_subject(subject)
    assert normalize_subject(once) == once
    assert once == once.strip() and "  " not in once


def test_subject_and_its_normalized_form_are_both_stored():
    msg = parse("windows-1252-8bit-body.eml")
    assert msg.subject == "RE : Demande d'audience"
    assert msg.subject_normalized == "demande d'audience"


def test_broken_encoded_words_are_left_readable():
    text = decode_words("=?utf-8?B?!!pas-du-base64?= =?x-inconnu?Q?R=E9ponse?= fin")
    assert text == "=?utf-8?B?!!pas-du-base64?= Réponse fin"


# --- bodies ------------------------------------------------------------------------------


def test_declared_windows_1252_wins_over_flanker_guessing():
    raw = load("windows-1252-8bit-body.eml")
    msg = parse_message(raw)
    assert msg.body_text == (
        "Voilà déjà où nous en sommes. À bientôt.\n"
    )
    assert msg.defects == []


@pytest.mark.parametrize("declared", ["iso-8859-1", "us-ascii", "windows-1252"])
def test_utf8_text_labelled_latin1_or_ascii_is_read_as_utf8(declared):
    raw = (
        f"From: a@b.fr\nSubject: x\nContent-Type: text/plain; charset={declared}\n"
        "Content-Transfer-Encoding: 8bit\n\nDéjà répondu.\n"
    ).encode("utf-8")
    msg = parse_message(raw)
    assert msg.body_text == "Déjà répondu.\n"
    assert any("but is UTF-8" in d for d in msg.defects)


def test_flanker_alone_garbles_what_we_read_right():
    """Why parse.py decodes bodies itself: flanker decodes a non-UTF-8 message whole by
    guessing its encoding, and here guesses a Cyrillic code page. If this starts
    failing, flanker stopped guessing and the workaround may go."""
    from flanker import mime

    raw = load("windows-1252-body-flanker-misreads.eml")
    assert "déjà" not in mime.from_string(raw).body
    assert parse_message(raw).body_text == "Voilà déjà où nous en sommes. À bientôt.\n"


def test_html_only_message_gets_a_text_body_from_its_html():
    msg = parse("html-only.eml")
    assert msg.body_html is not None and "<p>Madame,</p>" in msg.body_html
    assert msg.body_text == (
        "Madame,\n\nNous accusons réception de votre courrier du 14 mai.\nCordialement\n\n"
        "Le cabinet & le secrétariat"
    )
    assert "alert" not in msg.body_text and "color" not in msg.body_text


def test_html_to_text_survives_broken_markup():
    assert html_to_text("<p>a<br>b</p><div><span>c") == "a\nb\n\nc"
    assert html_to_text("<<<>>>&amp;&#x27;") .endswith("&'")


def test_a_huge_text_part_is_cut_between_characters_before_decoding():
    body = "é".encode() * (3 * 1024 * 1024)  # 6 MB of two-byte characters
    msg = parse_message(
        b"From: a@b.fr\nSubject: long\nContent-Type: text/plain; charset=utf-8\n\n" + body
    )
    assert msg.body_text == "é" * (1024 * 1024)
    assert any("cut at 4 MB before decoding" in d for d in msg.defects)
    assert not any("not valid" in d for d in msg.defects)


def test_text_body_is_capped_with_a_defect():
    body = b"a" * (1024 * 1024 + 10)
    msg = parse_message(b"From: a@b.fr\nSubject: long\n\n" + body)
    assert len(msg.body_text) == 1024 * 1024
    assert any("cut at" in d for d in msg.defects)


def test_a_named_text_part_is_the_body_when_there_is_no_other():
    raw = (
        b"From: a@b.fr\nSubject: x\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: text/plain; name=\"lettre.txt\"\n\nMadame,\n"
        b"--B\nContent-Type: text/plain; name=\"annexe.txt\"\n\nAnnexe\n"
        b"--B\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"x.txt\"\n\nX\n--B--\n"
    )
    msg = parse_message(raw)
    assert msg.body_text == "Madame,"
    assert sorted(a.filename for a in msg.attachments) == ["annexe.txt", "x.txt"]


# --- attachments -------------------------------------------------------------------------


def test_pdf_attachment_with_rfc2231_name_and_its_text():
    msg = parse("pdf-attachment-rfc2231-name.eml")
    # the line break before a boundary belongs to the boundary (RFC 2046)
    assert msg.body_text == "Veuillez trouver ci-joint notre réponse."
    assert msg.body_html is not None
    good, broken = msg.attachments
    assert good.filename == "réponse du ministère.pdf"
    assert good.content_type == "application/pdf"
    assert good.text is not None and "Reponse du ministere a votre lettre du 14 mai" in good.text
    import base64
    import hashlib
    import re

    encoded = re.search(rb"filename\*1\*=minist%C3%A8re.pdf\n\n(.*?)--=_sep", load(
        "pdf-attachment-rfc2231-name.eml"), re.S).group(1)
    data = base64.b64decode(encoded)
    assert good.size == len(data) and good.sha256 == hashlib.sha256(data).hexdigest()
    # an encoded-word name (not RFC 2231, but common) and a PDF that is not one
    assert broken.filename == "annexe cassée.pdf"
    assert broken.text is None
    assert any("PDF text unreadable" in d for d in msg.defects)


# --- classification headers and bounces --------------------------------------------------


def test_only_the_headers_classification_reads_are_kept():
    msg = parse("auto-reply-headers.eml")
    assert msg.headers == {
        "auto-submitted": "auto-replied",
        "x-autoreply": "yes",
        "precedence": "auto_reply",
        "x-auto-response-suppress": "All",
        "x-ms-exchange-inbox-rules-loop": "secretariat.cabinet@interieur.gouv.fr",
        "x-ms-exchange-organization-autoreply": "yes",
        "x-mailer": "Microsoft Outlook 16.0",
    }


def test_delivery_status_notification():
    msg = parse("dsn-bounce-french-ministry.eml")
    assert msg.is_delivery_report
    assert msg.original_message_id == "lettre-culture-1@collectif.example.org"
    first, second = msg.delivery_reports
    # Original-Recipient (the address we wrote to) wins over Final-Recipient
    assert first.recipient == "ancien.cabinet@culture.gouv.fr"
    assert (first.action, first.status) == ("failed", "5.1.1")
    assert first.diagnostic == (
        "550 5.1.1 <ancien.cabinet@culture.gouv.fr>: Recipient address rejected: User unknown"
    )
    assert (second.recipient, second.action, second.status) == ("secretariat@culture.gouv.fr", "delayed", "4.4.1")
    assert msg.body_text == "Votre message n'a pas pu être remis."
    assert msg.attachments == []


def test_an_ordinary_message_is_not_a_delivery_report():
    msg = parse("windows-1252-8bit-body.eml")
    assert not msg.is_delivery_report and msg.delivery_reports == [] and msg.original_message_id is None


# --- purity and hygiene ------------------------------------------------------------------


def test_records_pickle_for_worker_processes():
    msg = parse("pdf-attachment-rfc2231-name.eml")
    assert pickle.loads(pickle.dumps(msg)) == msg


def test_parsing_does_not_leak_flanker_warnings_to_logging(capsys, caplog):
    logging.basicConfig(level=logging.DEBUG)  # what `tracker -v` does
    caplog.set_level(logging.DEBUG)
    parse_message(
        b"From: a@b.fr\nTo: ((((, \x01\x02 <<>>, x@y.fr\nCc: \"\\\" <@>\nSubject: x\n\nsecret body\n"
    )
    captured = capsys.readouterr()
    assert "syntax error" not in captured.err and "lexer" not in captured.err
    assert not [r for r in caplog.records if r.name.startswith("flanker")]
    assert "secret body" not in caplog.text


def test_parse_raises_only_parse_failure():
    with pytest.raises(ParseFailure, match="expected bytes"):
        parse_message("From: a@b.fr\n\nbody")  # type: ignore[arg-type]


def test_a_truncated_message_id_loses_its_stray_bracket():
    """"<abc@d" (the closing bracket lost) is the id replies cite as <abc@d>."""
    msg = parse_message(b"Message-ID: <abc@d.example\nFrom: a@b.fr\nSubject: x\n\nbody\n")
    assert msg.message_id == "abc@d.example" and not msg.message_id_synthetic
    assert "Message-ID without angle brackets" in msg.defects
