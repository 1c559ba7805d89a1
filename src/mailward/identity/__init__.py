"""Claimed identity against evidence (see :mod:`mailward.identity.analysis`).

``analyse(msg, brands, auth_results, envelope_sender)`` gives an :class:`IdentityReport`;
the identity detector turns it into findings and the content model reads its outcome as
features (:meth:`IdentityReport.features`). ``registry_for(settings)`` is the brand registry the
settings name (shipped, plus the operator's file), built once per file.
"""

from __future__ import annotations

import functools

from mailward.config.settings import Settings
from mailward.identity._brands import BrandLookup, BrandRegistry, shipped_brands
from mailward.identity.analysis import FEATURE_NAMES, IdentityReport, analyse

__all__ = [
    "FEATURE_NAMES", "BrandLookup", "IdentityReport", "analyse", "registry_for",
    "shipped_registry",
]  # fmt: skip


@functools.lru_cache(maxsize=4)
def _registry(extra: str) -> BrandRegistry:
    return shipped_brands(extra)


def shipped_registry() -> BrandRegistry:
    """The registry shipped in the package, without an operator's file."""
    return _registry("")


def registry_for(settings: Settings) -> BrandRegistry:
    """The registry for ``settings``: the shipped one plus ``[brands] file`` when set."""
    brands = getattr(settings, "brands", None)
    extra = getattr(brands, "file", None) if brands is not None else None
    return _registry(str(extra) if extra else "")
