"""strip_inbound_headers: incoming verdicts and authentication results never reach the mailbox.

Other filters' verdicts (X-Spam-*, X-Virus-*, Exchange SCL, ...) and Authentication-Results a
sender wrote are removed (RFC 8601 5); ARC and DKIM headers stay, and so do the
Authentication-Results of an upstream the operator trusts.
"""

from __future__ import annotations

import fnmatch
import random

import pytest
from pydantic import ValidationError

from mailward.config.settings import STRIP_INBOUND_HEADERS, PolicySettings
from mailward.policy.rewrite import matches_header, strip_inbound_headers

BODY = b"Hello,\r\nX-Spam-Status: No (in the body, not a header)\r\n"
FORGED = (
    b"Authentication-Results: mx.google.com; dkim=pass header.d=bank.example;\r\n"
    b"\tdmarc=pass header.from=bank.example\r\n"
    b"Authentication-Results: mailward.local; spf=pass\r\n"
    b"X-Original-Authentication-Results: mx.example.net; dmarc=pass\r\n"
    b"Received-SPF: pass (bank.example: 192.0.2.1 is allowed)\r\n"
    b"X-Spam-Status: No, score=-5.0\r\n"
    b"X-Spam-Flag : NO\r\n"
    b"x-spam-score: -10\r\n"
    b"X-SpamTest-Status: Not detected\r\n"
    b"X-Virus-Scanned: clean\r\n"
    b"X-Virus-Status: Clean\r\n"
    b"X-Mailward-Verdict: deliver; score=0.00\r\n"
    b"X-Mailward-Released: by admin\r\n"
    b"X-Amavis-Alert: none\r\n"
    b"X-Quarantine-ID: <released-1>\r\n"
    b"X-MS-Exchange-Organization-SCL: -1\r\n"
    b"X-MS-Exchange-Organization-AuthAs: Internal\r\n"
    b"X-MS-Exchange-Organization-AuthSource: mail.example.com\r\n"
    b"X-Forefront-Antispam-Report: SFV:SKN;SCL:-1\r\n"
    b"X-Microsoft-Antispam: BCL:0;\r\n"
    b"X-Proofpoint-Spam-Details: rule=notspam\r\n"
    b"X-Barracuda-Spam-Score: 0.00\r\n"
    b"X-MailScanner-SpamCheck: not spam\r\n"
    b"X-Example-MailScanner-Information: clean\r\n"
    b"X-Rspamd-Action: no action\r\n"
)
KEPT = (
    b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=lists.example.net; s=arc; b=AAAA\r\n"
    b"ARC-Message-Signature: i=1; a=rsa-sha256; d=lists.example.net; s=arc; b=AAAA\r\n"
    b"ARC-Authentication-Results: i=1; lists.example.net; dmarc=pass\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=bank.example; s=sel; h=from; b=AAAA\r\n"
    b"Received: from mx.bank.example by lists.example.net\r\n"
    b"From: CEO <ceo@bank.example>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: Payroll\r\n"
    b"X-Mailer: Thunderbird\r\n"
)


def test_default_list_removes_every_forged_verdict_and_keeps_the_rest() -> None:
    raw = FORGED + KEPT + b"\r\n" + BODY
    out, removed = strip_inbound_headers(raw, STRIP_INBOUND_HEADERS)
    head, _, body = out.partition(b"\r\n\r\n")
    assert body == BODY
    fields = [line for line in FORGED.split(b"\r\n") if line and not line.startswith(b"\t")]
    assert len(removed) == len(fields)
    for line in fields:
        assert line not in head, line
    assert head + b"\r\n" == KEPT


def test_trusted_upstream_results_are_kept() -> None:
    raw = (
        b"Authentication-Results: MX.inside.example.net; spf=pass smtp.mailfrom=a@b.example\r\n"
        b"Authentication-Results: evil.example; dmarc=pass\r\n"
        b"From: a@b.example\r\n\r\nbody\r\n"
    )
    out, removed = strip_inbound_headers(raw, STRIP_INBOUND_HEADERS, ("mx.inside.example.net",))
    assert b"MX.inside.example.net" in out
    assert b"evil.example" not in out
    assert removed == ["Authentication-Results"]


def test_nothing_to_remove_returns_the_same_bytes() -> None:
    raw = KEPT + b"\r\n" + BODY
    assert strip_inbound_headers(raw, STRIP_INBOUND_HEADERS) == (raw, [])
    assert strip_inbound_headers(b"From: a@b.example\r\n\r\nx", STRIP_INBOUND_HEADERS) == (
        b"From: a@b.example\r\n\r\nx", []
    )
    assert strip_inbound_headers(raw, ()) == (raw, [])


def test_arc_and_dkim_headers_are_never_removed() -> None:
    raw = KEPT + b"\r\n" + BODY
    out, _ = strip_inbound_headers(raw, ("ARC-*", "DKIM-*", "X-Mailer"))
    assert b"ARC-Seal" in out and b"DKIM-Signature" in out
    assert b"X-Mailer" not in out


def test_lf_only_message_and_folded_fields() -> None:
    raw = b"X-Spam-Report: \n  long report\n  more\nFrom: a@b.example\n\nbody\n"
    out, removed = strip_inbound_headers(raw, STRIP_INBOUND_HEADERS)
    assert out == b"From: a@b.example\n\nbody\n"
    assert removed == ["X-Spam-Report"]


@pytest.mark.parametrize("pattern", ["*", "From", "Content-*", "Rece*", "X Spam", "X-A:b", ""])
def test_patterns_that_would_break_delivery_are_refused(pattern: str) -> None:
    with pytest.raises(ValidationError):
        PolicySettings(strip_inbound_headers=(pattern,))


def test_operator_list_replaces_the_default() -> None:
    settings = PolicySettings(strip_inbound_headers=("X-Spam-*", "X-Custom-Verdict"))
    raw = b"X-Custom-Verdict: ok\r\nX-Virus-Scanned: yes\r\nFrom: a@b.example\r\n\r\n."
    out, removed = strip_inbound_headers(raw, settings.strip_inbound_headers)
    assert removed == ["X-Custom-Verdict"] and b"X-Virus-Scanned" in out


def test_the_compiled_globs_match_as_fnmatch_does_one_by_one() -> None:
    rnd = random.Random(15)
    names = ["X-Spam-Status", "Authentication-Results", "x-spam", "Subject", "ARC-Seal",
             "DKIM-Signature", "X-Mailward-Score", "X-MS-Exchange-Organization-SCL", "x-*"]
    chars = "Xx-SsPpAaMm*?[]!."
    for i in range(20_000):
        patterns = (["".join(rnd.choices(chars, k=rnd.randint(0, 6)))
                     for _ in range(rnd.randint(0, 3))]
                    if i % 2 else ["X-Spam*", "Authentication-Results", "X-*-MailScanner-*"])
        name = rnd.choice(names) if i % 3 else "".join(rnd.choices(chars, k=rnd.randint(0, 8)))
        low = name.lower()
        one_by_one = not (low.startswith("arc-") or low == "dkim-signature") and any(
            fnmatch.fnmatchcase(low, p.lower()) for p in patterns)
        assert matches_header(name, patterns) == one_by_one, (name, patterns)
