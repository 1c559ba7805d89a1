"""Header and raw-byte scans written for speed give what the plain code they replace gives:
hand-written edge cases (folds, bare CR and LF, NULs, 8-bit bytes, encoded words, a large
header block) and random inputs built from the same pieces."""

from __future__ import annotations

import random
import re

import pytest

from mailward.mime import _headers, _quirks, _rawscan

#: The patterns the faster ones stand for.
OLD_HEADER_FOLD = re.compile(r"\r?\n(?=[ \t])")
OLD_QUIRK_FOLD = re.compile(r"\r?\n[ \t]*")

BYTE_PIECES = [
    b"--", b"-", b"\n", b"\r", b"\r\n", b"\n--", b"a", b" ", b"\t", b"\x00", b"\xff\xfe",
    b"--b--", b"Content-Type: x", b"=?utf-8?q?a?=",
]  # fmt: skip
TEXT_PIECES = ["\r", "\n", "\r\n", " ", "\t", "a", "\x00", "é", "\udcff", "=?utf-8?b?YQ==?=", "\r\r"]

DASH_CASES = [
    b"",
    b"--",
    b"--\n",
    b"-",
    b"\n--",
    b"\n--\n--",
    b"--a\r\n--b--\r\n",
    b"x\n--a\n--a--",
    b"x\r--a\r\n--b",  # a bare CR does not start a line
    b"--\x00\xff\n\n--\n",
    b"Subject: s\r\n\r\n" + b"line\r\n" * 5000 + b"--end--\r\n",
    b"a\n---\n----\n- -\n--",
]


def _random_bytes(rng: random.Random) -> bytes:
    return b"".join(rng.choice(BYTE_PIECES) for _ in range(rng.randint(0, 14)))


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(TEXT_PIECES) for _ in range(rng.randint(0, 14)))


@pytest.mark.parametrize("raw", DASH_CASES)
def test_dash_lines_are_those_found_by_find(raw: bytes) -> None:
    assert _rawscan._dash_lines(raw) == _rawscan._dash_lines_by_find(raw)


def test_dash_lines_of_random_bytes_are_those_found_by_find() -> None:
    rng = random.Random(10)
    for _ in range(20_000):
        raw = _random_bytes(rng)
        assert _rawscan._dash_lines(raw) == _rawscan._dash_lines_by_find(raw), raw


FOLD_CASES = [
    "",
    "a\r\n b",
    "a\n\tb",
    "a\r\n\r\n b",
    "a\r\r\n b",
    "a\n\r b",
    "a\r\nb",
    "=?utf-8?q?x?=\r\n =?utf-8?q?y?=",
    "\r\n ",
    "a\n",
    "\udcff\r\n\t\x00",
    "Received: from x\r\n\tby y\r\n\tfor z" * 2000,
]


@pytest.mark.parametrize("text", FOLD_CASES)
def test_fold_patterns_match_as_the_old_ones(text: str) -> None:
    assert _headers._FOLD.sub("", text) == OLD_HEADER_FOLD.sub("", text)
    assert _quirks._FOLD.sub(" ", text) == OLD_QUIRK_FOLD.sub(" ", text)


def test_fold_patterns_match_random_text_as_the_old_ones() -> None:
    rng = random.Random(11)
    for _ in range(20_000):
        text = _random_text(rng)
        assert _headers._FOLD.sub("", text) == OLD_HEADER_FOLD.sub("", text), text
        assert _quirks._FOLD.sub(" ", text) == OLD_QUIRK_FOLD.sub(" ", text), text
        spans = [m.span() for m in _headers._FOLD.finditer(text)]
        assert spans == [m.span() for m in OLD_HEADER_FOLD.finditer(text)], text
