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
    "_dmarc.monitor.example": [("TXT", "v=DMARC1; p=none")],
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
    # ESpoofing and the black-box run of issue #10
    "space_before_colon_alone": b"From : <admin@legit.example>\r\n",
    "from_line_folded_into_another_header": b"X-A: 1\r\n From: <admin@legit.example>\r\n"
    b"From: <a@evil.example>\r\n",
    "resent_from_without_from": b"Resent-From: <admin@legit.example>\r\n",
    "soft_hyphen_in_domain": "From: <admin@legit\u00ad.example>\r\n".encode(),
    "zero_width_space_in_address": "From: Admin <admin\u200b@legit.example>\r\n".encode(),
    "bidi_override_in_address": "From: <\u202eadmin@legit.example>\r\n".encode(),
    "nul_in_address": b"From: <admin@legit.example\x00>\r\n",
    "double_at": b"From: <a@evil.example@legit.example>\r\n",
    "encoded_word_in_angle_address": b"From: Admin <=?utf-8?q?admin=40legit.example?=>\r\n",
    "utf7_address_in_name": b"From: =?utf-7?q?admin+AEA-legit.example?= <a@evil.example>\r\n",
    "encoded_address_in_name": b"From: =?utf-8?b?YWRtaW5AbGVnaXQuZXhhbXBsZQ==?= <a@evil.example>\r\n",
    "unquoted_address_as_name": b"From: admin@legit.example . <a@evil.example>\r\n",
}

#: The From mailbox is clear (evil.example); only its display name shows legit.example.
DISPLAY_ATTACKS: dict[str, bytes] = {
    "address_in_display_name": b'From: "admin@legit.example" <a@evil.example>\r\n',
    "address_in_words": b'From: "Support (admin@legit.example)" <a@evil.example>\r\n',
    "list_rewrite_without_list_id": b"From: \"'admin@legit.example' via Team\" <a@evil.example>\r\n",
    "list_rewrite_with_foreign_list_id": b"From: \"'admin@legit.example' via Team\""
    b" <a@evil.example>\r\nList-Id: <team.lists.example.org>\r\n",
}

#: The From mailbox is clear and no other domain is shown, but the name is disguised.
NAME_TRICKS: dict[str, tuple[bytes, str]] = {
    "zero_width_space_in_name": (
        "From: Pay\u200bPal <a@evil.example>\r\n".encode(), "U+200B ZERO WIDTH SPACE"
    ),
    "soft_hyphen_in_name": ("From: Ad\u00admin <a@evil.example>\r\n".encode(), "U+00AD"),
    "bidi_override_in_name": ("From: \u202elaveR <a@evil.example>\r\n".encode(), "U+202E"),
    "utf7_name": (b"From: =?utf-7?q?Bob?= <a@evil.example>\r\n", "UTF-7"),
    "utf16_name": (b"From: =?utf-16?b?//5CAG8AYgA=?= <a@evil.example>\r\n", "utf-16"),
    "unknown_charset_name": (b"From: =?x-nonsense?q?Bob?= <a@evil.example>\r\n", "x-nonsense"),
}

