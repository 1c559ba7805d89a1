"""`--disable NAME[,NAME...]`: leave detectors out of one run, as `engine.disabled` does."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mailward.config.settings import Settings
from mailward.engine.registry import builtin_factories


def detector_names(value: str) -> list[str]:
    """argparse type: a comma-separated list of known detector names."""
    known = sorted(f.name for f in builtin_factories())
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no detector named (known: {', '.join(known)})")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown detector {', '.join(map(repr, unknown))} (known: {', '.join(known)})"
        )
    return names


def add_disable_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--disable", type=detector_names, action="extend", default=[], metavar="NAME[,NAME...]",
        help="do not run these detectors in this run (added to engine.disabled); "
        "e.g. --disable content",
    )  # fmt: skip


def with_disabled(settings: Settings, names: Sequence[str]) -> Settings:
    """``settings`` with ``names`` added to ``engine.disabled``."""
    if not names:
        return settings
    disabled = tuple(dict.fromkeys((*settings.engine.disabled, *names)))
    engine = settings.engine.model_copy(update={"disabled": disabled})
    return settings.model_copy(update={"engine": engine})
