"""The brand registry as the identity check sees it: brands, their domains, and sending services.

:class:`BrandLookup` is the interface; :func:`shipped_brands` gives the one built from the
registry shipped in the package (and the operator's file, when configured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mailward.data.brands import Brand, BrandRegistry, load_registry

__all__ = ["Brand", "BrandLookup", "BrandRegistry", "shipped_brands"]


class BrandLookup(Protocol):
    """What the identity check asks of a brand registry."""

    def brand_for_domain(self, org_domain: str) -> Brand | None: ...

    def find_claims(self, text: str) -> list[tuple[Brand, str]]: ...

    def is_esp(self, org_domain: str) -> bool: ...

    def esp_destination(self, url: str) -> str | None: ...


def shipped_brands(extra: str = "") -> BrandRegistry:
    """The shipped registry, extended or overridden by the operator's file ``extra``."""
    return load_registry(Path(extra) if extra else None)
