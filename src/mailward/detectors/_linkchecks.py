"""The link checks behind the urls detector's symbols beyond text mismatch, IP and script links.

Pure functions over a message's links (and HTML); each returns :class:`Hit` items: the
evidence (the URL, sometimes with both hosts) and a phrase the explanation is built from.
Shipped lists (``data/shorteners.txt``, ``data/redirectors.txt`` and the lookalike module's
``data/brands.txt``) are read once; brand names and their domains come from the brand registry
(:mod:`mailward.data.brands`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from mailward.data import brands as brand_data
from mailward.detectors._domains import (
    find_domains,
    in_domains,
    organisation_domain,
    parent_domains,
    registrable_domain,
)
from mailward.detectors.lookalike import brand_in_host, find_lookalike, load_wordlist
from mailward.mime.urls import make_url
from mailward.model import ParsedMessage, Url

log = logging.getLogger(__name__)

_WEB = frozenset({"http", "https"})
#: Query parameters that commonly carry the address a redirect goes to.
_REDIRECT_PARAMS = frozenset(
    {
        "url", "u", "redirect", "redirect_url", "redirect_to", "redir", "redirecturl", "next",
        "continue", "dest", "destination", "target", "target_url", "goto", "go", "to", "return",
        "return_to", "returnurl", "return_url", "rurl", "link", "out",
    }
)  # fmt: skip
_MAX_PARAMS = 50
_ABSOLUTE = re.compile(r"^(?:https?:)?//[^/]", re.IGNORECASE)
_AUTHORITY = re.compile(r"^[a-z][a-z0-9+.-]*:[/\\]*([^/?#\\]*)", re.IGNORECASE)
_NUMERIC = re.compile(r"(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+)){0,3}\.?", re.IGNORECASE)
_DOTTED_QUAD = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_BASE_HREF = re.compile(r"""<base\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_RELATIVE_HREF = re.compile(
    r"""<(?:a|area|form)\b[^>]*?\b(?:href|action)\s*=\s*["']?(?![a-z][a-z0-9+.-]*:|#|//|["'\s>])""",
    re.IGNORECASE,
)
#: How much of the text counts as its opening (heading, greeting) for naming a brand. Measured
#: on the dev corpus: phishing names its brand in the first line; news digests and list posts
#: that mention a brand in passing do so further down, or in headline link texts.
_BRAND_TEXT_CHARS = 100
#: Words phishers put next to a brand in a host name ("paypal-account-verify.xyz").
_LURE_WORDS = frozenset(
    {
        "account", "accounts", "alert", "auth", "billing", "check", "confirm", "customer",
        "help", "helpdesk", "id", "invoice", "login", "logon", "member", "notice",
        "online", "pay", "payment", "portal", "recovery", "secure", "security", "service",
        "services", "signin", "sso", "support", "team", "update", "verify", "verification",
        "wallet", "webmail", "unlock", "locked", "limited", "access", "center", "reset",
        "updates", "community", "authentication", "signon", "recover", "validate",
    }
)  # fmt: skip
#: Link-protection services that wrap every link of a message (Microsoft Safe Links, GMX/WEB.DE,
#: Proofpoint, Mimecast, Barracuda): their redirects are the recipient's, not the sender's.
LINK_WRAPPERS = (
    "safelinks.protection.outlook.com",
    "deref-web.de",
    "deref-gmx.net",
    "urldefense.com",
    "urldefense.proofpoint.com",
    "protect-eu.mimecast.com",
    "protect-us.mimecast.com",
    "mimecastprotect.com",
    "linkprotect.cudasvc.com",
)


@dataclass(frozen=True, slots=True)
class Hit:
    """One link a check reported: its evidence and a phrase for the explanation."""

    evidence: str
    detail: str


@dataclass(frozen=True, slots=True)
class Redirector:
    """A known redirecting endpoint: host (and subdomains), path prefix, target parameters."""

    host: str
    path: str
    params: tuple[str, ...]


