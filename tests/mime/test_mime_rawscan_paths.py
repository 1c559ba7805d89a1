"""The parse's shortcuts (raw-byte facts found once, cheap exits) give what the general code
they stand in front of gives, on crafted messages and random ones."""

from __future__ import annotations

import base64
import random
import re
from email.message import Message

import pytest
from mime_ambiguity_samples import ATTACKS, CONTROLS
from test_mime_feed import CASES, _random_entity, _tree

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded
from mailward.mime import _limits, _quirks, _salvage, _urlscan
from mailward.mime._ambiguity import find_ambiguities, iter_parts
from mailward.mime._feed import parse_bytes
from mailward.mime._headers import _FOLD, RAW_POLICY, _addresses, addresses
from mailward.mime._lines import blank_line, line_start_matches, line_starts
from mailward.mime._magic import detect_type
from mailward.mime._names import _part_names, may_have_names
from mailward.mime._rawscan import RawScan
from mailward.mime._walk import _filename
from mailward.mime.urls import _TEXT_URL

HEAD = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
B64 = base64.encodebytes(b"MZ" + bytes(range(256)) * 3).replace(b"\n", b"\r\n")
#: Unusual boundaries, nesting, encodings and broken headers.
MESSAGES = [
    *CASES,
    HEAD + b'Content-Type: multipart/mixed; boundary="a b"\r\n\r\n--a b\r\n\r\nx\r\n--a b--\r\n',
    HEAD + b'Content-Type: multipart/mixed; boundary="q"\r\n\r\n--"q"\r\n\r\nx\r\n--q--\r\n',
    HEAD + b"Content-Type: multipart/mixed; boundary=a; boundary=ab\r\n\r\n--ab\r\n\r\nx\r\n"
    b"--a\r\nContent-Type: text/html\r\n\r\n<a href='http://x.example/'>y</a>\r\n--a--\r\n",
    HEAD + b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
    b"Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n"
    b"\r\nwww.example.org\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--i--\r\n"
    b"--o\r\nContent-Type: application/octet-stream; name=a.exe\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + B64 + b"--o--\r\n",
    HEAD + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + B64.replace(b"\r\n", b"\n")[:-7] + b"\n",
    HEAD + b"Content-Transfer-Encoding: quoted-printable\r\n\r\nab=3D=\r\ncd=ZZ\r\n",
    HEAD + b"Content-Type: text/plain\r\n\r\n-- \r\nsig\r\n--x\r\nContent-Type: text/html\r\n\r\n",
    HEAD + b"Content-Type: text/plain\r\n\r\nbegin 644 a.exe\r\nM86)C\r\n`\r\nend\r\n",
    HEAD + b"X-A: y\r\n Content-Type: text/html\r\n\r\nbody\rmore\r\n--b\rx\r\n",
    HEAD + b"Content-Type : text/plain\r\n\r\ncontent-type: text/html\r\n\r\n<b>x</b>\r\n",
    HEAD + b"Content-Disposition: attachment; filename*0*=utf-8''a%2E; filename*1=exe\r\n"
    b"Content-Type: application/x-thing; na\\me=b.txt; (c)name=c\r\n\r\nx\r\n",
    HEAD + b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(b"Subject: in\r\n\r\nhidden http://evil.example/\r\n"),
    HEAD.replace(b"\r\n", b"\n") + b"\n--\n\n\n--a\n\n",
    b"--b\r\nContent-Type: text/plain\r\n\r\nfirst line is a delimiter\r\n",
    *(raw for raw, _ in ATTACKS.values()),
    *CONTROLS.values(),
]


def _mutations(count: int) -> list[bytes]:
    rng = random.Random(15)
    pieces = [b"\r", b"\n", b"\r\n", b"--", b"--b\r\n", b"Content-Type: text/html\r\n", b"=",
              b"begin 644 x\n", b" content-type: a\r\n", b"\r\n\r\n", b"boundary=\"b\"", b"\t"]  # fmt: skip
    out = []
    for _ in range(count):
        raw = bytearray(rng.choice(MESSAGES))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(raw) + 1)
            if rng.random() < 0.7:
                raw[pos:pos] = rng.choice(pieces)
            else:
                del raw[pos : pos + rng.randint(1, 20)]
        out.append(bytes(raw))
    return out


