"""Configuration: typed settings, shipped defaults, TOML and environment loading."""

from mailward.config.loader import load_settings, settings_from_mapping
from mailward.config.settings import Settings

__all__ = ["Settings", "load_settings", "settings_from_mapping"]
