"""Scorer: weights, overrides, factors, group caps and composites."""

from __future__ import annotations

from typing import Any

import pytest

from mailward.config.settings import ScoringSettings
from mailward.engine.contract import SymbolSpec
from mailward.engine.scoring import Scorer
from mailward.errors import ConfigError
from mailward.model import Finding

SPECS = {
    "URL_A": SymbolSpec(3.0, "url", "url a"),
    "URL_B": SymbolSpec(4.0, "url", "url b"),
    "URL_C": SymbolSpec(2.0, "url", "url c"),
    "IMP_X": SymbolSpec(6.0, "impersonation", "imp x"),
    "NEG_Y": SymbolSpec(-1.0, "url", "negative"),
}


def _scorer(**scoring: Any) -> Scorer:
    return Scorer(SPECS, ScoringSettings.model_validate(scoring))


def _f(symbol: str, factor: float = 1.0) -> Finding:
    return Finding(symbol=symbol, explanation=symbol, factor=factor)


def _scores(scorer: Scorer, *findings: Finding) -> dict[str, float]:
    return {f.symbol: f.score for f in scorer.score(findings, 0.0).findings}


def test_weight_comes_from_symbol_spec() -> None:
    result = _scorer().score([_f("URL_A"), _f("IMP_X")], 1.5)
    assert _scores(_scorer(), _f("URL_A")) == {"URL_A": 3.0}
    assert result.score == 9.0
    assert result.elapsed_ms == 1.5


def test_unknown_finding_symbol_scores_zero() -> None:
    assert _scores(_scorer(), _f("NOT_DECLARED")) == {"NOT_DECLARED": 0.0}


def test_no_findings_scores_zero() -> None:
    assert _scorer().score([], 0.0).score == 0.0


def test_settings_override_weight() -> None:
    scorer = _scorer(symbols={"URL_A": {"weight": 0.5}})
    assert _scores(scorer, _f("URL_A")) == {"URL_A": 0.5}
    assert _scores(scorer, _f("URL_B")) == {"URL_B": 4.0}  # not overridden


def test_override_without_weight_keeps_default_weight() -> None:
    scorer = _scorer(symbols={"URL_A": {"description": "new words"}})
    assert scorer.weight("URL_A") == 3.0
    assert scorer.specs["URL_A"].description == "new words"
    assert scorer.specs["URL_A"].group == "url"


def test_override_group() -> None:
    scorer = _scorer(symbols={"URL_A": {"group": "other"}})
    assert scorer.specs["URL_A"].group == "other"
    assert scorer.specs["URL_B"].group == "url"


def test_factor_scales_weight() -> None:
    assert _scores(_scorer(), _f("URL_B", factor=0.25)) == {"URL_B": 1.0}
    assert _scores(_scorer(), _f("URL_B", factor=1.0)) == {"URL_B": 4.0}


def test_unknown_symbol_in_settings_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"scoring\.symbols\.URL_TYPO"):
        _scorer(symbols={"URL_TYPO": {"weight": 1.0}})


def test_group_cap_clips_weakest_first() -> None:
    scorer = _scorer(groups={"url": {"max_score": 5.0}})
    result = scorer.score([_f("URL_A"), _f("URL_B"), _f("URL_C"), _f("IMP_X")], 0.0)
    scores = {f.symbol: f.score for f in result.findings}
    # strongest (URL_B 4) counts in full, URL_A (3) gets the remaining 1, URL_C nothing
    assert scores == {"URL_A": 1.0, "URL_B": 4.0, "URL_C": 0.0, "IMP_X": 6.0}
    assert result.score == 11.0


def test_group_cap_leaves_total_under_cap_alone() -> None:
    scorer = _scorer(groups={"url": {"max_score": 10.0}})
    assert _scores(scorer, _f("URL_A"), _f("URL_B")) == {"URL_A": 3.0, "URL_B": 4.0}


def test_group_cap_does_not_touch_other_groups() -> None:
    scorer = _scorer(groups={"impersonation": {"max_score": 1.0}})
    assert _scores(scorer, _f("URL_A"), _f("IMP_X")) == {"URL_A": 3.0, "IMP_X": 1.0}


