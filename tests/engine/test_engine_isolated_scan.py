"""IsolatedEngine scans as the inline Engine does (same findings and verdicts, lockdown level and
feed changes from the gateway), and the factory and settings that choose it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from helpers_isolation import run
from pydantic import ValidationError

from mailward.activity.campaign_index import text_signature
from mailward.config import settings_from_mapping
from mailward.config.settings import EngineSettings, Settings
from mailward.engine.isolation import SCAN_UNAVAILABLE_SYMBOL, IsolatedEngine
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope
from mailward.response.lockdown import Level
from mailward.runtime.clients import build_clients
from mailward.runtime.scanning import make_engine

pytestmark = pytest.mark.slow

OUTSIDE = Envelope(mail_from="alice@partner.example.net", rcpt_tos=("bob@example.com",))
CLEAN = (
    b"From: Alice <alice@partner.example.net>\r\nTo: bob@example.com\r\nSubject: minutes\r\n"
    b"Message-ID: <m1@partner.example.net>\r\n\r\nHi Bob, the minutes are on "
    b"https://docs.partner.example.net/minutes together with the schedule.\r\n"
)
PHISH = (
    b"From: \"PayPal Security\" <service@paypa1-secure-login.example.net>\r\n"
    b"To: bob@example.com\r\nSubject: Your account is suspended - verify now\r\n"
    b"Message-ID: <p1@paypa1-secure-login.example.net>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p>Dear customer, your account has been suspended. Verify your password within 24 "
    b"hours or it will be closed:</p><a href=\"http://198.51.100.7/paypal/login.php\">"
    b"https://www.paypal.com/signin</a>\r\n"
)
UNPARSEABLE = b"\x00" * 64 + b"\r\n\r\n"


def offline(**engine: object) -> Settings:
    return settings_from_mapping({"dns": {"enabled": False}, "engine": dict(engine)})


async def started(engine: IsolatedEngine) -> IsolatedEngine:
    engine.start()
    assert await asyncio.to_thread(engine.pool.wait_ready, 120.0)
    return engine


def summary(outcome: Any) -> tuple[str, float, list[tuple[str, float]]]:
    findings = sorted((f.symbol, f.score) for f in outcome.result.findings)
    return str(outcome.verdict.action), outcome.verdict.score, findings


@run
async def test_isolated_outcomes_match_the_inline_engine() -> None:
    settings = offline()
    inline = Engine(settings)
    engine = await started(IsolatedEngine(settings))
    try:
        for raw in (CLEAN, PHISH, UNPARSEABLE):
            mine, theirs = await engine.scan(raw, OUTSIDE), await inline.scan(raw, OUTSIDE)
            assert summary(mine) == summary(theirs)
            assert mine.verdict.add_headers == theirs.verdict.add_headers
            assert mine.message_id == theirs.message_id
            if mine.parsed is not None:
                assert mine.parsed.raw == raw  # the bytes are put back in the gateway
            # the campaign signature comes back made, as the gateway would make it
            assert mine.text_signature == text_signature(settings, OUTSIDE, theirs.parsed)
            assert theirs.text_signature is None  # an in-process scan leaves it to campaigns
        assert (await engine.scan(PHISH, OUTSIDE)).verdict.action is not Action.DELIVER
    finally:
        engine.close()


@run
async def test_lockdown_level_is_read_in_the_gateway_and_sent_with_each_job() -> None:
    level = [Level.NORMAL]
    engine = await started(IsolatedEngine(offline(), lockdown=lambda: level[0]))
    try:
        assert (await engine.scan(CLEAN, OUTSIDE)).verdict.action is Action.DELIVER
        level[0] = Level.HEIGHTENED  # external mail with links is tagged at heightened
        assert (await engine.scan(CLEAN, OUTSIDE)).verdict.action is Action.TAG
        level[0] = Level.NORMAL
        assert (await engine.scan(CLEAN, OUTSIDE)).verdict.action is Action.DELIVER
    finally:
        engine.close()


@run
async def test_feed_change_seen_by_the_gateway_reaches_the_scan_processes(tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("# incident team\n")
    settings = settings_from_mapping({
        "dns": {"enabled": False},
        "feeds": {"paths": [str(feed)], "reload_interval": 3600},
    })
    engine = await started(IsolatedEngine(settings, clients=build_clients(settings, offline=True)))
    try:
        assert "FEED_DOMAIN" not in (await engine.scan(CLEAN, OUTSIDE)).result.symbols
        feed.write_text("# incident team\npartner.example.net\n")
        assert engine.clients["feeds"].reload_if_changed()  # what the zero-hour watcher does
        assert "FEED_DOMAIN" in (await engine.scan(CLEAN, OUTSIDE)).result.symbols
    finally:
        engine.close()


@run
async def test_test_hook_is_inert_unless_armed() -> None:
    engine = await started(IsolatedEngine(offline(scan_processes=1)))
    try:
        raw = CLEAN + b"watchdog-test:stall watchdog-test:crash\r\n"
        assert (await engine.scan(raw, OUTSIDE)).verdict.action is Action.DELIVER
    finally:
        engine.close()


@run
async def test_scan_processes_that_cannot_start_give_tempfail() -> None:
    # 64 MiB of address space is far below what a scan process needs: it refuses to start.
    settings = offline(
        scan_processes=1, scan_memory_mb=64, detector_timeout=0.5, scan_hard_timeout=1.0
    )
    engine = IsolatedEngine(settings)
    engine.start()
    try:
        outcome = await asyncio.wait_for(engine.scan(CLEAN, OUTSIDE), 60)
        assert outcome.verdict.action is Action.TEMPFAIL
        assert outcome.result.symbols == {SCAN_UNAVAILABLE_SYMBOL}
        assert engine.pool.start_failures >= 1
    finally:
        engine.close()
        assert await asyncio.to_thread(engine.pool.join, 15.0)


def test_make_engine_isolates_only_the_gateway() -> None:
    settings = offline()
    assert type(make_engine(settings, {}, None, isolated=False)) is Engine
    inline = settings.model_copy(update={"engine": EngineSettings(isolation="inline")})
    assert type(make_engine(inline, {}, None)) is Engine
    engine = make_engine(settings, {}, None)
    try:
        assert isinstance(engine, IsolatedEngine)
    finally:
        engine.close()
        assert engine.pool.join(15.0)


def test_engine_settings_defaults_and_hard_timeout_above_detector_timeout() -> None:
    defaults = EngineSettings()
    assert defaults.isolation == "process"
    assert defaults.scan_hard_timeout > defaults.detector_timeout
    assert any(r.symbol == "ENGINE_SCAN_KILLED" and r.action is Action.QUARANTINE
               for r in Settings().policy.force)
    with pytest.raises(ValidationError, match="scan_hard_timeout"):
        EngineSettings(detector_timeout=30, scan_hard_timeout=20)
