"""Email service providers, trackers and link wrappers, and reading where their links lead.

A rule says where one platform's link carries its destination in readable form: a query
parameter (plain, base64 or Proofpoint-encoded), a base64 path segment, or the path segment after
a marker. A decoded value counts only when it is an absolute http(s) URL with a host.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from mailward.detectors._domains import normalise_host, parent_domains

EspKind = Literal["esp", "tracker", "link-protection"]
Encoding = Literal["url", "base64", "proofpoint-v2", "proofpoint-v3"]
ESP_KINDS: tuple[str, ...] = ("esp", "tracker", "link-protection")
ENCODINGS: tuple[str, ...] = ("url", "base64", "proofpoint-v2", "proofpoint-v3")

_B64_SEGMENT = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_PROOFPOINT_V3 = re.compile(r"/v3/__(?P<url>.+?)__;", re.DOTALL)


@dataclass(frozen=True, slots=True)
class EspRule:
    """Where a link of this platform carries its destination."""

    host: str
    path: str = "/"
    destination_param: str | None = None
    destination_encoding: Encoding = "url"
    destination_b64_path: bool = False
    destination_after_segment: str | None = None

    def destination(self, url: str) -> str | None:
        """The destination of ``url`` (which is on this rule's host and path), or None."""
        parts = urlsplit(url)
        if self.destination_encoding == "proofpoint-v3":
            found = _PROOFPOINT_V3.search(url)
            value = found["url"] if found and "*" not in found["url"] else None
            return _web_url(value)
        if self.destination_param is not None:
            return _web_url(self._from_param(parts.query))
        if self.destination_after_segment is not None:
            segments = parts.path.split("/")
            for at, segment in enumerate(segments[:-1]):
                if segment == self.destination_after_segment:
                    return _web_url(unquote(segments[at + 1]))
            return None
        if self.destination_b64_path:
            for segment in parts.path.split("/"):
                if _B64_SEGMENT.fullmatch(segment):
                    value = _web_url(_from_base64(segment))
                    if value is not None:
                        return value
        return None

    def _from_param(self, query: str) -> str | None:
        name = self.destination_param
        if self.destination_encoding == "proofpoint-v2":
            for pair in query.split("&"):
                key, _, raw = pair.partition("=")
                if key == name:
                    return unquote(raw.replace("-", "%").replace("_", "/"))
            return None
        value = next((v for k, v in parse_qsl(query, keep_blank_values=True) if k == name), None)
        if value is not None and self.destination_encoding == "base64":
            return _from_base64(value)
        return value


@dataclass(frozen=True, slots=True)
class Esp:
    """A sending, tracking or link-wrapping platform many organisations use."""

    id: str
    name: str
    kind: EspKind
    domains: tuple[str, ...]
    sources: tuple[str, ...] = ()
    rules: tuple[EspRule, ...] = ()


class EspIndex:
    """The platforms by registrable domain and by rule host."""

    def __init__(self, esps: Iterable[Esp]) -> None:
        self.esps: Mapping[str, Esp] = {esp.id: esp for esp in esps}
        self._by_domain = {d: esp for esp in self.esps.values() for d in esp.domains}
        by_host: dict[str, list[tuple[EspRule, Esp]]] = {}
        for esp in self.esps.values():
            for rule in esp.rules:
                by_host.setdefault(rule.host, []).append((rule, esp))
        self._by_host = {host: tuple(found) for host, found in by_host.items()}

    def for_host(self, host: str) -> Esp | None:
        """The platform whose domain ``host`` is or is under, or whose rule names its host."""
        host = normalise_host(host)
        for name in parent_domains(host):
            esp = self._by_domain.get(name)
            if esp is not None:
                return esp
            rules = self._by_host.get(name)
            if rules:
                return rules[0][1]
        return None

    def is_sender_platform(self, host: str) -> bool:
        """True for a domain of an ESP or tracker (not of a link wrapper)."""
        esp = self.for_host(host)
        return esp is not None and esp.kind != "link-protection"

    def destination(self, url: str) -> str | None:
        """Where a tracking or link-protection URL leads, when one of the rules can read it."""
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
        except ValueError:
            return None
        if not host or parts.scheme.lower() not in ("http", "https"):
            return None
        path = parts.path or "/"
        for name in parent_domains(normalise_host(host)):
            for rule, _esp in self._by_host.get(name, ()):
                if path.startswith(rule.path):
                    found = rule.destination(url.strip())
                    if found is not None:
                        return found
        return None


def _from_base64(value: str) -> str | None:
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        plain = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    plain = plain.strip()
    if plain.startswith("{"):
        try:
            data = json.loads(plain)
        except ValueError:
            return None
        if isinstance(data, dict):
            for key in ("url", "href"):
                if isinstance(data.get(key), str):
                    return str(data[key])
        return None
    return plain


def _web_url(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return value
