"""Cheaper parse steps give the answers of the general code they stand in for."""

from __future__ import annotations

import random
from email.message import Message

import pytest

from mailward.mime import _headers, _limits, _magic
from mailward.mime._headers import (
    RAW_POLICY,
    IndexedMessage,
    addresses,
    decode_header_value,
    header_items,
)
from mailward.mime._walk import _refolded

HEADER_LINES = [
    b"From: a@example.com", b"to: b@example.com,\n c@example.com", b"CC: d@x", b"Bcc:",
    b"Resent-From: r@example.com", b"Reply-To: <e@x>", b"Sender: s@x", b"Subject: to: x",
    b"X-To: no@x", b"Received: from x", b"\tfrom: folded@x", b" to: folded@x", b"tO : z@x",
    b"from:", b"Content-Type: text/plain", b"cc: a@b\r", b"reply-to:\n\tq@x",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_address_header_values_are_the_line_start_patterns(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        lines = [rng.choice(HEADER_LINES) for _ in range(rng.randint(0, 8))]
        block = rng.choice([b"\n", b"\r\n"]).join(lines).lower()
        expected = [m[1] for m in _limits._ADDRESS_HEADER.finditer(block)]
        found = [m[1] for m in _limits._ADDRESS_HEADER_LF.finditer(b"\n" + block)]
        assert found == expected, block


VALUES = [
    "plain", "  padded  ", "folded\r\n value", "=?utf-8?q?caf=C3=A9?=", "caf\udcc3\udca9",
    "\u00e9t\u00e9", "a\rb", "", "\t", "x=?y", "line\nend",
]  # fmt: skip


def test_header_items_decode_every_value_as_decode_header_value() -> None:
    msg = IndexedMessage(policy=RAW_POLICY)
    for i, value in enumerate(VALUES):
        msg.set_raw(f"X-{i}" if i % 2 else f"X-\udce9{i}", value)
    expected = tuple(
        (_headers.fix_surrogates(name), decode_header_value(value)) for name, value in msg._headers
    )
    assert header_items(msg) == expected


def _with(name: str, *values: str) -> IndexedMessage:
    msg = IndexedMessage(policy=RAW_POLICY)
    for value in values:
        msg.set_raw(name, value)
    return msg


def test_address_lists_kept_by_value_are_the_ones_read() -> None:
    values = ('"Ann" <ann@example.com>, bob@example.org (Bob)', "=?utf-8?q?C=C3=A9?= <c@x.example>")
    fresh = _headers._addresses(list(values))
    first = addresses(_with("To", *values), "to")
    assert first == fresh
    assert addresses(_with("To", *values), "to") is first  # kept, and immutable
    assert addresses(_with("To", values[0]), "to") == _headers._addresses([values[0]])


def test_long_address_lists_are_not_kept() -> None:
    value = ", ".join(f"u{i}@example.com" for i in range(200))
    assert len(value) > _headers._PARAMS_VALUE_MAX
    found = addresses(_with("Cc", value), "cc")
    assert len(found) == 200
    assert (value,) not in _headers._ADDRESSES


@pytest.mark.parametrize(
    "body",
    ["QUJD\r\nREVG\r\n", "QUJD\nREVG\n", "QUJD\rREVG\r", "QUJ\r\nDREVG", "QUJD REVG", "QUJDRA"],
)
def test_base64_bodies_decode_as_message_decodes_them(body: str) -> None:
    plain, indexed = Message(policy=RAW_POLICY), IndexedMessage(policy=RAW_POLICY)
    for msg in (plain, indexed):
        msg.set_raw("Content-Transfer-Encoding", "base64")
        msg.set_payload(body)
    assert indexed.get_payload(decode=True) == plain.get_payload(decode=True)
    assert [type(d) for d in indexed.defects] == [type(d) for d in plain.defects]


def _old_refolded(part: Message) -> bytes | None:
    """_refolded as it was, encoding every body first (the reference)."""
    import binascii
    import re

    from mailward.mime._salvage import qp_decode
    from mailward.mime._walk import _QP_SOFT_SPACE, body_bytes

    raw = part.get("content-transfer-encoding")
    if raw is None or part.is_multipart():
        return None
    cte = " ".join(str(raw).split()).lower()
    body = part.get_payload()
    if cte not in {"base64", "quoted-printable"} or not isinstance(body, str):
        return None
    data = body_bytes(part, body)
    if cte == "quoted-printable" and _QP_SOFT_SPACE.search(data):
        return qp_decode(data, lower=True, invalid=-1, space_soft=False)
    if cte == str(raw).lower():
        return None
    if cte == "base64":
        letters = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        letters = letters[: len(letters) - len(letters) % 4 if len(letters) % 4 == 1 else None]
        return binascii.a2b_base64(letters + b"=" * (-len(letters) % 4))
    return binascii.a2b_qp(data)


@pytest.mark.parametrize("cte", ["base64", "BASE64", "quoted-printable", "Quoted-Printable",
                                 "\tbase64", "quoted-printable ", "7bit"])  # fmt: skip
@pytest.mark.parametrize("body", ["QUJD\r\n", "a=3Db= \r\nc", "a=\t\nb", "a=\nb", "caf\udce9= \n",
                                  "\u00e9= \nx", "plain"])  # fmt: skip
def test_refolded_bodies_are_the_general_code_s(cte: str, body: str) -> None:
    part = IndexedMessage(policy=RAW_POLICY)
    part.set_raw("Content-Type", "text/plain; charset=latin-1")
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(body)
    assert _refolded(part) == _old_refolded(part)


def test_the_type_of_a_head_is_asked_of_libmagic_once() -> None:
    head = b"%PDF-1.4\n% asked once\n"
    assert _magic.detect_mime(head) == "application/pdf"
    hits = _magic._mime_of.cache_info().hits
    assert _magic.detect_type(head)[0] == "application/pdf"
    assert _magic._mime_of.cache_info().hits == hits + 1


class _Failing:
    def from_buffer(self, head: bytes) -> str:
        raise _magic.magic.MagicException("no")


class _Typing:
    def from_buffer(self, head: bytes) -> str:
        return "text/plain"


@pytest.mark.parametrize(("mime_fails", "desc_fails"), [(True, False), (False, True)])
def test_libmagic_failures_give_what_they_gave(
    monkeypatch: pytest.MonkeyPatch, mime_fails: bool, desc_fails: bool
) -> None:
    handles = (_Failing() if mime_fails else _Typing(), _Failing() if desc_fails else _Typing())
    monkeypatch.setattr(_magic, "_handles", lambda: handles)
    head = f"failing {mime_fails} {desc_fails}".encode()
    assert _magic.detect_type(head) == _magic._FAILED
    assert _magic.detect_mime(head) == ("application/octet-stream" if mime_fails else "text/plain")
    _magic._detect.cache_clear()
    _magic._mime_of.cache_clear()


def test_header_values_are_message_values() -> None:
    raw_msg = _with("X-A", "one", "caf\udce9", "folded\r\n two")
    assert _headers.header_values(raw_msg) == raw_msg.values()
    plain = Message()
    plain["X-A"] = "one"
    plain["X-B"] = "two"
    assert _headers.header_values(plain) == plain.values()
