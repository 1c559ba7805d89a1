"""Header lookups through an index and the plain-address reading: the stdlib's answers."""

from __future__ import annotations

import random
from email.message import Message
from email.utils import getaddresses

import pytest

from mailward.mime._headers import (
    RAW_POLICY,
    IndexedMessage,
    duplicate_notes,
    header_count,
    simple_addresses,
)

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
    ["<@route:a@b>"], ["a.@b"], ["a <b@c> d"], ["t..hodge@enron.com, .a@b"], ["a@."],
    ["nas@python.ca (Neil Schemenauer)"], ["a@b (x (y))"], ["a@b (c) d"], ["a@b ()"],
    ["undisclosed-recipients:;"], ["Undisclosed recipients : ;", "a@b"], ["g: a@b;"],
    ["jdoe@example.org <jdoe@example.org>"], ["Nackte Frauen, jehd <service@example.de>"],
    ["Amelia, Amelia <a@b.c>, Amelia\t<a@b.c>, 91_226"], ["x\t, y "], ["\udce9t\udce9, a\x00b"],
    ["a.b, c"], ['"q", c'], ["a b, c"], ["x,"], [",x"], ["x, , y"],
]  # fmt: skip


@pytest.mark.parametrize("values", LISTS)
def test_plain_addresses_read_as_the_stdlib_reads_them(values: list[str]) -> None:
    fast = simple_addresses(values)
    assert fast is None or fast == getaddresses(values)


def test_plain_addresses_take_the_common_forms() -> None:
    assert simple_addresses(["A B <a@b.c>", "d@e"]) == [("A B", "a@b.c"), ("", "d@e")]
    assert simple_addresses(["Amelia, Amelia <a@b.c>"]) == [("", "Amelia"), ("Amelia", "a@b.c")]
    assert simple_addresses(["a@b (A B)", "x:;"]) == [("A B", "a@b"), ("", "")]
    assert simple_addresses(["a@b (c (d))"]) is None


def test_random_lists_read_as_the_stdlib_reads_them() -> None:
    rng = random.Random(15)
    pieces = ["a", ".", "@", " ", ",", "<", ">", '"', "\\", "(", ")", ":", ";", "é", "=?x?q?y?=",
              "Amelia", "\t", "_9", "\x00"]
    taken = 0
    for _ in range(20000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        fast = simple_addresses([value])
        if fast is not None:
            taken += 1
            assert fast == getaddresses([value]), value
    assert taken > 20


PARAM_VALUES = [
    'multipart/mixed; boundary="b1"', "text/plain; charset=utf-8; format=flowed",
    "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", 'application/pdf; name="a;b.pdf"',
    "text/html; charset", "application/octet-stream; name*0=a; name*1=b.exe", "text/plain",
]  # fmt: skip


@pytest.mark.parametrize("value", PARAM_VALUES)
def test_parameters_are_read_as_message_reads_them(value: str) -> None:
    plain, indexed = Message(policy=RAW_POLICY), IndexedMessage(policy=RAW_POLICY)
    for msg in (plain, indexed):
        msg.set_raw("Content-Type", value)
        msg.set_raw("Content-Disposition", value)
    for _ in range(2):  # the second time from what was kept
        for header in ("content-type", "content-disposition", "x-missing"):
            assert indexed.get_params(header=header) == plain.get_params(header=header)
            assert indexed.get_params("none", header=header, unquote=False) == plain.get_params(
                "none", header=header, unquote=False
            )
        assert indexed.get_boundary() == plain.get_boundary()
        assert indexed.get_filename() == plain.get_filename()
        assert indexed.get_content_charset() == plain.get_content_charset()
        assert indexed.get_param("name") == plain.get_param("name")
    indexed.get_params().append(("x", "y"))  # a caller's change to the list is its own
    assert indexed.get_params() == plain.get_params()


@pytest.mark.parametrize(
    ("body", "charset"),
    [("plain text\r\n", None), ("caf\udce9\r\n", "latin-1"), ("caf\udcc3\udca9", "utf-8"),
     ("x\udce9", "no-such-charset"), ("\u00e9t\u00e9", None)],
)  # fmt: skip
def test_payloads_come_back_as_message_gives_them(body: str, charset: str | None) -> None:
    plain, indexed = Message(policy=RAW_POLICY), IndexedMessage(policy=RAW_POLICY)
    for msg in (plain, indexed):
        if charset:
            msg.set_raw("Content-Type", f"text/plain; charset={charset}")
        msg.set_payload(body)
    for _ in range(3):
        assert indexed.get_payload() == plain.get_payload()
        assert indexed.get_payload(decode=True) == plain.get_payload(decode=True)
    for msg in (plain, indexed):
        msg.set_payload("other \udce9")
    assert indexed.get_payload() == plain.get_payload()


CONTENT_TYPES = [
    "text/plain", "TEXT/HTML; charset=utf-8", "multipart/mixed;boundary=b", "text", "a/b/c",
    " Application/PDF ; name=x", "", "image/png (comment)", "x\udce9/y", "message/rfc822",
]  # fmt: skip


@pytest.mark.parametrize("value", [*CONTENT_TYPES, None])
def test_content_types_are_read_as_message_reads_them(value: str | None) -> None:
    plain, indexed = Message(policy=RAW_POLICY), IndexedMessage(policy=RAW_POLICY)
    for msg in (plain, indexed):
        if value is not None:
            msg.set_raw("Content-Type", value)
    for default in ("text/plain", "message/rfc822"):
        for msg in (plain, indexed):
            msg.set_default_type(default)
        for _ in range(2):  # the second time from what was kept
            assert indexed.get_content_type() == plain.get_content_type()
            assert indexed.get_content_maintype() == plain.get_content_maintype()
            assert indexed.get_content_subtype() == plain.get_content_subtype()
    for msg in (plain, indexed):
        msg["Content-Type"] = "image/gif"  # a second value: the first still counts
    assert indexed.get_content_type() == plain.get_content_type()


def test_header_counts_are_the_number_of_values() -> None:
    plain, indexed = _both()
    for name in NAMES:
        assert header_count(indexed, name) == header_count(plain, name)
        assert header_count(indexed, name) == len(plain.get_all(name) or ())
    assert header_count(indexed, "SUBJECT") == 2
    plain.set_raw("subject", "d")
    indexed.set_raw("subject", "d")
    assert header_count(indexed, "subject") == header_count(plain, "subject") == 3


def test_duplicate_notes_name_each_repeated_single_header() -> None:
    plain, indexed = _both()
    for msg in (plain, indexed):
        msg.set_raw("From", "a@b")
        msg.set_raw("FROM", "c@d")
    assert duplicate_notes(indexed) == duplicate_notes(plain)
    assert duplicate_notes(indexed) == ["duplicate from header", "duplicate subject header"]
