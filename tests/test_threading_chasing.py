"""Letters that share a subject, the letter a reminder chases, and answers that say what they
answer (issue 19): the pure rules, on records."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tracker.parse import evidence
from tracker.thread import matching
from tracker.thread.lookup import Letter, answered_dates, group_letters
from tracker.thread.matching import Candidate


def letter(mid: str, when: str, subject: str = "formation des agents", *, reminder: bool = False,
           conversation: str | None = None, refs: tuple = (), cited: tuple = ()) -> Letter:
    return Letter(mid, f"{when}T09:00:00+00:00", conversation or f"c-{mid}", "", subject, reminder,
                  day=when, refs=refs, cited=cited)


def threads(letters: list[Letter], replies: list[tuple] = ()) -> list[set[str]]:
    answered_dates(letters, replies)
    grouped: dict[str, set[str]] = {}
    for mid, tid in group_letters(letters, "justice").items():
        grouped.setdefault(tid, set()).add(mid)
    return sorted(grouped.values(), key=min)


def test_letters_sharing_a_subject_open_their_own_threads() -> None:
    assert threads([letter("a", "2025-03-03"), letter("b", "2025-06-02")]) == [{"a"}, {"b"}]


def test_a_reminder_chases_the_letter_whose_date_it_cites() -> None:
    letters = [letter("a", "2025-03-03"), letter("b", "2025-06-02"),
               letter("r", "2025-07-01", reminder=True, cited=("2025-03-03",))]
    assert threads(letters) == [{"a", "r"}, {"b"}]


def test_a_reminder_without_a_date_chases_the_latest_unanswered_letter_of_its_subject() -> None:
    letters = [letter("a", "2025-03-03"), letter("b", "2025-06-02"), letter("r", "2025-07-01", reminder=True)]
    # b was answered (a reply in its conversation) before the reminder: the reminder chases a
    assert threads(letters, [("2025-06-20T10:00:00+00:00", "c-b", [])]) == [{"a", "r"}, {"b"}]
    # answered after the reminder, b was still open when it was sent: the latest wins
    assert threads(letters, [("2025-07-20T10:00:00+00:00", "c-b", [])]) == [{"a"}, {"b", "r"}]
    # a reply citing b's date and subject answers b as well; its date alone does not
    cited = ["d:2025-06-02", "s:formation des agents"]
    assert threads(letters, [("2025-06-20T10:00:00+00:00", None, cited)]) == [{"a", "r"}, {"b"}]
    assert threads(letters, [("2025-06-20T10:00:00+00:00", None, cited[:1])]) == [{"a"}, {"b", "r"}]


def test_a_reminder_by_headers_or_reference_and_one_that_chases_nothing() -> None:
    letters = [letter("a", "2025-03-03", refs=("CET-2025-001",)), letter("b", "2025-06-02"),
               letter("r", "2025-07-01", reminder=True, conversation="c-a"),
               letter("s", "2025-07-02", "autre sujet", reminder=True, refs=("CET-2025-001",)),
               letter("t", "2025-07-03", "encore un autre", reminder=True)]
    assert threads(letters) == [{"a", "r", "s"}, {"b"}, {"t"}]


def test_reminders_said_in_words() -> None:
    body = ("Madame,\n\nNous nous permettons de revenir vers vous au sujet de notre courrier du "
            "3 mars 2025 relatif à la formation des agents.\n")
    keys = evidence.evidence_keys("letter", "Formation des agents", "2025-07-01T09:00:00+00:00", body,
                                  ZoneInfo("Europe/Paris"))
    assert "reminder" in keys and "c:2025-03-03" in keys
    assert evidence.is_reminder("Formation", "Notre lettre du 3 mars, restée à ce jour sans réponse, ...")
    assert not evidence.is_reminder("Formation", "Nous revenons vers vous pour vous proposer une réunion.")


def test_what_an_answer_says_it_answers() -> None:
    subject = "Réponse à votre courrier du 15 septembre 2025 relatif à : Hébergement sécurisé des victimes de traite"
    keys = evidence.probe_keys(subject, "Madame,\n\nVeuillez trouver ci-joint la réponse.\n")
    assert "s:hebergement securise des victimes de traite" in keys and "d:2025-09-15" in keys
    body = "Veuillez trouver ci-joint notre réponse concernant « Mendicité forcée », que\nvous"
    assert "s:mendicite forcee" in evidence.probe_keys("Réponse", body)
    wrapped = "la réponse à votre courrier du 3 mars 2025 au sujet de la FORMATION DES\nAGENTS.\n\nCordialement"
    assert "s:formation des agents" in evidence.probe_keys("Réponse", wrapped)
    # in the text of an attachment only
    pdf = "Ministère\nObjet : Formation des agents\nMadame,"
    assert "s:formation des agents" not in evidence.probe_keys("Réponse", "Ci-joint.")
    assert "s:formation des agents" in evidence.probe_keys("Réponse", "Ci-joint.", pdf)


def test_a_cited_date_narrows_and_the_subject_named_decides() -> None:
    def c(thread: str, *keys: str) -> Candidate:
        return matching.score(Candidate(thread), set(keys))

    ranked = [c("a", "d:2025-03-03"), c("b", "d:2025-03-03")]
    subjects = {"a": ["hebergement securise des victimes en ile de france"], "b": ["mendicite forcee"]}
    assert matching.decide_match(ranked)[0] is None  # the date alone does not decide
    partial = ["hebergement securise des victimes"]
    assert matching.break_tie(ranked, partial, subjects).thread_id == "a"
    # words both subjects have, or too few of the winner's, decide nothing
    both = {"a": ["hebergement des victimes"], "b": ["hebergement des mineurs victimes"]}
    assert matching.break_tie(ranked, ["hebergement des victimes"], both) is None
    assert matching.break_tie(ranked, ["ile de france"], subjects) is None
    assert matching.break_tie([c("a", "s:x"), c("b")], partial, subjects) is None  # not tied
