"""Hard limits and unreadable input: LimitExceeded and ParseError, never anything else."""

from __future__ import annotations

import contextlib

import pytest

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded, ParseError
from mailward.mime import parse_message

LIMITS = LimitSettings(max_depth=20, max_parts=50)


def _nested_multiparts(levels: int) -> bytes:
    body = b"Content-Type: text/plain\n\ninnermost\n"
    for i in range(levels):
        body = (
            b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
            + body
            + b"\n--b%d--\n" % i
        )
    return b"From: a@example.com\n" + body


def _nested_messages(levels: int) -> bytes:
    body = b"From: inner@example.com\n\ninnermost\n"
    for _ in range(levels):
        body = b"From: a@example.com\nContent-Type: message/rfc822\n\n" + body
    return body


def test_depth_bomb_raises_limit_exceeded() -> None:
    with pytest.raises(LimitExceeded) as err:
        parse_message(_nested_multiparts(60), LIMITS)
    assert err.value.limit == "nesting depth"


def test_deep_bomb_is_refused_quickly_before_parsing() -> None:
    with pytest.raises(LimitExceeded):
        parse_message(_nested_multiparts(5000), LIMITS)


def test_nesting_within_limit_parses() -> None:
    parsed = parse_message(_nested_multiparts(10), LIMITS)
    assert parsed.text.strip() == "innermost"


def test_message_nesting_bomb_raises_limit_exceeded() -> None:
    with pytest.raises(LimitExceeded):
        parse_message(_nested_messages(60), LIMITS)
    assert "innermost" in parse_message(_nested_messages(5), LIMITS).text


def test_many_sibling_multiparts_are_not_deep() -> None:
    parts = b"".join(
        b'--top\nContent-Type: multipart/alternative; boundary="s%d"\n\n'
        b"--s%d\nContent-Type: text/plain\n\np%d\n--s%d--\n" % (i, i, i, i)
        for i in range(22)
    )
    raw = (
        b'From: a@example.com\nContent-Type: multipart/mixed; boundary="top"\n\n'
        + parts
        + b"--top--\n"
    )
    parsed = parse_message(raw, LimitSettings(max_depth=20, max_parts=500))
    assert "p21" in parsed.text


def _flat_parts(count: int) -> bytes:
    parts = b"".join(b"--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(count))
    return (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n" + parts + b"--b--\n"
    )


def test_part_count_bomb_raises_limit_exceeded() -> None:
    with pytest.raises(LimitExceeded) as err:
        parse_message(_flat_parts(200), LIMITS)
    assert err.value.limit == "MIME parts"


def test_part_count_within_limit_parses() -> None:
    assert "part 39" in parse_message(_flat_parts(40), LIMITS).text


def test_decoded_bytes_limit() -> None:
    raw = b"From: a@example.com\n\n" + b"x" * 5000
    with pytest.raises(LimitExceeded):
        parse_message(raw, LimitSettings(max_decoded_bytes=1000))
    assert parse_message(raw, LimitSettings(max_decoded_bytes=10_000)).text


def test_header_block_limit() -> None:
    raw = b"From: a@example.com\nX-Pad: " + b"y" * 5000 + b"\n\nbody\n"
    with pytest.raises(LimitExceeded):
        parse_message(raw, LimitSettings(max_header_bytes=1000))
    assert parse_message(raw, LimitSettings(max_header_bytes=10_000)).text.strip() == "body"


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  "])
def test_empty_input_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_message(raw, LIMITS)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"just some words\nwith no header at all\n",
        bytes(range(256)),
    ],
)
def test_garbage_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError) as err:
        parse_message(raw, LIMITS)
    assert not isinstance(err.value, LimitExceeded)


def test_headers_without_body_parse() -> None:
    parsed = parse_message(b"From: a@example.com\nSubject: only headers", LIMITS)
    assert parsed.subject == "only headers"
    assert parsed.text == ""


@pytest.mark.parametrize(
    "raw",
    [
        b'From: a@x\nContent-Type: multipart/mixed; boundary=""\n\n--\n--\n',
        b"From: a@x\nContent-Transfer-Encoding: base64\n\n!!!not base64@@@\n",
        b'From: a@x\nContent-Type: text/plain; charset="idna"\n\n\xff\xfe\n',
        b"From: a@x\nContent-Type: text/plain; charset*=''%ZZ\n\nhi\n",
        b"From: a@x\nContent-Disposition: attachment; filename*0*=bad''%E9; filename*1=x\n\nhi\n",
        b'From: <<<>>>@@@, ,,, "unterminated\nTo: \x00\xff\n\nhi\n',
        b'From: a@x\nContent-Type: text/html\n\n<a href="http://[::1/"><![if x]><a href=\'',
    ],
)
def test_malformed_messages_never_raise_anything_but_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_message(raw, LIMITS)
