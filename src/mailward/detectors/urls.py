"""Deceptive links: mismatched text, IP and script links, shorteners, redirects, look-alikes.

Detects
  - an HTML link whose visible text shows a URL or domain ("https://www.paypal.com/login",
    "paypal.com") of another registrable domain than the link's target; text that shows no
    domain ("click here") and mailto: links are left alone, and text that also shows the
    target's own domain is not deceptive;
  - a link to a bare IP address (also the numeric forms browsers accept, e.g. 0x7f.1);
  - a javascript: or data: link (data: links to raster images excepted), from the parsed
    links and from href/action/src attributes of a, area, form and iframe elements in the HTML;
  - a link through a public link shortener (shipped list ``data/shorteners.txt``), unless the
    shortener is the sender's own domain;
  - a link that redirects to another site: an absolute URL of another registrable domain in a
    redirect parameter (url=, u=, redirect=, next=, continue=, dest=, ...) or behind a known
    redirector (``data/redirectors.txt``: google.com/url?q=, t.umblr.com/redirect?z=, ...);
    redirects to the From domain or an accepted domain (click tracking) are left alone;
  - an internationalised (``xn--``) link host;
  - a link host that imitates an accepted domain or a well-known brand (see
    :mod:`mailward.detectors.lookalike`; TLD swaps count only for accepted domains, since brands
    own many country domains), or that carries a brand's name outside the brand's domain
    ("paypal.com.account-verify.xyz");
  - obfuscated links: zero-width or text-direction characters in the address or its text,
    "known.example@real-host" user-info, IP addresses written as one number, hex or octal,
    a percent-encoded host, a ``<base href>`` that sends relative links to another domain;
  - a message that names a well-known brand (the brand registry, :mod:`mailward.data.brands`,
    with the operator's ``[brands] file``) in its subject, its From display name or the first
    100 characters of its text, whose links all go elsewhere and whose From domain is not the
    brand's.

Symbols (default weight, group "urls")
  URL_TEXT_MISMATCH    4   link text shows another domain than the link goes to (factor 1.0)
  URL_IP_LITERAL       3   link to a bare IP address
  URL_SCRIPT_SCHEME    4   javascript: or data: link
  URL_SHORTENER        1.5 link through a link shortener
  URL_OPEN_REDIRECT    3   link that redirects to another site
  URL_PUNYCODE         3   link to an internationalised (xn--) host
  URL_LOOKALIKE_HOST   7   link host imitates an accepted domain or a brand
  URL_OBFUSCATED       4   link address or text disguised
  URL_BRAND_UNRELATED  4   brand named, but no link goes to the brand (group "brand": with
                           the other brand-claim symbols, capped together)

Each symbol is raised at most once per message; its evidence lists up to ``max_findings`` links.
At most ``[limits] max_urls`` links are examined, and at most ``max_hosts`` distinct hosts are
compared for look-alikes.

Settings ``[detectors.urls]``
  max_findings    most links listed as evidence for one symbol (default 5)
  ignore_domains  link targets (registrable domains and their subdomains) never reported by
                  this detector, e.g. the organisation's click-tracking service
  max_hosts       most distinct link hosts compared for look-alikes (default 100)
"""

from __future__ import annotations

import dataclasses
import functools
import html.entities
import re
import string
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from html.parser import HTMLParser
from typing import ClassVar

from pydantic import Field, field_validator

