"""[policy.outbound]: mail from authenticated users and internal networks goes through the same
engine, decided with its own thresholds and extra force rules; mail from outside keeps the
inbound policy."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import ClassVar

import pytest
from pydantic import ValidationError

from mailward.config import settings_from_mapping
from mailward.config.settings import PolicySettings
from mailward.engine.contract import ScanContext, SymbolSpec
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Finding, ParsedMessage


class SixPoints:
    """A detector that always scores 6 (between the tag and quarantine thresholds)."""

    name: ClassVar[str] = "six"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "TEST_SIX": SymbolSpec(6.0, "test", "six points")}
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        return [Finding("TEST_SIX", "six points")]


def _raw() -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["To"] = "someone@partner.example.net"
    msg["Subject"] = "hello"
    msg.set_content("hello")
    return bytes(msg)


def _action(outbound: dict[str, object], envelope: Envelope) -> Action:
    settings = settings_from_mapping({"policy": {"outbound": outbound}}, source="test")
    engine = Engine(settings, detectors=[SixPoints()])  # type: ignore[list-item]
    return asyncio.run(engine.scan(_raw(), envelope)).verdict.action


INSIDE_AUTH = Envelope("alice@example.com", ("x@partner.example.net",), "203.0.113.5",
                       authenticated_as="alice")
INSIDE_NET = Envelope("alice@example.com", ("x@partner.example.net",), "10.0.0.5",
                      internal=True)
OUTSIDE = Envelope("x@partner.example.net", ("alice@example.com",), "198.51.100.7")


def test_outbound_thresholds_apply_to_authenticated_and_internal_mail() -> None:
    assert _action({"quarantine_at": 6.0}, INSIDE_AUTH) is Action.QUARANTINE
    assert _action({"quarantine_at": 6.0}, INSIDE_NET) is Action.QUARANTINE


def test_inbound_mail_keeps_the_inbound_policy() -> None:
    assert _action({"quarantine_at": 6.0}, OUTSIDE) is Action.TAG


def test_unset_outbound_thresholds_are_the_inbound_ones() -> None:
    assert _action({}, INSIDE_AUTH) is Action.TAG


def test_outbound_force_rules_add_to_the_inbound_ones() -> None:
    force = {"force": [{"symbol": "TEST_SIX", "action": "reject"}]}
    assert _action(force, INSIDE_NET) is Action.REJECT
    assert _action(force, OUTSIDE) is Action.TAG
    policy = PolicySettings.model_validate({"outbound": force})
    assert len(policy.for_outbound().force) == len(PolicySettings().force) + 1


def test_outbound_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match=r"policy.outbound"):
        PolicySettings.model_validate({"outbound": {"tag_at": 12.0}})
