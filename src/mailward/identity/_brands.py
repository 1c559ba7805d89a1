"""The brand registry as the identity check sees it: brands, their domains, and sending services.

:class:`BrandLookup` is the interface; :func:`shipped_brands` gives the one built from the
registry shipped in the package (and the operator's file, when configured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mailward.data.brands import Brand, BrandRegistry, Claim, Role, load_registry

__all__ = ["Brand", "BrandLookup", "BrandRegistry", "shipped_brands"]


class BrandLookup(Protocol):
    """What the identity check asks of a brand registry (:class:`BrandRegistry` is one)."""

    def brand_for_domain(self, domain: str) -> Brand | None: ...

    def owns(self, brand: Brand, host: str, *, role: Role | None = None) -> bool: ...

    def is_mailbox_domain(self, host: str) -> bool: ...

    def is_hosted(self, host: str) -> bool: ...

    def find_claims(self, text: str, *, sender_name: bool = False) -> list[Claim]: ...

    def is_esp(self, domain: str) -> bool: ...

    def esp_destination(self, url: str) -> str | None: ...


def shipped_brands(extra: str = "") -> BrandRegistry:
    """The shipped registry, extended or overridden by the operator's file ``extra``."""
    return load_registry(Path(extra) if extra else None)
