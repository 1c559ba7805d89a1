"""MIME ambiguity and From header attacks through the whole scan path, and through the gateway.

Every "MIME is broken" family hides an executable, a script or a phishing link in one reading;
every espoofer / "Composition Kills" From trick makes the shown sender differ from the checked
one. None may be delivered cleanly; the controls, the same shapes written normally, must be.
"""

from __future__ import annotations

import asyncio
import smtplib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mime"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
from local_dns import LocalDnsServer
from mime_ambiguity_samples import ATTACKS, CONTROLS
from test_auth_espoofer import CONTROLS as FROM_CONTROLS
from test_auth_espoofer import ESPOOFER_ATTACKS, ZONE, message

from mailward.config import Settings
from mailward.dns import ResolverDnsClient
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope

ENV = Envelope(
    mail_from="billing@supplier.example.net", rcpt_tos=("alice@example.com",), helo="mx.test"
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Settings())


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    with LocalDnsServer(ZONE) as srv:
        yield srv.port


def action(engine: Engine, raw: bytes, env: Envelope = ENV) -> Action:
    return asyncio.run(engine.scan(raw, env)).verdict.action


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_mime_attack_is_not_delivered_cleanly(engine: Engine, name: str) -> None:
    outcome = asyncio.run(engine.scan(ATTACKS[name][0], ENV))
    assert outcome.verdict.action != Action.DELIVER, outcome.result.findings
    assert "MIME_AMBIGUOUS" in outcome.result.symbols or "ATT_EXECUTABLE" in outcome.result.symbols


@pytest.fixture(scope="module")
def rules_engine() -> Engine:
    """The rule detectors only: the statistical model's scores move with every retraining and
    it has tests of its own; on its own it may only tag (tested in tests/engine)."""
    return Engine(Settings.model_validate({"engine": {"disabled": ["content"]}}))


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_mime_control_is_delivered(engine: Engine, rules_engine: Engine, name: str) -> None:
    outcome = asyncio.run(rules_engine.scan(CONTROLS[name], ENV))
    assert outcome.verdict.action == Action.DELIVER, outcome.result.findings
    full = asyncio.run(engine.scan(CONTROLS[name], ENV))
    assert full.verdict.action.severity <= Action.TAG.severity, full.result.findings


@pytest.mark.parametrize("name", sorted(ESPOOFER_ATTACKS))
def test_from_trick_is_not_delivered_cleanly(dns_port: int, name: str) -> None:
    client = ResolverDnsClient(["127.0.0.1"], dns_port, timeout=2.0)
    engine = Engine(Settings(), clients={"dns": client})
    env = Envelope(mail_from="a@evil.example", rcpt_tos=("bob@example.com",), helo="mx.evil")
    outcome = asyncio.run(engine.scan(message(ESPOOFER_ATTACKS[name]), env))
    assert outcome.verdict.action != Action.DELIVER, outcome.result.findings


@pytest.mark.parametrize("name", sorted(FROM_CONTROLS))
def test_from_control_is_delivered(dns_port: int, name: str) -> None:
    client = ResolverDnsClient(["127.0.0.1"], dns_port, timeout=2.0)
    engine = Engine(Settings(), clients={"dns": client})
    env = Envelope(mail_from="admin@legit.example", rcpt_tos=("bob@example.com",), helo="mx")
    outcome = asyncio.run(engine.scan(message(FROM_CONTROLS[name]), env))
    assert outcome.verdict.action == Action.DELIVER, outcome.result.findings


@pytest.mark.slow
def test_gateway_holds_hidden_attachment_and_delivers_control(make_gateway) -> None:
    from gateway_harness import maildir_files

    gw = make_gateway()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        try:  # refused at DATA (reject) or accepted and quarantined: either way not delivered
            smtp.sendmail(
                "billing@supplier.example.net", ["alice@example.com"], ATTACKS["duplicate_boundary"][0]
            )
        except smtplib.SMTPDataError as exc:
            assert exc.smtp_code == 550, exc
        smtp.sendmail("billing@supplier.example.net", ["alice@example.com"], CONTROLS["quoted_boundary"])
    gw.wait_spool_empty(60)
    deadline = time.time() + 30
    while not maildir_files(gw.data_dir) and time.time() < deadline:
        time.sleep(0.1)  # a loaded machine: delivery may trail the spool
    delivered = [p.read_bytes() for p in maildir_files(gw.data_dir)]
    assert len(delivered) == 1, gw.log.read_text()[-3000:]
    assert b"name=\"invoice.pdf\"" in delivered[0]
    assert b"boundary=a; boundary=b" not in delivered[0]
