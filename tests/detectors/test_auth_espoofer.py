"""espoofer / "Composition Kills" From header tricks: AUTH_FROM_AMBIGUOUS hits, controls miss.

DMARC is checked for every domain a reader may see: the hidden legit.example (p=reject, not
aligned) gives AUTH_DMARC_FAIL too; readings without a DMARC record, or aligned, do not.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailward.config import Settings
from mailward.config.settings import LimitSettings
from mailward.detectors.auth import AuthDetector, AuthSettings
from mailward.dns import ResolverDnsClient
from mailward.engine.contract import ScanContext
from mailward.mime import parse_message
from mailward.model import Envelope, Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
from local_dns import LocalDnsServer

ZONE = {
    "_dmarc.legit.example": [("TXT", "v=DMARC1; p=reject")],
    "legit.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "evil.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.bank.example": [("TXT", "v=DMARC1; p=quarantine")],
}

#: Header lines from the public descriptions; each makes one program read legit.example and
#: another evil.example (or nothing DMARC can check).
ESPOOFER_ATTACKS: dict[str, bytes] = {
    "two_from_headers": b"From: <admin@legit.example>\r\nFrom: <a@evil.example>\r\n",
    "space_before_colon": b"From : <admin@legit.example>\r\nFrom: <a@evil.example>\r\n",
    "space_before_colon_first_line": b"From :<admin@legit.example>\r\nX-A: 1\r\nFrom: <a@evil.example>\r\n",
    "folded_first_from": b" From: <admin@legit.example>\r\nFrom: <a@evil.example>\r\n",
    "nul_in_name": b"X-A: 1\r\nFrom\x00x: <admin@legit.example>\r\nFrom: <a@evil.example>\r\n",
    "two_mailboxes": b"From: <admin@legit.example>, <a@evil.example>\r\n",
    "encoded_word_address": b"From: =?utf-8?b?YWRtaW5AbGVnaXQuZXhhbXBsZQ==?=\r\n",
    "encoded_word_before_address": b"From: =?utf-8?b?YWRtaW5AbGVnaXQuZXhhbXBsZQ==?=,<a@evil.example>\r\n",
    "route": b"From: <@legit.example:a@evil.example>\r\n",
    "quoted_local_part": b'From: "admin@legit.example"@evil.example\r\n',
    "comment_address": b"From: a@evil.example(admin@legit.example)\r\n",
    "escape": b"From: <admin@legit.example\\,@evil.example>\r\n",
    "sender_without_from": b"Sender: <admin@legit.example>\r\n",
}

CONTROLS: dict[str, bytes] = {
    "plain": b"From: Admin <admin@legit.example>\r\n",
    "quoted_name_with_comma": b'From: "Doe, Jane" <jane@legit.example>\r\n',
    "encoded_display_name": b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <j@legit.example>\r\n",
    "list_rewrite": b"From: \"'alice@other.example' via Team\" <team@legit.example>\r\n",
    "comment_name": b"From: admin@legit.example (Admin)\r\n",
    "folded_from": b"From: Admin\r\n <admin@legit.example>\r\n",
    "from_and_sender": b"From: <admin@legit.example>\r\nSender: <bounce@legit.example>\r\n",
}


def message(headers: bytes) -> bytes:
    return (
        headers + b"To: bob@example.com\r\nSubject: Payroll update\r\n"
        b"Message-ID: <esp@evil.example>\r\n\r\nPlease review the attached payroll change.\r\n"
    )


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    with LocalDnsServer(ZONE) as srv:
        yield srv.port


def scan(raw: bytes, port: int, env: Envelope | None = None) -> tuple[dict[str, Finding], str]:
    """Findings by symbol and the dmarc= result."""
    msg = parse_message(raw, LimitSettings())
    client = ResolverDnsClient(["127.0.0.1"], port, timeout=2.0)
    env = env or Envelope(
        mail_from="a@evil.example", rcpt_tos=("bob@example.com",), helo="mx.evil.example"
    )
    ctx = ScanContext(envelope=env, settings=Settings(), clients={"dns": client})
    found = {f.symbol: f for f in asyncio.run(AuthDetector(AuthSettings()).check(msg, ctx))}
    dmarc = [r for r in ctx.auth_results if r.startswith("dmarc=")]
    assert len(dmarc) <= 1, ctx.auth_results
    return found, dmarc[0] if dmarc else ""


def findings(raw: bytes, port: int) -> dict[str, Finding]:
    return scan(raw, port)[0]


@pytest.mark.parametrize("name", sorted(ESPOOFER_ATTACKS))
def test_espoofer_from_trick_is_ambiguous(name: str, dns_port: int) -> None:
    found = findings(message(ESPOOFER_ATTACKS[name]), dns_port)
    assert "AUTH_FROM_AMBIGUOUS" in found, name


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_plain_from_is_not_ambiguous(name: str, dns_port: int) -> None:
    found = findings(message(CONTROLS[name]), dns_port)
    assert "AUTH_FROM_AMBIGUOUS" not in found, found


def test_ambiguous_from_gets_no_dmarc_pass(dns_port: int) -> None:
    msg = parse_message(message(ESPOOFER_ATTACKS["space_before_colon"]), LimitSettings())
    client = ResolverDnsClient(["127.0.0.1"], dns_port, timeout=2.0)
    env = Envelope(mail_from="a@evil.example", rcpt_tos=("bob@example.com",), helo="mx")
    ctx = ScanContext(envelope=env, settings=Settings(), clients={"dns": client})
    asyncio.run(AuthDetector(AuthSettings()).check(msg, ctx))
    assert any(r.startswith("dmarc=permerror") for r in ctx.auth_results)


@pytest.mark.parametrize("name", sorted(ESPOOFER_ATTACKS))
def test_hidden_protected_domain_fails_dmarc(name: str, dns_port: int) -> None:
    found, dmarc = scan(message(ESPOOFER_ATTACKS[name]), dns_port)
    assert "AUTH_FROM_AMBIGUOUS" in found, name
    finding = found["AUTH_DMARC_FAIL"]
    assert finding.evidence[:2] == ("legit.example", "p=reject"), finding
    assert finding.factor == pytest.approx(1.0)
    assert "legit.example" in finding.explanation
    assert dmarc.startswith("dmarc=permerror (ambiguous From"), dmarc
    assert "fail p=reject legit.example" in dmarc


def test_strongest_failing_policy_sets_the_factor(dns_port: int) -> None:
    raw = message(b"From: <a@bank.example>, <b@evil.example>\r\n")
    found, dmarc = scan(raw, dns_port)
    assert found["AUTH_DMARC_FAIL"].evidence[:2] == ("bank.example", "p=quarantine")
    assert found["AUTH_DMARC_FAIL"].factor == pytest.approx(0.8)
    assert "fail p=quarantine bank.example" in dmarc


def test_ambiguous_from_without_dmarc_records_gets_no_dmarc_fail(dns_port: int) -> None:
    raw = message(b"From: <a@evil.example>, <b@other.example>\r\n")
    found, dmarc = scan(raw, dns_port)
    assert "AUTH_FROM_AMBIGUOUS" in found
    assert "AUTH_DMARC_FAIL" not in found
    assert dmarc == "dmarc=permerror (ambiguous From)"


def test_ambiguous_from_with_aligned_protected_domain_gets_no_dmarc_fail(dns_port: int) -> None:
    # SPF passes for bounce@legit.example from 127.0.0.1: legit.example is aligned
    env = Envelope(
        mail_from="bounce@legit.example",
        rcpt_tos=("bob@example.com",),
        peer_ip="127.0.0.1",
        helo="mx.legit.example",
    )
    raw = message(ESPOOFER_ATTACKS["two_mailboxes"])
    found, dmarc = scan(raw, dns_port, env)
    assert "AUTH_FROM_AMBIGUOUS" in found
    assert "AUTH_DMARC_FAIL" not in found
    assert dmarc == "dmarc=permerror (ambiguous From)"
