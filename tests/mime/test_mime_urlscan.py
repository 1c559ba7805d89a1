"""Text links found from the literals every match needs: the same matches as finditer."""

from __future__ import annotations

import random

import pytest

from mailward.mime._urlscan import text_url_matches
from mailward.mime.urls import _TEXT_URL

TEXTS = [
    "", "no links here", "see https://example.com/a and www.example.org.",
    "HTTPS://EXAMPLE.COM WwW.x.y http\u017f://z.example ftp://f.example/x",
    "x://nope a.www.nope mail@www.nope wwww.yes.example", "\u0130stanbul www.example.com http://a.b",
    "http://a.example/http://b.example www.www.example", "://", "www.",
    "www.é.example wWw.x.example é", "é WWW.x Ww.no w.no wwww.yes ww", "ñWw.no xWWW.y.example",
    # characters past Latin-1 (searched as "?"), surrogates, astral ones: positions kept
    "\u20ac www.a.example \U0001f600https://b.example/\u0100 \udc80WWW.c.example",
    "\U0001f600\U0001f600://x \u0130www.d.example \u212a http://e.example \u0101ww.no",
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_matches_as_finditer(text: str) -> None:
    mine = [(m.span(), m[0]) for m in text_url_matches(_TEXT_URL, text)]
    assert mine == [(m.span(), m[0]) for m in _TEXT_URL.finditer(text)]


def test_links_are_found_and_a_scheme_alone_is_not() -> None:
    found = [m[0] for m in text_url_matches(_TEXT_URL, "go to https://a.example or www.b.example")]
    assert found == ["https://a.example", "www.b.example"]
    assert list(text_url_matches(_TEXT_URL, "x://nope and a.www.nope")) == []


def test_random_texts_give_the_same_matches() -> None:
    """Non-ASCII texts too (their "www." is found from "w." and "W.")."""
    rng = random.Random(3)
    for _ in range(3000):
        text = "".join(rng.choice("wW.wé :/hpst\u0130x") for _ in range(rng.randint(0, 30)))
        test_the_same_matches_as_finditer(text)
    pieces = ["http", "HTTPS", "ftp", "htt\u017f", "tp", "s", "://", ":/", "www.", "w", "W",
              ".", "é", " ", "x", "_", "-", "\u0130", "a.example", "/p?q", "\u20ac", "\udc80",
              "\U0001f600", "\u0175", "\u212a"]  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        test_the_same_matches_as_finditer(text)
