"""apply_verdict: headers prepended, body untouched, Subject prefix, forged A-R removed, no CRLF
injection through the headers we write."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from mailward.model import Action, Verdict
from mailward.policy.rewrite import (
    apply_verdict,
    format_header,
    header_fields,
    safe_header_value,
    split_header_block,
)

AUTHSERV = "mailward.example"

BODY = b"Hello,\r\n\r\n  indented line\r\nSubject: not a header\r\n.\r\n\xe9\xff binary\r\n"
RAW = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: Quarterly numbers\r\n"
    b"Message-ID: <x1@example.org>\r\n"
    b"\r\n" + BODY
)


def _verdict(prefix: str | None = None, headers: tuple[tuple[str, str], ...] = ()) -> Verdict:
    return Verdict(
        action=Action.TAG if prefix else Action.DELIVER,
        score=0.0,
        reason="test",
        add_headers=headers,
        subject_prefix=prefix,
    )


def _apply(raw: bytes, verdict: Verdict, **kw: object) -> bytes:
    return apply_verdict(raw, verdict, authserv_id=AUTHSERV, **kw)  # type: ignore[arg-type]


def _header_names(raw: bytes) -> list[str]:
    return [k for k, _ in message_from_bytes(raw, policy=policy.compat32).items()]


def test_headers_are_prepended_in_order() -> None:
    verdict = _verdict(headers=(("X-Mailward-Verdict", "deliver; score=0.00"),))
    out = _apply(RAW, verdict, trace_headers=(("Received", "from x by y"),))
    assert out.startswith(
        b"Received: from x by y\r\nX-Mailward-Verdict: deliver; score=0.00\r\nFrom: Alice"
    )
    assert out.endswith(b"\r\n\r\n" + BODY)


def test_no_change_without_headers_or_prefix() -> None:
    assert _apply(RAW, _verdict()) == RAW


def test_body_is_byte_identical() -> None:
    out = _apply(RAW, _verdict(prefix="[SUSPICIOUS]", headers=(("X-A", "b"),)))
    assert split_header_block(out)[1] == b"\r\n" + BODY
    assert out.endswith(BODY)


def test_body_subject_line_is_not_prefixed() -> None:
    out = _apply(RAW, _verdict(prefix="[S]"))
    assert b"\r\nSubject: not a header\r\n" in out
    assert out.count(b"[S]") == 1


def test_subject_is_prefixed() -> None:
    out = _apply(RAW, _verdict(prefix="[SUSPICIOUS]"))
    assert b"\r\nSubject: [SUSPICIOUS] Quarterly numbers\r\n" in out


def test_subject_is_not_prefixed_twice() -> None:
    once = _apply(RAW, _verdict(prefix="[SUSPICIOUS]"))
    twice = _apply(once, _verdict(prefix="[SUSPICIOUS]"))
    assert twice == once
    assert twice.count(b"[SUSPICIOUS]") == 1


def test_other_bracket_prefix_still_gets_ours() -> None:
    raw = RAW.replace(b"Subject: Quarterly", b"Subject: [EXTERNAL] Quarterly")
    out = _apply(raw, _verdict(prefix="[SUSPICIOUS]"))
    assert b"Subject: [SUSPICIOUS] [EXTERNAL] Quarterly numbers\r\n" in out


def test_lower_case_subject_header_is_prefixed() -> None:
    raw = RAW.replace(b"Subject:", b"subject:")
    out = _apply(raw, _verdict(prefix="[S]"))
    assert b"subject: [S] Quarterly numbers\r\n" in out


def test_missing_subject_gets_one() -> None:
    raw = RAW.replace(b"Subject: Quarterly numbers\r\n", b"")
    out = _apply(raw, _verdict(prefix="[SUSPICIOUS]"))
    msg = message_from_bytes(out, policy=policy.compat32)
    assert msg["Subject"] == "[SUSPICIOUS]"
    assert out.endswith(b"\r\n\r\n" + BODY)


def test_forged_authentication_results_removed_case_insensitive() -> None:
    raw = (
        b"Authentication-Results: MailWard.Example; spf=pass smtp.mailfrom=evil.example\r\n"
        b"authentication-results:mailward.example 1; dkim=pass\r\n"
        b"Authentication-Results: other.example; spf=fail\r\n"
    ) + RAW
    out = _apply(raw, _verdict())
    assert out.count(b"uthentication-Results") == 1
    assert b"Authentication-Results: other.example; spf=fail\r\n" in out
    assert b"evil.example" not in out
    assert b"dkim=pass" not in out


def test_authserv_id_with_longer_name_is_kept() -> None:
    raw = b"Authentication-Results: mailward.example.net; spf=pass\r\n" + RAW
    assert _apply(raw, _verdict()) == raw


@pytest.mark.parametrize(
    "value",
    [
        b"(forged) mailward.example; spf=pass",
        b"(a (nested) comment)\r\n mailward.example; spf=pass",
        b'"mailward.example"; spf=pass',
    ],
)
def test_forged_authentication_results_behind_cfws_or_quotes_removed(value: bytes) -> None:
    raw = b"Authentication-Results: " + value + b"\r\n" + RAW
    assert _apply(raw, _verdict()) == RAW


def test_comment_naming_our_id_does_not_remove_other_header() -> None:
    raw = b"Authentication-Results: (mailward.example) other.example; spf=pass\r\n" + RAW
    assert _apply(raw, _verdict()) == raw


def test_folded_forged_header_removed_with_continuation_lines() -> None:
    raw = (
        b"Received: from a\r\n\tby b\r\n"
        b"Authentication-Results:\r\n mailward.example;\r\n\tspf=pass\r\n\tdkim=pass\r\n"
        b"X-Kept: yes\r\n"
    ) + RAW
    out = _apply(raw, _verdict())
    assert out == b"Received: from a\r\n\tby b\r\nX-Kept: yes\r\n" + RAW
    assert _header_names(out)[:2] == ["Received", "X-Kept"]


def test_lf_only_message() -> None:
    raw = b"From: a@example.org\nSubject: hi\nAuthentication-Results: mailward.example; x=y\n\nbody\n\nmore\n"
    out = _apply(raw, _verdict(prefix="[S]", headers=(("X-V", "tag"),)))
    block, rest = split_header_block(out)
    assert rest == b"\nbody\n\nmore\n"
    assert b"Subject: [S] hi\n" in block
    assert b"Authentication-Results" not in block
    assert block.startswith(b"X-V: tag")
    msg = message_from_bytes(out, policy=policy.compat32)
    assert msg["X-V"] == "tag"
    assert msg["Subject"] == "[S] hi"
    assert msg.get_payload() == "body\n\nmore\n"


def test_message_without_body() -> None:
    raw = b"From: a@example.org\r\nSubject: hi\r\n"
    out = _apply(raw, _verdict(prefix="[S]"))
    assert out == b"From: a@example.org\r\nSubject: [S] hi\r\n"


def test_split_header_block() -> None:
    assert split_header_block(b"A: b\r\nC: d\r\n\r\nbody") == (b"A: b\r\nC: d\r\n", b"\r\nbody")
    assert split_header_block(b"A: b\n\nbody") == (b"A: b\n", b"\nbody")
    assert split_header_block(b"A: b\r\n") == (b"A: b\r\n", b"")


def test_header_fields_keeps_continuations_with_their_field() -> None:
    fields = header_fields(b"A: 1\r\n 2\r\n\t3\r\nB: 4\r\n")
    assert fields == [b"A: 1\r\n 2\r\n\t3\r\n", b"B: 4\r\n"]


@pytest.mark.parametrize(
    "value",
    [
        "x\r\nBcc: victim@example.com",
        "x\nBcc: victim@example.com",
        "x\rBcc: victim@example.com",
        "x\r\n\r\nbody injected",
        "x\r\n\t\r\nBcc: victim@example.com",
    ],
)
def test_format_header_neutralises_line_breaks(value: str) -> None:
    line = format_header("X-Test", value)
    msg = message_from_bytes(line + b"\r\nbody", policy=policy.compat32)
    assert msg["Bcc"] is None
    assert _header_names(line + b"\r\n") == ["X-Test"]
    assert line.endswith(b"\r\n")
    assert b"\n" not in line[:-2].replace(b"\r\n\t", b"")


def test_format_header_keeps_our_folding() -> None:
    assert format_header("A-R", "gw;\r\n\tspf=pass") == b"A-R: gw;\r\n\tspf=pass\r\n"


def test_safe_header_value() -> None:
    assert safe_header_value("plain\tvalue é") == "plain\tvalue é"
    assert safe_header_value("a\r\nb\x00c\x7f") == "a??b?c?"


def test_verdict_header_values_cannot_inject() -> None:
    verdict = _verdict(headers=(("X-Mailward-Verdict", "tag\r\nBcc: victim@example.com"),))
    out = _apply(RAW, verdict)
    assert message_from_bytes(out, policy=policy.compat32)["Bcc"] is None


def test_subject_prefix_cannot_inject() -> None:
    out = _apply(RAW, _verdict(prefix="[S]\r\nBcc: victim@example.com"))
    assert message_from_bytes(out, policy=policy.compat32)["Bcc"] is None
    missing = RAW.replace(b"Subject: Quarterly numbers\r\n", b"")
    out = _apply(missing, _verdict(prefix="[S]\r\nBcc: victim@example.com"))
    assert message_from_bytes(out, policy=policy.compat32)["Bcc"] is None