from mailward.data import brands as brand_data
from mailward.detectors import _linkchecks as checks
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
#: What browsers ignore inside a scheme: ASCII controls and the space.
_SCHEME_IGNORED = re.compile(r"[\x00-\x20]")
_HARMLESS_DATA = re.compile(r"^\s*data\s*:\s*image/(png|gif|jpeg|jpg|webp|bmp)\s*[;,]", re.I)
#: Elements whose attribute navigates or runs when followed, and the attribute.
_LINK_ATTRS = {"a": "href", "area": "href", "form": "action", "iframe": "src"}
_MAX_HTML_CHARS = 2_000_000
_GAP = r"[\x00-\x20]*"
#: A script scheme as it may stand in decoded HTML: ASCII controls or spaces between its letters
#: (_is_script_link drops them), then white space and a colon.
_SCRIPT_SPREAD = re.compile(
    "(?:" + "|".join(_GAP.join(w) for w in ("javascript", "vbscript", "data")) + ")"
    r"[\s\x00-\x20]*:",
    re.IGNORECASE,
)
#: Characters that may stand for a scheme's letters or a colon, or vanish, in a script link:
#: ASCII letters, ":", controls and space, and what re.IGNORECASE folds to "s" or "i".
_RISKY_CHARS = frozenset(string.ascii_letters + ":\u017f\u0130\u0131") | {
    chr(i) for i in range(0x21)
}
_CONTROLS = bytes(range(0x21))
#: In UTF-8 HTML (controls and spaces dropped, lower-cased): what decoding or case-folding
#: could turn into such characters (the named references that decode to them, and the
#: letters IGNORECASE folds), and a script scheme as written, character references or
#: non-ASCII (white space) allowed before the colon.
_RISKY_NAMES = sorted(
    {n.rstrip(";").lower() for n, v in html.entities.html5.items() if set(v) & _RISKY_CHARS}
)
_RISKY_TEXT = re.compile(rb"\xc5\xbf|\xc4[\xb0\xb1]|&(?:%b)" % "|".join(_RISKY_NAMES).encode())
#: :data:`_RISKY_TEXT`'s three branches apart: each starts with a literal, which the regex
#: engine skips ahead to, while the alternation is tried at every byte (3x the time).
_RISKY_PARTS = (
    re.compile(rb"\xc5\xbf"),
    re.compile(rb"\xc4[\xb0\xb1]"),
    re.compile(rb"&(?:%b)" % "|".join(_RISKY_NAMES).encode()),
)
#: A numeric character reference as html.unescape reads it (found in the HTML as written).
_NUMERIC_REF = re.compile(r"&#(?:[xX][0-9a-fA-F]+|[0-9]+);?")
_FLAT_SCRIPT = re.compile(rb"script(?:&#?[a-z0-9]+;?|[\x80-\xff])*:")
_FLAT_DATA = re.compile(rb"data(?:&#?[a-z0-9]+;?|[\x80-\xff])*:")
_SHORTENER = (
    "A link goes through the link shortener {detail}{more}, which hides where it really leads; "
    "do not follow it unless you trust the sender."
)
_REDIRECT = (
    "A link passes through {detail}{more}, so it leads somewhere other than the site it shows."
)
_PUNYCODE = (
    "A link goes to the internationalised host {detail}{more}, whose letters may imitate "
    "another name."
)
_LOOKALIKE = "A link goes to {detail}{more}; do not enter credentials there."
_OBFUSCATED = "A link is disguised with {detail}{more}."
_BRAND = (
    "The message speaks of {detail}{more}; make sure it really comes from them before "
    "following a link."
)


class LinkMismatchSettings(DetectorSettings):
    """Options of the urls detector."""

    max_findings: int = Field(default=5, ge=1)
    max_hosts: int = Field(default=100, ge=1)
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


@functools.lru_cache(maxsize=1024)
def _risky_ref(ref: str) -> bool:
    decoded = html.unescape(ref)
    return not decoded or any(c in _RISKY_CHARS for c in decoded)


def _may_hold_script_link(text: str) -> bool:
    """False only where no attribute value of ``text`` can be a script link, so the HTML parser
    can be skipped. Without references or letters that decode or fold into a scheme's letters,
    a script link's value shows its scheme as written, bar case, controls and spaces."""
    flat = text.encode("utf-8", "surrogatepass").translate(None, _CONTROLS).lower()
    if _risky_text(flat) or any(_risky_ref(m[0]) for m in _NUMERIC_REF.finditer(text)):
        return _SCRIPT_SPREAD.search(html.unescape(text)) is not None
    return _FLAT_SCRIPT.search(flat) is not None or _FLAT_DATA.search(flat) is not None


def _risky_text(flat: bytes) -> bool:
    """Whether :data:`_RISKY_TEXT` occurs in ``flat``, one branch at a time."""
    return any(part.search(flat) is not None for part in _RISKY_PARTS)


def _is_script_link(target: str) -> bool:
    # Browsers ignore ASCII control characters and whitespace inside the scheme.
    cleaned = _SCHEME_IGNORED.sub("", target)
    return bool(_SCRIPT_SCHEME.match(cleaned)) and not _HARMLESS_DATA.match(cleaned)


