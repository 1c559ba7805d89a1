"""Header and raw-byte scans written for speed give what the plain code they replace gives:
hand-written edge cases (folds, bare CR and LF, NULs, 8-bit bytes, encoded words, a large
header block) and random inputs built from the same pieces."""

from __future__ import annotations

import random
import re

import pytest
from test_mime_feed import _assert_same

from mailward.mime import _feed, _headers, _quirks, _rawscan
from mailward.mime._headers import RAW_POLICY

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


#: Header blocks for the parser's header-run path (read by two patterns) and the line by line
#: one it stands in front of; each is parsed alone, as a part, and as a nested message.
HEADER_BLOCKS = [
    b"Subject: s\r\nTo: a@example.com\r\n\r\nbody\r\n",
    b"Subject: s\nTo: a@example.com\n\nbody\n",
    b"Subject: folded\r\n continued\r\n\tand tabbed\r\nX: y\r\n\r\nbody",
    b"X-Empty:\r\n\tthen folded\r\nX-Blank:   \r\n \r\nY:z\r\n\r\n",
    b"X: \t \r\n\r\n",
    b"X-Nul: a\x00b\r\nX-8bit: \xc3\xa9\xff\r\nSubject: =?utf-8?b?w6k=?= =?utf-8?q?=C3=A9?=\r\n\r\n",
    b"Subject: s\r\nNo colon here\r\nTo: t\r\n\r\nbody",
    b"Subject: s\r\nName With Space: v\r\n\r\n",
    b"Subject: s\r\n\x7fX: v\r\n\r\n",
    b"Subject: s\r\nFrom x@y Mon\r\nTo: t\r\n\r\n",
    b"From x@y Mon\r\nSubject: s\r\n\r\n",
    b" leading continuation\r\nSubject: s\r\n\r\n",
    b"Subject: s\r\n:no name\r\n\r\n",
    b"Subject: s\r\n--b\r\nX: y\r\n\r\n",
    b"Subject: s\r\nTo: t",
    b"Subject: s\r\nTo: t\r\n",
    b"Subject: s\r\n \t",
    b"",
    b"\r\n\r\nbody",
    b"a:b:c\r\nd::\r\n\r\n",
    b"Subject: s\r\n\x0bX: v\r\n\x0c\r\n\r\n",
    b"Received: from x\r\n\tby y\r\n" * 2000 + b"Subject: big\r\n\r\nbody\r\n",
    b"X-Long: " + b"v" * 100_000 + b"\r\n\r\n",
]


def _as_part(block: bytes) -> bytes:
    return (
        b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        + block + b"\r\n--b\r\nX: second\r\n--b--\r\n"
    )  # fmt: skip


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_header_runs_give_the_stdlib_tree(block: bytes) -> None:
    _assert_same(block)
    _assert_same(_as_part(block))
    _assert_same(b"Content-Type: message/rfc822\r\n\r\n" + block)
    _assert_same(block.replace(b"\r\n", b"\n"))


def test_header_runs_are_read_without_a_step_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual block takes the two-pattern path (else the tests above compare the line by
    line path with itself)."""
    def refuse(self: object, lines: list[str]) -> None:
        raise AssertionError("read line by line")

    raw = HEADER_BLOCKS[2]
    expected = [(k, v) for k, v in _feed.parse_bytes(raw, RAW_POLICY, _rawscan.RawScan(raw)).items()]
    monkeypatch.setattr(_feed._Parser, "_parse_headers", refuse)
    # the fallback (the stdlib parser, on any error) would give the same headers: call the
    # parser itself so that a refusal shows
    parser = _feed._Parser(raw.decode("ascii", "surrogateescape"), RAW_POLICY, _rawscan.RawScan(raw))
    assert list(parser.parse().items()) == expected
    assert expected[0] == ("Subject", "folded\r\n continued\r\n\tand tabbed")
