"""Spoofing through the running gateway, against a local DNS zone (issue #10).

Evidence an attacker can forge is not evidence: a plain spoof of a p=reject domain is refused
or quarantined, of a p=quarantine domain quarantined, of a p=none domain tagged; From headers
that mail programs show as another sender are flagged; forged Authentication-Results and ARC
sets change nothing; incoming verdict headers never reach the mailbox (nor after a quarantine
release). A correctly DKIM-signed, DMARC-passing message is delivered untagged, with its
signature intact, and so is a message from an ARC forwarder the operator trusts.

Every message comes from 127.0.0.1; evil.example (the attacker's own domain) and corp.example
allow 127.0.0.1 in SPF, bank.example does not.
"""

from __future__ import annotations

import contextlib
import smtplib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import dkim
import pytest
from gateway_harness import GatewayProcess, free_port, toml_config

from mailward.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
from local_dns import LocalDnsServer
from mailauth import arc_seal, dkim_sign, new_key

pytestmark = pytest.mark.slow

BANK_KEY, CORP_KEY, LIST_KEY, BRAND_KEY = new_key(), new_key(), new_key(), new_key()
ZONE = {
    # a brand of the brand registry, served by the local zone only
    "paypal.com": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.paypal.com": [("TXT", "v=DMARC1; p=reject")],
    "sel._domainkey.paypal.com": [("TXT", BRAND_KEY[1])],
    "bank.example": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
    "_dmarc.bank.example": [("TXT", "v=DMARC1; p=reject")],
    "sel._domainkey.bank.example": [("TXT", BANK_KEY[1])],
    "_dmarc.shop.example": [("TXT", "v=DMARC1; p=quarantine")],
    "_dmarc.news.example": [("TXT", "v=DMARC1; p=none")],
    "evil.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "corp.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.corp.example": [("TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")],
    "sel._domainkey.corp.example": [("TXT", CORP_KEY[1])],
    "lists.example.net": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "arc._domainkey.lists.example.net": [("TXT", LIST_KEY[1])],
    "relay.example.org": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "arc._domainkey.relay.example.org": [("TXT", LIST_KEY[1])],
}
AUTH = '\n[detectors.auth]\ntrusted_arc_sealers = ["lists.example.net"]\n'

#: Headers another filter (or the attacker) wrote: none may reach the mailbox.
FORGED_VERDICTS = (
    b"Authentication-Results: mx.google.com; dkim=pass header.d=bank.example;"
    b" spf=pass smtp.mailfrom=bank.example; dmarc=pass header.from=bank.example\r\n"
    b"Authentication-Results: mailward.local; dmarc=pass header.from=bank.example\r\n"
    b"Received-SPF: pass (bank.example: 127.0.0.1 is allowed)\r\n"
    b"X-Spam-Status: No, score=-10.0 required=5.0\r\n"
    b"X-Spam-Flag: NO\r\n"
    b"X-Virus-Scanned: clean by ClamAV\r\n"
    b"X-Virus-Status: Clean\r\n"
    b"X-Quarantine-ID: <released-by-admin>\r\n"
    b"X-Amavis-Release: released by admin\r\n"
    b"X-Mailward-Verdict: deliver; score=0.00\r\n"
    b"X-MS-Exchange-Organization-SCL: -1\r\n"
    b"X-MS-Exchange-Organization-AuthAs: Internal\r\n"
)
FORGED_NAMES = (
    b"Received-SPF", b"X-Spam-", b"X-Virus-", b"X-Quarantine-", b"X-Amavis-",
    b"X-MS-Exchange-Organization-", b"mx.google.com", b"deliver; score=0.00",
)


@dataclass
class Landing:
    where: str  # "refused" (5xx at DATA), "quarantine" or "maildir"
    raw: bytes = b""  # the delivered copy
    reason: str = ""  # the SMTP reply or the quarantine reason
    entry_id: str = ""

    @property
    def verdict(self) -> str:
        head = message_from_bytes(self.raw, policy=compat32)
        return str(head.get("X-Mailward-Verdict", "")).split(";")[0]

    def header(self, name: str) -> list[str]:
        head = message_from_bytes(self.raw, policy=compat32)
        return [" ".join(str(v).split()) for v in head.get_all(name) or []]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("spoofing")
    with LocalDnsServer(ZONE) as dns:
        port = free_port()
        dns_cfg = f'enabled = true\nnameservers = ["127.0.0.1"]\nport = {dns.port}\ntimeout = 2.0'
        cfg = tmp / "mailward.toml"
        cfg.write_text(toml_config(tmp / "data", port, AUTH, dns=dns_cfg))
        gw = GatewayProcess(cfg, port, tmp / "data", tmp / "gateway.log")
        gw.start()
        try:
            yield gw
        finally:
            gw.stop()


