"""Deceptive links: text that shows one domain but goes to another, IP hosts, script links.

Detects
  - an HTML link whose visible text shows a URL or domain ("https://www.paypal.com/login",
    "paypal.com") of another registrable domain than the link's target; text that shows no
    domain ("click here") and mailto: links are left alone, and text that also shows the
    target's own domain is not deceptive;
  - a link to a bare IP address (also the numeric forms browsers accept, e.g. 0x7f.1);
  - a javascript: or data: link (data: links to raster images excepted), from the parsed
    links and from href/action/src attributes of a, area, form and iframe elements in the HTML.

Symbols (default weight, group "urls")
  URL_TEXT_MISMATCH  7   link text shows another domain than the link goes to (factor 1.0)
  URL_IP_LITERAL     3   link to a bare IP address
  URL_SCRIPT_SCHEME  6   javascript: or data: link

Each symbol is raised at most once per message; its evidence lists up to ``max_findings`` links.

Settings ``[detectors.urls]``
  max_findings    most links listed as evidence for one symbol (default 5)
  ignore_domains  link targets (registrable domains and their subdomains) never reported for
                  URL_TEXT_MISMATCH, e.g. the organisation's click-tracking service
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from html.parser import HTMLParser
from typing import ClassVar

from pydantic import Field, field_validator

from mailward.detectors._domains import (
    find_domains,
    in_domains,
    is_ip_literal,
    normalise_host,
    organisation_domain,
)
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage, Url

_GROUP = "urls"
_WEB_SCHEMES = frozenset({"http", "https"})
_SCRIPT_SCHEME = re.compile(r"^\s*(javascript|vbscript|data)\s*:", re.IGNORECASE)
_HARMLESS_DATA = re.compile(r"^\s*data\s*:\s*image/(png|gif|jpeg|jpg|webp|bmp)\s*[;,]", re.I)
#: Elements whose attribute navigates or runs when followed, and the attribute.
_LINK_ATTRS = {"a": "href", "area": "href", "form": "action", "iframe": "src"}
_MAX_HTML_CHARS = 2_000_000


class LinkMismatchSettings(DetectorSettings):
    """Options of the urls detector."""

    max_findings: int = Field(default=5, ge=1)
    ignore_domains: tuple[str, ...] = ()

    @field_validator("ignore_domains")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_host(d) for d in value if d.strip())


class _ScriptLinkParser(HTMLParser):
    """Collects javascript:/data: targets of navigating attributes in HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _LINK_ATTRS.get(tag)
        if wanted is None:
            return
        for key, value in attrs:
            if key == wanted and value and _is_script_link(value):
                self.found.append(value.strip())


def _is_script_link(target: str) -> bool:
    # Browsers ignore ASCII control characters and whitespace inside the scheme.
    cleaned = re.sub(r"[\x00-\x20]", "", target)
    return bool(_SCRIPT_SCHEME.match(cleaned)) and not _HARMLESS_DATA.match(cleaned)


def _short(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


class LinkMismatchDetector:
    """Reports links whose text shows another domain, IP-literal links and script links."""

    name: ClassVar[str] = "urls"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "URL_TEXT_MISMATCH": SymbolSpec(
            7.0, _GROUP, "A link's text shows a different domain than the link goes to."
        ),
        "URL_IP_LITERAL": SymbolSpec(3.0, _GROUP, "A link goes to a bare IP address."),
        "URL_SCRIPT_SCHEME": SymbolSpec(
            6.0, _GROUP, "A link uses the javascript: or data: scheme."
        ),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[LinkMismatchSettings]] = LinkMismatchSettings

    def __init__(self, settings: LinkMismatchSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        candidates = (self._text_mismatch(msg), self._ip_literal(msg), self._script_scheme(msg))
        return [finding for finding in candidates if finding is not None]

    def _mismatches(self, msg: ParsedMessage) -> Iterator[tuple[Url, str, str]]:
        """(link, shown text, target domain) for each deceptive HTML link."""
        for url in msg.urls:
            if (
                url.source != "html"
                or not url.anchor_text
                or url.scheme.lower() not in _WEB_SCHEMES
            ):
                continue
            if not url.host:
                continue
            target = organisation_domain(url.host)
            if in_domains(target, self.settings.ignore_domains):
                continue
            shown = find_domains(url.anchor_text)
            if shown and all(s.domain != target for s in shown):
                yield url, shown[0].host, normalise_host(url.host)

    def _text_mismatch(self, msg: ParsedMessage) -> Finding | None:
        hits = list(self._mismatches(msg))
        if not hits:
            return None
        _, shown, host = hits[0]
        more = f" ({len(hits) - 1} more such links)" if len(hits) > 1 else ""
        return Finding(
            symbol="URL_TEXT_MISMATCH",
            explanation=f"Link text shows {shown} but the link goes to {host}{more}.",
            evidence=tuple(_short(u.url) for u, _, _ in hits[: self.settings.max_findings]),
            factor=1.0,
            detector=self.name,
        )

    def _ip_literal(self, msg: ParsedMessage) -> Finding | None:
        hits: list[Url] = []
        seen: set[str] = set()
        for url in msg.urls:
            if url.host and is_ip_literal(url.host) and url.url not in seen:
                seen.add(url.url)
                hits.append(url)
        if not hits:
            return None
        more = f" ({len(hits) - 1} more such links)" if len(hits) > 1 else ""
        return Finding(
            symbol="URL_IP_LITERAL",
            explanation=(
                f"A link goes to the bare IP address {normalise_host(hits[0].host)} instead "
                f"of a named site{more}."
            ),
            evidence=tuple(_short(u.url) for u in hits[: self.settings.max_findings]),
            detector=self.name,
        )

    def _script_links(self, msg: ParsedMessage) -> list[str]:
        links = [u.url.strip() for u in msg.urls if _is_script_link(u.url)]
        if msg.html:
            parser = _ScriptLinkParser()
            parser.feed(msg.html[:_MAX_HTML_CHARS])
            parser.close()
            links.extend(parser.found)
        return list(dict.fromkeys(links))

    def _script_scheme(self, msg: ParsedMessage) -> Finding | None:
        links = self._script_links(msg)
        if not links:
            return None
        scheme = re.sub(r"[\x00-\x20]", "", links[0]).split(":", 1)[0].lower()
        more = f" ({len(links) - 1} more such links)" if len(links) > 1 else ""
        return Finding(
            symbol="URL_SCRIPT_SCHEME",
            explanation=(
                f"A link uses the {scheme}: scheme, which runs code or opens embedded content "
                f"instead of a web page{more}."
            ),
            evidence=tuple(_short(link) for link in links[: self.settings.max_findings]),
            detector=self.name,
        )
