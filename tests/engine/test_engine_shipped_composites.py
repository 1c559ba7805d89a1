"""Shipped composites: built with the default detectors, hit and miss through the engine, left
out (not an error) when a member's detector is disabled, replaced by the operator's own."""

from __future__ import annotations

import asyncio

import pytest

from mailward.config import Settings
from mailward.config.loader import settings_from_mapping
from mailward.config.settings import DEFAULT_COMPOSITES
from mailward.engine.contract import SymbolSpec
from mailward.engine.pipeline import Engine
from mailward.engine.scoring import Scorer
from mailward.errors import ConfigError
from mailward.model import Verdict

SCAM_BODY = (
    "Dear Beneficiary,\r\n\r\n"
    "I am writing to inform you that the compensation fund has been approved in your name.\r\n"
    "My husband and I have decided to donate the sum of two million dollars to you.\r\n"
    "Send your full name and phone number so the transfer can begin.\r\n"
)


def _scam(reply_to: str | None) -> bytes:
    head = (
        "From: Mrs Helen Carter <helen.carter@carter-estates.example>\r\n"
        "To: bob@example.org\r\n"
        "Subject: Your donation\r\n"
        "Message-ID: <scam-1@carter-estates.example>\r\n"
        "Date: Mon, 07 Dec 2026 08:00:00 +0000\r\n"
    )
    if reply_to:
        head += f"Reply-To: {reply_to}\r\n"
    return (head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + SCAM_BODY).encode()


def _scan(raw: bytes, settings: Settings | None = None) -> Verdict:
    engine = Engine(settings or Settings())
    return asyncio.run(engine.scan(raw)).verdict


def _symbols(verdict: Verdict) -> dict[str, float]:
    return {f.symbol: f.score for f in verdict.findings}


def test_every_shipped_composite_is_built_with_the_default_detectors() -> None:
    # a misspelt member would silently drop the composite: the default engine must have each
    engine = Engine(Settings())
    built = {c.symbol for c in engine.scorer.composites}
    assert set(DEFAULT_COMPOSITES) <= built


def test_money_scam_whose_replies_go_elsewhere_hits() -> None:
    verdict = _scan(_scam("helen.carter.fund@gmail.com"))
    symbols = _symbols(verdict)
    assert "IMP_REPLY_TO_DIVERT" in symbols and "LURE_ADVANCE_FEE" in symbols
    assert symbols["SCAM_REPLY_DIVERTED"] == 3.0
    hit = next(f for f in verdict.findings if f.symbol == "SCAM_REPLY_DIVERTED")
    assert set(hit.evidence) == {"IMP_REPLY_TO_DIVERT", "LURE_ADVANCE_FEE"}


def test_the_same_scam_answered_at_its_own_address_misses() -> None:
    symbols = _symbols(_scan(_scam(None)))
    assert "LURE_ADVANCE_FEE" in symbols
    assert "SCAM_REPLY_DIVERTED" not in symbols


def test_a_reply_to_elsewhere_without_a_money_lure_misses() -> None:
    raw = (
        b"From: Alice <alice@shop.example>\r\nTo: bob@example.org\r\nSubject: Minutes\r\n"
        b"Reply-To: alice.private@gmail.com\r\nMessage-ID: <m1@shop.example>\r\n"
        b"Content-Type: text/plain\r\n\r\nHere are the minutes of today's meeting.\r\n"
    )
    symbols = _symbols(_scan(raw))
    assert "IMP_REPLY_TO_DIVERT" in symbols
    assert "SCAM_REPLY_DIVERTED" not in symbols


def test_with_a_member_detector_disabled_the_shipped_composite_is_left_out() -> None:
    settings = settings_from_mapping({"engine": {"disabled": ["lures"]}})
    engine = Engine(settings)
    assert "SCAM_REPLY_DIVERTED" not in {c.symbol for c in engine.scorer.composites}


def test_an_operator_composite_with_an_unknown_member_is_still_an_error() -> None:
    settings = settings_from_mapping(
        {"scoring": {"composites": {"MINE": {"expression": "NO_SUCH_SYMBOL", "weight": 1}}}}
    )
    with pytest.raises(ConfigError, match="NO_SUCH_SYMBOL"):
        Scorer({"A": SymbolSpec(1.0, "a", "a")}, settings.scoring)


def test_the_operator_can_replace_a_shipped_composite_by_name() -> None:
    settings = settings_from_mapping(
        {"scoring": {"composites": {"SCAM_REPLY_DIVERTED": {
            "expression": "IMP_REPLY_TO_DIVERT & LURE_ADVANCE_FEE", "weight": 0.5}}}}
    )
    symbols = _symbols(_scan(_scam("helen.carter.fund@gmail.com"), settings))
    assert symbols["SCAM_REPLY_DIVERTED"] == 0.5