def message(headers: bytes, rcpt: str, body: bytes = b"") -> bytes:
    body = body or (
        b"Hello,\r\n\r\nplease find the figures for the second quarter below; the team will "
        b"go through them at Thursday's meeting.\r\n\r\nRegards,\r\nMaria\r\n"
    )
    return (
        headers + f"To: {rcpt}\r\n".encode()
        + b"Subject: Second quarter figures\r\nDate: Tue, 2 Jan 2024 09:00:00 +0000\r\n"
        + f"Message-ID: <{rcpt.partition('@')[0]}@mail.test>\r\n".encode()
        + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
    )


def send(gw: GatewayProcess, raw: bytes, rcpt: str, mail_from: str = "alerts@evil.example",
         timeout: float = 60.0) -> Landing:
    """Send ``raw`` and wait until it is refused, quarantined or in ``rcpt``'s Maildir."""
    try:
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            smtp.sendmail(mail_from, [rcpt], raw)
    except smtplib.SMTPDataError as exc:
        assert 500 <= exc.smtp_code < 600, exc
        return Landing("refused", reason=exc.smtp_error.decode("utf-8", "replace"))
    return wait_for(gw, rcpt, timeout)


def wait_for(gw: GatewayProcess, rcpt: str, timeout: float = 60.0) -> Landing:
    box = gw.data_dir / "maildir" / "example.com" / rcpt.partition("@")[0] / "new"
    deadline = time.time() + timeout
    while time.time() < deadline:
        copies = sorted(box.glob("*")) if box.exists() else []
        if copies:
            return Landing("maildir", copies[0].read_bytes())
        entry = quarantined(gw, rcpt)
        if entry is not None:
            return entry
        time.sleep(0.1)
    raise AssertionError(f"{rcpt}: neither delivered nor quarantined:\n"
                         + gw.log.read_text()[-3000:])


def quarantined(gw: GatewayProcess, rcpt: str) -> Landing | None:
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        for entry in store.list_quarantine(status=None, limit=1000):
            if rcpt in entry.rcpt_tos:
                return Landing("quarantine", reason=entry.reason, entry_id=entry.id)
    finally:
        store.close()
    return None


def assert_blocked(landing: Landing, symbol: str = "") -> None:
    assert landing.where in {"refused", "quarantine"}, (landing.where, landing.raw[:2000])
    if symbol:
        assert symbol in landing.reason, landing.reason


def assert_flagged(landing: Landing) -> None:
    """Not delivered untagged: refused, quarantined, or delivered with a tag."""
    if landing.where == "maildir":
        assert landing.verdict == "tag", landing.raw[:2000]


def assert_no_forged_verdicts(raw: bytes, ours: int = 1) -> None:
    """No forged verdict in ``raw``'s header; ``ours``: how many A-R headers we wrote."""
    head = raw.partition(b"\r\n\r\n")[0]
    for name in FORGED_NAMES:
        assert name not in head, name
    results = [line for line in head.split(b"\r\n") if line.startswith(b"Authentication-Results")]
    assert results == [b"Authentication-Results: mailward.local;"] * ours, results


# --- the sender domain's DMARC policy --------------------------------------------------------


def test_p_reject_spoof_is_refused(gateway: GatewayProcess) -> None:
    raw = message(b"From: Bank Security <security@bank.example>\r\n", "reject1@example.com")
    landing = send(gateway, raw, "reject1@example.com")
    assert_blocked(landing, "AUTH_DMARC_REJECT")


def test_p_quarantine_spoof_is_quarantined(gateway: GatewayProcess) -> None:
    raw = message(b"From: Shop Orders <orders@shop.example>\r\n", "quar1@example.com")
    landing = send(gateway, raw, "quar1@example.com")
    assert landing.where == "quarantine", landing
    assert "AUTH_DMARC_QUARANTINE" in landing.reason


def test_p_none_spoof_is_tagged(gateway: GatewayProcess) -> None:
    raw = message(b"From: News Desk <desk@news.example>\r\n", "none1@example.com")
    landing = send(gateway, raw, "none1@example.com")
    assert landing.where == "maildir" and landing.verdict == "tag", landing
    assert "dmarc=fail (p=none) header.from=news.example" in landing.header(
        "Authentication-Results"
    )[0]


# --- From headers that readers see as another sender ----------------------------------------

