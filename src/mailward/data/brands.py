"""The brand registry: which brand a text claims, and which domains really are that brand's.

The shipped ``brands.toml`` and ``esps.toml`` (reviewed data; docs/brands.md) are read once per
process. An operator's file of the same format (setting ``[brands] file``) extends them: an entry
with a shipped id replaces it, ``disabled = true`` removes it. Any problem in a file is a
:class:`~mailward.errors.ConfigError` naming the file, the entry and the key.

Public API: :func:`load_registry` (:func:`registry_for` at scan time), :class:`BrandRegistry`,
:class:`Brand`, :class:`Claim`, :class:`~mailward.data._esps.Esp`, :data:`CATEGORIES`.

Use: ``registry.find_claims(subject)`` -> the brands a text names; ``registry.owns(brand,
host, role="sender")`` -> whether a From, DKIM or link domain is the brand's (its family's, its
shared domains, its ESPs), not counting domains where anyone gets a mailbox (as a sender) or
publishes pages (as a link); ``registry.is_esp(domain)``; ``registry.esp_destination(url)``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, NamedTuple

from mailward.data._esps import Esp, EspIndex
from mailward.data._loading import CATEGORIES, BrandEntry, DataFile, parse_file
from mailward.data._names import NameIndex, NamePattern, compile_name, name_key
from mailward.detectors._domains import normalise_host, organisation_domain, parent_domains
from mailward.errors import ConfigError

__all__ = ["CATEGORIES", "Brand", "BrandRegistry", "Claim", "Esp", "load_registry", "registry_for"]

log = logging.getLogger(__name__)

Role = Literal["sender", "link"]
_SHIPPED = ("brands.toml", "esps.toml")


@dataclass(frozen=True, slots=True)
class Brand:
    """A brand: how it is written and the registrable domains that are its own."""

    id: str
    name: str
    category: str
    countries: tuple[str, ...]
    names: tuple[str, ...]
    exact_names: tuple[str, ...]
    strict_names: tuple[str, ...]
    domains: tuple[str, ...]
    mailbox_domains: tuple[str, ...] = ()
    hosted: tuple[str, ...] = ()
    owner: str | None = None
    shared_domains: tuple[str, ...] = ()
    esps: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @classmethod
    def from_entry(cls, entry: BrandEntry) -> Brand:
        return cls(
            id=entry.id,
            name=entry.name,
            category=entry.category,
            countries=entry.countries,
            names=entry.names,
            exact_names=entry.exact_names,
            strict_names=entry.strict_names,
            domains=entry.domains,
            mailbox_domains=entry.mailbox_domains,
            hosted=entry.hosted,
            owner=entry.owner,
            shared_domains=entry.shared_domains,
            esps=entry.esps,
            sources=entry.sources,
        )


class Claim(NamedTuple):
    """A brand a text names, and the registry's name that was found."""

    brand: Brand
    name: str