def _wordlist(name: str) -> frozenset[str]:
    try:
        return load_wordlist(name)
    except OSError as exc:
        log.warning("shipped list %s cannot be read (%s); its check is off", name, exc)
        return frozenset()


@functools.cache
def shorteners() -> tuple[str, ...]:
    return tuple(sorted(_wordlist("shorteners")))


@functools.cache
def redirectors() -> tuple[Redirector, ...]:
    out: list[Redirector] = []
    for line in sorted(_wordlist("redirectors")):
        where, _, params = line.partition(" ")
        host, _, path = where.partition("/")
        names = tuple(p.strip() for p in params.split(",") if p.strip())
        out.append(Redirector(host, "/" + path, names))
    return tuple(out)


@functools.cache
def brand_domains() -> frozenset[str]:
    """The brands' registrable domains look-alikes are compared with (``data/brands.txt``)."""
    return _wordlist("brands")


def web_links(urls: Iterable[Url]) -> Iterator[Url]:
    return (u for u in urls if u.scheme in _WEB and u.host)


# --- shorteners, redirects, punycode ------------------------------------------------------


def shortener_hits(urls: Sequence[Url], own: tuple[str, ...]) -> list[Hit]:
    listed = shorteners()
    return [
        Hit(u.url, u.host)
        for u in web_links(urls)
        if in_domains(u.host, listed) and not in_domains(u.host, own)
    ]


def _absolute(value: str) -> str | None:
    value = value.strip()
    if value[:12].lower().startswith(("http%3a", "https%3a", "%2f%2f")):
        value = unquote(value)
    if not _ABSOLUTE.match(value):
        return None
    return value if value[:1] != "/" else "https:" + value


@functools.lru_cache(maxsize=4096)
def _redirectors_of(host: str) -> tuple[Redirector, ...]:
    """The listed redirectors on ``host`` or a parent domain of it, in list order."""
    parents = set(parent_domains(host))
    return tuple(known for known in redirectors() if known.host in parents)


def _redirect_targets(url: Url) -> tuple[str, ...]:
    """Where ``url`` may send the reader on to (raw values, in order), see :func:`_targets`.

    A link without "?" has no query (``urlsplit`` finds the query after the first "?"), so
    off a listed redirector's host it sends nowhere: two in three distinct links of the dev
    corpus, answered without splitting the URL or taking a place in :func:`_targets`'s cache.
    """
    if "?" not in url.url and not _redirectors_of(url.host):
        return ()
    return _targets(url.url, url.host)