DISPLAY_TRICKS = {
    # name: (From-related header lines, shows bank.example so must be refused or quarantined)
    "invisible_in_name": ("From: Bank\u200b Security <alerts@evil.example>\r\n".encode(), False),
    "bidi_override_in_name": ("From: \u202eytiruceS <alerts@evil.example>\r\n".encode(), False),
    "nul_in_address": (b"From: <security@bank.example\x00>\r\n", True),
    "soft_hyphen_in_domain": ("From: <security@bank\u00ad.example>\r\n".encode(), True),
    "utf7_local_part": (
        b"From: =?utf-7?q?security+AEA-bank.example?= <alerts@evil.example>\r\n", True
    ),
    "address_in_name": (b'From: "security@bank.example" <alerts@evil.example>\r\n', True),
    "domain_as_brand_in_name": (b'From: "bank.example Security" <alerts@evil.example>\r\n', True),
    "resent_from_without_from": (b"Resent-From: Bank <security@bank.example>\r\n", True),
    "space_before_colon": (b"From : Bank <security@bank.example>\r\n", True),
}


@pytest.mark.parametrize("name", sorted(DISPLAY_TRICKS))
def test_from_display_trick_is_flagged(gateway: GatewayProcess, name: str) -> None:
    headers, shows_bank = DISPLAY_TRICKS[name]
    rcpt = f"trick-{name.replace('_', '-')}@example.com"
    landing = send(gateway, message(headers, rcpt), rcpt)
    if shows_bank:
        assert_blocked(landing)
    else:
        assert_flagged(landing)
        if landing.where == "maildir":
            assert "AUTH_FROM_AMBIGUOUS" in landing.header("X-Mailward-Verdict")[0]


# --- forged evidence ------------------------------------------------------------------------


def test_forged_results_and_arc_claiming_pass_change_nothing(gateway: GatewayProcess) -> None:
    forged_arc = (
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=lists.example.net; s=arc; t=1704186000;\r\n"
        b"\tb=Zm9yZ2VkIHNlYWwgb2YgYSB0cnVzdGVkIHNlYWxlcg==\r\n"
        b"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example.net;\r\n"
        b"\ts=arc; h=from:to:subject; bh=AAAA; b=Zm9yZ2Vk\r\n"
        b"ARC-Authentication-Results: i=1; lists.example.net; dkim=pass header.d=bank.example;"
        b" dmarc=pass header.from=bank.example\r\n"
    )
    raw = message(forged_arc + FORGED_VERDICTS + b"From: Bank <security@bank.example>\r\n",
                  "forged1@example.com")
    assert_blocked(send(gateway, raw, "forged1@example.com"), "AUTH_DMARC_REJECT")


def test_forged_verdict_headers_are_removed_from_the_delivered_copy(
    gateway: GatewayProcess,
) -> None:
    raw = message(FORGED_VERDICTS + b"From: Maria <maria@evil.example>\r\n", "strip1@example.com")
    landing = send(gateway, raw, "strip1@example.com")
    assert landing.where == "maildir", landing
    assert_no_forged_verdicts(landing.raw)
    assert b"X-Mailward-Verdict: " + landing.verdict.encode() in landing.raw


def test_quarantine_release_delivers_without_forged_verdicts(gateway: GatewayProcess) -> None:
    raw = message(FORGED_VERDICTS + b"From: Shop <orders@shop.example>\r\n", "release1@example.com")
    landing = send(gateway, raw, "release1@example.com")
    assert landing.where == "quarantine", landing
    done = gateway.cli("quarantine", "release", landing.entry_id, "--reason", "checked",
                       "--actor", "analyst1")
    assert done.returncode == 0, done.stderr
    box = gateway.data_dir / "maildir" / "example.com" / "release1" / "new"
    deadline = time.time() + 30
    while not (box.exists() and any(box.iterdir())) and time.time() < deadline:
        time.sleep(0.1)
    [copy] = list(box.iterdir())
    assert_no_forged_verdicts(copy.read_bytes(), ours=0)  # a release is not re-scanned


# --- legitimate mail ------------------------------------------------------------------------

BUSINESS = (
    b"Dear Alice,\r\n\r\nthank you for your order 4711 of 28 December. The goods left our "
    b"warehouse this morning and should reach you on Thursday.\r\n\r\nYou can follow the "
    b"delivery on our website at https://www.corp.example/orders/4711 at any time.\r\n\r\n"
    b"Kind regards,\r\nJohn Miller\r\nCustomer Service, Corp Example Ltd\r\n"
)


def local_dnsfunc(name: bytes, timeout: float = 5.0) -> bytes | None:
    records = ZONE.get(name.decode().rstrip("."), [])
    return records[0][1].encode() if records else None


