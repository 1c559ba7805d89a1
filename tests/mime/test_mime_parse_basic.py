"""Bodies and headers: plain, alternative, HTML-only, RFC 2047, address lists, defects."""

from __future__ import annotations

from email.message import EmailMessage

from mailward.config.settings import LimitSettings
from mailward.mime import parse_message

LIMITS = LimitSettings()


def _msg(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Alice <alice@example.com>")
    msg["To"] = headers.pop("To", "bob@example.org")
    msg["Subject"] = headers.pop("Subject", "hello")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def test_plain_message() -> None:
    msg = _msg(Message_ID="<id-1@example.com>")
    msg.set_content("Hello Bob,\nplain body.\n")
    parsed = parse_message(msg.as_bytes(), LIMITS)
    assert parsed.text.strip() == "Hello Bob,\nplain body."
    assert parsed.html == ""
    assert parsed.message_id == "id-1@example.com"
    assert parsed.subject == "hello"
    assert parsed.header("subject") == "hello"
    assert parsed.from_[0].address == "alice@example.com"
    assert parsed.from_[0].display_name == "Alice"
    assert parsed.attachments == ()


def test_missing_message_id_is_empty() -> None:
    msg = _msg()
    msg.set_content("x")
    assert parse_message(msg.as_bytes(), LIMITS).message_id == ""


def test_alternative_uses_plain_text_not_html_text() -> None:
    msg = _msg()
    msg.set_content("the plain version")
    msg.add_alternative("<p>the <b>html</b> version</p>", subtype="html")
    parsed = parse_message(msg.as_bytes(), LIMITS)
    assert parsed.text.strip() == "the plain version"
    assert "<b>html</b>" in parsed.html


def test_html_only_text_is_derived_from_html() -> None:
    msg = _msg()
    msg.set_content(
        "<html><head><title>T</title><style>p{color:red}</style></head>"
        "<body><p>Dear&nbsp;customer &amp; friend</p><div>P<span>ay</span>Pal</div>"
        "<script>var hidden = 1;</script></body></html>",
        subtype="html",
    )
    parsed = parse_message(msg.as_bytes(), LIMITS)
    assert parsed.text == "Dear customer & friend\nPayPal"
    assert "hidden" not in parsed.text


def test_rfc2047_subject_and_display_name() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@Example.DE>\r\n"
        b"To: x@example.com\r\n"
        b"Subject: =?iso-8859-1?q?R=E9sum=E9?= =?utf-8?b?w6l0w6k=?= now\r\n"
        b"\r\nbody\r\n"
    )
    parsed = parse_message(raw, LIMITS)
    assert parsed.subject == "Résuméété now"
    assert parsed.from_[0].display_name == "Jörg Müller"
    assert parsed.from_[0].domain == "example.de"
    assert ("Subject", "Résuméété now") in parsed.headers


def test_plain_subject_is_left_alone() -> None:
    raw = b"From: a@example.com\r\nSubject: =? not encoded ?=\r\n\r\nbody\r\n"
    assert parse_message(raw, LIMITS).subject == "=? not encoded ?="


def test_raw_utf8_header_is_decoded() -> None:
    raw = "From: a@example.com\nSubject: caf\u00e9 ok\n\nbody\n".encode()
    assert parse_message(raw, LIMITS).subject == "caf\u00e9 ok"


def test_two_from_mailboxes_give_two_addresses() -> None:
    raw = b"From: Alice <a@one.example>, b@Two.Example\nTo: c@x.example\n\nhi\n"
    parsed = parse_message(raw, LIMITS)
    assert [a.address for a in parsed.from_] == ["a@one.example", "b@Two.Example"]
    assert [a.domain for a in parsed.from_] == ["one.example", "two.example"]


def test_one_from_mailbox_gives_one_address() -> None:
    parsed = parse_message(b"From: Alice <a@one.example>\n\nhi\n", LIMITS)
    assert len(parsed.from_) == 1


def test_encoded_comma_in_display_name_does_not_split_mailbox() -> None:
    raw = b"From: =?utf-8?q?Doe=2C_John?= <john@example.com>\n\nhi\n"
    parsed = parse_message(raw, LIMITS)
    assert len(parsed.from_) == 1
    assert parsed.from_[0].display_name == "Doe, John"
    assert parsed.from_[0].address == "john@example.com"


def test_reply_to_and_cc() -> None:
    raw = b"From: a@x.example\nReply-To: r@y.example\nCc: c1@z.example, c2@z.example\n\nhi\n"
    parsed = parse_message(raw, LIMITS)
    assert [a.address for a in parsed.reply_to] == ["r@y.example"]
    assert len(parsed.cc) == 2
    assert parsed.to == ()


def test_headers_in_order_with_duplicates_noted() -> None:
    raw = b"Received: one\nReceived: two\nFrom: a@x.example\nFrom: b@x.example\n\nhi\n"
    parsed = parse_message(raw, LIMITS)
    assert parsed.header_all("received") == ["one", "two"]
    assert "duplicate from header" in parsed.defects


def test_no_defects_on_a_clean_message() -> None:
    msg = _msg()
    msg.set_content("clean")
    assert parse_message(msg.as_bytes(), LIMITS).defects == ()


def test_missing_boundary_is_a_defect_and_body_is_text() -> None:
    raw = b"From: a@x.example\nContent-Type: multipart/mixed\n\nsee http://x.example/\n"
    parsed = parse_message(raw, LIMITS)
    assert "missing boundary: multipart body read as text" in parsed.defects
    assert "see http://x.example/" in parsed.text


def test_duplicate_content_type_is_a_defect() -> None:
    raw = b"From: a@x.example\nContent-Type: text/plain\nContent-Type: text/html\n\nhi\n"
    assert "duplicate Content-Type" in parse_message(raw, LIMITS).defects


def test_charsets_unknown_and_latin1() -> None:
    raw = (
        b"From: a@x.example\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n"
        b"--b\nContent-Type: text/plain; charset=x-no-such-charset\n\nna\xefve\n"
        b"--b--\n"
    )
    parsed = parse_message(raw, LIMITS)
    assert "café" in parsed.text
    assert "naïve" in parsed.text  # unknown charset read as Latin-1


def test_text_is_truncated_at_max_text_chars() -> None:
    msg = _msg()
    msg.set_content("a" * 5000)
    parsed = parse_message(msg.as_bytes(), LimitSettings(max_text_chars=100))
    assert len(parsed.text) == 100


def test_quoted_printable_body_with_raw_8bit_bytes_is_read() -> None:
    """A quoted-printable part that also carries raw UTF-8 bytes (real mail does): the stdlib
    hands its body back decoded with the declared charset; reading it as ASCII raised and the
    whole message was unreadable (ParseError)."""
    raw = (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"caf\xc3\xa9 costs 3=3D3 \xe2\x80\xa2 ok\r\n")
    assert parse_message(raw, LIMITS).text.strip() == "caf\u00e9 costs 3=3 \u2022 ok"


def test_8bit_body_in_an_unknown_charset_is_still_read() -> None:
    raw = (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"caf\xc3\xa9 =3D ok\r\n")
    assert "= ok" in parse_message(raw, LIMITS).text
