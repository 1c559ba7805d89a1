"""The sender history's From address: the fast reading answers what the header parser does."""

from __future__ import annotations

import random

import pytest

from mailward.spool.sender import _parsed_from, _simple_from, header_from_address


@pytest.mark.parametrize(("raw", "expected"), [
    (b"From: Alice <Alice@Example.COM>\r\nTo: b@example.com\r\n\r\nbody", "alice@example.com"),
    (b"Subject: x\nFrom: bob@example.net\n\nFrom: eve@example.org\n", "bob@example.net"),
    (b'From: "Doe, John" <john@example.org>\r\n\r\n', "john@example.org"),
    (b"From: a@example.com, b@example.com\r\n\r\n", ""),
    (b"From: a@example.com\r\nFrom: b@example.com\r\n\r\n", ""),
    (b"From: =?utf-8?q?Caf=C3=A9?= <cafe@example.com>\r\n\r\n", "cafe@example.com"),
    (b"From: Long\r\n Name <long@example.com>\r\n\r\n", "long@example.com"),
    (b"To: x@example.com\r\n\r\n", ""),
    (b"From: nobody\r\n\r\n", ""),
])
def test_from_address(raw: bytes, expected: str) -> None:
    assert header_from_address(raw) == expected


def test_plain_lines_take_the_fast_path() -> None:
    assert _simple_from(b"Subject: hi\r\nFrom: Ann Lee <ann@example.com>\r\nTo: x@y") == (
        "ann@example.com")
    assert _simple_from(b"From: Long\r\n Name <long@example.com>") is None  # folded
    assert _simple_from(b"From: a@example.com\r\nFROM: b@example.com") is None  # repeated
    assert _simple_from(b"bad line\r\nFrom: a@example.com") is None  # headers ended before
    assert _simple_from(b"From: a@example.com\rX: y") is None  # a bare CR


def test_generated_header_blocks_agree_with_the_parser() -> None:
    rnd = random.Random(15)
    names = ["", "Ann", "Ann Lee", '"Lee, Ann"', '"A\\"B"', "=?utf-8?q?x?=", "(c)", "A.B", "é"]
    addrs = ["a@example.com", "A.B@Sub.Example.org", "x+y@e-x.net", "a..b@x.com", "a@[1.2.3.4]",
             "@x.com", "a@", "a b@x.com", "a@x.com, b@y.com", ""]
    lines = [b"To: t@example.com", b"Subject: s", b" folded", b"\tfolded", b"From x", b"bad",
             b"", b"X:", b"From : z@example.com", b"Received: by x"]
    fast = 0
    for _ in range(20_000):
        name, addr = rnd.choice(names), rnd.choice(addrs)
        value = f"{name} <{addr}>" if name or rnd.random() < 0.3 else addr
        from_line = (rnd.choice(["From:", "from:", "FROM:"]) + rnd.choice(["", " ", "\t"])
                     + value + rnd.choice(["", " "])).encode()
        block = [*rnd.choices(lines, k=rnd.randint(0, 3)), from_line]
        block += rnd.choices(lines, k=rnd.randint(0, 3))
        head = rnd.choice([b"\r\n", b"\n"]).join(block)
        simple = _simple_from(head)
        if simple is None:
            continue
        fast += 1
        assert simple == _parsed_from(head), head
    assert fast > 500  # the generator does reach the fast path (about 1,100 times)
