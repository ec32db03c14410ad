"""Our tokenizer (``parse.mime._tokenize``) finds exactly the tokens of flanker's own
``scanner.tokenize``: it only skips the positions where flanker's pattern cannot match."""

from __future__ import annotations

import pytest
from flanker.mime.message import scanner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.parse import mime as parse
from tests.test_corpora import corpus_messages


def shape(tokens) -> list[tuple]:
    """Tokens as comparable tuples (flanker's Boundary compares values only)."""
    out = []
    for token in tokens:
        if isinstance(token, scanner.Boundary):
            out.append(("boundary", token.value, token.start, token.end, token.final))
        elif isinstance(token, str):
            out.append(("empty", token))
        else:
            out.append(("content-type", token.value, sorted(token.params.items())))
    return out


def test_same_tokens_as_flanker_on_every_corpus_message() -> None:
    compared = 0
    for name, raw in corpus_messages():
        text = raw.decode("latin-1")
        assert shape(parse._tokenize(text)) == shape(scanner.tokenize(text)), name
        compared += 1
    assert compared > 500


LINES = st.sampled_from([
    "Content-Type: multipart/mixed; boundary=\"b1\"", "content-type: text/plain; charset=utf-8",
    "CONTENT-TYPE: message/rfc822", "Content-Type: multipart/alternative;", "\tboundary=b2",
    " charset=\"iso-8859-1\"", "--b1", "--b1--", "--b2", "--b2--", "----", "--", "", "\r", "body text",
    "c", "Content-Typo: x", "Content-Type: t\u00e9xt/plain", "-", "\u0085--b1", "x--b1", "ContenT-type:",
])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(lines=st.lists(LINES, max_size=40), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       tail=st.booleans())
def test_same_tokens_as_flanker_on_any_arrangement_of_lines(lines, newline, tail) -> None:
    text = newline.join(lines) + (newline if tail else "")
    assert shape(parse._tokenize(text)) == shape(scanner.tokenize(text))


@pytest.mark.parametrize("text", ["", "\n", "\n\n--x\n", "Content-Type: multipart/mixed; boundary=x\n\n--x\nhi\n--x--"])
def test_same_tokens_as_flanker_on_edge_cases(text: str) -> None:
    assert shape(parse._tokenize(text)) == shape(scanner.tokenize(text))