def test_group_cap_keeps_negative_scores() -> None:
    scorer = _scorer(groups={"url": {"max_score": 2.0}})
    result = scorer.score([_f("URL_B"), _f("NEG_Y")], 0.0)
    assert {f.symbol: f.score for f in result.findings} == {"URL_B": 2.0, "NEG_Y": -1.0}
    assert result.score == 1.0


def test_group_without_max_score_is_uncapped() -> None:
    scorer = _scorer(groups={"url": {}})
    assert _scores(scorer, _f("URL_A"), _f("URL_B")) == {"URL_A": 3.0, "URL_B": 4.0}


def test_composite_fires_and_adds_its_weight() -> None:
    scorer = _scorer(composites={"COMBO": {"expression": "URL_A & IMP_X", "weight": 2.5}})
    result = scorer.score([_f("URL_A"), _f("IMP_X")], 0.0)
    scores = {f.symbol: f.score for f in result.findings}
    assert scores == {"URL_A": 3.0, "IMP_X": 6.0, "COMBO": 2.5}
    assert result.score == 11.5
    combo = next(f for f in result.findings if f.symbol == "COMBO")
    assert combo.evidence == ("IMP_X", "URL_A")
    assert combo.detector == "composite"


def test_composite_does_not_fire_when_expression_misses() -> None:
    scorer = _scorer(composites={"COMBO": {"expression": "URL_A & IMP_X", "weight": 2.5}})
    result = scorer.score([_f("URL_A")], 0.0)
    assert "COMBO" not in result.symbols
    assert result.score == 3.0


def test_composite_with_negation_blocked_by_negated_symbol() -> None:
    scorer = _scorer(composites={"ONLY_A": {"expression": "URL_A & !URL_B", "weight": 1.0}})
    assert "ONLY_A" in scorer.score([_f("URL_A")], 0.0).symbols
    assert "ONLY_A" not in scorer.score([_f("URL_A"), _f("URL_B")], 0.0).symbols


def test_replace_members_zeroes_members() -> None:
    composites = {"COMBO": {"expression": "URL_A & IMP_X", "weight": 2.5, "replace_members": True}}
    result = _scorer(composites=composites).score([_f("URL_A"), _f("IMP_X"), _f("URL_B")], 0.0)
    scores = {f.symbol: f.score for f in result.findings}
    assert scores == {"URL_A": 0.0, "IMP_X": 0.0, "URL_B": 4.0, "COMBO": 2.5}
    assert result.score == 6.5


def test_replace_members_does_not_zero_negated_members() -> None:
    composites = {
        "COMBO": {"expression": "URL_A & !URL_C", "weight": 1.0, "replace_members": True},
    }
    result = _scorer(composites=composites).score([_f("URL_A"), _f("URL_B")], 0.0)
    assert {f.symbol: f.score for f in result.findings} == {
        "URL_A": 0.0,
        "URL_B": 4.0,
        "COMBO": 1.0,
    }


def test_without_replace_members_members_keep_scores() -> None:
    composites = {"COMBO": {"expression": "URL_A", "weight": 1.0}}
    assert _scores(_scorer(composites=composites), _f("URL_A")) == {"URL_A": 3.0, "COMBO": 1.0}


def test_composite_naming_unknown_symbol_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"scoring\.composites\.COMBO.*URL_NOPE"):
        _scorer(composites={"COMBO": {"expression": "URL_A & URL_NOPE", "weight": 1.0}})


def test_composite_syntax_error_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"scoring\.composites\.COMBO\.expression"):
        _scorer(composites={"COMBO": {"expression": "URL_A &", "weight": 1.0}})


def test_composite_weight_is_known_to_scorer() -> None:
    scorer = _scorer(composites={"COMBO": {"expression": "URL_A", "weight": 7.0}})
    assert scorer.weight("COMBO") == 7.0
    assert scorer.weight("OTHER") == 0.0
