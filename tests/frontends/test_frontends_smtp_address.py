"""The MAIL/RCPT address fast path answers exactly what aiosmtpd's header parser answers."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from aiosmtpd.smtp import SMTP

from mailward.frontends.smtp.address import simple_address


def _aiosmtpd(arg: str, limit: int = 0) -> tuple[str | None, str | None]:
    """aiosmtpd's own reading (it uses nothing of the protocol object but this limit)."""
    return SMTP._getaddr(SimpleNamespace(local_part_limit=limit), arg)  # type: ignore[arg-type]


@pytest.mark.parametrize("arg", [
    "<alice@example.com>",
    "<sender@partner.example.net> SIZE=1234 BODY=8BITMIME",
    "<a.b+tag@sub-domain.example.org>SIZE=10",
    "<A@B.C>\tSMTPUTF8",
    "<a@b> SIZE=10  BODY=8BITMIME",
    "<x_y=z@host_name>",
])
def test_plain_addresses_take_the_fast_path_with_the_same_answer(arg: str) -> None:
    assert simple_address(arg) is not None
    assert simple_address(arg) == _aiosmtpd(arg)


@pytest.mark.parametrize("arg", [
    "<>", '<"john doe"@example.com>', "<@relay.example:a@example.com>", "<a@[192.0.2.1]>",
    "<a(comment)@example.com>", "<a@example.com> X=1 (note)", "<a@example.com>(c)",
    "<é@example.com>", "a@example.com", "<a..b@example.com>", "<a@example..com>",
    "<a@example.com", "<a>",
])
def test_anything_else_is_left_to_aiosmtpd(arg: str) -> None:
    assert simple_address(arg) is None


def test_local_part_limit_is_applied_as_aiosmtpd_does() -> None:
    assert simple_address("<abcdef@example.com>", 5) == (None, None) == _aiosmtpd(
        "<abcdef@example.com>", 5)
    assert simple_address("<abcde@example.com>", 5) == ("abcde@example.com", "")


def test_generated_commands_agree_with_aiosmtpd() -> None:
    rnd = random.Random(15)
    local = ["a", "Bob", "x.y", "0", "+tag", "-", "_", "=", "~", "!", "/", ".", "..", '"', "é",
             " ", "(c)", "\\"]
    domain = ["example", ".", "com", "-", "_", "b", "[1.2.3.4]", "..", " ", "é"]
    tail = ["", " ", "\t", "SIZE=10", " BODY=8BITMIME", "  SMTPUTF8", "(c)", " X=(y)", "=", ","]
    fast = 0
    for _ in range(20_000):
        arg = ("<" + "".join(rnd.choices(local, k=rnd.randint(0, 4))) + "@"
               + "".join(rnd.choices(domain, k=rnd.randint(0, 4))) + ">"
               + "".join(rnd.choices(tail, k=rnd.randint(0, 3)))).strip()
        limit = rnd.choice((0, 4))
        answer = simple_address(arg, limit)
        if answer is None:
            continue
        fast += 1
        assert answer == _aiosmtpd(arg, limit), arg
    assert fast > 500  # the generator does reach the fast path (about 700 times)
