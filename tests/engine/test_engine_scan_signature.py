"""A scan process sends the campaign signature back with the verdict, made from its parse;
none when campaigns are off, when nothing is judged yet (tempfail) or when making it fails
(the gateway makes it then)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from mailward.activity.campaign_index import text_signature
from mailward.config.settings import Settings
from mailward.engine.isolation._child import _with_signature
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.model import Action, Envelope, Verdict

ENVELOPE = Envelope("alice@partner.example.net", ("bob@example.com",), "198.51.100.4")
RAW = (b"From: Alice <alice@partner.example.net>\r\nTo: bob@example.com\r\nSubject: minutes\r\n"
       b"Message-ID: <m1@partner.example.net>\r\n\r\nHi Bob, the minutes are on the drive.\r\n")


def scanned(settings: Settings) -> ScanOutcome:
    return asyncio.run(Engine(settings).scan(RAW, ENVELOPE))


def test_the_signature_travels_with_the_verdict() -> None:
    settings = Settings.model_validate({"engine": {"disabled": ["content"]}})
    outcome = scanned(settings)
    sent = _with_signature(outcome, settings, ENVELOPE).text_signature
    assert sent is not None and sent == text_signature(settings, ENVELOPE, outcome.parsed)


def test_no_signature_without_campaigns_or_a_judgement() -> None:
    settings = Settings.model_validate({"engine": {"disabled": ["content"]}})
    outcome = scanned(settings)
    off = Settings.model_validate({"campaigns": {"enabled": False}})
    assert _with_signature(outcome, off, ENVELOPE).text_signature is None
    tempfail = dataclasses.replace(outcome, verdict=Verdict(Action.TEMPFAIL, 0.0, "later"))
    assert _with_signature(tempfail, settings, ENVELOPE).text_signature is None
    assert _with_signature(outcome, settings, None).text_signature is None


def test_a_failure_leaves_the_signature_to_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.model_validate({"engine": {"disabled": ["content"]}})
    outcome = scanned(settings)

    def broken(*_args: object) -> None:
        raise RuntimeError("no signature")

    monkeypatch.setattr("mailward.engine.isolation._child.text_signature", broken)
    assert _with_signature(outcome, settings, ENVELOPE) == outcome
