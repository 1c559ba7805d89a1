"""Rules changes for the zero-hour purge: the watchers, the settings diff, the engine slot that
lets a reload swap engines under running scans, and the reloader itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.errors import ConfigError
from mailward.model import Envelope
from mailward.response.zero_hour import FeedWatcher, RulesWatcher, folder_digest
from mailward.runtime.engine_slot import EngineSlot
from mailward.runtime.gateway import Gateway
from mailward.runtime.reload import Reloader, keep_restart_only, settings_changes


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path / "data"), **extra})


# -- RulesWatcher ------------------------------------------------------------------------------

def test_rules_watcher_sees_config_content_change_not_a_touch(tmp_path: Path) -> None:
    cfg = tmp_path / "mailward.toml"
    cfg.write_text("[policy]\ntag_at = 5.0\n")
    watcher = RulesWatcher(cfg, _settings(tmp_path))
    assert watcher.changed() == []
    cfg.write_text("[policy]\ntag_at = 5.0\n")  # same content, new mtime
    assert watcher.changed() == []
    cfg.write_text("[policy]\ntag_at = 4.0\n")
    assert watcher.changed() == ["config"]
    assert watcher.changed() == []
    assert "configuration file" in watcher.describe("config")


def test_rules_watcher_sees_yara_folder_changes(tmp_path: Path) -> None:
    rules = tmp_path / "yara"
    rules.mkdir()
    (rules / "a.yar").write_text("rule a { condition: false }\n")
    watcher = RulesWatcher(None, _settings(tmp_path, detectors={"yara": {"rules_dir": str(rules)}}))
    (rules / "notes.txt").write_text("not a rule file")
    assert watcher.changed() == []
    (rules / "sub").mkdir()
    (rules / "sub" / "b.yara").write_text("rule b { condition: true }\n")
    assert watcher.changed() == ["yara"]
    (rules / "a.yar").write_text("rule a { condition: true }\n")
    assert watcher.changed() == ["yara"]
    (rules / "a.yar").unlink()
    assert watcher.changed() == ["yara"]
    assert watcher.changed() == []


def test_rules_watcher_follows_a_new_yara_folder(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "r.yar").write_text(f"rule r_{folder.name} {{ condition: false }}\n")
    watcher = RulesWatcher(None, _settings(tmp_path, detectors={"yara": {"rules_dir": str(old)}}))
    watcher.follow(_settings(tmp_path, detectors={"yara": {"rules_dir": str(new)}}))
    assert watcher.yara_dir == new
    assert watcher.changed() == []
    (new / "r.yar").write_text("rule changed { condition: true }\n")
    assert watcher.changed() == ["yara"]


def test_folder_digest_of_missing_folder_is_empty(tmp_path: Path) -> None:
    assert folder_digest(tmp_path / "none") == ""
    assert folder_digest(None) == ""


class _Feeds:
    def __init__(self) -> None:
        self.version = 0

    def reload_if_changed(self) -> None:
        pass


def test_feed_watcher_follows_the_engine_in_force(tmp_path: Path) -> None:
    first, second = _Feeds(), _Feeds()
    slot = EngineSlot(Engine(_settings(tmp_path), detectors=[], clients={"feeds": first}))
    watcher = FeedWatcher(slot)
    assert watcher.changed() is False
    first.version = 1
    assert watcher.changed() is True
    slot.swap(Engine(_settings(tmp_path), detectors=[], clients={"feeds": second}))
    second.version = 5
    assert watcher.changed() is False  # new feeds: a reload purges by itself
    second.version = 6
    assert watcher.changed() is True


# -- settings diff -------------------------------------------------------------------------------

def test_settings_changes_names_keys_and_keeps_restart_only(tmp_path: Path) -> None:
    old = _settings(tmp_path)
    new = _settings(
        tmp_path / "elsewhere",
        smtp={"listen_port": 2600},
        policy={"quarantine_at": 8.0},
        scoring={"symbols": {"URL_SHORTENER": {"weight": 9.0}}},
        clawback={"master_password": "new-secret"},
    )
    changes = settings_changes(old, new)
    assert changes == sorted([
        "clawback.master_password", "data_dir", "policy.quarantine_at",
        "scoring.symbols.URL_SHORTENER.weight", "smtp.listen_port",
    ])
    kept = keep_restart_only(old, new)
    assert kept.smtp == old.smtp and kept.data_dir == old.data_dir
    assert kept.policy.quarantine_at == 8.0
    assert settings_changes(old, old) == []


# -- EngineSlot ----------------------------------------------------------------------------------

class _SlowEngine(Engine):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, detectors=[])
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.closed = False

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        self.started.set()
        await self.release.wait()
        return await super().scan(raw, envelope)

    def close(self) -> None:
        self.closed = True


async def _engine_slot_closes_replaced_engine_after_in_flight_scans(tmp_path: Path) -> None:
    old = _SlowEngine(_settings(tmp_path))
    new = Engine(_settings(tmp_path), detectors=[])
    slot = EngineSlot(old)
    scan = asyncio.create_task(slot.scan(b"Subject: hi\r\n\r\nbody\r\n"))
    await old.started.wait()
    assert slot.swap(new) is old and slot.current is new
    assert slot.settings is new.settings
    retire = asyncio.create_task(slot.retire(old))
    await asyncio.sleep(0.05)
    assert not old.closed and slot.inflight(old) == 1
    old.release.set()
    outcome = await scan
    await retire
    assert outcome.verdict is not None and old.closed and slot.inflight(old) == 0
    with pytest.raises(ValueError):
        await slot.retire(new)


# -- Reloader ------------------------------------------------------------------------------------

async def _reloader(tmp_path: Path, load: Any) -> tuple[Gateway, Reloader]:
    settings = _settings(tmp_path, journal={"zero_hour_hours": 0})
    gw = await asyncio.to_thread(Gateway.build, settings, history=False, offline=True)
    return gw, Reloader(gw, load, gw.build_engine, RulesWatcher(None, settings))


async def _reloader_keeps_old_engine_on_invalid_config(tmp_path: Path) -> None:
    def broken() -> Settings:
        raise ConfigError("mailward.toml: policy.quarantine_at: not a number")

    gw, reloader = await _reloader(tmp_path, broken)
    before = gw.engine.current
    try:
        report = await reloader.reload("SIGHUP")
        assert not report.ok and "policy.quarantine_at" in report.error
        assert gw.engine.current is before
        audit = gw.store.audit_log()
        assert audit[0].action == "reload-failed" and "quarantine_at" in audit[0].reason
    finally:
        await reloader.close()
        await gw.aclose()


async def _reloader_refuses_bad_detector_settings(tmp_path: Path) -> None:
    def bad_detector() -> Settings:
        return _settings(tmp_path, journal={"zero_hour_hours": 0},
                         detectors={"impersonation": {"no_such_option": 1}})

    gw, reloader = await _reloader(tmp_path, bad_detector)
    before = gw.engine.current
    try:
        report = await reloader.reload("SIGHUP")
        assert not report.ok and "no_such_option" in report.error
        assert gw.engine.current is before
    finally:
        await reloader.close()
        await gw.aclose()


async def _reloader_swaps_engine_and_audits_changes(tmp_path: Path) -> None:
    def new_rules() -> Settings:
        return _settings(tmp_path, journal={"zero_hour_hours": 0}, policy={"tag_at": 3.0},
                         smtp={"listen_port": 2700})

    gw, reloader = await _reloader(tmp_path, new_rules)
    before = gw.engine.current
    try:
        report = await reloader.reload("SIGHUP")
        assert report.ok, report.error
        assert report.changed == ["policy.tag_at"] and report.restart == ["smtp.listen_port"]
        assert gw.engine.current is not before
        assert gw.engine.settings.policy.tag_at == 3.0
        assert gw.processor.settings.policy.tag_at == 3.0
        assert gw.settings.smtp.listen_port == 2525
        entry = gw.store.audit_log()[0]
        assert (entry.action, entry.actor) == ("reload", "mailward-reload (SIGHUP)")
        assert "policy.tag_at" in entry.reason and "kept until restart" in entry.reason
    finally:
        await reloader.close()
        await gw.aclose()


def test_engine_slot_closes_replaced_engine_after_in_flight_scans(tmp_path: Path) -> None:
    asyncio.run(_engine_slot_closes_replaced_engine_after_in_flight_scans(tmp_path))


def test_reloader_keeps_old_engine_on_invalid_config(tmp_path: Path) -> None:
    asyncio.run(_reloader_keeps_old_engine_on_invalid_config(tmp_path))


def test_reloader_refuses_bad_detector_settings(tmp_path: Path) -> None:
    asyncio.run(_reloader_refuses_bad_detector_settings(tmp_path))


def test_reloader_swaps_engine_and_audits_changes(tmp_path: Path) -> None:
    asyncio.run(_reloader_swaps_engine_and_audits_changes(tmp_path))