class BrandRegistry:
    """Brands by id, by domain and by name; ESPs by domain. Immutable once built."""

    def __init__(self, brands: Iterable[Brand], esps: Iterable[Esp] = ()) -> None:
        self.brands: Mapping[str, Brand] = {b.id: b for b in brands}
        self._esps = EspIndex(esps)
        self._by_domain = {d: b for b in self.brands.values() for d in b.domains}
        self._family = {b.id: self._root(b) for b in self.brands.values()}
        family_domains: dict[str, set[str]] = {}
        for brand in self.brands.values():
            family_domains.setdefault(self._family[brand.id], set()).update(brand.domains)
        self._owned = {
            b.id: frozenset(family_domains[self._family[b.id]])
            | set(b.shared_domains)
            | set(b.esps)
            for b in self.brands.values()
        }
        self._mailbox = frozenset(d for b in self.brands.values() for d in b.mailbox_domains)
        self._hosted = frozenset(h for b in self.brands.values() for h in b.hosted)
        self._names = NameIndex(_patterns(self.brands.values()))

    def _root(self, brand: Brand) -> str:
        seen = {brand.id}
        while brand.owner is not None and brand.owner in self.brands:
            brand = self.brands[brand.owner]
            if brand.id in seen:
                break
            seen.add(brand.id)
        return brand.id

    @property
    def esps(self) -> Mapping[str, Esp]:
        return self._esps.esps

    def __len__(self) -> int:
        return len(self.brands)

    def get(self, brand_id: str) -> Brand | None:
        return self.brands.get(brand_id)

    # -- domains ---------------------------------------------------------------------------

    def brand_for_domain(self, domain: str) -> Brand | None:
        """The brand that lists ``domain`` (a registrable domain or any host under one)."""
        host = normalise_host(domain)
        for name in parent_domains(host):
            brand = self._by_domain.get(name)
            if brand is not None:
                return brand
        return None

    def owns(self, brand: Brand, host: str, *, role: Role | None = None) -> bool:
        """Whether ``host`` is ``brand``'s: its family's domains, its shared domains or ESPs.

        ``role="sender"``: a domain where anyone gets a mailbox does not count;
        ``role="link"``: a host where anyone publishes pages or files does not count.
        """
        host = normalise_host(host)
        domain = organisation_domain(host)
        if domain not in self._owned.get(brand.id, frozenset()):
            return False
        if role == "sender":
            return domain not in self._mailbox
        if role == "link":
            return not self.is_hosted(host)
        return True

    def owned_domains(self, brand: Brand) -> frozenset[str]:
        """The registrable domains that count as ``brand``'s (see :meth:`owns`)."""
        return self._owned.get(brand.id, frozenset())

    def same_family(self, one: Brand, other: Brand) -> bool:
        return self._family.get(one.id) == self._family.get(other.id)

    def is_mailbox_domain(self, host: str) -> bool:
        """True when anyone can get a mailbox at ``host``'s registrable domain (gmail.com)."""
        return organisation_domain(normalise_host(host)) in self._mailbox

    def is_hosted(self, host: str) -> bool:
        """True when anyone can publish pages or files at ``host`` (sites.google.com)."""
        return not self._hosted.isdisjoint(parent_domains(normalise_host(host)))

    # -- names -----------------------------------------------------------------------------

    def find_claims(self, text: str, *, sender_name: bool = False) -> list[Claim]:
        """The brands ``text`` names as whole words, in order, once each.

        ``sender_name=True``: ``text`` is a sender's display name, where strict names
        ("Chase", "Orange") count too. Elsewhere only names and exact names count.
        """
        found = self._names.find(text, sender_name=sender_name)
        return [Claim(self.brands[p.key], p.name) for p in found]

    # -- ESPs and link wrappers ------------------------------------------------------------

    def esp_for_host(self, host: str) -> Esp | None:
        """The ESP, tracker or link wrapper ``host`` belongs to, if any."""
        return self._esps.for_host(host)

    def is_esp(self, domain: str) -> bool:
        """True for a domain of a sending or tracking platform many senders share."""
        return self._esps.is_sender_platform(domain)

    def esp_destination(self, url: str) -> str | None:
        """Where a tracking or link-protection URL leads, when its platform's rule can read it."""
        return self._esps.destination(url)


def _patterns(brands: Iterable[Brand]) -> list[NamePattern]:
    out: list[NamePattern] = []
    for brand in brands:
        out.extend(compile_name(brand.id, n) for n in brand.names)
        out.extend(compile_name(brand.id, n, exact=True) for n in brand.exact_names)
        out.extend(compile_name(brand.id, n, strict=True) for n in brand.strict_names)
    return out


# -- loading -------------------------------------------------------------------------------------


def registry_for(extra: Path | None) -> BrandRegistry:
    """:func:`load_registry` for detectors at scan time: an operator's file that became
    unreadable or invalid since start-up is logged and the shipped registry used meanwhile."""
    try:
        return load_registry(extra)
    except ConfigError as exc:
        _log_bad_file(str(exc))
        return _shipped_registry()


@functools.lru_cache(maxsize=16)
def _log_bad_file(problem: str) -> None:
    log.warning("%s; using the shipped brand registry until it is fixed", problem)


def load_registry(extra: Path | None = None) -> BrandRegistry:
    """The shipped registry, extended and overridden by the operator's file ``extra``.

    The shipped one is built once per process; one with an operator's file is rebuilt when the
    file changes (path, modification time and size are the cache key).
    """
    if extra is None:
        return _shipped_registry()
    try:
        stat = extra.stat()
    except OSError as exc:
        raise ConfigError(f"brands file {extra}: cannot be read ({exc.strerror or exc})") from exc
    return _registry_with(str(extra), stat.st_mtime_ns, stat.st_size)