@functools.lru_cache(maxsize=4096)
def _targets(link: str, host: str) -> tuple[str, ...]:
    """A listed redirector's target in the path, then the values of its parameters and of the
    usual redirect parameters. Kept for the next asker: the urls and identity detectors both
    read every link, and newsletters repeat their links from one message to the next."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return ()
    params = parse_qsl(parts.query, keep_blank_values=False)[:_MAX_PARAMS]
    out: list[str] = []
    for known in _redirectors_of(host):
        if parts.path.startswith(known.path):
            if not known.params:
                out.append("https://" + parts.path[len(known.path) :].lstrip("/"))
            out.extend(v for k, v in params if k in known.params)
    out.extend(v for k, v in params if k.lower() in _REDIRECT_PARAMS)
    return tuple(out)


def redirect_destination(url: Url) -> str | None:
    """The host a redirecting link sends the reader on to (a listed redirector's target or an
    absolute URL in a redirect parameter), or None when it does not redirect."""
    for raw in _redirect_targets(url):
        target = _absolute(raw)
        found = make_url(target, "html") if target else None
        if found is not None and found.host:
            return found.host
    return None


def redirect_hits(urls: Sequence[Url], own: tuple[str, ...]) -> list[Hit]:
    """Links whose query (or a listed redirector's path) sends the reader to another site.

    A redirect to the sender's own or an accepted domain (a mailer's click tracking) is fine.
    """
    hits: list[Hit] = []
    for url in web_links(urls):
        if in_domains(url.host, LINK_WRAPPERS):
            continue
        here = organisation_domain(url.host)
        for raw in _redirect_targets(url):
            target = _absolute(raw)
            found = make_url(target, "html") if target else None
            if found is None or not found.host:
                continue
            there = registrable_domain(found.host)
            if there is not None and there != here and not in_domains(there, own):
                hits.append(
                    Hit(f"{url.host} -> {found.host}: {url.url}", f"{url.host} to {found.host}")
                )
                break
    return hits


def _unicode_host(host: str) -> str:
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


def punycode_hits(urls: Sequence[Url]) -> list[Hit]:
    return [
        Hit(u.url, f"{u.host} (shown as {_unicode_host(u.host)})")
        for u in web_links(urls)
        if any(label.startswith("xn--") for label in u.host.split("."))
    ]


# --- look-alike hosts ---------------------------------------------------------------------


def _lure_word_added(host: str, brand: str) -> bool:
    """True when ``host`` (public suffix aside) puts a lure word next to the brand's name:
    "paypal-account-verify.xyz", "paypalsupport.com", "ledger.critical-update.com"."""
    domain = organisation_domain(host)
    suffix = domain.partition(".")[2]
    name = host[: -len(suffix) - 1] if suffix and host.endswith("." + suffix) else host
    brand_name = brand.split(".", 1)[0]
    words = re.split(r"[\s.-]+", name.replace(brand_name, " "))
    return any(word in _LURE_WORDS for word in words)


def _brand_lookalike(host: str, protected: frozenset[str], accepted: tuple[str, ...]) -> str | None:
    """How ``host`` imitates a protected domain, or None.

    For brands (not accepted domains) only the techniques that rarely hit real sites count:
    homoglyphs, punycode, hyphenation, the whole brand domain in front of another domain, and
    the brand's name with a lure word; TLD swaps and one-letter edits hit too many real
    businesses ("cooking"/"booking"), and brands own many country domains.
    """
    match = find_lookalike(host, protected)
    if match is None:
        return None
    how = f"{match.technique}; {match.detail}" if match.detail else match.technique
    if match.protected in accepted:
        return f"{host}, which imitates {match.protected} ({how})"
    if match.technique in ("tld-swap", "edit-distance"):
        return None
    if match.technique == "added-word" and not _lure_word_added(match.domain, match.protected):
        return None
    return f"{host}, which imitates {match.protected} ({how})"


def lookalike_hits(
    urls: Sequence[Url],
    accepted: tuple[str, ...],
    limit: int,
    registry: brand_data.BrandRegistry | None = None,
) -> list[Hit]:
    """Link hosts imitating an accepted domain or a brand, or wearing a brand's name.

    A brand's own site in the brand registry is never one (hosts where anyone publishes,
    sites.google.com, are still looked at).
    """
    registry = registry if registry is not None else brand_data.load_registry()
    hosts = list(dict.fromkeys(u.host for u in web_links(urls)))[:limit]
    found = ((host, _lookalike_detail(host, accepted, registry)) for host in hosts)
    return [Hit(host, detail) for host, detail in found if detail is not None]


@functools.lru_cache(maxsize=64)
def _protected(accepted: tuple[str, ...]) -> frozenset[str]:
    return frozenset(accepted) | brand_domains()


@functools.lru_cache(maxsize=4096)
def _lookalike_detail(
    host: str, accepted: tuple[str, ...], registry: brand_data.BrandRegistry
) -> str | None:
    """How ``host`` imitates an accepted domain or a brand, or wears a brand's name; or None."""
    protected = _protected(accepted)
    if organisation_domain(host) in protected or in_domains(host, accepted):
        return None
    owner = registry.brand_for_domain(host)
    if owner is not None and registry.owns(owner, host, role="link"):
        return None
    detail = _brand_lookalike(host, protected, accepted)
    if detail is None:
        brand = brand_in_host(host, brand_domains())
        if brand is not None and _lure_word_added(host, brand):
            detail = f"{host}, which carries the name of {brand} but is not its site"
    return detail


