"""Load settings: shipped defaults < a TOML file < MAILWARD__SECTION__KEY environment variables.

Any problem (unreadable file, bad TOML, unknown key, bad value) raises ConfigError whose message
names the file, the key and the problem.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mailward.config.settings import Settings
from mailward.errors import ConfigError

ENV_PREFIX = "MAILWARD__"
DEFAULT_CONFIG_PATHS = (Path("/etc/mailward/mailward.toml"),)


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from ``path`` (or /etc/mailward/mailward.toml if present) and the env."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "defaults"
    path = config_file(path)
    if path is not None:
        data = read_toml(path)
        source = str(path)
    _merge(data, _env_overrides(env))
    if overrides:
        _merge(data, dict(overrides))
    return settings_from_mapping(data, source=source)


def config_file(path: Path | None) -> Path | None:
    """The file :func:`load_settings` reads: ``path``, else the first default that exists."""
    if path is not None:
        return path
    return next((p for p in DEFAULT_CONFIG_PATHS if p.is_file()), None)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def settings_from_mapping(data: Mapping[str, Any], *, source: str = "settings") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError, *, prefix: str = "") -> str:
    """One line per problem, each naming its dotted key (under ``prefix``, e.g. a section)."""
    problems = []
    for err in exc.errors():
        parts = [prefix] if prefix else []
        key = ".".join([*parts, *(str(p) for p in err["loc"])]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r}")
        else:
            given = err.get("input")
            shown = "" if isinstance(given, dict) else f" (got {given!r})"
            problems.append(f"{key}: {err['msg']}{shown}")
    return "; ".join(problems)


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _env_value(raw)
    return out


def _env_value(raw: str) -> Any:
    """Read an environment value as a TOML value when it is one, else as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
