"""The base64 quirk checks' shortcuts give what the plain regular expressions give."""

from __future__ import annotations

import re

import pytest

from mailward.mime._quirks import _base64_letters, _blank_line_inside

BODIES = [
    "", "QUJD\r\nREVG\r\n", "QUJD\r\n\r\nREVG", "QUJD\n \t\nREVG\n", "QUJD\n\n", "\n\nQUJD",
    "QU JD*é€\n=", "QUJD\r\n \r\nREVG", "QUJD\n\r\n", "ab\n\t\ncd",
]  # fmt: skip


@pytest.mark.parametrize("body", BODIES)
def test_shortcuts_agree_with_the_patterns(body: str) -> None:
    assert _base64_letters(body) == len(re.sub(r"[^A-Za-z0-9+/=]+", "", body))
    full = re.search(r"\S[ \t]*\r?\n[ \t]*\r?\n[ \t]*\S", body.strip()) is not None
    assert _blank_line_inside(body) is full


def test_a_blank_line_inside_is_found_and_one_at_the_end_is_not() -> None:
    assert _blank_line_inside("QUJD\r\n\r\nREVG\r\n")
    assert not _blank_line_inside("QUJD\r\nREVG\r\n\r\n")
