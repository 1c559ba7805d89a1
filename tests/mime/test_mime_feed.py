"""The whole-text parser builds the very tree the stdlib's FeedParser builds."""

from __future__ import annotations

import email.feedparser
import random
import re
from email.message import Message
from email.parser import BytesParser

import pytest

from mailward.mime import _feed
from mailward.mime._headers import RAW_POLICY
from mailward.mime._rawscan import RawScan


def _tree(node: object) -> object:
    """Everything a message object holds (headers, payload, preamble, epilogue, defects,
    default type, Unix From), recursively, as plain values."""
    if isinstance(node, Message):
        return {
            "type": type(node).__name__,
            "policy": node.policy is RAW_POLICY,
            **{k: _tree(v) for k, v in vars(node).items() if k != "policy"},
        }
    if isinstance(node, list):
        return [_tree(v) for v in node]
    if isinstance(node, BaseException):
        return (type(node).__name__, node.args, str(node), _tree(vars(node)))
    if isinstance(node, dict):
        return {k: _tree(v) for k, v in node.items()}
    return node


def _outcome(parse: object, raw: bytes) -> object:
    try:
        return _tree(parse(raw))  # type: ignore[operator]
    except Exception as exc:  # the stdlib's own failures must be the same too
        return type(exc).__name__


def _assert_same(raw: bytes) -> None:
    stdlib = _outcome(BytesParser(policy=RAW_POLICY).parsebytes, raw)
    assert _outcome(lambda r: _feed.parse_bytes(r, RAW_POLICY), raw) == stdlib, raw
    # with the raw facts known (no bare CR: header lines read without readline)
    with_scan = _outcome(lambda r: _feed.parse_bytes(r, RAW_POLICY, RawScan(r)), raw)
    assert with_scan == stdlib, raw


MIXED = (
    b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    b"preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n--b\r\n"
    b"Content-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n"
    b"epi-c\r\n--b--\r\nepilogue\r\n"
)
CASES = [
    MIXED,
    MIXED.replace(b"\r\n", b"\n"),
    MIXED.replace(b"\r\n", b"\r"),
    MIXED.replace(b"--b--\r\n", b""),  # no close delimiter
    MIXED.replace(b"--b--\r\nepilogue\r\n", b"--b--"),  # close delimiter without a line end
    MIXED.replace(b"preamble\r\n--b\r\n", b"preamble\r\n"),  # no first delimiter
    MIXED.replace(b'boundary="b"', b""),  # multipart without a boundary
    MIXED.replace(b'boundary="b"', b'boundary="b "'),  # a blank in the boundary
    MIXED.replace(b"--b\r\nContent", b"--b \t\r\nContent").replace(b"--b--", b"--b--  "),
    MIXED.replace(b"\r\n\r\nhello", b"\r\nNot a header\r\nhello"),  # no blank line
    MIXED.replace(b"Content-Type: text/plain", b" continued first\r\n:no name\r\nX: y"),
    b"From x@y Mon Jan 1\r\nFrom: a\r\nFrom b\r\nSubject: s\r\nFrom c\r\n\r\nbody\r\n",
    b"From: a\r\nContent-Type: message/rfc822\r\n\r\nFrom: b\r\n\r\ninner\r\n",
    b"From: a\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nFrom: c\r\n\r\n"
    b"x\r\n--d--\r\n",
    b"From: a\r\nContent-Type: multipart/report; boundary=r\r\n\r\n--r\r\n"
    b"Content-Type: message/delivery-status\r\n\r\nA: b\r\n\r\nC: d\r\n--r--\r\n",
    b"From: a\r\nContent-Type: multipart/mixed; boundary=b\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
    b"From: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n--b--\r\n",  # outer close inside
    b"From: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b--\r\n",
    b"no header here\r\n",
    b"Subject: only headers",
    b"Subject: x\r\n\r\n--b\r\n-- \r\n--\r\n",
]


@pytest.mark.parametrize("raw", CASES)
def test_crafted_messages_give_the_stdlib_tree(raw: bytes) -> None:
    _assert_same(raw)


