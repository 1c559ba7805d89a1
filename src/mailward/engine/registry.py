"""Build the configured detectors and the table of every symbol they may raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from mailward.config.loader import describe_validation_error
from mailward.config.settings import Settings
from mailward.data.brands import load_registry
from mailward.detectors.builtin import BUILTIN_DETECTORS
from mailward.engine.contract import Detector, DetectorFactory, SymbolSpec
from mailward.errors import ConfigError

#: Symbols the engine itself raises (weight 0: policy force rules decide what they mean).
ENGINE_SYMBOLS: Mapping[str, SymbolSpec] = {
    "ENGINE_DETECTOR_ERROR": SymbolSpec(0.0, "engine", "A detector failed; the scan went on."),
    "ENGINE_DETECTOR_TIMEOUT": SymbolSpec(0.0, "engine", "A detector ran out of time."),
    "ENGINE_FAIL_CLOSED": SymbolSpec(0.0, "engine", "A fail-closed detector could not finish."),
    "MIME_UNPARSEABLE": SymbolSpec(0.0, "mime", "The message could not be parsed."),
    "MIME_TOO_COMPLEX": SymbolSpec(0.0, "mime", "The message breaks a parsing limit."),
    "ENGINE_SCAN_KILLED": SymbolSpec(
        0.0, "engine", "The watchdog stopped a scan that ran too long or crashed its process."
    ),
    "ENGINE_SCAN_UNAVAILABLE": SymbolSpec(0.0, "engine", "No scan process could take the message."),
}


def builtin_factories() -> tuple[DetectorFactory, ...]:
    return BUILTIN_DETECTORS


def build_detectors(
    settings: Settings, factories: Sequence[DetectorFactory] | None = None
) -> list[Detector]:
    """Instantiate every enabled detector with its validated settings section."""
    factories = builtin_factories() if factories is None else factories
    known = {f.name for f in factories}
    for name in (*settings.detectors, *settings.engine.disabled):
        if name not in known:
            raise ConfigError(
                f"unknown detector {name!r} (known: {', '.join(sorted(known))})"
            )
    # The brand registry the detectors read: the shipped data and the operator's [brands] file.
    load_registry(settings.brands.file)
    detectors: list[Detector] = []
    for factory in factories:
        if factory.name in settings.engine.disabled:
            continue
        section = settings.detectors.get(factory.name, {})
        try:
            options = factory.Settings.model_validate(section)
        except ValidationError as exc:
            where = f"detectors.{factory.name}"
            raise ConfigError(describe_validation_error(exc, prefix=where)) from exc
        detectors.append(factory(options))
    return detectors


def symbol_table(detectors: Sequence[Detector]) -> dict[str, SymbolSpec]:
    table = dict(ENGINE_SYMBOLS)
    for detector in detectors:
        for symbol, spec in detector.symbols.items():
            if symbol in table:
                raise ConfigError(f"symbol {symbol} is declared twice (again by {detector.name})")
            table[symbol] = spec
    return table
