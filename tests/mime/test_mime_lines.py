"""Matches that must begin a line, found from their literal start: the same as with ``^``."""

from __future__ import annotations

import re

import pytest

from mailward.mime._limits import _FOLDED, _PARAM_HEADER
from mailward.mime._lines import line_start_matches
from mailward.mime._quirks import _DELIM_LINE

DATA = [
    b"", b"--", b"content-type:", b"a----b\n--x\r\n--\n-- y\nx--\n--b--\r\nq--c\n--",
    b"content-type: a\n content-type: b\nx content-type: c\ncontent-disposition: d\n\te\n",
    b"subject: x--y content-type: z\r\n\r\n--b\r\ncontent-type: text/plain\r\n",
]  # fmt: skip
ANCHORED = [
    (_PARAM_HEADER, re.compile(rb"^content-(?:type|disposition)" + _FOLDED, re.MULTILINE)),
    (_DELIM_LINE, re.compile(rb"^--([^\r\n]+?)\r?$", re.MULTILINE)),
]


@pytest.mark.parametrize("data", DATA)
def test_the_same_matches_as_the_anchored_patterns(data: bytes) -> None:
    for pattern, anchored in ANCHORED:
        mine = [(m.span(), m.groups()) for m in line_start_matches(pattern, data)]
        assert mine == [(m.span(), m.groups()) for m in anchored.finditer(data)]


def test_a_match_inside_a_line_is_dropped() -> None:
    assert [m[1] for m in line_start_matches(_DELIM_LINE, b"--a\nx--b\n--c")] == [b"a", b"c"]
    assert list(line_start_matches(_DELIM_LINE, b"x--b")) == []