def _random_entity(rng: random.Random, depth: int, bounds: list[str]) -> str:
    eol = lambda: rng.choice(["\r\n", "\n", "\r", "\r\n"])  # noqa: E731
    names = ["b", "b ", "x--", "", "a.b(c)", "--", "bb"]
    out = [
        rng.choice(["Subject: x", "To: y", " cont", "From z", ":x", "Bad Name: v", "", "junk"])
        + eol()
        for _ in range(rng.randint(0, 3))
    ]
    if depth < 3 and rng.random() < 0.5:
        name = rng.choice(names)
        kind = rng.choice(["multipart/mixed", "multipart/digest", "message/rfc822"])
        out.append(f'Content-Type: {kind}; boundary="{name}"' + eol() + eol())
        if kind.startswith("message"):
            return "".join(out) + _random_entity(rng, depth + 1, bounds)
        for _ in range(rng.randint(0, 3)):
            out.append("--" + name + rng.choice(["", " ", "--", "-"]) + rng.choice([eol(), ""]))
            out.append(_random_entity(rng, depth + 1, [*bounds, name]))
        if rng.random() < 0.8:
            out.append("--" + name + "--" + rng.choice([eol(), "", " " + eol()]))
    for _ in range(rng.randint(0, 4)):
        if bounds and rng.random() < 0.3:
            out.append("--" + rng.choice(bounds) + rng.choice(["", "--", " x"]) + eol())
        else:
            out.append(rng.choice(["text", "", "--", "From x", "=41", "-- sig"]) + eol())
    return "".join(out)


def test_random_messages_give_the_stdlib_tree() -> None:
    rng = random.Random(15)
    for _ in range(2000):
        _assert_same(_random_entity(rng, 0, []).encode("utf-8", "surrogateescape"))


def test_deep_nesting_is_left_to_the_stdlib_parser() -> None:
    levels = _feed.MAX_NESTING + 20
    raw = b"From: a\r\nContent-Type: message/rfc822\r\n\r\n" * levels + b"Subject: in\r\n\r\nx"
    _assert_same(raw)


def test_the_header_line_pattern_is_the_stdlib_one() -> None:
    assert _feed.HEADER_LINE.pattern == email.feedparser.headerRE.pattern  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["", "a", "a\r", "a\n", "a\r\n", "a\rb\n", "\r\r\n", "ab\n\r", "a\r\rb"])
def test_line_ends_as_the_patterns_find_them(text: str) -> None:
    for pos in range(len(text) + 1):
        match = re.compile(r"\r\n|\r|\n").search(text, pos)
        assert _feed._line_end(text, pos) == (match.end() if match else len(text))
    match = re.search(r"(\r\n|\r|\n)\Z", text)
    assert _feed._line_end_size(text) == (len(match[0]) if match else 0)


class _PlainPolicy(type(RAW_POLICY)):  # type: ignore[misc]
    """RAW_POLICY's class with its own header_source_parse: headers stored through it."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, value + "!"


def test_a_policy_that_parses_headers_itself_is_asked() -> None:
    raw = MIXED.replace(b"\r\n", b"\n")
    policy = _PlainPolicy()
    msg = _feed.parse_bytes(raw, policy, RawScan(raw))
    assert msg["from"] == "a@example.com!"
    assert _tree(msg) == _tree(BytesParser(policy=policy).parsebytes(raw))


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_header_lines_at_a_false_end_of_file(eol: bytes) -> None:
    """A part's header block cut by a delimiter line, without and with a blank line."""
    for raw in (
        MIXED.replace(b"Content-Type: text/plain\r\n\r\nhello\r\n", b"X: y\r\n"),
        MIXED.replace(b"\r\n\r\nhello\r\n", b"\r\n"),
        MIXED.replace(b"\r\n\r\nhello\r\n--b\r\n", b"\r\n"),
    ):
        _assert_same(raw.replace(b"\r\n", eol))
