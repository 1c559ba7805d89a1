"""Bomb-like messages end at a limit before the stdlib's slow paths; normal mail does not.

One small-but-representative input per pitfall family (each breaks the default limit it is
about), checked twice: the raw-bytes pre-check raises LimitExceeded naming that limit, and a
scan quarantines the message as MIME_TOO_COMPLEX. Each family has a miss too: a normal message
of the same shape that parses.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from mailward.config.settings import LimitSettings, Settings
from mailward.detectors._lure_tricks import subject_tricks
from mailward.engine.pipeline import Engine
from mailward.errors import LimitExceeded
from mailward.mime import parse_message
from mailward.mime._limits import address_nesting, check_header_block, check_nesting
from mailward.model import Action

LIMITS = LimitSettings()
HEAD = b"From: Alice <alice@example.com>\r\nSubject: hi\r\nMessage-ID: <m@example.com>\r\n"


def message(headers: bytes = b"", body: bytes = b"hello\r\n", ctype: bytes = b"") -> bytes:
    content = b"Content-Type: " + ctype + b"\r\n" if ctype else b""
    return HEAD + headers + content + b"\r\n" + body


def multipart(parts: bytes) -> bytes:
    return message(body=parts + b"--b0--\r\n", ctype=b'multipart/mixed; boundary="b0"')


BOMBS = {
    "headers": message(b"".join(b"X-H%d: v\r\n" % i for i in range(1200))),
    "encoded words": message(b"X-Words: " + b"\r\n ".join([b"=?utf-8?q?w?="] * 5200) + b"\r\n"),
    "address header bytes": message(
        b"Cc: " + b",\r\n ".join(b'"User %d" <u%d@example.org>' % (i, i) for i in range(9000))
        + b"\r\n"
    ),
    "addresses": message(b"Cc: " + b",".join([b"a@b"] * 6000) + b"\r\n"),
    "address nesting": message(b"Cc: " + b"(" * 3000 + b"x" + b")" * 3000 + b" <a@b.org>\r\n"),
    "header parameters": message(ctype=b'text/plain; charset="' + b";" * 20_000),
    "part header bytes": multipart(
        b"--b0\r\nX-Pad: " + b"p" * 1_100_000 + b"\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    ),
    "MIME parts": multipart(b"--b0\r\nContent-Type: text/plain\r\n\r\np\r\n" * 600),
    "boundary length": message(body=b"x\r\n", ctype=b"multipart/mixed; boundary=" + b"b" * 1200),
}


@pytest.mark.parametrize("limit", sorted(BOMBS))
def test_bomb_is_refused_by_the_precheck(limit: str) -> None:
    raw = BOMBS[limit]
    with pytest.raises(LimitExceeded) as err:
        check_header_block(raw, LIMITS)
        check_nesting(raw, LIMITS)
    assert err.value.limit == limit


@pytest.mark.parametrize("limit", sorted(BOMBS))
def test_bomb_is_quarantined_as_too_complex(limit: str) -> None:
    outcome = asyncio.run(Engine(Settings(), detectors=[]).scan(BOMBS[limit]))
    assert [f.symbol for f in outcome.verdict.findings] == ["MIME_TOO_COMPLEX"]
    assert outcome.verdict.action == Action.QUARANTINE


def test_nested_comments_are_too_complex_not_a_recursion_error() -> None:
    raw = message(b"To: " + b"(" * 100_000 + b")" * 100_000 + b" <a@b.org>\r\n")
    with pytest.raises(LimitExceeded) as err:
        parse_message(raw, LIMITS)
    assert err.value.limit == "address nesting"


def test_nested_groups_are_too_complex() -> None:
    with pytest.raises(LimitExceeded) as err:
        parse_message(message(b"Cc: " + b"g:" * 50_000 + b"a@b.org\r\n"), LIMITS)
    assert err.value.limit == "address nesting"


def test_quadratic_parameters_in_a_part_are_refused_fast() -> None:
    part = b'--b0\r\nContent-Disposition: attachment; filename="' + b";" * 200_000 + b"\r\n\r\nx\r\n"
    started = time.perf_counter()
    with pytest.raises(LimitExceeded) as err:
        parse_message(multipart(part), LIMITS)
    assert err.value.limit == "header parameters"
    assert time.perf_counter() - started < 5  # hours before the fix; generous: only a hang fails


def test_message_bytes_limit() -> None:
    raw = message(body=b"x" * 5000)
    with pytest.raises(LimitExceeded) as err:
        parse_message(raw, LimitSettings(max_message_bytes=4000))
    assert err.value.limit == "message bytes"
    assert parse_message(raw, LimitSettings(max_message_bytes=6000)).text


# --- misses: normal messages of the same shapes -------------------------------------------


def test_long_but_legal_recipient_list_with_encoded_words_parses() -> None:
    names = b",\r\n ".join(b'"=?utf-8?q?J=C3=B6rg_%d?=" <j%d@example.org>' % (i, i) for i in range(300))
    raw = message(b"Cc: " + names + b"\r\nX-Note: =?utf-8?b?w6TDtsO8?= =?utf-8?q?ok?=\r\n")
    parsed = parse_message(raw, LIMITS)
    assert len(parsed.cc) == 300
    assert parsed.cc[7].display_name == "Jörg 7"
    assert ("X-Note", "äöüok") in parsed.headers


def test_ordinary_comments_groups_and_quotes_parse() -> None:
    raw = message(
        b'To: undisclosed-recipients:;\r\nCc: "Smith (Sales): (((" <s@example.org> (desk (2)),'
        b" team: a@example.org, b@example.org;\r\n"
    )
    parsed = parse_message(raw, LIMITS)
    assert [a.address for a in parsed.cc] == ["s@example.org", "a@example.org", "b@example.org"]


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (b"a@b", 0),
        (b"(a (b (c))) <x@y>", 3),
        (b'"(((((" <x@y>', 0),  # parentheses in quotes do not nest
        (b'( "(" ( ")" )', 3),  # quotes in comments are plain characters: all count
        (b"(a \\( b) c", 1),  # an escaped parenthesis in a comment does not nest
        (b"g1: g2: a@b; ;", 2),
        (b'"abc\r\n ((((', 4),  # a CR ends a quoted string, as in the stdlib parser
    ],
)
def test_address_nesting_reads_like_the_stdlib(value: bytes, depth: int) -> None:
    assert address_nesting(value) == depth


def test_parameters_within_limits_parse() -> None:
    params = b"".join(b";\r\n filename*%d*=a%%41" % i for i in range(20))
    part = (b"--b0\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment"
            + params + b"\r\n\r\nxyz\r\n")  # fmt: skip
    parsed = parse_message(multipart(part), LIMITS)
    assert parsed.attachments[0].filename == "aA" * 20


def test_many_headers_and_parts_within_limits_parse() -> None:
    parts = b"".join(b"--b0\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(400))
    raw = multipart(parts).replace(b"Subject: hi\r\n", b"X-H: v\r\n" * 900)
    assert "part 399" in parse_message(raw, LIMITS).text


def test_subject_of_one_long_word_is_scanned_in_linear_time() -> None:
    # decoded adjacent encoded words make one long word; the joined-words regex was quadratic
    started = time.perf_counter()
    assert subject_tricks("w1" * 40_000) == []
    assert time.perf_counter() - started < 2  # about 5 ms; the old regex took ~8 s
    assert subject_tricks("Your_Account.Is.Locked now") == ["Your_Account.Is.Locked"]