# --- obfuscation --------------------------------------------------------------------------


def _raw_host(url: str) -> tuple[str, str]:
    """(userinfo, host as written) of an absolute URL."""
    match = _AUTHORITY.match(url)
    authority = match[1] if match else ""
    userinfo, _, host = authority.rpartition("@")
    if host.startswith("["):
        return userinfo, host
    return userinfo, host.rpartition(":")[0] if host.count(":") == 1 else host


def _url_trick(url: Url) -> str | None:
    if _INVISIBLE.search(url.url):
        return "invisible characters hidden in its address"
    if url.anchor_text and _BIDI.search(url.anchor_text):
        return "text-direction control characters in its text"
    if url.anchor_text and _INVISIBLE.search(url.anchor_text):
        cleaned = _INVISIBLE.sub("", url.anchor_text)
        if any(d.text not in url.anchor_text for d in find_domains(cleaned)):
            return "invisible characters splitting the domain in its text"
    if url.scheme not in _WEB:
        return None
    userinfo, host = _raw_host(url.url)
    if "." in userinfo.partition(":")[0]:
        return f'"{userinfo}@" in front of the real host {url.host}'
    if _NUMERIC.fullmatch(host) and not _DOTTED_QUAD.fullmatch(host):
        return f"the IP address written in disguise as {host}"
    if "%" in host:
        return "a percent-encoded host name"
    return None


def _base_trick(html: str, own: tuple[str, ...]) -> Hit | None:
    match = _BASE_HREF.search(html)
    if match is None or _RELATIVE_HREF.search(html) is None:
        return None
    base = make_url(match[1], "html")
    if base is None or not base.host or in_domains(organisation_domain(base.host), own):
        return None
    return Hit(base.url, f"a <base> tag sending its relative links to {base.host}")


def obfuscation_hits(msg: ParsedMessage, own: tuple[str, ...]) -> list[Hit]:
    hits = [Hit(u.url, trick) for u in msg.urls if (trick := _url_trick(u)) is not None]
    if msg.html and (base := _base_trick(msg.html, own)) is not None:
        hits.append(base)
    return hits


# --- brand named, brand not linked --------------------------------------------------------


def brand_unrelated_hits(
    msg: ParsedMessage, registry: brand_data.BrandRegistry | None = None
) -> list[Hit]:
    """The brand a message names up front while none of its links goes to that brand.

    The brand must be named in the subject, the From display name or the opening (first 100
    characters) of the text, by one of its names in the brand registry (strict names, which are
    ordinary words, do not count here); the From domain must not be the brand's (a free mailbox
    of the brand, gmail.com for Google, does not count); the message must have web links, and
    none may go to the brand's own sites (hosts where anyone publishes, sites.google.com, do not
    count). Link texts are not read: news digests name brands in headline links.
    """
    links = list(web_links(msg.urls))
    if not links:
        return []
    registry = registry if registry is not None else brand_data.load_registry()
    shown = " ".join(a.display_name for a in msg.from_)
    head = f"{msg.subject}\n{shown}\n{msg.text.lstrip()[:_BRAND_TEXT_CHARS]}"
    senders = [a.domain for a in msg.from_ if a.domain]
    for claim in registry.find_claims(head):
        brand = claim.brand
        if any(registry.owns(brand, s, role="sender") for s in senders):
            continue
        if any(registry.owns(brand, u.host, role="link") for u in links):
            continue
        name = claim.name
        detail = f"{name} but none of its links goes to {name}'s own sites ({brand.domains[0]})"
        return [Hit(u.url, detail) for u in links]
    return []
