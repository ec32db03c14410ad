"""Co-signers (issue 18): the member associations in the config, a letter's co-signers set and
cleared from the CLI, and suggestions from a letter's text and its PDF's text where a member's
name, short name or alias appears as words; on the generated demo with three letters of ours."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.cli import cli
from tracker.config import ConfigError, load
from tracker.demo.generate import generate
from tracker.demo.mime import make_pdf
from tracker.thread import commitments
from tracker.thread.commitments import CommitmentError

MEMBERS = """
[[members]]
name = "Amicale du Nid"
short_name = "Amicale du Nid"

[[members]]
name = "Comité contre l'esclavage moderne"
short_name = "CCEM"
aliases = ["C.C.E.M."]

[[members]]
name = "Association pour la réadaptation sociale"
short_name = "ARS"
"""
US = "coordination@ensemble-traite.example.org"
IN_BODY = "<cosign-body@ensemble-traite.example.org>"
IN_PDF = "<cosign-pdf@ensemble-traite.example.org>"
NONE = "<cosign-none@ensemble-traite.example.org>"


def letter(mid: str, day: str, subject: str, body: str, pdf: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Coordination <{US}>"
    msg["To"] = "secretariat.cabinet@interieur.gouv.fr"
    msg["Subject"] = subject
    msg["Date"] = f"{day} 10:00:00 +0200"
    msg["Message-ID"] = mid
    msg.set_content(body)
    if pdf is not None:
        msg.add_attachment(make_pdf(pdf, title="Lettre"), maintype="application", subtype="pdf",
                           filename="lettre.pdf")
    return msg.as_bytes()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cosigners")
    generate(out, letters=40)
    config = out / "tracker.toml"
    config.write_text(config.read_text("utf-8") + MEMBERS, "utf-8")
    ours = out / "ours"
    ours.mkdir()
    (ours / "body.eml").write_bytes(letter(
        IN_BODY, "Tue, 21 Apr 2015", "Protection des victimes de la traite",
        "Monsieur le Ministre,\n\nL'Amicale du Nid et le CCEM vous écrivent au sujet de la protection des "
        "victimes.\n\nLes associations signataires."))
    (ours / "pdf.eml").write_bytes(letter(
        IN_PDF, "Wed, 22 Apr 2015", "Circulaire aux préfets", "Veuillez trouver notre courrier ci-joint.",
        pdf="Signataires : C.C.E.M., Association pour la réadaptation sociale."))
    (ours / "none.eml").write_bytes(letter(
        NONE, "Thu, 23 Apr 2015", "Demande de rendez-vous",
        "Nous sollicitons un rendez-vous. Nos arsenaux juridiques sont nidifiés."))
    for sources in ([out / "mailbox"], sorted(ours.iterdir())):
        result = CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", *map(str, sources)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return config


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def open_demo(path: Path):
    config = load(path)
    return config, store.open_db(config.database, private=config.private_database)


def test_members_come_from_the_config(demo):
    config = load(demo)
    assert [(m.slug, m.name) for m in config.members] == [
        ("amicale-du-nid", "Amicale du Nid"), ("ccem", "Comité contre l'esclavage moderne"),
        ("ars", "Association pour la réadaptation sociale")]
    assert config.members[1].aliases == ["C.C.E.M."]
    assert commitments.member(config, "comité contre l'esclavage MODERNE").slug == "ccem"


def test_two_members_with_one_name_are_refused(tmp_path, demo):
    twice = tmp_path / "tracker.toml"
    twice.write_text(demo.read_text("utf-8") + '\n[[members]]\nname = "Amicale du Nid"\n', "utf-8")
    with pytest.raises(ConfigError, match="two members are named Amicale du Nid"):
        load(twice)


def test_suggestions_from_the_body_and_the_pdf(demo):
    config, db = open_demo(demo)
    assert commitments.suggest_cosigners(db, config, IN_BODY) == ["amicale-du-nid", "ccem"]
    # the body names nobody; the PDF names the CCEM by its alias and ARS by its full name
    assert "C.C.E.M." in db.execute("select text from attachments where message_id = ?", [IN_PDF.strip("<>")]).fetchone()[0]
    assert commitments.suggest_cosigners(db, config, IN_PDF) == ["ccem", "ars"]
    # words only: "arsenaux" is not ARS, "nidifiés" not the Nid
    assert commitments.suggest_cosigners(db, config, NONE) == []


def test_set_show_and_clear_from_the_cli(demo):
    config, db = open_demo(demo)
    shown = run(demo, "cosigners", IN_BODY)
    assert "co-signers: none" in shown and "named in the letter: amicale-du-nid, ccem" in shown
    assert db.execute("select count(*) from cosigners").fetchone()[0] == 0  # suggestions are not set
    out = run(demo, "cosigners", IN_BODY, "--set", "Amicale du Nid", "--set", "ccem", "--by", "claire")
    assert out.strip() == "co-signers: amicale-du-nid, ccem"
    assert db.execute("select member, set_by from cosigners where message_id = ? order by member",
                      [IN_BODY.strip("<>")]).fetchall() == [("amicale-du-nid", "claire"), ("ccem", "claire")]
    assert commitments.letters_of_member(db, "ccem") == [IN_BODY.strip("<>")]
    run(demo, "cosigners", IN_PDF, "--set", "ARS")
    assert "co-signers: amicale-du-nid, ccem" in run(demo, "cosigners", IN_BODY)
    # --set replaces the list
    assert run(demo, "cosigners", IN_BODY, "--set", "CCEM").strip() == "co-signers: ccem"
    assert commitments.letters_of_member(db, "amicale-du-nid") == []
    assert run(demo, "cosigners", IN_BODY, "--clear").strip() == "co-signers: none"
    assert commitments.cosigners_of(db) == {IN_PDF.strip("<>"): ["ars"]}


def test_refusals_say_what_to_do(demo):
    config, db = open_demo(demo)
    out = run(demo, "cosigners", IN_BODY, "--set", "Ligue des Songes", code=1)
    assert 'no member association is called "Ligue des Songes"' in out and "amicale-du-nid, ccem, ars" in out
    incoming = db.execute("select message_id from messages where direction = 'incoming' limit 1").fetchone()[0]
    with pytest.raises(CommitmentError, match="no letter has the Message-ID"):
        commitments.set_cosigners(db, config, incoming, ["ccem"])
    assert "no letter has the Message-ID <nowhere@x>" in run(demo, "cosigners", "<nowhere@x>", code=1)
