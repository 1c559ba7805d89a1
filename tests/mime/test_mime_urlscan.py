"""Text links found from the literals every match needs: the same matches as finditer."""

from __future__ import annotations

import pytest

from mailward.mime._urlscan import text_url_matches
from mailward.mime.urls import _TEXT_URL

TEXTS = [
    "", "no links here", "see https://example.com/a and www.example.org.",
    "HTTPS://EXAMPLE.COM WwW.x.y http\u017f://z.example ftp://f.example/x",
    "x://nope a.www.nope mail@www.nope wwww.yes.example", "İstanbul www.example.com http://a.b",
    "http://a.example/http://b.example www.www.example", "://", "www.",
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_matches_as_finditer(text: str) -> None:
    mine = [(m.span(), m[0]) for m in text_url_matches(_TEXT_URL, text)]
    assert mine == [(m.span(), m[0]) for m in _TEXT_URL.finditer(text)]


def test_links_are_found_and_a_scheme_alone_is_not() -> None:
    found = [m[0] for m in text_url_matches(_TEXT_URL, "go to https://a.example or www.b.example")]
    assert found == ["https://a.example", "www.b.example"]
    assert list(text_url_matches(_TEXT_URL, "x://nope and a.www.nope")) == []
