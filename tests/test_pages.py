"""tracker's own pages (tracker/web/pages.py) in-process: the threads list and its filters, the
unanswered letters, responsiveness in words, search results as threads, the home page's links
and bounced count, a bounced thread's explanation; French and English; privacy (nothing of the
private store, the login page for anonymous visitors when accounts exist)."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.test_publish import RAW_SECRET, Text, build_database, fetch
from tracker import store
from tracker import web as publish
from tracker.web.pages import fold

PAGES = ["/-/threads", "/-/unanswered", "/-/unanswered?group=1", "/-/responsiveness", "/-/search?q=retention"]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture(scope="module")
def french(tmp_path_factory):
    config = build_database(tmp_path_factory.mktemp("pages-fr"))
    db = store.open_db(config.database)
    # a bounced letter with its delivery report, and many threads for paging
    db["messages"].insert({"message_id": "<b1@collectif>", "sha256": "b1", "date": "2024-05-02T08:00:00+00:00",
                           "from_address": "mailer-daemon@collectif.example.org", "subject": "Undelivered Mail",
                           "direction": "incoming", "kind": "bounce", "body_text": "not delivered",
                           "delivery_reports": '[{"recipient": "ancien.cabinet@sante.gouv.fr", "action": "failed", '
                                               '"status": "5.1.1", "diagnostic": "550 5.1.1 User unknown"}]'},
                          alter=True)
    db["threads"].insert({"id": "t-bounced", "correspondent_id": "sante", "correspondent": "Ministère de la Santé",
                          "subject": "Hébergement des victimes", "status": "bounced",
                          "opened_at": "2024-05-02T07:00:00+00:00", "overdue": 0}, alter=True)
    db["thread_messages"].insert({"thread_id": "t-bounced", "message_id": "<b1@collectif>", "matched_by": "dsn"},
                                 alter=True)
    db["threads"].insert_all(
        [{"id": f"t-many-{i:03}", "correspondent_id": "justice", "correspondent": "Ministère de la Justice",
          "subject": f"Lettre numéro {i}", "status": "answered", "opened_at": "2023-01-01T10:00:00+00:00",
          "due_at": f"2023-{1 + i % 12:02}-{1 + i % 28:02}T23:59:59+01:00", "overdue": 0} for i in range(120)],
        alter=True)
    db.conn.close()
    return config


def page(config, path):
    response = fetch(config, path)
    assert response.status_code == 200, (path, response.text[:500])
    return response, Text(response.text)


def test_fold_removes_accents_and_case():
    assert fold("Hébergement ÉLÈVES Œuvre") == "hebergement eleves œuvre"
    assert fold(None) == ""


def test_threads_filter_is_accent_insensitive_and_sorted_by_due_date(french):
    _, plain = page(french, "/-/threads?q=hebergement")
    _, accented = page(french, "/-/threads?q=HÉBERGEMENT")
    assert "Hébergement des victimes" in plain.text and "Hébergement des victimes" in accented.text
    assert "1 fil" in plain.text and "1 fils" not in plain.text
    _, soins = page(french, "/-/threads?q=acces+aux+soins")
    assert "Accès aux soins des personnes retenues" in soins.text
    response, text = page(french, "/-/threads?correspondent=justice&status=answered")
    dues = re.findall(r'<time datetime="([^"]+)">', response.text.split("<tbody>")[1])[::2]
    assert dues == sorted(dues) and dues
    assert "répondu" in text.text and "answered" not in text.text
    assert not ISO.search(text.text)


def test_threads_filters_status_overdue_period_and_paging(french):
    _, overdue = page(french, "/-/threads?overdue=1")
    assert "Accès aux soins" in overdue.text and "Lettre numéro" not in overdue.text
    _, bounced = page(french, "/-/threads?status=bounced")
    assert "Hébergement des victimes" in bounced.text and "Accès aux soins" not in bounced.text
    _, period = page(french, "/-/threads?since=01/03/2024&until=2024-03-31")
    assert "Accès aux soins" in period.text and "Conditions de rétention" not in period.text
    _, wrong = page(french, "/-/threads?since=demain")
    assert "n'est pas une date" in wrong.text
    first, text = page(french, "/-/threads")
    assert "page 1 sur 3" in text.text and "1 à 50 sur" in text.text
    second_link = re.search(r'href="([^"]*page=2[^"]*)" rel="next"', first.text).group(1)
    _, second = page(french, second_link.replace("&amp;", "&"))
    assert "page 2 sur 3" in second.text and "Page précédente" in second.text
    _, beyond = page(french, "/-/threads?page=99")
    assert "page 3 sur 3" in beyond.text
    # words to find: counted in the same pass as the page, and past the last page the last one
    _, words = page(french, "/-/threads?q=numero&page=2")
    assert "page 2 sur 3" in words.text and "51 à 100 sur 120" in words.text
    _, words_beyond = page(french, "/-/threads?q=numero&page=99")
    assert "page 3 sur 3" in words_beyond.text and "101 à 120 sur 120" in words_beyond.text
    # a correspondent's name matches too (folded): its 121 threads, whatever their subjects
    _, justice = page(french, "/-/threads?q=JUSTICE")
    assert "sur 121" in justice.text and "Lettre numéro" in justice.text
    _, none = page(french, "/-/threads?q=zzzqqq&page=3")
    assert "Lettre numéro" not in none.text


def test_unanswered_grouped_and_bounced(french):
    _, text = page(french, "/-/unanswered")
    assert "Accès aux soins des personnes retenues" in text.text and "en retard de" in text.text
    assert "Conditions de rétention" not in text.text  # answered
    assert "Hébergement des victimes" in text.text  # in the bounced section
    _, grouped = page(french, "/-/unanswered?group=1")
    assert "Ministère de la Santé · 1 fil" in grouped.text


def test_responsiveness_in_words(french):
    response, text = page(french, "/-/responsiveness")
    assert "des lettres ont reçu une réponse" in text.text
    assert "trop peu de lettres pour conclure" in text.text
    assert re.search(r"\d+\u00a0%", response.text)
    assert not re.search(r"0\.\d{2,}|\d+\.0\b", text.text)


def test_search_returns_threads_with_status_and_passage(french):
    response, text = page(french, "/-/search?q=retention")
    assert "Conditions de rétention administrative" in text.text
    assert "répondu" in text.text and "<mark>" in response.text
    assert "dans reponse-ministere.pdf" in text.text or "dans un message" in text.text
    assert re.search(r"\b1 fil trouvé\b|\b\d+ fils trouvés\b", text.text)
    _, none = page(french, "/-/search?q=zzzqqq")
    assert "Aucun fil ne contient" in none.text


def test_home_links_counts_to_the_ministry_page_and_counts_bounced(french):
    response, text = page(french, "/")
    assert "1 lettre non distribuée" in text.text
    assert 'href="/-/threads?status=bounced"' in response.text
    assert 'href="/tracker/correspondents/sante#overdue"' in response.text
    assert "letters_to?correspondent" not in response.text
    _, ministry = page(french, "/tracker/correspondents/sante")
    assert "En retard · 1 fil" in ministry.text


def test_bounced_thread_says_which_address_failed_and_what_to_do(french):
    _, text = page(french, "/tracker/threads/t-bounced")
    assert "Adresse refusée : ancien.cabinet@sante.gouv.fr" in text.text
    assert "Que faire" in text.text and "renvoyez la lettre" in text.text


def test_english_pages(tmp_path):
    config = build_database(tmp_path, language="en")
    for path in PAGES:
        _, text = page(config, path)
        assert "fils" not in text.text and "Filtrer" not in text.text, path
    _, threads = page(config, "/-/threads")
    assert "thread" in threads.text and "Overdue only" in threads.text


def test_pages_serve_nothing_private_and_ask_anonymous_visitors_to_log_in(french, tmp_path):
    for path in PAGES + ["/-/search?q=RAW"]:
        response = fetch(french, path)
        assert RAW_SECRET.decode() not in response.text, path
    from datasette_auth_passwords.utils import hash_password

    config = build_database(
        tmp_path, extra=f'[auth]\npassword_hashes = {{ alice = "{hash_password("s3cret-pass")}" }}\n')

    async def go():
        ds = publish.make_datasette(config)
        await ds.invoke_startup()
        anonymous = [await ds.client.get(p) for p in PAGES]
        good = await ds.client.post("/-/login", data={"username": "alice", "password": "s3cret-pass"})
        logged = [await ds.client.get(p, cookies={"ds_actor": good.cookies["ds_actor"]}) for p in PAGES]
        return anonymous, logged

    anonymous, logged = asyncio.run(go())
    for path, response in zip(PAGES, anonymous):
        assert response.status_code == 302 and response.headers["location"] == "/-/login", path
        assert "Santé" not in response.text, path
    for path, response in zip(PAGES, logged):
        assert response.status_code == 200, path


def test_threads_as_french_csv_from_the_web(french):
    """/-/threads?format=csv: the filtered threads, every page, semicolons, BOM, dd/mm/yyyy,
    French headers and values; csv-comma keeps ISO dates and raw values; the page links both."""
    _, shown = page(french, "/-/threads?status=answered")
    assert "format=csv" in fetch(french, "/-/threads?status=answered").text
    response = fetch(french, "/-/threads?status=answered&format=csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text[1:].splitlines()
    assert lines[0] == "Identifiant;Destinataire;Objet;Statut;Premier envoi;Échéance;Dernière réponse;En retard"
    assert len(lines) > 120  # the 120 answered threads of the fixture and more: every page, not 50
    assert re.search(r";\d\d/\d\d/\d{4};", text) and not ISO.search(text)
    assert ";répondu;" in text and "answered" not in text and text.rstrip().endswith(";non")
    comma = fetch(french, "/-/threads?status=answered&format=csv-comma").text
    assert not comma.startswith("\ufeff") and comma.splitlines()[0] == "id,correspondent,subject,status,opened_at,due_at,last_reply_at,overdue"
    assert ",answered," in comma and ISO.search(comma)


def test_unanswered_shows_the_oldest_and_links_the_rest(tmp_path, monkeypatch):
    """A page of thousands of overdue letters took seconds (bench/datasette.py): the oldest
    UNANSWERED_SHOWN are listed, counted out of all, and the threads list has the rest."""
    from tracker.web import pages

    config = build_database(tmp_path)
    db = store.open_db(config.database)
    db["threads"].insert_all(
        [{"id": f"t-late-{i}", "correspondent_id": "justice", "correspondent": "Ministère de la Justice",
          "subject": f"Retard {i}", "status": "awaiting_reply", "opened_at": "2023-01-01T10:00:00+00:00",
          "due_at": f"2023-03-0{i + 1}T23:59:59+01:00", "overdue": 1} for i in range(3)], alter=True)
    db.conn.close()
    everything, _ = page(config, "/-/unanswered")
    assert 'class="more"' not in everything.text  # 4 overdue letters, all shown
    monkeypatch.setattr(pages, "UNANSWERED_SHOWN", 2)
    response, _ = page(config, "/-/unanswered")
    assert "Les 2 plus anciennes des 4 lettres en retard sont affichées." in response.text
    assert 'href="/-/threads?overdue=1"' in response.text
    assert "<strong>4 fils</strong>" in response.text
    assert "Retard 0" in response.text and "Retard 2" not in response.text  # the oldest first


def test_a_correspondents_page_lists_50_threads_and_links_to_the_rest(french):
    response, text = page(french, "/tracker/correspondents/justice")
    rows = response.text.split('<h2>Fils avec ce destinataire</h2>')[1].count("<tr>") - 1  # the header row
    assert rows == 50
    assert "Voir les 121 fils de ce destinataire" in text.text
    assert "/-/threads?correspondent=justice" in response.text


def test_a_thread_page_counts_its_messages_in_words(french):
    _, one = page(french, "/tracker/threads/t-bounced")
    assert "· 1 message ·" in one.text and "1 messages" not in one.text
    _, two = page(french, "/tracker/threads/t-sante-1")
    assert "· 2 messages ·" in two.text
