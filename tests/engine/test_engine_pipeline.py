"""Engine and registry: detector failures, timeouts, fail-closed, config errors, MIME failures."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import ClassVar

import pytest

from mailward.config import settings_from_mapping
from mailward.config.settings import LimitSettings, Settings
from mailward.engine.contract import DetectorFactory, DetectorSettings, ScanContext, SymbolSpec
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.engine.registry import build_detectors, symbol_table
from mailward.errors import ConfigError
from mailward.model import Action, Finding, ParsedMessage


class FakeSettings(DetectorSettings):
    """Options of the fake detectors."""

    level: int = 1


class _Base:
    name: ClassVar[str] = "base"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {}
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[FakeSettings]] = FakeSettings

    def __init__(self, settings: FakeSettings | None = None) -> None:
        self.settings = settings
        self.calls = 0


class GoodDetector(_Base):
    name: ClassVar[str] = "good"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "TEST_GOOD": SymbolSpec(2.0, "test", "good detector fired"),
    }

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        self.calls += 1
        return [Finding(symbol="TEST_GOOD", explanation="found", factor=0.5)]


class BrokenDetector(_Base):
    name: ClassVar[str] = "broken"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "TEST_BROKEN": SymbolSpec(1.0, "test", "never raised"),
    }

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        self.calls += 1
        raise RuntimeError("boom")


class SlowDetector(_Base):
    name: ClassVar[str] = "slow"
    timeout: ClassVar[float] = 0.05

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        self.calls += 1
        await asyncio.sleep(5)
        return []


class BrokenClosedDetector(BrokenDetector):
    name: ClassVar[str] = "broken_closed"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {}
    fail_closed: ClassVar[bool] = True


class SlowClosedDetector(SlowDetector):
    name: ClassVar[str] = "slow_closed"
    fail_closed: ClassVar[bool] = True


FACTORIES: tuple[DetectorFactory, ...] = (GoodDetector, BrokenDetector, SlowDetector)


def _message(parts: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = "hello"
    msg["Message-ID"] = "<m1@example.org>"
    msg.set_content("plain body\n")
    for i in range(parts - 1):
        msg.add_attachment(f"note {i}\n", filename=f"n{i}.txt")
    return msg.as_bytes()


def _scan(engine: Engine, raw: bytes) -> ScanOutcome:
    return asyncio.run(engine.scan(raw))


def _by_symbol(outcome: ScanOutcome) -> dict[str, Finding]:
    return {f.symbol: f for f in outcome.result.findings}


# --- pipeline with fake detectors ------------------------------------------------------


def test_good_detector_finding_is_scored_and_attributed() -> None:
    outcome = _scan(Engine(Settings(), detectors=[GoodDetector()]), _message())
    found = _by_symbol(outcome)
    assert found["TEST_GOOD"].score == 1.0  # weight 2 x factor 0.5
    assert found["TEST_GOOD"].detector == "good"
    assert outcome.verdict.action is Action.DELIVER
    assert outcome.message_id == "m1@example.org"


def test_raising_detector_becomes_error_finding_and_others_still_count() -> None:
    outcome = _scan(Engine(Settings(), detectors=[BrokenDetector(), GoodDetector()]), _message())
    found = _by_symbol(outcome)
    assert "TEST_GOOD" in found
    error = found["ENGINE_DETECTOR_ERROR"]
    assert error.evidence == ("broken",)
    assert "RuntimeError: boom" in error.explanation
    assert error.score == 0.0
    assert "ENGINE_FAIL_CLOSED" not in found
    assert outcome.verdict.action is Action.DELIVER  # fail-open detector


def test_no_error_finding_when_detectors_succeed() -> None:
    outcome = _scan(Engine(Settings(), detectors=[GoodDetector()]), _message())
    assert not {"ENGINE_DETECTOR_ERROR", "ENGINE_DETECTOR_TIMEOUT"} & outcome.result.symbols


def test_slow_detector_times_out() -> None:
    outcome = _scan(Engine(Settings(), detectors=[SlowDetector(), GoodDetector()]), _message())
    found = _by_symbol(outcome)
    assert found["ENGINE_DETECTOR_TIMEOUT"].evidence == ("slow",)
    assert "TEST_GOOD" in found
    assert "ENGINE_DETECTOR_ERROR" not in found
    assert outcome.verdict.action is Action.DELIVER


def test_engine_timeout_setting_caps_detector_timeout() -> None:
    class Patient(SlowDetector):
        name: ClassVar[str] = "patient"
        timeout: ClassVar[float] = 60.0

    settings = settings_from_mapping({"engine": {"detector_timeout": 0.05}})
    outcome = _scan(Engine(settings, detectors=[Patient()]), _message())
    assert "ENGINE_DETECTOR_TIMEOUT" in outcome.result.symbols


@pytest.mark.parametrize("detector", [BrokenClosedDetector, SlowClosedDetector])
def test_fail_closed_detector_failing_tempfails(detector: type[_Base]) -> None:
    outcome = _scan(Engine(Settings(), detectors=[detector(), GoodDetector()]), _message())  # type: ignore[list-item]
    assert "ENGINE_FAIL_CLOSED" in outcome.result.symbols
    assert outcome.verdict.action is Action.TEMPFAIL
    assert outcome.verdict.forced_by == "ENGINE_FAIL_CLOSED"


def test_fail_closed_action_quarantine_setting() -> None:
    settings = settings_from_mapping({"policy": {"fail_closed_action": "quarantine"}})
    outcome = _scan(Engine(settings, detectors=[BrokenClosedDetector()]), _message())
    assert outcome.verdict.action is Action.QUARANTINE


def test_fail_closed_detector_succeeding_does_not_tempfail() -> None:
    class GoodClosed(GoodDetector):
        fail_closed: ClassVar[bool] = True

    outcome = _scan(Engine(Settings(), detectors=[GoodClosed()]), _message())
    assert "ENGINE_FAIL_CLOSED" not in outcome.result.symbols
    assert outcome.verdict.action is Action.DELIVER


def test_unparseable_bytes_are_quarantined() -> None:
    good = GoodDetector()
    outcome = _scan(Engine(Settings(), detectors=[good]), b"")
    assert outcome.parsed is None
    assert outcome.message_id == ""
    assert outcome.result.symbols == frozenset({"MIME_UNPARSEABLE"})
    assert outcome.verdict.action is Action.QUARANTINE
    assert outcome.verdict.forced_by == "MIME_UNPARSEABLE"
    assert good.calls == 0  # detectors do not see what could not be parsed


def test_message_breaking_limits_is_quarantined_as_too_complex() -> None:
    settings = Settings(limits=LimitSettings(max_parts=2))
    outcome = _scan(Engine(settings, detectors=[GoodDetector()]), _message(parts=5))
    assert outcome.result.symbols == frozenset({"MIME_TOO_COMPLEX"})
    assert outcome.verdict.action is Action.QUARANTINE


def test_message_within_limits_is_not_too_complex() -> None:
    settings = Settings(limits=LimitSettings(max_parts=20))
    outcome = _scan(Engine(settings, detectors=[GoodDetector()]), _message(parts=5))
    assert "MIME_TOO_COMPLEX" not in outcome.result.symbols
    assert outcome.verdict.action is Action.DELIVER


def test_verdict_headers_carry_authserv_id() -> None:
    settings = settings_from_mapping({"organisation": {"authserv_id": "gw.example.com"}})
    outcome = _scan(Engine(settings, detectors=[]), _message())
    headers = dict(outcome.verdict.add_headers)
    assert headers["Authentication-Results"] == "gw.example.com; none"


# --- registry --------------------------------------------------------------------------


def test_registry_builds_all_enabled_detectors_with_settings() -> None:
    settings = settings_from_mapping({"detectors": {"good": {"level": 3}}})
    built = build_detectors(settings, FACTORIES)
    assert [d.name for d in built] == ["good", "broken", "slow"]
    assert built[0].settings == FakeSettings(level=3)  # type: ignore[attr-defined]
    assert built[1].settings == FakeSettings()  # type: ignore[attr-defined]


def test_disabled_detectors_are_not_built_or_run() -> None:
    settings = settings_from_mapping({"engine": {"disabled": ["broken"]}})
    built = build_detectors(settings, FACTORIES)
    assert [d.name for d in built] == ["good", "slow"]


def test_unknown_detector_in_settings_is_config_error() -> None:
    settings = settings_from_mapping({"detectors": {"nosuch": {}}})
    with pytest.raises(ConfigError, match="unknown detector 'nosuch'"):
        build_detectors(settings, FACTORIES)


def test_unknown_detector_in_disabled_is_config_error() -> None:
    settings = settings_from_mapping({"engine": {"disabled": ["nosuch"]}})
    with pytest.raises(ConfigError, match="unknown detector 'nosuch'"):
        build_detectors(settings, FACTORIES)


def test_bad_detector_setting_names_detector_and_key() -> None:
    settings = settings_from_mapping({"detectors": {"good": {"levle": 3}}})
    with pytest.raises(ConfigError, match=r"detectors\.good\.levle"):
        build_detectors(settings, FACTORIES)


def test_bad_detector_value_names_detector_and_key() -> None:
    settings = settings_from_mapping({"detectors": {"good": {"level": "high"}}})
    with pytest.raises(ConfigError, match=r"detectors\.good\.level"):
        build_detectors(settings, FACTORIES)


def test_symbol_declared_twice_is_config_error() -> None:
    class Twin(GoodDetector):
        name: ClassVar[str] = "twin"

    with pytest.raises(ConfigError, match="TEST_GOOD is declared twice"):
        symbol_table([GoodDetector(), Twin()])


def test_symbol_table_has_engine_and_detector_symbols() -> None:
    table = symbol_table([GoodDetector()])
    assert table["TEST_GOOD"].weight == 2.0
    assert "ENGINE_DETECTOR_ERROR" in table
    assert "MIME_UNPARSEABLE" in table


# --- the real registry -----------------------------------------------------------------


def test_real_registry_builds_builtin_detectors() -> None:
    engine = Engine(Settings())
    names = {d.name for d in engine.detectors}
    assert {"attachments", "impersonation", "urls"} <= names
    outcome = _scan(engine, _message())
    assert outcome.verdict.action is Action.DELIVER


def test_real_registry_respects_disabled() -> None:
    engine = Engine(settings_from_mapping({"engine": {"disabled": ["urls"]}}))
    names = {d.name for d in engine.detectors}
    assert "urls" not in names
    assert "attachments" in names


def test_real_registry_unknown_detector_is_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown detector 'nosuch'"):
        Engine(settings_from_mapping({"detectors": {"nosuch": {}}}))


def test_real_registry_bad_setting_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"detectors\.urls\.max_findingz"):
        Engine(settings_from_mapping({"detectors": {"urls": {"max_findingz": 3}}}))


def test_real_registry_unknown_scoring_symbol_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"scoring\.symbols\.NOPE_SYMBOL"):
        Engine(settings_from_mapping({"scoring": {"symbols": {"NOPE_SYMBOL": {"weight": 1}}}}))
