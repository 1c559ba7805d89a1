"""The documented example configuration loads and builds an engine (docs stay in sync)."""

from __future__ import annotations

from pathlib import Path

from mailward.config import load_settings
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine

EXAMPLE = Path(__file__).parent.parent / "docs" / "mailward.example.toml"


def test_example_config_is_valid_and_matches_defaults() -> None:
    settings = load_settings(EXAMPLE, environ={})
    Engine(settings)
    defaults = Settings()
    assert settings.smtp == defaults.smtp
    assert settings.policy == defaults.policy
    assert settings.delivery == defaults.delivery
    assert settings.limits == defaults.limits
    assert settings.lockdown == defaults.lockdown
    assert settings.campaigns == defaults.campaigns
    assert settings.ratelimit == defaults.ratelimit
    assert settings.activity.weights == defaults.activity.weights


def test_example_config_names_every_section() -> None:
    text = EXAMPLE.read_text()
    for section in Settings.model_fields:
        if section != "data_dir":
            assert f"[{section}" in text, section
