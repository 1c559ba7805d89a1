"""Shortcuts in the parse stages give what the plain code they replace gives."""

from __future__ import annotations

import random
import re

import pytest

from mailward.config.settings import LimitSettings
from mailward.mime import _salvage
from mailward.mime._ambiguity import (
    _B64_JUNK,
    _BARE_CR_DELIM,
    _BARE_CR_HEADER,
    _has_b64_junk,
    _raw_ambiguities,
)
from mailward.mime._headers import _EOL, _FOLD, decode_header_value, decode_words, fix_surrogates
from mailward.mime._parse import _parse_bytes
from mailward.mime._quirks import _EMBEDDED, _HIDDEN_HEADER, _has_embedded, _part

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _groups_of_three_by_pattern(letters: str) -> bytes:
    full = len(letters) // 3 * 3
    data = bytearray(_salvage._b64(re.sub(r"(...)", r"\1A", letters[:full])))
    del data[2::3]
    return bytes(data) + _salvage._b64(letters[full:])


def test_groups_of_three_agrees_with_the_pattern() -> None:
    rng = random.Random(15)
    for size in [*range(12), *(rng.randrange(3000) for _ in range(300))]:
        letters = "".join(rng.choice(_LETTERS) for _ in range(size))
        assert _salvage._groups_of_three(letters) == _groups_of_three_by_pattern(letters)


RAW_CR = [
    (b"From: a@example.com\r\n\r\nbody\r\n", False),
    (b"From: a@example.com\rTo: b@example.com\r\n\r\nbody\r\n", True),  # in the header block
    (b"From: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\rx\r\n--b--\r\n", True),
    (b"From: a\r\n\r\nbody\rmore\r\n--b\r\n", False),  # a bare CR in a body line only
    (b"From: a\n\n--b\n\r--b\r\n", False),  # a CR before "--" is no delimiter line
    (b"From: a\n\n--b\r\r\n", True),
]


@pytest.mark.parametrize(("raw", "expected"), RAW_CR)
def test_bare_cr_is_found_where_the_patterns_find_it(raw: bytes, expected: bool) -> None:
    head = raw[: m.start() if (m := re.search(rb"\r?\n\r?\n", raw)) else len(raw)]
    assert bool(_BARE_CR_HEADER.search(head) or _BARE_CR_DELIM.search(raw)) is expected
    msg = _parse_bytes(raw, LimitSettings())
    assert any(a.code == "bare_cr" for a in _raw_ambiguities(raw, msg)) is expected


EMBEDDED_BODIES = [
    "", "hello\nbegin 644 file.txt\n", "x begin 644 f\n", "begin 64 f", "=ybegin line=128\n",
    "text\n=ybegin x", "(This file must be converted with BinHex 4.0)\n:", " (This file must",
    "\nbegin 0755 a", "begin 644 \n", "a\r\nbegin 644 z",
]  # fmt: skip


@pytest.mark.parametrize("body", EMBEDDED_BODIES)
def test_embedded_file_shortcut_agrees_with_the_pattern(body: str) -> None:
    assert _has_embedded(body) is (_EMBEDDED.search(body) is not None)


def test_hidden_header_is_found_in_any_one_header_value() -> None:
    head = b"From: a@example.com\r\nSubject: x\r\n"
    hidden = head + b"X-A: y\r\n Content-Type: text/html\r\n\r\nbody\r\n"
    nul = head + b"X-A: y\r\rX-B: \x00Content-Type: x\r\n\r\nbody\r\n"
    for raw, expected in ((head + b"\r\nbody\r\n", False), (hidden, True), (nul, False)):
        msg = _parse_bytes(raw, LimitSettings())
        by_value = any(_HIDDEN_HEADER.search(str(v)) for v in msg.values())
        assert by_value is expected
        assert any(code == "hidden_header" for code, _ in _part(msg)) is expected


B64_BODIES = ["", "QUJD\r\n", "QU JD\t\x0b\x0c\x1c\x1f\n", "QUJD*", "QUJD\x00", "QUJD\x7f", "QUé", "Q\u2028"]


@pytest.mark.parametrize("body", B64_BODIES)
def test_base64_junk_shortcut_agrees_with_the_pattern(body: str) -> None:
    assert _has_b64_junk(body) is (_B64_JUNK.search(body) is not None)


def _decode_header_value_by_patterns(value: str) -> str:
    text = _fix_by_encoding(_FOLD.sub("", value))
    if "=?" in text:
        text = decode_words(text)
    return _EOL.sub(" ", text).strip()


def _fix_by_encoding(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


HEADER_VALUES = [
    "", " plain ", "a\r\n b", "a\n\tb", "a\rb", "=?utf-8?q?x?=\r\n =?utf-8?q?y?=", "caf\udce9",
    "=?utf-8?b?4pyTIA==?=\n", "x =?bad?q?=ZZ?= y", "\u00e9t\u00e9", "a\r\n",
]  # fmt: skip


@pytest.mark.parametrize("value", HEADER_VALUES)
def test_header_values_decode_as_with_the_patterns_always_run(value: str) -> None:
    assert decode_header_value(value) == _decode_header_value_by_patterns(value)
    assert fix_surrogates(value) == _fix_by_encoding(value)


def _qp_decode_byte_by_byte(data: bytes, lower: bool, invalid: int, space_soft: bool) -> bytes:
    out = bytearray()
    hexdigits = b"0123456789ABCDEFabcdef" if lower else b"0123456789ABCDEF"
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c != 0x3D:
            out.append(c)
            i += 1
            continue
        nxt = data[i + 1 : i + 3]
        if len(nxt) == 2 and nxt[0] in hexdigits and nxt[1] in hexdigits:
            out.append(int(nxt, 16))
            i += 3
            continue
        rest = re.match(rb"[ \t]*(\r?\n|$)", data[i + 1 : i + 200])
        if rest is not None:
            i += 1 + rest.end()
            continue
        if space_soft and data[i + 1 : i + 2] in (b" ", b"\t"):
            ws = re.match(rb"[ \t]+", data[i + 1 :])
            i += 1 + (ws.end() if ws else 0)
            continue
        if invalid < 0:
            out.append(c)
            i += 1
        else:
            i += 1 + invalid
    return bytes(out)


def test_qp_decode_agrees_with_the_byte_by_byte_decoder() -> None:
    rng = random.Random(15)
    pieces = [b"=", b"=4", b"=41", b"=a1", b"= ", b"=\t", b"=\r\n", b"=\n", b" ", b"\r\n", b"x", b"\xff"]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        for lower, invalid, space in [(True, 0, True), (False, 2, True), (True, -1, False)]:
            expected = _qp_decode_byte_by_byte(data, lower, invalid, space)
            assert _salvage.qp_decode(data, lower, invalid, space) == expected, data
