"""Bounces (RFC 3464) parse back with the email package and say what failed."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message

import pytest

from mailward.delivery.dsn import build_bounce, original_headers

ORIGINAL = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: quarterly numbers\r\n"
    b"Message-ID: <orig-1@example.org>\r\n"
    b"\r\n"
    b"SECRET BODY that must not come back\r\n"
)
BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def _bounce(**overrides: object) -> bytes:
    kwargs: dict[str, object] = {
        "reporting_mta": "mx.example.com",
        "original_mail_from": "alice@example.org",
        "failed": {"bob@example.com": "mx.example.net:25 said 550 5.1.1 no such user"},
        "original_raw": ORIGINAL,
        "arrival_time": 1_700_000_000.0,
        "now": 1_700_000_600.0,
    }
    kwargs.update(overrides)
    return build_bounce(**kwargs)  # type: ignore[arg-type]


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _status_blocks(msg: EmailMessage) -> list[Message]:
    (part,) = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
    blocks = part.get_payload()
    assert isinstance(blocks, list)
    return [b for b in blocks if isinstance(b, Message)]


def test_bounce_is_a_delivery_status_report() -> None:
    raw = _bounce()
    assert BARE.search(raw) is None
    msg = _parse(raw)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert "MAILER-DAEMON@mx.example.com" in str(msg["From"])
    assert str(msg["To"]) == "alice@example.org"
    assert str(msg["Subject"]) == "Undelivered Mail Returned to Sender"
    assert str(msg["Auto-Submitted"]) == "auto-replied"
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "message/delivery-status", "text/rfc822-headers"]


def test_status_part_names_the_failed_recipient() -> None:
    per_message, *per_recipient = _status_blocks(_parse(_bounce()))
    assert per_message["Reporting-MTA"] == "dns; mx.example.com"
    assert "14 Nov 2023" in str(per_message["Arrival-Date"])
    (block,) = per_recipient
    assert block["Final-Recipient"] == "rfc822; bob@example.com"
    assert block["Action"] == "failed"
    assert block["Status"] == "5.0.0"
    assert "550 5.1.1 no such user" in str(block["Diagnostic-Code"])


def test_each_failed_recipient_gets_a_block_and_unlisted_ones_none() -> None:
    failed = {"bob@example.com": "550 gone", "carol@example.com": "552 full"}
    blocks = _status_blocks(_parse(_bounce(failed=failed)))[1:]
    assert [b["Final-Recipient"] for b in blocks] == [
        "rfc822; bob@example.com",
        "rfc822; carol@example.com",
    ]
    assert not any("dave@example.com" in str(b) for b in blocks)


def test_expired_status_is_4_4_7() -> None:
    blocks = _status_blocks(_parse(_bounce(expired=True)))
    assert blocks[1]["Status"] == "4.4.7"
    assert blocks[1]["Action"] == "failed"


def test_human_part_lists_recipient_and_reason() -> None:
    msg = _parse(_bounce())
    text = next(p for p in msg.iter_parts() if p.get_content_type() == "text/plain")
    assert isinstance(text, EmailMessage)
    content = text.get_content()
    assert "<bob@example.com>" in content
    assert "no such user" in content
    assert "carol@example.com" not in content


def test_headers_part_has_headers_but_not_body() -> None:
    raw = _bounce()
    msg = _parse(raw)
    part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/rfc822-headers")
    assert isinstance(part, EmailMessage)
    headers = part.get_content()
    assert "Subject: quarterly numbers" in headers
    assert "Message-ID: <orig-1@example.org>" in headers
    assert b"SECRET BODY" not in raw


def test_non_utf8_original_headers_still_build() -> None:
    raw = _bounce(original_raw=b"Subject: caf\xe9 \xc3\xa4\n\nbody\n")
    assert BARE.search(raw) is None
    part = next(
        p for p in _parse(raw).iter_parts() if p.get_content_type() == "text/rfc822-headers"
    )
    assert isinstance(part, EmailMessage)
    assert "Subject: caf\ufffd \u00e4" in part.get_content()


def test_null_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="null sender"):
        _bounce(original_mail_from="")


def test_no_failed_recipient_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        _bounce(failed={})


def test_crlf_in_values_cannot_inject_headers() -> None:
    raw = _bounce(
        original_mail_from="alice@example.org\r\nBcc: victim@example.net",
        failed={"bob@example.com\r\nX-Evil: 1": "550 no\r\nX-Injected: yes"},
    )
    assert re.search(rb"^(Bcc|X-Evil|X-Injected):", raw, re.MULTILINE) is None
    assert BARE.search(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"A: 1\r\nB: 2\r\n\r\nbody", b"A: 1\r\nB: 2"),
        (b"A: 1\nB: 2\n\nbody\n\nmore", b"A: 1\nB: 2"),
        (b"A: 1\r\n", b"A: 1\r\n"),
        (b"\r\nbody only", b""),
    ],
)
def test_original_headers(raw: bytes, expected: bytes) -> None:
    assert original_headers(raw) == expected
