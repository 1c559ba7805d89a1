"""Reading brands.toml / esps.toml (and an operator's file of the same format) into entries.

Every problem is a :class:`~mailward.errors.ConfigError` that names the file, the entry (its
position and id) and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from mailward.data._esps import ENCODINGS, ESP_KINDS, Encoding, Esp, EspKind, EspRule
from mailward.detectors._domains import normalise_host, organisation_domain, registrable_domain
from mailward.errors import ConfigError

CATEGORIES: tuple[str, ...] = (
    "bank", "payment", "parcel", "mail-cloud", "social", "marketplace", "government",
    "software", "telecom", "streaming", "travel", "crypto", "other",
)  # fmt: skip
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_COUNTRY = re.compile(r"[A-Z]{2}")
_BRAND_KEYS = frozenset(
    {
        "id", "name", "category", "countries", "names", "exact_names", "strict_names",
        "names_reason", "domains", "mailbox_domains", "hosted", "owner", "shared_domains",
        "esps", "sources", "disabled",
    }
)  # fmt: skip
_ESP_KEYS = frozenset({"id", "name", "kind", "domains", "sources", "rule", "disabled"})
_RULE_KEYS = frozenset(
    {
        "host", "path", "destination_param", "destination_encoding", "destination_b64_path",
        "destination_after_segment",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BrandEntry:
    """One [[brand]] table as read, before the registry links owners and checks clashes."""

    where: str
    id: str
    name: str
    category: str
    countries: tuple[str, ...]
    names: tuple[str, ...]
    exact_names: tuple[str, ...]
    strict_names: tuple[str, ...]
    names_reason: str
    domains: tuple[str, ...]
    mailbox_domains: tuple[str, ...]
    hosted: tuple[str, ...]
    owner: str | None
    shared_domains: tuple[str, ...]
    esps: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DataFile:
    """The entries of one file; ``disabled`` lists the ids it removes."""

    brands: tuple[BrandEntry, ...]
    esps: tuple[tuple[str, Esp], ...]
    disabled_brands: tuple[tuple[str, str], ...]
    disabled_esps: tuple[tuple[str, str], ...]


class _Table:
    """Typed access to one TOML table; errors name the file, the entry and the key."""

    def __init__(self, where: str, data: Mapping[str, Any]) -> None:
        self.where = where
        self.data = data

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key}: {problem}")

    def text(self, key: str, *, required: bool = True) -> str:
        value = self.data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def domains(self, key: str) -> tuple[str, ...]:
        out = []
        for value in self.texts(key):
            domain = normalise_host(value)
            if registrable_domain(domain) != domain:
                shown = registrable_domain(domain) or "none: it is a public suffix or unknown"
                raise self.fail(
                    key,
                    f"{value!r} is not a registrable domain (its registrable domain is {shown})",
                )
            out.append(domain)
        return tuple(out)


def parse_file(text: str, label: str) -> DataFile:
    """The brands and ESPs of one TOML text; ``label`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"brand", "esp"}
    if unknown:
        raise ConfigError(
            f"{label}: unknown top-level key(s) {sorted(unknown)}; use [[brand]] or [[esp]]"
        )
    brands: list[BrandEntry] = []
    esps: list[tuple[str, Esp]] = []
    off_brands: list[tuple[str, str]] = []
    off_esps: list[tuple[str, str]] = []
    for number, raw in enumerate(_tables(data, "brand", label), start=1):
        table = _Table(_where(label, "brand", number, raw), raw)
        if table.flag("disabled"):
            off_brands.append((table.where, _check_id(table)))
        else:
            brands.append(_brand(table))
    for number, raw in enumerate(_tables(data, "esp", label), start=1):
        table = _Table(_where(label, "esp", number, raw), raw)
        if table.flag("disabled"):
            off_esps.append((table.where, _check_id(table)))
        else:
            esps.append((table.where, _esp(table)))
    return DataFile(tuple(brands), tuple(esps), tuple(off_brands), tuple(off_esps))


def _tables(data: Mapping[str, Any], key: str, label: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{label}: {key}: write each entry as a [[{key}]] table")
    return cast(list[Mapping[str, Any]], value)


def _where(label: str, kind: str, number: int, raw: Mapping[str, Any]) -> str:
    name = raw.get("id")
    shown = f" (id {name!r})" if isinstance(name, str) else ""
    return f"{label}: {kind} #{number}{shown}"


def _check_id(table: _Table) -> str:
    value = table.text("id")
    if not _ID.fullmatch(value):
        raise table.fail("id", f"{value!r} must be a lower-case slug (a-z, 0-9, '-')")
    return value


def _brand(table: _Table) -> BrandEntry:
    unknown = set(table.data) - _BRAND_KEYS
    if unknown:
        raise table.fail(", ".join(sorted(unknown)), "unknown key")
    category = table.text("category")
    if category not in CATEGORIES:
        raise table.fail("category", f"{category!r} is not one of {', '.join(CATEGORIES)}")
    countries = table.texts("countries")
    codes_only = all(_COUNTRY.fullmatch(c) for c in countries)
    if not countries or not (codes_only or list(countries) == ["global"]):
        raise table.fail("countries", 'list ISO 3166-1 alpha-2 codes (upper case), or ["global"]')
    domains = table.domains("domains")
    if not domains:
        raise table.fail("domains", "list at least one registrable domain")
    names, exact, strict = (
        table.texts("names"),
        table.texts("exact_names"),
        table.texts("strict_names"),
    )
    reason = table.text("names_reason", required=False)
    if not names and not exact and not reason:
        raise table.fail("names", "list how people write the brand, or say why not in names_reason")
    mailbox = table.domains("mailbox_domains")
    outside = [d for d in mailbox if d not in domains]
    if outside:
        raise table.fail("mailbox_domains", f"{outside[0]!r} is not one of the entry's domains")
    hosted = tuple(normalise_host(h) for h in table.texts("hosted"))
    stray = [h for h in hosted if organisation_domain(h) not in domains]
    if stray:
        raise table.fail("hosted", f"{stray[0]!r} is not under one of the entry's domains")
    owner = table.text("owner", required=False) or None
    return BrandEntry(
        where=table.where,
        id=_check_id(table),
        name=table.text("name"),
        category=category,
        countries=countries,
        names=names,
        exact_names=exact,
        strict_names=strict,
        names_reason=reason,
        domains=domains,
        mailbox_domains=mailbox,
        hosted=hosted,
        owner=owner,
        shared_domains=table.domains("shared_domains"),
        esps=table.domains("esps"),
        sources=table.texts("sources"),
    )


def _esp(table: _Table) -> Esp:
    unknown = set(table.data) - _ESP_KEYS
    if unknown:
        raise table.fail(", ".join(sorted(unknown)), "unknown key")
    kind = table.text("kind")
    if kind not in ESP_KINDS:
        raise table.fail("kind", f"{kind!r} is not one of {', '.join(ESP_KINDS)}")
    raw_rules = table.data.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise table.fail("rule", "write each rule as an [[esp.rule]] table")
    rules = tuple(
        _rule(_Table(f"{table.where}: rule #{n}", r)) for n, r in enumerate(raw_rules, start=1)
    )
    domains = table.domains("domains")
    if not domains and not rules:
        raise table.fail("domains", "list the platform's domains (or give it a rule)")
    return Esp(
        id=_check_id(table),
        name=table.text("name"),
        kind=cast(EspKind, kind),
        domains=domains,
        sources=table.texts("sources"),
        rules=rules,
    )


def _rule(table: _Table) -> EspRule:
    unknown = set(table.data) - _RULE_KEYS
    if unknown:
        raise table.fail(", ".join(sorted(unknown)), "unknown key")
    host = normalise_host(table.text("host"))
    path = table.text("path", required=False) or "/"
    if not path.startswith("/"):
        raise table.fail("path", "must start with '/'")
    encoding = table.text("destination_encoding", required=False) or "url"
    if encoding not in ENCODINGS:
        raise table.fail(
            "destination_encoding", f"{encoding!r} is not one of {', '.join(ENCODINGS)}"
        )
    param = table.text("destination_param", required=False) or None
    after = table.text("destination_after_segment", required=False) or None
    b64_path = table.flag("destination_b64_path")
    ways: Sequence[object] = [w for w in (param, after, b64_path or None) if w]
    if encoding == "proofpoint-v3" and ways:
        raise table.fail("destination_encoding", "proofpoint-v3 reads the path; give no other way")
    if encoding != "proofpoint-v3" and len(ways) != 1:
        raise table.fail(
            "destination_param",
            "give exactly one of destination_param, destination_b64_path, "
            "destination_after_segment",
        )
    if encoding in ("base64", "proofpoint-v2") and param is None:
        raise table.fail("destination_encoding", f"{encoding} applies to destination_param")
    return EspRule(
        host=host,
        path=path,
        destination_param=param,
        destination_encoding=cast(Encoding, encoding),
        destination_b64_path=b64_path,
        destination_after_segment=after,
    )
