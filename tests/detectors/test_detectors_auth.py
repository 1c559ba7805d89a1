"""AuthDetector (SPF, DKIM, ARC, DMARC) against a real DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dkim
import pytest

from mailward.config import Settings
from mailward.config.settings import LimitSettings
from mailward.detectors import BUILTIN_DETECTORS
from mailward.detectors.auth import AuthDetector, AuthSettings
from mailward.dns import DnsClient, ResolverDnsClient
from mailward.engine.contract import ScanContext
from mailward.engine.pipeline import Engine
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Finding, ParsedMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
from local_dns import LocalDnsServer
from mailauth import AUTHRES_STUB, new_key

ALLOWED_IP = "127.0.0.1"
OTHER_IP = "192.0.2.1"


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    """A fresh RSA key: (PEM private key for signing, DKIM TXT record with its public key)."""
    return new_key()


def records(dkim_txt: str) -> dict[str, list[tuple[str, str]]]:
    return {
        "example.net": [("TXT", f"v=spf1 ip4:{ALLOWED_IP} -all")],
        "_dmarc.example.net": [("TXT", "v=DMARC1; p=reject; sp=quarantine")],
        "sel._domainkey.example.net": [("TXT", dkim_txt)],
        "soft.example.org": [("TXT", f"v=spf1 ip4:{ALLOWED_IP} ~all")],
        "_dmarc.example.info": [("TXT", "v=DMARC1; p=none")],
        "_dmarc.example.org": [("TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")],
        "sel._domainkey.mail.example.org": [("TXT", dkim_txt)],
        "_dmarc.example.com": [("TXT", "v=DMARC1; p=quarantine")],
        "sel._domainkey.mail.example.com": [("TXT", dkim_txt)],
        "arc._domainkey.relay.example.info": [("TXT", dkim_txt)],
    }


@pytest.fixture(scope="module")
def server(key: tuple[bytes, str]) -> Iterator[LocalDnsServer]:
    with LocalDnsServer(records(key[1])) as srv:
        yield srv


@pytest.fixture
def client(server: LocalDnsServer) -> DnsClient:
    return ResolverDnsClient(["127.0.0.1"], server.port, timeout=2.0)


def raw_message(sender: str = "Alice <alice@example.net>", body: str = "Hello Bob.\r\n") -> bytes:
    return (
        f"From: {sender}\r\nTo: bob@example.com\r\nSubject: Quarterly numbers\r\n"
        f"Message-ID: <auth-test@example.net>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n{body}"
    ).encode()


def signed(raw: bytes, pem: bytes, domain: str = "example.net") -> bytes:
    header = dkim.sign(
        raw, b"sel", domain.encode(), pem, include_headers=[b"from", b"to", b"subject"]
    )
    return bytes(header) + raw


def envelope(mail_from: str, ip: str = ALLOWED_IP, **extra: Any) -> Envelope:
    return Envelope(
        mail_from=mail_from, rcpt_tos=("bob@example.com",), peer_ip=ip, helo="mx.test", **extra
    )


def scan(
    raw: bytes,
    env: Envelope | None,
    clients: dict[str, Any],
    settings: AuthSettings | None = None,
) -> tuple[dict[str, Finding], list[str]]:
    msg: ParsedMessage = parse_message(raw, LimitSettings())
    ctx = ScanContext(envelope=env, settings=Settings(), clients=clients)
    findings: Sequence[Finding] = asyncio.run(
        AuthDetector(settings or AuthSettings()).check(msg, ctx)
    )
    by_symbol = {f.symbol: f for f in findings}
    assert len(by_symbol) == len(findings)
    assert all(f.detector == "auth" for f in findings)
    return by_symbol, list(ctx.auth_results)


def result_of(results: list[str], method: str) -> str:
    found = [r for r in results if r.startswith(method + "=")]
    assert found, f"no {method} result in {results}"
    return found[0]


# --- SPF -----------------------------------------------------------------------------------


def test_spf_pass_for_an_allowed_server(client: DnsClient) -> None:
    found, results = scan(raw_message(), envelope("bounce@example.net"), {"dns": client})
    assert result_of(results, "spf").startswith("spf=pass")
    assert "smtp.mailfrom=bounce@example.net" in result_of(results, "spf")
    assert not {"AUTH_SPF_FAIL", "AUTH_SPF_SOFTFAIL"} & found.keys()


def test_spf_fail_for_another_server(client: DnsClient) -> None:
    found, results = scan(raw_message(), envelope("bounce@example.net", OTHER_IP), {"dns": client})
    assert result_of(results, "spf").startswith("spf=fail")
    assert OTHER_IP in found["AUTH_SPF_FAIL"].explanation
    assert "AUTH_SPF_SOFTFAIL" not in found


def test_spf_softfail(client: DnsClient) -> None:
    env = envelope("news@soft.example.org", OTHER_IP)
    found, results = scan(raw_message(), env, {"dns": client})
    assert result_of(results, "spf").startswith("spf=softfail")
    assert "soft.example.org" in found["AUTH_SPF_SOFTFAIL"].explanation
    assert "AUTH_SPF_FAIL" not in found


def test_spf_none_when_the_domain_publishes_nothing(client: DnsClient) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    found, results = scan(raw_message(), env, {"dns": client})
    assert result_of(results, "spf").startswith("spf=none")
    assert not {"AUTH_SPF_FAIL", "AUTH_SPF_SOFTFAIL"} & found.keys()


def test_spf_skipped_without_envelope_or_for_authenticated_clients(client: DnsClient) -> None:
    _, results = scan(raw_message(), None, {"dns": client})
    assert not [r for r in results if r.startswith("spf=")]
    env = envelope("bounce@example.net", OTHER_IP, authenticated_as="alice")
    found, results = scan(raw_message(), env, {"dns": client})
    assert not [r for r in results if r.startswith(("spf=", "dmarc="))]
    assert not found


# --- DKIM ----------------------------------------------------------------------------------


def test_dkim_pass(client: DnsClient, key: tuple[bytes, str]) -> None:
    found, results = scan(signed(raw_message(), key[0]), None, {"dns": client})
    assert result_of(results, "dkim") == "dkim=pass header.d=example.net header.s=sel"
    assert "AUTH_DKIM_FAIL" not in found


def test_dkim_fail_on_a_changed_body(client: DnsClient, key: tuple[bytes, str]) -> None:
    raw = signed(raw_message(), key[0]).replace(b"Hello Bob.", b"Pay invoice.")
    found, results = scan(raw, None, {"dns": client})
    assert result_of(results, "dkim").startswith("dkim=fail header.d=example.net")
    assert "example.net" in found["AUTH_DKIM_FAIL"].explanation


def test_dkim_with_an_unpublished_key_is_permerror_not_fail(
    client: DnsClient, key: tuple[bytes, str]
) -> None:
    found, results = scan(signed(raw_message(), key[0], "example.info"), None, {"dns": client})
    assert result_of(results, "dkim").startswith("dkim=permerror")
    assert "AUTH_DKIM_FAIL" not in found


def test_unsigned_message_is_dkim_none(client: DnsClient) -> None:
    _, results = scan(raw_message(), None, {"dns": client})
    assert result_of(results, "dkim") == "dkim=none"


# --- DMARC ---------------------------------------------------------------------------------


def test_dmarc_pass_through_aligned_dkim(client: DnsClient, key: tuple[bytes, str]) -> None:
    env = envelope("news@soft.example.org", OTHER_IP)
    found, results = scan(signed(raw_message(), key[0]), env, {"dns": client})
    assert result_of(results, "dmarc").startswith("dmarc=pass")
    assert "AUTH_DMARC_FAIL" not in found


def test_dmarc_pass_through_aligned_spf(client: DnsClient) -> None:
    found, results = scan(raw_message(), envelope("bounce@example.net"), {"dns": client})
    assert result_of(results, "dmarc") == "dmarc=pass (p=reject) header.from=example.net"
    assert "AUTH_DMARC_FAIL" not in found


def test_dmarc_fail_with_p_reject(client: DnsClient) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    found, results = scan(raw_message("CEO <ceo@example.net>"), env, {"dns": client})
    assert result_of(results, "dmarc") == "dmarc=fail (p=reject) header.from=example.net"
    finding = found["AUTH_DMARC_FAIL"]
    assert finding.factor == 1.0
    assert finding.explanation.startswith("The sender claims to be example.net")
    assert "(reject)" in finding.explanation


def test_dmarc_fail_with_p_none_weighs_less_but_still_tags(client: DnsClient) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    found, results = scan(raw_message("a@example.info"), env, {"dns": client})
    finding = found["AUTH_DMARC_FAIL"]
    assert finding.factor == pytest.approx(0.65)
    # the From domain is not proven: on its own that reaches tag_at, not quarantine_at
    weight = AuthDetector.symbols["AUTH_DMARC_FAIL"].weight
    policy = Settings().policy
    assert policy.tag_at <= weight * finding.factor < policy.quarantine_at
    assert not {"AUTH_DMARC_REJECT", "AUTH_DMARC_QUARANTINE"} & found.keys()
    assert result_of(results, "dmarc") == "dmarc=fail (p=none) header.from=example.info"


def test_dmarc_falls_back_to_the_organisational_domain(client: DnsClient) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    found, results = scan(raw_message("a@billing.example.net"), env, {"dns": client})
    assert "(p=quarantine) header.from=billing.example.net" in result_of(results, "dmarc")
    assert found["AUTH_DMARC_FAIL"].factor == pytest.approx(0.8)


def test_dmarc_none_without_a_record(client: DnsClient) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    found, results = scan(raw_message("a@nodmarc.example.com.au"), env, {"dns": client})
    assert result_of(results, "dmarc").startswith("dmarc=none")
    assert "AUTH_DMARC_FAIL" not in found


def test_relaxed_alignment_accepts_a_subdomain_signature(
    client: DnsClient, key: tuple[bytes, str]
) -> None:
    raw = signed(raw_message("a@example.com"), key[0], "mail.example.com")
    found, results = scan(raw, envelope("x@nospf.example.com", OTHER_IP), {"dns": client})
    assert result_of(results, "dkim").startswith("dkim=pass header.d=mail.example.com")
    assert result_of(results, "dmarc").startswith("dmarc=pass")
    assert "AUTH_DMARC_FAIL" not in found


def test_strict_alignment_refuses_a_subdomain_signature(
    client: DnsClient, key: tuple[bytes, str]
) -> None:
    raw = signed(raw_message("a@example.org"), key[0], "mail.example.org")
    found, results = scan(raw, envelope("x@nospf.example.com", OTHER_IP), {"dns": client})
    assert result_of(results, "dkim").startswith("dkim=pass header.d=mail.example.org")
    assert result_of(results, "dmarc").startswith("dmarc=fail")
    assert "AUTH_DMARC_FAIL" in found


# --- ARC -----------------------------------------------------------------------------------


@pytest.fixture
def authres_stub(monkeypatch: pytest.MonkeyPatch) -> None:
    """dkimpy needs the (not installed) authres package to *seal*; verification is real."""
    monkeypatch.setattr(dkim, "authres", AUTHRES_STUB, raising=False)


def sealed(raw: bytes, pem: bytes) -> bytes:
    with_ar = b"Authentication-Results: relay.example.info; spf=pass smtp.mailfrom=example.net\r\n"
    with_ar += raw
    headers = dkim.arc_sign(with_ar, b"arc", b"relay.example.info", pem, b"relay.example.info")
    assert headers, "arc_sign produced no ARC set"
    return b"".join(headers) + with_ar


@pytest.mark.usefixtures("authres_stub")
def test_arc_sealed_message_passes(client: DnsClient, key: tuple[bytes, str]) -> None:
    found, results = scan(sealed(raw_message(), key[0]), None, {"dns": client})
    assert result_of(results, "arc") == "arc=pass"
    assert "AUTH_ARC_FAIL" not in found


@pytest.mark.usefixtures("authres_stub")
def test_arc_chain_broken_by_a_later_change(client: DnsClient, key: tuple[bytes, str]) -> None:
    raw = sealed(raw_message(), key[0]).replace(b"Hello Bob.", b"Pay invoice.")
    found, results = scan(raw, None, {"dns": client})
    assert result_of(results, "arc") == "arc=fail"
    assert "AUTH_ARC_FAIL" in found


def test_no_arc_headers_is_arc_none(client: DnsClient) -> None:
    _, results = scan(raw_message(), None, {"dns": client})
    assert result_of(results, "arc") == "arc=none"


# --- From, missing or failing DNS, trusted results -----------------------------------------


def test_from_with_two_addresses_is_ambiguous(client: DnsClient) -> None:
    raw = raw_message("ceo@example.net, attacker@evil.example.com")
    found, results = scan(raw, envelope("x@evil.example.com", OTHER_IP), {"dns": client})
    assert "ceo@example.net" in found["AUTH_FROM_AMBIGUOUS"].evidence
    dmarc = result_of(results, "dmarc")
    assert dmarc.startswith("dmarc=permerror (ambiguous From")
    # every reading is checked: example.net (p=reject) is not aligned with anything that passed
    assert "fail p=reject example.net" in dmarc
    finding = found["AUTH_DMARC_FAIL"]
    assert finding.evidence[:2] == ("example.net", "p=reject")
    assert finding.factor == pytest.approx(1.0)


def test_two_from_headers_are_ambiguous(client: DnsClient) -> None:
    raw = b"From: attacker@evil.example.com\r\n" + raw_message("ceo@example.net")
    found, _ = scan(raw, envelope("x@evil.example.com", OTHER_IP), {"dns": client})
    assert "AUTH_FROM_AMBIGUOUS" in found


def test_single_from_is_not_ambiguous(client: DnsClient) -> None:
    found, _ = scan(raw_message(), envelope("bounce@example.net"), {"dns": client})
    assert "AUTH_FROM_AMBIGUOUS" not in found


def test_no_dns_client_means_no_lookups_and_no_results() -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    for clients in ({}, {"dns": None}):
        found, results = scan(raw_message(), env, clients)
        assert found == {} and results == []


def test_without_dns_a_from_readers_may_see_otherwise_is_still_ambiguous() -> None:
    # the From header's tricks need no lookup: a gateway with DNS off must still see them
    env = envelope("x@nospf.example.com", OTHER_IP)
    for clients in ({}, {"dns": None}):
        found, results = scan(raw_message("ceo@example.net, x@y.example.com"), env, clients)
        assert set(found) == {"AUTH_FROM_AMBIGUOUS"} and results == []
        assert "2 senders" in found["AUTH_FROM_AMBIGUOUS"].explanation


def test_without_dns_mail_from_an_authenticated_client_is_not_checked() -> None:
    env = dataclasses.replace(envelope("x@nospf.example.com", OTHER_IP), authenticated_as="x")
    found, _ = scan(raw_message("ceo@example.net, x@y.example.com"), env, {})
    assert found == {}


def test_dns_timeouts_give_temperror_and_no_findings(key: tuple[bytes, str]) -> None:
    names = ["example.net", "_dmarc.example.net", "sel._domainkey.example.net"]
    with LocalDnsServer({}, silent=names) as srv:
        slow = ResolverDnsClient(["127.0.0.1"], srv.port, timeout=0.3)
        raw = signed(raw_message(), key[0])
        found, results = scan(raw, envelope("bounce@example.net", OTHER_IP), {"dns": slow})
    assert found == {}
    for method in ("spf", "dkim", "dmarc"):
        assert result_of(results, method).startswith(f"{method}=temperror")


def test_trusted_authentication_results_replace_our_spf(client: DnsClient) -> None:
    raw = (
        b"Authentication-Results: mx.inside.example.net; spf=pass (checked upstream)"
        b" smtp.mailfrom=bounce@example.net; dkim=none\r\n" + raw_message()
    )
    env = envelope("bounce@example.net", OTHER_IP)  # the upstream MTA is the peer
    trusting = AuthSettings(trust_authentication_results_from=("MX.inside.example.net",))
    found, results = scan(raw, env, {"dns": client}, trusting)
    assert result_of(results, "spf") == "spf=pass smtp.mailfrom=bounce@example.net"
    assert result_of(results, "dmarc").startswith("dmarc=pass")
    assert found == {}
    found, results = scan(raw, env, {"dns": client})  # not trusted: checked here, and fails
    assert result_of(results, "spf").startswith("spf=fail")
    assert {"AUTH_SPF_FAIL", "AUTH_DMARC_FAIL"} <= found.keys()


def test_methods_can_be_switched_off(client: DnsClient) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    off = AuthSettings(check_spf=False, check_dkim=False, check_arc=False, check_dmarc=False)
    found, results = scan(raw_message("ceo@example.net"), env, {"dns": client}, off)
    assert found == {} and results == []


# --- through the engine --------------------------------------------------------------------


def auth_engine(client: DnsClient) -> Engine:
    # only this detector, so the test does not hang on what other detectors make of the sample
    return Engine(Settings(), detectors=[AuthDetector(AuthSettings())], clients={"dns": client})


def test_auth_is_a_builtin_detector() -> None:
    assert AuthDetector in BUILTIN_DETECTORS
    assert "auth" in [d.name for d in Engine(Settings()).detectors]
    assert "auth" not in [
        d.name for d in Engine(Settings(engine={"disabled": ("auth",)})).detectors
    ]


def test_engine_reports_spoofed_sender_in_findings_and_header(client: DnsClient) -> None:
    engine = auth_engine(client)
    env = envelope("x@nospf.example.com", OTHER_IP)
    outcome = asyncio.run(engine.scan(raw_message("CEO <ceo@example.info>"), env))  # p=none
    assert "AUTH_DMARC_FAIL" in outcome.result.symbols
    assert outcome.verdict.action is Action.TAG
    headers = dict(outcome.verdict.add_headers)
    assert "dmarc=fail" in headers["Authentication-Results"]
    assert "spf=none" in headers["Authentication-Results"]


@pytest.mark.parametrize(
    ("sender", "action", "symbol"),
    [
        ("CEO <ceo@example.net>", Action.REJECT, "AUTH_DMARC_REJECT"),  # p=reject
        ("CEO <ceo@billing.example.net>", Action.QUARANTINE, "AUTH_DMARC_QUARANTINE"),  # sp=
        ("CEO <ceo@example.com>", Action.QUARANTINE, "AUTH_DMARC_QUARANTINE"),  # p=quarantine
    ],
)
def test_engine_applies_the_sender_domains_dmarc_policy(
    client: DnsClient, sender: str, action: Action, symbol: str
) -> None:
    env = envelope("x@nospf.example.com", OTHER_IP)
    outcome = asyncio.run(auth_engine(client).scan(raw_message(sender), env))
    assert outcome.verdict.action is action
    assert outcome.verdict.forced_by == symbol


def test_engine_passes_authentic_mail(client: DnsClient, key: tuple[bytes, str]) -> None:
    engine = auth_engine(client)
    raw = signed(raw_message(), key[0])
    outcome = asyncio.run(engine.scan(raw, envelope("bounce@example.net")))
    assert not {s for s in outcome.result.symbols if s.startswith("AUTH_")}
    assert "dmarc=pass" in dict(outcome.verdict.add_headers)["Authentication-Results"]