def test_dkim_signed_dmarc_passing_original_is_delivered_untagged(
    gateway: GatewayProcess,
) -> None:
    original = message(b"From: John Miller <john.miller@corp.example>\r\n", "legit1@example.com",
                       BUSINESS).replace(b"Second quarter figures", b"Your order 4711 is on its way")
    signed = dkim_sign(original, CORP_KEY[0], "corp.example")
    # an earlier hop's verdict, above the signature and not signed: removed, signature intact
    raw = b"X-Spam-Status: No, score=0.1\r\n" + signed
    landing = send(gateway, raw, "legit1@example.com", mail_from="orders@corp.example")
    assert landing.where == "maildir", landing
    assert landing.verdict == "deliver", landing.header("X-Mailward-Verdict")
    [results] = landing.header("Authentication-Results")
    assert "dkim=pass header.d=corp.example" in results
    assert "dmarc=pass (p=reject) header.from=corp.example" in results
    assert b"X-Spam-Status" not in landing.raw
    assert dkim.verify(landing.raw, dnsfunc=local_dnsfunc), "delivery broke the DKIM signature"


def forwarded(sealer: str, rcpt: str) -> bytes:
    """bank.example's signed original, tagged and footed by a list, sealed by ``sealer``."""
    original = message(b"From: Bank Newsletter <news@bank.example>\r\n", rcpt)
    signed = dkim_sign(original, BANK_KEY[0], "bank.example")
    changed = signed.replace(b"Subject: Second", b"Subject: [customers] Second")
    changed += b"-- \r\ncustomers mailing list\r\n"
    return arc_seal(changed, LIST_KEY[0], sealer, "spf=pass smtp.mailfrom=news@bank.example;"
                    " dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example")


def test_trusted_arc_forwarder_is_delivered(gateway: GatewayProcess) -> None:
    raw = forwarded("lists.example.net", "list1@example.com")
    landing = send(gateway, raw, "list1@example.com", mail_from="bounces@lists.example.net")
    assert landing.where == "maildir", landing
    [results] = landing.header("Authentication-Results")
    assert "overridden: arc from lists.example.net" in results, results
    assert "arc=pass" in results
    assert landing.verdict == "deliver", landing.header("X-Mailward-Verdict")


def test_untrusted_arc_forwarder_with_failing_p_reject_is_blocked(
    gateway: GatewayProcess,
) -> None:
    raw = forwarded("relay.example.org", "list2@example.com")
    landing = send(gateway, raw, "list2@example.com", mail_from="bounces@relay.example.org")
    assert_blocked(landing, "AUTH_DMARC_REJECT")


def test_gateway_log_names_the_removed_headers(gateway: GatewayProcess) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        with contextlib.suppress(FileNotFoundError):
            if "removed" in gateway.log.read_text() and "X-Spam-Status" in gateway.log.read_text():
                return
        time.sleep(0.1)
    raise AssertionError(gateway.log.read_text()[-3000:])


RECEIPT = (
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p>Hello Jane,</p><p>You sent a payment of EUR 24.90 to Example Shop.</p>"
    b'<p><a href="https://www.paypal.com/myaccount/transactions/details/123">'
    b"View the transaction</a></p>"
    b'<p><a href="https://www.paypal.com/myaccount/settings">Your settings</a></p>\r\n'
)


def receipt(sender: bytes, rcpt: str, links_to: bytes = b"www.paypal.com") -> bytes:
    head = (
        b"From: PayPal <" + sender + b">\r\n" + f"To: {rcpt}\r\n".encode()
        + b"Subject: Receipt for your payment\r\nDate: Tue, 2 Jan 2024 09:00:00 +0000\r\n"
        + f"Message-ID: <{rcpt.partition('@')[0]}@brand.test>\r\n".encode()
    )
    return head + RECEIPT.replace(b"www.paypal.com", links_to)


def test_brand_mail_proven_by_dkim_and_dmarc_is_delivered_as_consistent(
    gateway: GatewayProcess,
) -> None:
    signed = dkim_sign(receipt(b"service@paypal.com", "brand1@example.com"), BRAND_KEY[0],
                       "paypal.com")
    landing = send(gateway, signed, "brand1@example.com", mail_from="bounce@paypal.com")
    assert landing.where == "maildir", landing
    assert landing.verdict == "deliver", landing.header("X-Mailward-Verdict")
    assert "ID_CONSISTENT" in landing.header("X-Mailward-Verdict")[0]
    assert "dmarc=pass (p=reject) header.from=paypal.com" in landing.header(
        "Authentication-Results")[0]


def test_the_same_brand_mail_spoofed_is_refused(gateway: GatewayProcess) -> None:
    spoof = receipt(b"service@paypal.com", "brand2@example.com",
                    links_to=b"paypal-resolution.evil.example")
    assert_blocked(send(gateway, spoof, "brand2@example.com"))


def test_the_same_brand_mail_from_a_look_alike_is_caught(gateway: GatewayProcess) -> None:
    fake = receipt(b"service@paypa1-support.com", "brand3@example.com",
                   links_to=b"paypa1-support.com")
    landing = send(gateway, fake, "brand3@example.com")
    assert_flagged(landing)