CONTROLS: dict[str, bytes] = {
    "plain": b"From: Admin <admin@legit.example>\r\n",
    "quoted_name_with_comma": b'From: "Doe, Jane" <jane@legit.example>\r\n',
    "encoded_display_name": b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <j@legit.example>\r\n",
    # a mailing list's DMARC rewrite names the author; its List-Id is the From's domain
    "list_rewrite": b"From: \"'alice@other.example' via Team\" <team@legit.example>\r\n"
    b"List-Id: Team <team.legit.example>\r\n",
    "comment_name": b"From: admin@legit.example (Admin)\r\n",
    "folded_from": b"From: Admin\r\n <admin@legit.example>\r\n",
    "from_and_sender": b"From: <admin@legit.example>\r\nSender: <bounce@legit.example>\r\n",
    "from_and_resent_from": b"From: <admin@legit.example>\r\nResent-From: <a@evil.example>\r\n",
    "own_address_as_name": b'From: "admin@legit.example" <admin@legit.example>\r\n',
    "brand_domain_of_the_sender": b"From: Amazon.com <shipment@amazon.com>\r\n",
    "persian_name_with_zwnj": "From: \u0639\u0644\u06cc\u200c\u0631\u0636\u0627"
    " <ali@legit.example>\r\n".encode(),
    "emoji_with_zwj": "From: Family \U0001f468\u200d\U0001f469\u200d\U0001f467"
    " <f@legit.example>\r\n".encode(),
    "japanese_iso_2022_jp": b"From: =?iso-2022-jp?b?GyRCJDMkcyRLJEEkTxsoQg==?="
    b" <j@legit.example>\r\n",
    "name_with_dotted_title": b'From: "Dr.Smith" <smith@legit.example>\r\n',
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


@pytest.mark.parametrize("name", sorted(ESPOOFER_ATTACKS))
def test_hidden_p_reject_domain_applies_its_policy(name: str, dns_port: int) -> None:
    found = findings(message(ESPOOFER_ATTACKS[name]), dns_port)
    assert "AUTH_DMARC_REJECT" in found, name
    assert found["AUTH_DMARC_REJECT"].evidence[0] == "legit.example"


@pytest.mark.parametrize("name", sorted(DISPLAY_ATTACKS))
def test_display_name_showing_a_p_reject_domain(name: str, dns_port: int) -> None:
    found, dmarc = scan(message(DISPLAY_ATTACKS[name]), dns_port)
    ambiguous = found["AUTH_FROM_AMBIGUOUS"]
    assert "legit.example" in ambiguous.explanation, ambiguous.explanation
    assert ambiguous.factor == pytest.approx(0.5)  # impersonation scores the name too
    assert found["AUTH_DMARC_FAIL"].evidence[:2] == ("legit.example", "p=reject")
    assert found["AUTH_DMARC_FAIL"].explanation.startswith("The sender's display name shows")
    assert "AUTH_DMARC_REJECT" in found
    # the From mailbox itself is clear: its own result, the name's in the comment
    assert dmarc == (
        "dmarc=none (display name shows legit.example: fail p=reject) header.from=evil.example"
    )


@pytest.mark.parametrize(
    "header",
    [b'From: "legit.example" <a@evil.example>\r\n',
     b'From: "legit.example Security Team" <a@evil.example>\r\n'],
)
def test_display_name_showing_a_p_reject_domain_bare(header: bytes, dns_port: int) -> None:
    # a bare domain in a name is often the sender's own brand ("CNET News.com"): no trick on
    # its own, but a reader sees it, so its owner's p=reject applies
    found, dmarc = scan(message(header), dns_port)
    assert "AUTH_FROM_AMBIGUOUS" not in found
    assert found["AUTH_DMARC_FAIL"].explanation.startswith("The sender's display name shows")
    assert "AUTH_DMARC_REJECT" in found
    assert dmarc == (
        "dmarc=none (display name shows legit.example: fail p=reject) header.from=evil.example"
    )


def test_display_name_showing_a_bare_domain_without_enforcement_is_left_alone(
    dns_port: int,
) -> None:
    # no DMARC record (not in the local zone), or p=none: the owner asks for no enforcement
    for name in (b"other.example", b"News.com", b"monitor.example"):
        found, dmarc = scan(message(b'From: "' + name + b'" <a@evil.example>\r\n'), dns_port)
        assert found == {}, found
        assert dmarc.startswith("dmarc=none") and dmarc.endswith("header.from=evil.example")


@pytest.mark.parametrize("shown", ["other.example", "monitor.example"])
def test_display_name_showing_an_address_without_enforcement_only_tags(
    shown: str, dns_port: int
) -> None:
    header = f'From: "admin@{shown}" <a@evil.example>\r\n'.encode()
    found, dmarc = scan(message(header), dns_port)
    assert set(found) == {"AUTH_FROM_AMBIGUOUS"}  # forced to tag by policy
    assert dmarc.startswith("dmarc=none") and dmarc.endswith("header.from=evil.example")


@pytest.mark.parametrize("name", sorted(NAME_TRICKS))
def test_disguised_display_name_is_ambiguous(name: str, dns_port: int) -> None:
    header, what = NAME_TRICKS[name]
    found = findings(message(header), dns_port)
    assert what in found["AUTH_FROM_AMBIGUOUS"].explanation, found["AUTH_FROM_AMBIGUOUS"]
    assert "AUTH_DMARC_FAIL" not in found


def test_trick_is_named_in_the_explanation(dns_port: int) -> None:
    expected = {
        "space_before_colon_alone": "a From line the standard parser does not read as From",
        "resent_from_without_from": "programs show the Resent-From instead",
        "soft_hyphen_in_domain": "U+00AD SOFT HYPHEN) in the From address",
        "double_at": "mail programs read different From addresses",
        "encoded_word_in_angle_address": "an encoded word inside the From address",
        "utf7_address_in_name": "a UTF-7 encoded word",
        "from_line_folded_into_another_header": "2 From headers",
    }
    for name, words in expected.items():
        found = findings(message(ESPOOFER_ATTACKS[name]), dns_port)
        assert words in found["AUTH_FROM_AMBIGUOUS"].explanation, (name, found)
