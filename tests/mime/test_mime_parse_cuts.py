"""Session 11's cheaper parse steps give what the code they replace gives."""

from __future__ import annotations

import random
from email.message import Message

import pytest
from test_mime_rawscan_paths import MESSAGES, _mutations

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded
from mailward.mime import _ambiguity, _limits, _quirks
from mailward.mime._feed import parse_bytes
from mailward.mime._headers import RAW_POLICY
from mailward.mime._html import _UNCHECKED_TAGS, check_nesting
from mailward.mime.urls import _STRIP, make_url

PIECES = [b"From", b"FROM", b"from", b"To", b"tO", b"Resent-", b"RESENT-", b"cc", b"Bcc",
          b"sender", b"Reply-To", b"reply-to", b":", b" ", b"\t", b"\n", b"\r\n", b"a@b", b"(",
          b")", b'"', b"x", b"; ", b"\n ", b"\n\t", b"\xc4", b"\xe4"]  # fmt: skip


def test_address_values_are_the_lower_cased_block_s() -> None:
    rng = random.Random(5)
    for _ in range(20_000):
        block = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 25)))
        old = [m[1] for m in _limits._ADDRESS_HEADER_LF.finditer(b"\n" + block.lower())]
        assert [v.lower() for v in _limits.address_values(block)] == old, block


def test_header_count_cap_still_counts_folds() -> None:
    limits = LimitSettings(max_headers=3)
    _limits.check_headers(b"A: 1\n B: 2\n\tC: 3\nD: 4\nE: 5", limits)  # 5 lines, 3 headers
    with pytest.raises(LimitExceeded):
        _limits.check_headers(b"A: 1\nB: 2\nC: 3\nD: 4", limits)


def _old_hidden(text: str) -> bool:
    return _quirks._HIDDEN_HEADER.search(text) is not None


@pytest.mark.parametrize("text", ["", "a\n Content-Type: x", "a\r content-type :", "a\r\nContent-type:",
                                  "x\0y\n\tCONTENT-DISPOSITION\t:", "\rContent-Transfer-Encoding:",
                                  "a\n content-typo:", "a\r\n\tContent-Type:"])  # fmt: skip
def test_hidden_header_as_the_whole_pattern(text: str) -> None:
    assert _quirks.hidden_header(text) == _old_hidden(text)


def test_hidden_header_random() -> None:
    rng = random.Random(7)
    pieces = ["\n", "\r", "\r\n", " ", "\t", "content-", "Content-", "type", "disposition",
              "transfer-encoding", ":", "x", "\0"]  # fmt: skip
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert _quirks.hidden_header(text) == _old_hidden(text), repr(text)


def _old_padding(body: str) -> bool:
    return _ambiguity._B64_AFTER_PAD.search(body) is not None


def test_base64_padding_found_from_the_first_equals_sign() -> None:
    rng = random.Random(9)
    for _ in range(20_000):
        body = "".join(rng.choice(["QUJD", "=", "==", "\r\n", " ", "a", "+", "\t"])
                       for _ in range(rng.randint(0, 10)))  # fmt: skip
        part = Message()
        part["Content-Transfer-Encoding"] = "base64"
        part.set_payload(body)
        found = [a.code for a in _ambiguity._base64(part)]
        assert ("base64_padding" in found) == _old_padding(body), repr(body)


def test_boundary_and_charset_answers_are_the_stdlib_s() -> None:
    values = ['multipart/mixed; boundary="a b "', "multipart/mixed; boundary*0=x; boundary*1=y",
              "text/plain; charset=UTF-8", "text/plain; charset*=utf-8''%C3%A9", "text/plain",
              "text/plain; charset=\udce9", 'multipart/alternative; boundary=""', "x; charset=",
              "multipart/mixed; BOUNDARY=Q; boundary=r"]  # fmt: skip
    for value in values * 2:  # the second time from the caches
        raw = f"Content-Type: {value}\n\nbody\n".encode("ascii", "surrogateescape")
        mine = parse_bytes(raw, RAW_POLICY)
        plain = Message()
        plain["Content-Type"] = mine["Content-Type"]
        for failobj in (None, "none"):
            assert mine.get_boundary(failobj) == plain.get_boundary(failobj), value
            assert mine.get_content_charset(failobj) == plain.get_content_charset(failobj), value
    empty = parse_bytes(b"Subject: x\n\nbody\n", RAW_POLICY)
    assert empty.get_boundary("f") == "f" and empty.get_content_charset("f") == "f"


def _old_html_check(html: str) -> bool:
    """Whether the old first test let ``html`` through unlooked at."""
    return html.count("<") - html.count("</") <= _UNCHECKED_TAGS


def test_html_nesting_skips_only_what_the_old_test_skipped() -> None:
    for html in ["", "<div>" * _UNCHECKED_TAGS, "<div>" * (_UNCHECKED_TAGS + 1),
                 "<div></div>" * (_UNCHECKED_TAGS + 1), "x" * 10_000 + "<b>" * 10]:  # fmt: skip
        if _old_html_check(html):
            check_nesting(html)  # must not raise: nothing was looked at before either
    with pytest.raises(LimitExceeded):
        check_nesting("<div>" * 7000)


@pytest.mark.parametrize("raw", ["https://a.example/x", " https://a.example/\tx\n", "http://a\x00.example",
                                 "https://\u00e9.example/\u200b", "java\x7fscript:x", "#top", "",
                                 "https://a.example/\xa0x", "\x1fhttp://b.example"])  # fmt: skip
def test_make_url_strips_as_the_pattern(raw: str) -> None:
    url = make_url(raw, "html", "t")
    stripped = _STRIP.sub("", raw)
    expected = None if not stripped or stripped.startswith("#") else stripped
    assert (url.url if url is not None else None) == expected


def test_messages_parse_the_same_limits_as_before() -> None:
    """check_headers on every header block of the samples: the new address values give the
    same limit answers as the old lower-cased ones."""
    for raw in [*MESSAGES, *_mutations(200)]:
        end = raw.find(b"\r\n\r\n")
        block = raw if end < 0 else raw[:end]
        old = [m[1] for m in _limits._ADDRESS_HEADER_LF.finditer(b"\n" + block.lower())]
        assert [v.lower() for v in _limits.address_values(block)] == old