@functools.cache
def _shipped_files() -> tuple[DataFile, ...]:
    folder = resources.files("mailward.data")
    return tuple(
        parse_file(folder.joinpath(name).read_text("utf-8"), f"mailward/data/{name}")
        for name in _SHIPPED
    )


@functools.cache
def _shipped_registry() -> BrandRegistry:
    return build_registry(_shipped_files())


@functools.lru_cache(maxsize=8)
def _registry_with(path: str, mtime_ns: int, size: int) -> BrandRegistry:
    del mtime_ns, size  # part of the cache key only
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"brands file {path}: cannot be read ({exc})") from exc
    return build_registry((*_shipped_files(), parse_file(text, f"brands file {path}")))


def build_registry(files: Iterable[DataFile]) -> BrandRegistry:
    """One registry from files read in order; later entries replace earlier ones by id."""
    brands: dict[str, BrandEntry] = {}
    esps: dict[str, tuple[str, Esp]] = {}
    for data in files:
        for where, brand_id in data.disabled_brands:
            if brands.pop(brand_id, None) is None:
                raise ConfigError(f"{where}: disabled: no brand with id {brand_id!r} to disable")
        for where, esp_id in data.disabled_esps:
            if esps.pop(esp_id, None) is None:
                raise ConfigError(f"{where}: disabled: no ESP with id {esp_id!r} to disable")
        seen: set[str] = set()
        for entry in data.brands:
            if entry.id in seen:
                raise ConfigError(f"{entry.where}: id: {entry.id!r} appears twice in the file")
            seen.add(entry.id)
            brands[entry.id] = entry
        for where, esp in data.esps:
            esps[esp.id] = (where, esp)
    _check_links(brands.values())
    _check_clashes(brands.values(), esps.values())
    return BrandRegistry(
        (Brand.from_entry(e) for e in brands.values()), (esp for _, esp in esps.values())
    )


def _check_links(entries: Iterable[BrandEntry]) -> None:
    by_id = {e.id: e for e in entries}
    for entry in by_id.values():
        seen = {entry.id}
        owner = entry.owner
        while owner is not None:
            if owner not in by_id:
                raise ConfigError(f"{entry.where}: owner: no brand with id {owner!r}")
            if owner in seen:
                raise ConfigError(f"{entry.where}: owner: {entry.owner!r} leads back to itself")
            seen.add(owner)
            owner = by_id[owner].owner


def _check_clashes(entries: Iterable[BrandEntry], esps: Iterable[tuple[str, Esp]]) -> None:
    domains: dict[str, BrandEntry] = {}
    names: dict[bytes, BrandEntry] = {}
    listed = list(entries)
    for entry in listed:
        for domain in entry.domains:
            other = domains.setdefault(domain, entry)
            if other is not entry:
                raise ConfigError(
                    f"{entry.where}: domains: {domain!r} is also listed by {other.where}; "
                    "list it under one brand and under shared_domains of the other"
                )
        for name in (*entry.names, *entry.exact_names, *entry.strict_names):
            try:
                compile_name(entry.id, name)
            except ValueError as exc:
                raise ConfigError(f"{entry.where}: names: {exc}") from exc
            other = names.setdefault(name_key(name), entry)
            if other is not entry:
                raise ConfigError(f"{entry.where}: names: {name!r} is also a name of {other.where}")
    for entry in listed:
        missing = [d for d in entry.shared_domains if d not in domains]
        if missing:
            raise ConfigError(
                f"{entry.where}: shared_domains: {missing[0]!r} is not listed by any brand"
            )
    esp_domains: dict[str, str] = {}
    for where, esp in esps:
        for domain in esp.domains:
            if domain in domains:
                raise ConfigError(
                    f"{where}: domains: {domain!r} is a brand's domain ({domains[domain].where})"
                )
            other_where = esp_domains.setdefault(domain, where)
            if other_where != where:
                raise ConfigError(f"{where}: domains: {domain!r} is also listed by {other_where}")
