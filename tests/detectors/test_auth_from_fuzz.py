"""From header fuzzing (ESpoofing-style): no variant that shows bank.example is delivered unflagged.

bank.example publishes DMARC p=reject; the attacker authenticates only evil.example (SPF pass
for its envelope sender). Every variant of :mod:`from_fuzz` lets some mail program show
bank.example as the sender, so none may be delivered: with no aligned authentication for
bank.example the message is quarantined or rejected. The auth detector and policy run
in-process against the local DNS server; the whole run takes a few seconds.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from mailward.config import Settings
from mailward.detectors.auth import AuthDetector, AuthSettings
from mailward.dns import ResolverDnsClient
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.model import Envelope

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
import from_fuzz
from local_dns import LocalDnsServer

ZONE = {
    "bank.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.bank.example": [("TXT", "v=DMARC1; p=reject")],
    "evil.example": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.evil.example": [("TXT", "v=DMARC1; p=reject")],
}
ATTACKER = Envelope(
    mail_from="a@evil.example", rcpt_tos=("bob@example.com",), peer_ip="127.0.0.1",
    helo="mx.evil.example",
)
BANK = Envelope(
    mail_from="bounce@bank.example", rcpt_tos=("bob@example.com",), peer_ip="127.0.0.1",
    helo="mx.bank.example",
)


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    with LocalDnsServer(ZONE) as srv:
        yield srv.port


def scan_all(
    cases: Sequence[tuple[str, bytes]], env: Envelope, port: int
) -> dict[str, ScanOutcome]:
    async def run() -> dict[str, ScanOutcome]:
        client = ResolverDnsClient(["127.0.0.1"], port, timeout=2.0)
        engine = Engine(Settings(), detectors=[AuthDetector(AuthSettings())],
                        clients={"dns": client})
        out: dict[str, ScanOutcome] = {}
        for start in range(0, len(cases), 16):
            batch = cases[start : start + 16]
            done = await asyncio.gather(
                *(engine.scan(from_fuzz.message(h, start + i), env)
                  for i, (_, h) in enumerate(batch))
            )
            out.update({name: o for (name, _), o in zip(batch, done, strict=True)})
        return out

    return asyncio.run(run())


def summary(outcomes: dict[str, ScanOutcome]) -> str:
    actions = Counter(str(o.verdict.action) for o in outcomes.values())
    return ", ".join(f"{a}: {n}" for a, n in sorted(actions.items()))


def test_no_variant_showing_a_p_reject_domain_is_delivered(dns_port: int) -> None:
    cases = from_fuzz.variants()
    assert len(cases) > 2000
    outcomes = scan_all(cases, ATTACKER, dns_port)
    delivered = sorted(n for n, o in outcomes.items() if str(o.verdict.action) == "deliver")
    print(f"\n{len(cases)} From variants: {summary(outcomes)}")
    assert not delivered, f"{len(delivered)} delivered unflagged, e.g. {delivered[:10]}"
    lenient = sorted(
        n for n, o in outcomes.items() if str(o.verdict.action) not in {"quarantine", "reject"}
    )
    assert not lenient, f"{len(lenient)} only tagged, e.g. {lenient[:10]}"


def test_well_formed_from_of_the_sending_domain_is_delivered(dns_port: int) -> None:
    outcomes = scan_all(from_fuzz.controls(), ATTACKER, dns_port)
    flagged = {n: sorted(o.result.symbols) for n, o in outcomes.items()
               if str(o.verdict.action) != "deliver"}
    assert not flagged, flagged


def test_bank_mail_with_aligned_spf_is_delivered(dns_port: int) -> None:
    bank = [(n, h.replace(b"evil.example", b"bank.example")) for n, h in from_fuzz.controls()]
    outcomes = scan_all(bank, BANK, dns_port)
    flagged = {n: sorted(o.result.symbols) for n, o in outcomes.items()
               if str(o.verdict.action) != "deliver"}
    assert not flagged, flagged
