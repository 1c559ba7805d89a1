"""Matches that must begin a line, found from their literal start: the same as with ``^``."""

from __future__ import annotations

import random
import re

import pytest

from mailward.mime._limits import _FOLDED, _PARAM_HEADER
from mailward.mime._lines import line_start_matches, line_starts
from mailward.mime._quirks import _DELIM_LINE, delimiter_like_lines

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


def test_delimiter_like_lines_are_the_anchored_pattern_matches() -> None:
    rng = random.Random(15)
    pieces = [b"--", b"-", b"a", b" ", b"\t", b"\r", b"\n", b"\r\n", b"x--"]
    datas = [*DATA, *(b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(5000))]
    anchored = re.compile(rb"^--([^\r\n]+?)\r?$", re.MULTILINE)
    for data in datas:
        mine = list(delimiter_like_lines(data))
        assert mine == [(m[1], m.end()) for m in anchored.finditer(data)], data


def test_line_starts() -> None:
    assert list(line_starts(b"--a\n--\nx--\n\n--", b"--")) == [0, 4, 12]
    assert list(line_starts(b"a\n-\n", b"--")) == []
