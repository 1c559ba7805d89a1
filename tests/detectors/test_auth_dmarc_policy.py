"""The sender domain's DMARC policy as applied: p=/sp= with pct, operator overrides, and ARC
forwarders the operator trusts (a forged or untrusted ARC set never lowers anything)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailward.config import Settings
from mailward.detectors._auth_methods import DmarcRecord
from mailward.detectors._dmarc_policy import sampled_in
from mailward.detectors.auth import AuthDetector, AuthSettings
from mailward.dns import ResolverDnsClient
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
from local_dns import LocalDnsServer
from mailauth import arc_seal, dkim_sign, new_key

BANK_KEY = new_key()
LIST_KEY = new_key()
ROGUE_KEY = new_key()

ZONE = {
    "bank.example": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
    "_dmarc.bank.example": [("TXT", "v=DMARC1; p=reject")],
    "sel._domainkey.bank.example": [("TXT", BANK_KEY[1])],
    "_dmarc.sampled.example": [("TXT", "v=DMARC1; p=reject; pct=0")],
    "_dmarc.trial.example": [("TXT", "v=DMARC1; p=quarantine; pct=0")],
    "_dmarc.example.net": [("TXT", "v=DMARC1; p=reject")],  # sp= too: its subdomains
    "lists.example.net": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "arc._domainkey.lists.example.net": [("TXT", LIST_KEY[1])],
    "relay.example.org": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "arc._domainkey.relay.example.org": [("TXT", LIST_KEY[1])],
}
ATTACKER = Envelope(
    mail_from="x@evil.example", rcpt_tos=("bob@example.com",), peer_ip="192.0.2.66", helo="mx"
)
LIST = Envelope(
    mail_from="team-bounces@lists.example.net", rcpt_tos=("bob@example.com",),
    peer_ip="127.0.0.1", helo="mx.lists.example.net",
)
ORIGINAL_RESULTS = (
    "spf=pass smtp.mailfrom=ceo@bank.example; dkim=pass header.d=bank.example;"
    " dmarc=pass header.from=bank.example"
)


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    with LocalDnsServer(ZONE) as srv:
        yield srv.port


def message(sender: str = "CEO <ceo@bank.example>", subject: str = "Board minutes") -> bytes:
    return (
        f"From: {sender}\r\nTo: team@lists.example.net\r\nSubject: {subject}\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <minutes@bank.example>\r\n\r\n"
        "The minutes of Monday's board meeting are on the intranet.\r\n"
    ).encode()


def forwarded(sealer: str = "lists.example.net", results: str = ORIGINAL_RESULTS,
              key: bytes = LIST_KEY[0]) -> bytes:
    """Signed by bank.example, changed by a list (Subject tag, footer), sealed by ``sealer``."""
    signed = dkim_sign(message(), BANK_KEY[0], "bank.example")
    changed = signed.replace(b"Subject: Board", b"Subject: [team] Board") + b"-- \r\nteam list\r\n"
    return arc_seal(changed, key, sealer, results)


def scan(raw: bytes, port: int, env: Envelope = ATTACKER, **settings: object) -> tuple[
    Action, dict[str, Finding], str
]:
    """(action, findings by symbol, dmarc= result of delivered mail) of the auth detector and
    the default policy."""
    client = ResolverDnsClient(["127.0.0.1"], port, timeout=2.0)
    detector = AuthDetector(AuthSettings.model_validate(settings))
    engine = Engine(Settings(), detectors=[detector], clients={"dns": client})
    outcome = asyncio.run(engine.scan(raw, env))
    symbols = {f.symbol: f for f in outcome.result.findings}
    auth = " ".join(
        " ".join(str(v).split()) for n, v in outcome.verdict.add_headers
        if n == "Authentication-Results"
    )
    dmarc = auth[auth.find("dmarc="):] if "dmarc=" in auth else ""
    return outcome.verdict.action, symbols, dmarc


# --- p=, pct= ---------------------------------------------------------------------------------


def test_p_reject_spoof_is_rejected(dns_port: int) -> None:
    action, symbols, _ = scan(message(), dns_port)
    assert action is Action.REJECT
    assert {"AUTH_DMARC_FAIL", "AUTH_DMARC_REJECT"} <= symbols.keys()


def test_pct_0_applies_the_next_lower_policy(dns_port: int) -> None:
    action, symbols, _ = scan(message("a@sampled.example"), dns_port)
    assert action is Action.QUARANTINE
    assert "AUTH_DMARC_QUARANTINE" in symbols and "AUTH_DMARC_REJECT" not in symbols
    assert "(pct=0 sampled out)" in symbols["AUTH_DMARC_QUARANTINE"].explanation
    assert symbols["AUTH_DMARC_FAIL"].factor == pytest.approx(1.0)  # still a p=reject domain
    action, symbols, _ = scan(message("a@trial.example"), dns_port)
    assert action is Action.TAG  # p=quarantine at pct=0 is none: scored, not enforced
    assert not {"AUTH_DMARC_QUARANTINE", "AUTH_DMARC_REJECT"} & symbols.keys()


def test_pct_sampling_is_per_message_and_repeatable() -> None:
    record = DmarcRecord("x.example", "reject", "reject", "r", "r", 30)
    picks = [sampled_in(record, b"message %d" % i) for i in range(2000)]
    assert 0.25 < sum(picks) / len(picks) < 0.35
    assert picks == [sampled_in(record, b"message %d" % i) for i in range(2000)]
    full = DmarcRecord("x.example", "reject", "reject", "r", "r", 100)
    assert all(sampled_in(full, b"message %d" % i) for i in range(100))


# --- operator overrides -----------------------------------------------------------------------


def test_operator_override_lowers_the_policy_of_a_domain_and_its_subdomains(
    dns_port: int,
) -> None:
    overrides = {"Bank.Example": "none", "example.net": "none"}
    for sender in ("ceo@bank.example", "ceo@example.net", "ceo@mail.example.net"):
        action, symbols, dmarc = scan(message(sender), dns_port, dmarc_policy_override=overrides)
        assert action is Action.TAG, sender
        assert "AUTH_DMARC_FAIL" in symbols
        assert not {"AUTH_DMARC_REJECT", "AUTH_DMARC_QUARANTINE"} & symbols.keys()
    assert "dis=none, local policy none" in dmarc


def test_override_of_a_subdomain_leaves_its_parent_alone(dns_port: int) -> None:
    overrides = {"mail.example.net": "none"}
    action, _, _ = scan(message("ceo@example.net"), dns_port, dmarc_policy_override=overrides)
    assert action is Action.REJECT


def test_override_to_quarantine(dns_port: int) -> None:
    action, symbols, _ = scan(
        message(), dns_port, dmarc_policy_override={"bank.example": "quarantine"}
    )
    assert action is Action.QUARANTINE and "AUTH_DMARC_QUARANTINE" in symbols


def test_policy_not_honoured_only_scores(dns_port: int) -> None:
    action, symbols, _ = scan(message(), dns_port, honour_dmarc_policy=False)
    assert action is Action.TAG
    assert not {"AUTH_DMARC_REJECT", "AUTH_DMARC_QUARANTINE"} & symbols.keys()


def test_bad_override_value_is_refused() -> None:
    with pytest.raises(ValueError, match="dmarc_policy_override"):
        AuthSettings.model_validate({"dmarc_policy_override": {"bank.example": "allow"}})


# --- ARC forwarders -----------------------------------------------------------------------------


def test_trusted_arc_forwarder_that_saw_dmarc_pass_is_delivered(dns_port: int) -> None:
    action, symbols, dmarc = scan(
        forwarded(), dns_port, LIST, trusted_arc_sealers=["lists.example.net"]
    )
    assert action is Action.DELIVER, symbols
    assert not {"AUTH_DMARC_FAIL", "AUTH_DMARC_REJECT"} & symbols.keys()
    assert dmarc.startswith(
        "dmarc=fail (p=reject dis=none, overridden: arc from lists.example.net)"
        " header.from=bank.example"
    ), dmarc


def test_trusted_sealer_may_be_named_by_a_parent_domain(dns_port: int) -> None:
    action, _, _ = scan(forwarded(), dns_port, LIST, trusted_arc_sealers=["example.net"])
    assert action is Action.DELIVER


def test_trusted_arc_forwarder_with_aligned_spf_pass_vouches_too(dns_port: int) -> None:
    raw = forwarded(results="spf=pass smtp.mailfrom=bounce@bank.example; dkim=none")
    action, _, _ = scan(raw, dns_port, LIST, trusted_arc_sealers=["lists.example.net"])
    assert action is Action.DELIVER


def test_untrusted_arc_forwarder_changes_nothing(dns_port: int) -> None:
    action, symbols, _ = scan(forwarded(), dns_port, LIST)
    assert action is Action.REJECT and "AUTH_DMARC_REJECT" in symbols
    action, _, _ = scan(
        forwarded(sealer="relay.example.org"), dns_port, LIST,
        trusted_arc_sealers=["lists.example.net"],
    )
    assert action is Action.REJECT


def test_trusted_forwarder_that_saw_dmarc_fail_changes_nothing(dns_port: int) -> None:
    raw = forwarded(results="spf=fail smtp.mailfrom=ceo@bank.example; dmarc=fail"
                            " header.from=bank.example")
    action, _, _ = scan(raw, dns_port, LIST, trusted_arc_sealers=["lists.example.net"])
    assert action is Action.REJECT


def test_forged_arc_set_of_a_trusted_sealer_changes_nothing(dns_port: int) -> None:
    raw = forwarded(key=ROGUE_KEY[0])  # sealed with a key lists.example.net did not publish
    action, symbols, _ = scan(raw, dns_port, LIST, trusted_arc_sealers=["lists.example.net"])
    assert action is Action.REJECT and "AUTH_DMARC_REJECT" in symbols


def test_arc_set_changed_after_sealing_changes_nothing(dns_port: int) -> None:
    raw = forwarded().replace(b"board meeting", b"payment request")
    action, symbols, _ = scan(raw, dns_port, LIST, trusted_arc_sealers=["lists.example.net"])
    assert action is Action.REJECT
    assert "AUTH_ARC_FAIL" in symbols