def _short(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


class LinkMismatchDetector:
    """Reports links whose text shows another domain, IP-literal links and script links."""

    name: ClassVar[str] = "urls"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "URL_TEXT_MISMATCH": SymbolSpec(
            4.0, _GROUP, "A link's text shows a different domain than the link goes to."
        ),
        "URL_IP_LITERAL": SymbolSpec(3.0, _GROUP, "A link goes to a bare IP address."),
        "URL_SCRIPT_SCHEME": SymbolSpec(
            4.0, _GROUP, "A link uses the javascript: or data: scheme."
        ),
        "URL_SHORTENER": SymbolSpec(1.5, _GROUP, "A link goes through a link shortener."),
        "URL_OPEN_REDIRECT": SymbolSpec(3.0, _GROUP, "A link redirects to another site."),
        "URL_PUNYCODE": SymbolSpec(3.0, _GROUP, "A link goes to an internationalised host."),
        "URL_LOOKALIKE_HOST": SymbolSpec(
            7.0, _GROUP, "A link host imitates an accepted domain or a well-known brand."
        ),
        "URL_OBFUSCATED": SymbolSpec(4.0, _GROUP, "A link's address or text is disguised."),
        "URL_BRAND_UNRELATED": SymbolSpec(
            4.0, "brand", "The message names a brand but links elsewhere."
        ),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[LinkMismatchSettings]] = LinkMismatchSettings

    def __init__(self, settings: LinkMismatchSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        urls = msg.urls[: ctx.settings.limits.max_urls]
        if len(urls) < len(msg.urls):
            msg = dataclasses.replace(msg, urls=urls)
        candidates = [self._text_mismatch(msg), self._ip_literal(msg), self._script_scheme(msg)]
        candidates.extend(self._link_findings(msg, ctx))
        return [finding for finding in candidates if finding is not None]

    def _link_findings(self, msg: ParsedMessage, ctx: ScanContext) -> Iterator[Finding | None]:
        ignored = self.settings.ignore_domains
        urls = [u for u in msg.urls if not (u.host and in_domains(u.host, ignored))]
        senders = tuple(organisation_domain(a.domain) for a in msg.from_ if a.domain)
        own = senders + ctx.accepted_domains
        yield self._finding("URL_SHORTENER", checks.shortener_hits(urls, own), _SHORTENER)
        yield self._finding("URL_OPEN_REDIRECT", checks.redirect_hits(urls, own), _REDIRECT)
        yield self._finding("URL_PUNYCODE", checks.punycode_hits(urls), _PUNYCODE)
        registry = brand_data.registry_for(ctx.settings.brands.file)
        limit = self.settings.max_hosts
        hosts = checks.lookalike_hits(urls, ctx.accepted_domains, limit, registry)
        yield self._finding("URL_LOOKALIKE_HOST", hosts, _LOOKALIKE)
        kept = msg if len(urls) == len(msg.urls) else dataclasses.replace(msg, urls=tuple(urls))
        yield self._finding("URL_OBFUSCATED", checks.obfuscation_hits(kept, own), _OBFUSCATED)
        brand_hits = checks.brand_unrelated_hits(kept, registry)
        yield self._finding("URL_BRAND_UNRELATED", brand_hits, _BRAND)

    def _finding(self, symbol: str, hits: list[checks.Hit], template: str) -> Finding | None:
        unique = list(dict.fromkeys(hits))
        if not unique:
            return None
        more = f" ({len(unique) - 1} more such links)" if len(unique) > 1 else ""
        return Finding(
            symbol=symbol,
            explanation=template.format(detail=unique[0].detail, more=more),
            evidence=tuple(_short(h.evidence, 200) for h in unique[: self.settings.max_findings]),
            detector=self.name,
        )

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
            if not shown or any(s.domain == target for s in shown):
                continue
            if _names_in_query(url.url, shown[0].domain) and in_domains(
                normalise_host(url.host), checks.LINK_WRAPPERS
            ):
                continue  # the recipient's link-protection service wrapping the shown link
            yield url, shown[0].host, normalise_host(url.host)

    def _text_mismatch(self, msg: ParsedMessage) -> Finding | None:
        hits = list(self._mismatches(msg))
        if not hits:
            return None
        _, shown, host = hits[0]
        more = f" ({len(hits) - 1} more such links)" if len(hits) > 1 else ""
        # Links that go to the sender's own domain (its click tracker) deceive less: the reader
        # trusts the sender already; other checks judge the sender.
        own = {organisation_domain(a.domain) for a in msg.from_ if a.domain}
        all_own = all(organisation_domain(u.host) in own for u, _, _ in hits)
        # A redirect whose query names the shown domain may well lead there (trackers do this);
        # it may also be a decoy parameter, so it counts half, not nothing.
        all_named = all(_names_in_query(u.url, organisation_domain(s)) for u, s, _ in hits)
        return Finding(
            symbol="URL_TEXT_MISMATCH",
            explanation=f"Link text shows {shown} but the link goes to {host}{more}.",
            evidence=tuple(_short(u.url) for u, _, _ in hits[: self.settings.max_findings]),
            factor=0.4 if all_own else 0.5 if all_named else 1.0,
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
        text = msg.html[:_MAX_HTML_CHARS]
        if text and _may_hold_script_link(text):
            parser = _ScriptLinkParser()
            parser.feed(text)
            parser.close()
            links.extend(parser.found)
        return list(dict.fromkeys(links))

    def _script_scheme(self, msg: ParsedMessage) -> Finding | None:
        links = self._script_links(msg)
        if not links:
            return None
        scheme = _SCHEME_IGNORED.sub("", links[0]).split(":", 1)[0].lower()
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


def _names_in_query(href: str, shown_domain: str) -> bool:
    """True when the link's query names the shown domain, as redirects and link-protection
    wrappers do (Safe Links, Proofpoint's "u=https-3A__github.com", Mimecast's "domain=...")."""
    try:
        query = urllib.parse.unquote(urllib.parse.urlsplit(href).query).lower()
    except ValueError:
        return False
    if not query or not shown_domain:
        return False
    pattern = r"(?<![a-z0-9-])" + re.escape(shown_domain.lower()) + r"(?![a-z0-9-])"
    return re.search(pattern, query) is not None
