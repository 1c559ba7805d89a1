"""The built-in detector list follows the detector contract."""

from __future__ import annotations

import inspect
import re
from typing import Any

from mailward.detectors import BUILTIN_DETECTORS as _BUILTIN
from mailward.engine.contract import DetectorSettings, SymbolSpec

#: The registry's view: classes read through the contract's attributes.
BUILTIN_DETECTORS: tuple[Any, ...] = _BUILTIN

SYMBOL_PREFIXES = (
    "ATT", "IMP", "URL", "AUTH", "FORM", "FEED", "LURE", "CONTENT", "DOC", "PDF", "HTML", "YARA",
    "AV", "MIME", "ID",
)
CORE = {
    "ATT_EXECUTABLE": (12, "attachments"),
    "IMP_DISPLAY_NAME_ADDRESS": (6, "impersonation"),
    "URL_TEXT_MISMATCH": (4, "urls"),
}


def test_builtin_detectors_declare_the_contract() -> None:
    names = [cls.name for cls in BUILTIN_DETECTORS]
    assert len(names) == len(set(names))
    assert {"attachments", "impersonation", "urls"} <= set(names)
    for cls in BUILTIN_DETECTORS:
        assert issubclass(cls.Settings, DetectorSettings)
        assert cls.Settings.model_config.get("extra") == "forbid"
        assert isinstance(cls.timeout, float) and cls.timeout > 0
        assert isinstance(cls.fail_closed, bool)
        assert inspect.iscoroutinefunction(cls.check)
        assert cls.__doc__ and inspect.getmodule(cls).__doc__
        detector = cls(cls.Settings())
        assert detector.settings == cls.Settings()


def test_symbols_have_spec_weights_groups_and_names() -> None:
    declared: dict[str, SymbolSpec] = {}
    for cls in BUILTIN_DETECTORS:
        declared.update(cls.symbols)
    for symbol, (weight, group) in CORE.items():
        assert (declared[symbol].weight, declared[symbol].group) == (weight, group)
    pattern = "(" + "|".join(SYMBOL_PREFIXES) + r")_[A-Z_]+"
    for symbol, spec in declared.items():
        assert re.fullmatch(pattern, symbol), symbol
        assert spec.group
        assert spec.description.endswith(".")


def test_module_docstrings_name_every_symbol() -> None:
    for cls in BUILTIN_DETECTORS:
        doc = inspect.getmodule(cls).__doc__ or ""
        for symbol in cls.symbols:
            assert symbol in doc
