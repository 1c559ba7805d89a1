"""The built-in detector list follows the detector contract."""

from __future__ import annotations

import inspect
import re
from typing import Any

from mailward.detectors import BUILTIN_DETECTORS as _BUILTIN
from mailward.engine.contract import DetectorSettings, SymbolSpec

#: The registry's view: classes read through the contract's attributes.
BUILTIN_DETECTORS: tuple[Any, ...] = _BUILTIN

EXPECTED_WEIGHTS = {
    "ATT_EXECUTABLE": (12, "attachments"),
    "ATT_TYPE_MISMATCH": (4, "attachments"),
    "ATT_DOUBLE_EXTENSION": (3, "attachments"),
    "IMP_DISPLAY_NAME_ADDRESS": (6, "impersonation"),
    "IMP_FROM_MULTIPLE": (5, "impersonation"),
    "URL_TEXT_MISMATCH": (7, "urls"),
    "URL_IP_LITERAL": (3, "urls"),
    "URL_SCRIPT_SCHEME": (6, "urls"),
}


def test_builtin_detectors_declare_the_contract() -> None:
    names = [cls.name for cls in BUILTIN_DETECTORS]
    assert names == ["attachments", "impersonation", "urls"]
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
    assert {s: (spec.weight, spec.group) for s, spec in declared.items()} == EXPECTED_WEIGHTS
    for symbol, spec in declared.items():
        assert re.fullmatch(r"(ATT|IMP|URL)_[A-Z_]+", symbol)
        assert spec.description.endswith(".")


def test_module_docstrings_name_every_symbol() -> None:
    for cls in BUILTIN_DETECTORS:
        doc = inspect.getmodule(cls).__doc__ or ""
        for symbol in cls.symbols:
            assert symbol in doc
