"""Header lookups through an index and the plain-address reading: the stdlib's answers."""

from __future__ import annotations

import random
from email.message import Message
from email.utils import getaddresses

import pytest

from mailward.mime._headers import RAW_POLICY, IndexedMessage, simple_addresses

NAMES = ["Subject", "subject", "To", "X-A", "Content-Type", "CONTENT-TYPE", "from"]


def _both() -> tuple[Message, IndexedMessage]:
    plain, indexed = Message(policy=RAW_POLICY), IndexedMessage(policy=RAW_POLICY)
    for msg in (plain, indexed):
        for name, value in [("Subject", "a"), ("To", "b"), ("subject", "c"), ("X-A", "d")]:
            msg.set_raw(name, value)
    return plain, indexed


def _same(plain: Message, indexed: IndexedMessage) -> None:
    for name in NAMES:
        assert indexed.get(name) == plain.get(name)
        assert indexed.get(name, "none") == plain.get(name, "none")
        assert indexed.get_all(name) == plain.get_all(name)
        assert indexed.get_all(name, []) == plain.get_all(name, [])
        assert (name in indexed) is (name in plain)
        assert indexed[name] == plain[name]


def test_lookups_agree_and_follow_every_change() -> None:
    plain, indexed = _both()
    _same(plain, indexed)
    changes = [
        lambda m: m.set_raw("Content-Type", "text/plain"),
        lambda m: m.__setitem__("From", "x@example.com"),
        lambda m: m.__delitem__("subject"),
        lambda m: m.replace_header("to", "e"),
        lambda m: m.set_param("charset", "utf-8"),
        lambda m: m.set_type("multipart/mixed"),
        lambda m: m.set_boundary("b1"),
        lambda m: m.__delitem__("x-a"),
        lambda m: m.add_header("X-A", "f"),
    ]
    for change in changes:
        change(plain)
        change(indexed)
        _same(plain, indexed)


LISTS = [
    ["alice@example.com"], ["Alice Liddell <alice@example.com>"], ['"Liddell, Alice" <a@b.c>'],
    ["=?utf-8?q?Al_ice?= <a@b>"], ["John Q. Public <j.q@x.y>", "b@c"], ["a@b, c@d ,e@f "],
    ['"" <a@b>'], ["<a@b>"], ['"a" b  <c@d>'], ["a\\b <c@d>"], ["\udce9t\udce9 <a@b>"],
    ["a@b (comment)"], ["group: a@b;"], ["a@b c"], ['"a\\"b" <c@d>'], ["a@"], [""], ["a@b,"],
    ["<@route:a@b>"], ["a.@b"], ["a <b@c> d"],
]  # fmt: skip


@pytest.mark.parametrize("values", LISTS)
def test_plain_addresses_read_as_the_stdlib_reads_them(values: list[str]) -> None:
    fast = simple_addresses(values)
    assert fast is None or fast == getaddresses(values)


def test_plain_addresses_take_the_common_forms() -> None:
    assert simple_addresses(["A B <a@b.c>", "d@e"]) == [("A B", "a@b.c"), ("", "d@e")]
    assert simple_addresses(["a@b (comment)"]) is None


def test_random_lists_read_as_the_stdlib_reads_them() -> None:
    rng = random.Random(15)
    pieces = ["a", ".", "@", " ", ",", "<", ">", '"', "\\", "(", ":", ";", "é", "=?x?q?y?="]
    taken = 0
    for _ in range(20000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        fast = simple_addresses([value])
        if fast is not None:
            taken += 1
            assert fast == getaddresses([value]), value
    assert taken > 20
