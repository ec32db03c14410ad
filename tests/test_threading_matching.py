"""The evidence that ties an answer to a letter without headers (tracker.matching): pure."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from tracker.parse import evidence as matching
from tracker.thread import matching as choosing
from tracker.thread.matching import Candidate


@pytest.mark.parametrize(
    "subject, key",
    [
        ("RE : Demande de rendez-vous", "demande de rendez vous"),
        ("TR: RE: Réf. : Demande", "demande"),
        ("Rép. : [AR] Accusé de réception : Hébergement d'urgence", "hebergement d urgence"),
        ("Réponse automatique : Plan national", "plan national"),
        ("AW: Fwd: Re: subject", "subject"),
        ("Relance : Mineurs non accompagnés", "mineurs non accompagnes"),
        ("2e relance : Mineurs non accompagnés", "mineurs non accompagnes"),
        ("Re: Rappel n°2 : Sujet", "sujet"),
        ("Areas of concern", "areas of concern"),  # "AR" is a prefix only before a colon
        ("RE:   Demande\u00a0de  rendez-vous  ", "demande de rendez vous"),
        ("", ""),
    ],
)
def test_subject_key(subject: str, key: str) -> None:
    assert matching.subject_key(subject) == key


def test_reminders() -> None:
    assert matching.is_reminder("Relance : X")
    assert matching.is_reminder("RE: 2ème relance : X")
    assert matching.is_reminder("Rappel: X")
    assert not matching.is_reminder("Demande de rappel des faits")
    assert not matching.is_reminder("RE : X")


def test_cited_dates() -> None:
    text = (
        "Suite à votre courrier du 3 octobre 2024 et à votre lettre en date du 03/10/2024,\n"
        "le rapport du 4 mai 2024 (pas un courrier), votre courrier électronique du 1er décembre 2024,\n"
        "your letter of 7 March 2025, votre message du 31/02/2024."
    )
    assert matching.cited_dates(text) == {"2024-10-03", "2024-12-01", "2025-03-07"}


def test_references() -> None:
    text = "N/Réf : CAB/2024/1234 - V/Réf. : CET-2024-017\nréférence DGS-2024-0173, COVID-19, rendez-vous"
    assert matching.references(text) == {"CAB/2024/1234", "CET-2024-017", "DGS-2024-0173"}


def test_quoted_subject_wrapped_over_two_lines() -> None:
    body = "Objet : Indemnisation des victimes en Provence-Alpes-Côte\nd'Azur\nN/Réf : CAB/2026/3734\n\nMadame,"
    assert "indemnisation des victimes en provence alpes cote d azur" in matching.quoted_subjects(body)
    assert matching.quoted_subjects("> Objet : Demande X\n> \n> Madame") == {"demande x"}


def test_letter_and_probe_keys_meet() -> None:
    sent = datetime(2024, 10, 2, 22, 30, tzinfo=timezone.utc)  # 3 October in Paris
    letter = matching.letter_keys("Demande de rendez-vous", "N/Réf : CET-2024-017\n", sent, ZoneInfo("Europe/Paris"))
    probe = matching.probe_keys(
        "Votre courrier du 3 octobre 2024 - N/Réf : CAB/2024/1234",
        "Madame,\nObjet : Demande de rendez-vous\nV/Réf : CET-2024-017\n",
    )
    assert letter & probe == {"d:2024-10-03", "s:demande de rendez vous", "r:CET-2024-017"}


def test_decide_match_needs_a_clear_winner() -> None:
    def c(thread: str, *keys: str) -> Candidate:
        return choosing.score(Candidate(thread), set(keys))

    best, ranked = choosing.decide_match([c("a", "s:x", "d:2024-10-03"), c("b", "s:x")])
    assert best is not None and best.thread_id == "a" and best.score == 7
    best, ranked = choosing.decide_match([c("a", "s:x"), c("b", "s:x")])
    assert best is None and [r.thread_id for r in ranked] == ["a", "b"]
    best, _ = choosing.decide_match([c("a", "d:2024-10-03"), c("b", "s:x")])
    assert best is None  # 4 against 3: not clear
    best, _ = choosing.decide_match([])
    assert best is None
    assert c("a", "s:x", "s:y").score == 3  # one kind of evidence counts once
