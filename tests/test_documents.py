"""Letters written in Word or LibreOffice: the text of .docx, .odt, .rtf and .doc attachments is read
at parse time (bounded like a PDF's), stored with the attachment and found by search, which
names the attachment. The documents are made here with python-docx and odfpy; the Word 97 .doc
is a real one from textract's test suite (tests/fixtures/documents), read by antiword."""

from __future__ import annotations

import io
import sqlite3
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import write_config
from tracker.cli import cli
from tracker.parse import parse_message
from tracker.parse.documents import document_text
from tracker.web.plugin import fts_query
from tracker.web.queries import SEARCH_SQL

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table):
            for cell, value in zip(row.cells, values):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_odt(paragraphs: list[str], heading: str = "") -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    if heading:
        document.text.addElement(H(outlinelevel=1, text=heading))
    for text in paragraphs:
        document.text.addElement(P(text=text))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def message(attachment: bytes, filename: str, ctype: str, *, subject: str = "Notre courrier",
            sender: str = "coordination@collectif.example.org", to: str = "cabinet@interieur.gouv.fr",
            message_id: str = "<doc-1@collectif.example.org>", date: str = "Mon, 06 Jan 2025 10:00:00 +0100") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"], msg["Date"] = sender, to, subject, message_id, date
    msg.set_content("Veuillez trouver ci-joint notre courrier.\n")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


LETTER = [
    "Paris, le 6 janvier 2025",
    "N/Réf : COLL/2025/0042",
    "Objet : hébergement des victimes de la traite à Marseille",
    "Monsieur le Ministre, nous appelons votre attention sur la situation des personnes hébergées.",
]


def test_docx_text_with_its_tables_is_read_at_parse_time() -> None:
    data = make_docx(LETTER, table=[["Signataires", "Collectif Ensemble"], ["Contact", "Amandine Roux"]])
    parsed = parse_message(message(data, "courrier.docx", DOCX))
    [attachment] = parsed.attachments
    assert "N/Réf : COLL/2025/0042" in attachment.text
    assert "hébergement des victimes" in attachment.text
    assert "Amandine Roux" in attachment.text  # a table cell
    assert not parsed.defects


def test_odt_text_with_its_headings_is_read_at_parse_time() -> None:
    data = make_odt(LETTER, heading="Lettre ouverte au ministre")
    parsed = parse_message(message(data, "courrier.odt", ODT))
    [attachment] = parsed.attachments
    assert "Lettre ouverte au ministre" in attachment.text
    assert "COLL/2025/0042" in attachment.text and "situation des personnes hébergées" in attachment.text


def test_rtf_text_is_read_with_its_accents() -> None:
    rtf = rb"{\rtf1\ansi\ansicpg1252 Objet : h\'e9bergement d'urgence\par Madame la Pr\'e9fete\par}"
    parsed = parse_message(message(rtf, "courrier.rtf", "application/rtf"))
    assert "hébergement d'urgence" in parsed.attachments[0].text
    assert "Madame la Préfete" in parsed.attachments[0].text


def test_a_document_is_recognised_by_its_name_when_sent_as_octet_stream() -> None:
    parsed = parse_message(message(make_docx(LETTER), "Courrier.DOCX", "application/octet-stream"))
    assert "COLL/2025/0042" in parsed.attachments[0].text


def test_a_zip_bomb_dressed_as_docx_is_refused_before_it_inflates() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", b"<" + b" " * (64 * 1024 * 1024) + b">")
    data = out.getvalue()
    assert len(data) < 200_000
    defects: list[str] = []
    started = time.process_time()
    assert document_text("docx", data, defects) is None
    assert time.process_time() - started < 0.5
    assert defects == ["docx text extraction stopped early (size or time limit)"]


def test_a_broken_document_is_a_defect_not_a_failure() -> None:
    parsed = parse_message(message(b"PK\x03\x04 not really a zip", "courrier.odt", ODT))
    assert parsed.attachments[0].text is None
    assert "odt text unreadable (BadZipFile)" in parsed.defects


def test_docx_and_odt_letters_are_searchable_and_results_name_the_attachment(tmp_path: Path) -> None:
    mails = tmp_path / "mail"
    mails.mkdir()
    (mails / "a.eml").write_bytes(message(make_docx(["Objet : les mineurs isolés de Calais"]), "lettre-calais.docx", DOCX,
                                          message_id="<docx@collectif.example.org>"))
    (mails / "b.eml").write_bytes(message(make_odt(["Objet : la plateforme de Vintimille"]), "lettre-vintimille.odt", ODT,
                                          message_id="<odt@collectif.example.org>"))
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", str(mails)])
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(tmp_path / "tracker.db")
    db.create_function("tracker_fts", 1, fts_query, deterministic=True)
    for word, filename in (("Calais", "lettre-calais.docx"), ("Vintimille", "lettre-vintimille.odt")):
        rows = db.execute(SEARCH_SQL, {"q": word}).fetchall()
        assert [(r[0], r[3]) for r in rows] == [("attachment", filename)], word


DOC_FIXTURE = Path(__file__).parent / "fixtures" / "documents" / "textract-raw_text.doc"


def _words(text: str) -> list[str]:
    return text.split()


def test_a_real_word_97_doc_is_read_by_antiword_as_its_source_says() -> None:
    expected = (DOC_FIXTURE.with_suffix(".txt")).read_text(encoding="utf-8")
    parsed = parse_message(message(DOC_FIXTURE.read_bytes(), "courrier.doc", "application/msword"))
    assert parsed.defects == []
    assert _words(parsed.attachments[0].text) == _words(expected)  # textract's own expected text


def test_without_antiword_a_doc_is_kept_with_a_defect_saying_how_to_read_it(monkeypatch) -> None:
    from tracker.parse import documents

    monkeypatch.setattr(documents.shutil, "which", lambda name: None)
    parsed = parse_message(message(DOC_FIXTURE.read_bytes(), "courrier.doc", "application/octet-stream"))
    assert parsed.attachments[0].text is None and parsed.attachments[0].size == DOC_FIXTURE.stat().st_size
    assert parsed.defects == ["doc not read: antiword is not installed (apt-get install antiword)"]


def test_a_broken_doc_is_a_defect_not_a_failure() -> None:
    parsed = parse_message(message(b"\xd0\xcf\x11\xe0 not really a Word file" * 20, "courrier.doc", "application/msword"))
    assert parsed.attachments[0].text is None
    assert any(d.startswith("doc text unreadable") for d in parsed.defects), parsed.defects


def test_a_doc_letter_is_searchable_and_the_result_names_it(tmp_path: Path) -> None:
    mails = tmp_path / "mail"
    mails.mkdir()
    (mails / "a.eml").write_bytes(message(DOC_FIXTURE.read_bytes(), "lettre-word97.doc", "application/msword",
                                          message_id="<doc97@collectif.example.org>"))
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", str(mails)])
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(tmp_path / "tracker.db")
    db.create_function("tracker_fts", 1, fts_query, deterministic=True)
    rows = db.execute(SEARCH_SQL, {"q": "Truffaut"}).fetchall()  # a word only in the .doc
    assert [(r[0], r[3]) for r in rows] == [("attachment", "lettre-word97.doc")]