ALL = MESSAGES + _mutations(600)
RANDOM = [_random_entity(random.Random(i), 0, []).encode("utf-8", "surrogateescape") for i in range(300)]


def _lines_by_starts(data: bytes) -> list[tuple[int, int]]:
    out = []
    for start in line_starts(data, b"--"):
        end = data.find(b"\n", start + 2)
        out.append((start, len(data) if end < 0 else end))
    return out


def test_raw_scan_facts_are_those_of_the_searches() -> None:
    for raw in ALL + RANDOM:
        scan = RawScan(raw)
        assert scan.dash_lines == _lines_by_starts(raw)
        assert scan.bare_cr is (re.search(rb"\r(?!\n)", raw) is not None)
        assert scan.lowered == raw.lower()


def test_blank_line_is_the_pattern_match() -> None:
    pattern = re.compile(rb"\r?\n\r?\n")
    rng = random.Random(15)
    pieces = [b"\r", b"\n", b"\r\n", b"a", b" ", b"\n\n"]
    for _ in range(20000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        pos = rng.randint(0, len(data))
        end = rng.randint(0, len(data) + 2)
        match = pattern.search(data, pos, end)
        assert blank_line(data, pos, end) == (match.span() if match else None), data


def test_parser_with_a_raw_scan_builds_the_same_tree() -> None:
    for raw in ALL + RANDOM:
        assert _tree(parse_bytes(raw, RAW_POLICY, RawScan(raw))) == _tree(
            parse_bytes(raw, RAW_POLICY)
        ), raw


def _limit_outcome(raw: bytes, scan: RawScan | None) -> str:
    limits = LimitSettings(max_parts=3, max_depth=2, max_header_params=3)
    try:
        _limits.check_nesting(raw, limits, scan)
    except LimitExceeded as exc:
        return str(exc)
    return "ok"


def test_limits_with_a_raw_scan_are_the_same() -> None:
    for raw in ALL + RANDOM:
        assert _limit_outcome(raw, RawScan(raw)) == _limit_outcome(raw, None), raw


def test_limit_searches_are_the_pattern_ones() -> None:
    for raw in ALL + RANDOM:
        lowered = raw.lower()
        assert [m.span() for m in _limits._declarations(lowered)] == [
            m.span() for m in _limits._DECL.finditer(lowered)
        ]
        starts = [m.span() for m in line_start_matches(_limits._PARAM_HEADER, lowered)]
        mine = [m.span() for s in line_starts(lowered, b"content-") if (m := _limits._PARAM_HEADER.match(lowered, s))]
        assert mine == starts


def test_ambiguities_with_a_raw_scan_are_the_same() -> None:
    for raw in ALL + RANDOM:
        root = parse_bytes(raw, RAW_POLICY)
        assert find_ambiguities(raw, root, RawScan(raw)) == find_ambiguities(raw, root), raw
        parts = list(iter_parts(root))
        assert list(_quirks._stray(raw, parts, RawScan(raw))) == list(_quirks._stray(raw, parts))


def _some_bodies() -> list[str]:
    rng = random.Random(15)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    bodies = ["", "QUJD", "QUJD\r\nREVG\r\n", "QUJDRA==\nQUJD\n", "QUJD\rREVG", "QUJD\n\nREVG"]
    for _ in range(3000):
        width = rng.choice([4, 8, 76, 75, 3])
        lines = ["".join(rng.choice(letters) for _ in range(width)) for _ in range(rng.randint(0, 5))]
        lines.append("".join(rng.choice(letters) for _ in range(rng.randint(0, width))))
        body = rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n", "\r\n", " \r\n"])
        if rng.random() < 0.3:
            pos = rng.randrange(len(body) + 1)
            body = body[:pos] + rng.choice(["\r", "\n", " ", "*", "\x0b", "é", "\r\n\r\n"]) + body[pos:]
        bodies.append(body)
    return bodies


@pytest.mark.parametrize("body", _some_bodies())
def test_base64_length_shortcut_agrees_with_the_list_of_lines(body: str) -> None:
    assert _quirks.base64_length_odd(body) is _quirks._base64_odd(body)


@pytest.mark.parametrize("body", ["", "begin 644 a\n", "x\n=ybegin x", "abegin 644 a", "begin 6 a",
                                  "(This file must be converted with BinHex 4.0)", "\n begin 644 a"])  # fmt: skip
def test_embedded_file_within_reach_agrees_with_the_pattern(body: str) -> None:
    for reach in (None, 3, 8, 100):
        text = body if reach is None else body[:reach]
        assert _quirks._has_embedded(body, reach) is (_quirks._EMBEDDED.search(text) is not None)


def test_a_part_that_cannot_have_names_has_none() -> None:
    for raw in ALL + RANDOM:
        for part in iter_parts(parse_bytes(raw, RAW_POLICY)):
            if not may_have_names(part):
                assert _part_names(part) == ()
                assert _filename(part) is None


def test_noise_is_decided_as_by_the_full_type() -> None:
    samples = [b"", b"abcd", b"%PDF-1.4\n", b"<html><body>x</body></html>", bytes(range(256)), B64]
    for data in samples:
        assert _salvage.is_noise(data) is (detect_type(data)[0] in _salvage._NOISE)


def test_decoded_payloads_are_the_stdlib_ones() -> None:
    for raw in ALL + RANDOM:
        for part in iter_parts(parse_bytes(raw, RAW_POLICY)):
            plain = Message()
            plain._headers = list(part._headers)  # type: ignore[attr-defined]
            plain.set_payload(part._payload)  # type: ignore[attr-defined]
            assert part.get_payload(decode=True) == plain.get_payload(decode=True)
            assert [str(d) for d in part.defects[len(part.defects) - len(plain.defects):]] == [
                str(d) for d in plain.defects
            ]


@pytest.mark.parametrize("text", ["", "see www.Example.org and HTTP://x.example/a", "İ www.x.example",
                                  "wwww.a.example", "é https://a.example/ WWW.B.EXAMPLE"])  # fmt: skip
def test_link_candidates_give_the_pattern_matches(text: str) -> None:
    mine = [m.span() for m in _urlscan.text_url_matches(_TEXT_URL, text)]
    assert mine == [m.span() for m in _TEXT_URL.finditer(text)]


def test_address_values_unfolded_only_where_they_hold_a_line_end() -> None:
    for raw in ALL:
        msg = parse_bytes(raw, RAW_POLICY)
        for name in ("from", "to", "cc", "reply-to"):
            values = [_FOLD.sub("", str(v)) for v in msg.get_all(name) or []]
            assert addresses(msg, name) == (_addresses(values) if values else ())


def _uniform_base64_counting_each(body: str) -> bool | None:
    """``_quirks._uniform_base64`` as it was: a pass over the data for the letters test and
    one for each line-end count (the reference for the one-pass version)."""
    if not body.isascii():
        return None
    data = body.strip().encode("ascii")
    if data.translate(None, _quirks._B64_ALPHABET + b"\r\n"):
        return None
    lfs, crs = data.count(b"\n"), data.count(b"\r")
    if not lfs:
        return None if crs else len(data) % 4 != 0
    first = data.find(b"\n")
    crlf = data[first - 1] == 0x0D
    if crs != (lfs if crlf else 0):
        return None
    width = first - crlf
    stride = width + 1 + crlf
    stop = first + lfs * stride
    if data[first:stop:stride] != b"\n" * lfs:
        return None
    if crlf and data[first - 1 : stop - 1 : stride] != b"\r" * lfs:
        return None
    return (len(data) - lfs - crs) % 4 != 0 or width % 4 != 0


def test_uniform_base64_one_pass_counts_as_each_count_did() -> None:
    # str.strip also strips \x1c-\x1f (bytes.strip does not): such edges, and every odd
    # character inside, at the start, the end and around the line ends
    odd = ["\r", "\n", "\r\n", " ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "*", "\x00", "é", "-"]
    wide = base64.encodebytes(bytes(range(256)) * 2).decode()
    bases = [wide, wide.replace("\n", "\r\n"), wide.rstrip("\n"), "QUJD", "QUJDRA==\r\nQUJD"]
    bodies = list(_some_bodies())
    for base in bases:
        for char in odd:
            bodies += [char + base, base + char, char + base + char, base.replace("\n", char + "\n", 1)]
            bodies.append(base[:40] + char + base[40:])
    shortcut_answers = set()
    for body in bodies:
        answer = _quirks._uniform_base64(body)
        assert answer is _uniform_base64_counting_each(body), repr(body)
        shortcut_answers.add(answer)
        if answer is not None:
            assert answer is _quirks._base64_odd(body)
    assert shortcut_answers == {None, True, False}
