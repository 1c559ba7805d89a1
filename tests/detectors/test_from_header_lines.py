"""The From lines found by one regex over the header block are those found line by line."""

from __future__ import annotations

import random

import pytest

from mailward.detectors import _from_header

LINES = [
    b"From: Alice <alice@example.com>", b"from :x@example.org", b" From: folded@example.net",
    b"\tfrom:\ttab@example.net", b"From\x00junk: nul@example.com", b"FROM: upper@example.com",
    b"Sender: s@example.com", b"resent-from: r@example.com", b"Resent-Sender : rs@example.com",
    b" sender: not-other@example.com", b"Received: from mx.example.com", b"  by mx",
    b"\tcontinued", b"Subject: hi", b"X-From: no@example.com", b"Fromage: no", b"",
    b"From:", b"From: =?utf-8?q?x?= <e@example.com>", b" ", b"Sender:",
    b"From: \xc3\xa9t\xe9 <8bit@example.com>", b"from\x00: nul@example.com", b"\x00From: x",
    b"From:\x00<a@example.com>", b"\xffSender: no", b"  From :  spaced@example.com",
]  # fmt: skip
ENDS = [b"\n", b"\r\n", b"\r"]


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.com\r\nSubject: x\r\n\r\nFrom: body@example.com\r\n",
        b"Received: x\n From: inside@example.com\n more\nFrom: a@example.com\n\nbody",
        b"Sender: s@example.com\r more\rFrom: a\r\n\tb@example.com\r\n\r\n",
        b"",
        b"From: only",
        b"\nFrom: after-a-blank-first-line@example.com\n",
        b"\r\r\nFrom: x",
        b"Subject: s\r\n" + (b"X-Pad: " + b"p" * 70 + b"\r\n") * 3000 + b"From: late@x.com\r\n",
        b"From: a\r\n\r\n\r\nFrom: body@example.com",
    ],
)
def test_header_lines_are_read_as_line_by_line(raw: bytes) -> None:
    assert _from_header._raw_from_values(raw) == _from_header._raw_from_values_by_line(raw)


def test_random_header_blocks_are_read_as_line_by_line() -> None:
    rnd = random.Random(5)
    for _ in range(20_000):
        raw = b"".join(
            rnd.choice(LINES) + rnd.choice(ENDS) for _ in range(rnd.randint(0, 10))
        )
        raw += rnd.choice([b"", b"\n\nFrom: body@example.com\n", b"\r\n\r\nbody"])
        assert _from_header._raw_from_values(raw) == _from_header._raw_from_values_by_line(raw)


@pytest.mark.parametrize(
    "from_lines",
    [
        b"From: Alice <alice@example.com>\r\n",
        b"From: \"admin@bank.example\" <x@evil.example>\r\n",
        b"From: a@example.com\r\nFrom: b@example.org\r\n",
        b"From: CNET News.com <news@newsletter.online.com>\r\n",
        b"From: <@legit.example:x@evil.example>\r\n",
        b"Sender: s@example.com\r\n",
        b"From: =?utf-7?Q?x?= <a@example.com>\r\n",
    ],
)
def test_the_tricks_alone_are_the_whole_readings_tricks(from_lines: bytes) -> None:
    from dataclasses import replace

    from mailward.config.settings import LimitSettings
    from mailward.mime import parse_message

    raw = from_lines + b"To: b@example.net\r\nSubject: s\r\n\r\nbody\r\n"
    msg = parse_message(raw, LimitSettings())
    whole = _from_header.from_readings(msg)
    assert _from_header.from_readings(msg, domains_too=False) == replace(whole, domains=())
