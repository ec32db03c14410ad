"""Datasette's chrome in the page's language (templates overridden by name, the
``handle_exception`` hook): crumbs, menu, footer, error pages, the login page."""

from __future__ import annotations

import pytest

from tests.test_publish import Text, build_database, fetch

ENGLISH_CHROME = ["Powered by", "Log in", "Log out", "Record not found", "Error 404", "Database not found", ">home<"]
FRENCH_CHROME = ["Publié avec", "Se connecter", "Page introuvable", ">accueil<"]


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    return {lang: build_database(tmp_path_factory.mktemp("chrome-" + lang), language=lang) for lang in ("fr", "en")}


@pytest.mark.parametrize("path", ["/", "/-/threads", "/tracker/threads/t-sante-1", "/-/login"])
def test_french_pages_have_french_chrome(configs, path):
    response = fetch(configs["fr"], path)
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    for english in ENGLISH_CHROME:
        assert english not in response.text, (path, english)
    assert "accueil" in Text(response.text).text


@pytest.mark.parametrize("path", ["/tracker/threads/no-such-thread", "/no-such-database", "/tracker/nosuchtable"])
def test_errors_are_sentences_in_the_page_language(configs, path):
    fr = fetch(configs["fr"], path)
    assert fr.status_code == 404
    text = Text(fr.text).text
    assert "Page introuvable" in text and "Retour à l'accueil" in text
    assert "404" not in text and "not found" not in text.lower()
    en = fetch(configs["en"], path)
    assert en.status_code == 404 and "Page not found" in Text(en.text).text
    assert "introuvable" not in en.text
    assert fetch(configs["fr"], path + ".json").json()["status"] == 404  # JSON stays Datasette's


def test_english_pages_have_no_french_chrome(configs):
    for path in ("/", "/-/threads", "/-/login"):
        response = fetch(configs["en"], path)
        for french in FRENCH_CHROME:
            assert french not in response.text, (path, french)
        assert "Powered by" in response.text
