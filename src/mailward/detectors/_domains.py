"""Domain helpers shared by the detectors: registrable domains and domains shown in text.

Registrable domains come from tldextract's bundled public-suffix snapshot, split by the
parse's extractor (:func:`mailward.mime.urls.public_suffix_parts`: no suffix-list URLs, no
cache directory, so it never touches the network; one split per host shared with the parse).
The pure look-ups are memoised: the same hosts come back in message after message.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from mailward.mime.urls import public_suffix_parts

#: A domain-looking token in free text, optionally behind a scheme or a local part
#: ("https://x.com/a", "www.x.com", "x.com/path", "ceo@x.com"). Group "host" is the host.
_DOMAIN_TOKEN = re.compile(
    r"(?<![\w.@+%-])"
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)?"
    r"(?:[\w.+%-]+@)?"
    r"(?P<host>(?:[\w-]+\.)+[\w-]+)",
    re.IGNORECASE,
)
#: Suffixes that are far more often file extensions than domains in running text
#: ("readme.md", "photos.zip"); a token ending in one counts only with a scheme or "www.".
_FILE_LIKE_SUFFIXES = frozenset({"md", "zip", "mov", "py", "rs", "sh"})
#: Dotted numbers a resolver accepts as an IPv4 address: 1.2.3.4, 3232235777, 0x7f.1, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}\.?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ShownDomain:
    """A domain found in text a person reads: the text as written and its registrable domain."""

    text: str
    host: str
    domain: str


@functools.lru_cache(maxsize=8192)
def normalise_host(host: str) -> str:
    """Lower-case ASCII form of a host: brackets and trailing dots gone, Unicode as IDNA."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


@functools.lru_cache(maxsize=8192)
def is_ip_literal(host: str) -> bool:
    """True for an IPv4/IPv6 literal, including the numeric forms resolvers accept (0x7f.1)."""
    host = host.strip().strip("[]")
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _NUMERIC_HOST.fullmatch(host) is not None
    return True


@functools.lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str | None:
    """The public-suffix-aware registrable domain of ``host`` (the IP for an IP literal).

    None when the host has no known public suffix ("localhost", "evil.test") or is itself a suffix.
    """
    host = normalise_host(host)
    if not host:
        return None
    if is_ip_literal(host):
        return host
    _, name, suffix = public_suffix_parts(host)
    if not suffix or not name:
        return None
    return f"{name}.{suffix}"


def host_parts(host: str) -> tuple[str, str, str]:
    """(subdomain, registrable name, public suffix) of an ASCII host; "" for a missing part."""
    return public_suffix_parts(host)


def organisation_domain(host: str) -> str:
    """The registrable domain of ``host``, or the normalised host when it has none."""
    return registrable_domain(host) or normalise_host(host)


#: Generic TLDs a reader takes for a web address when written bare ("paypal.com"). Other
#: generic TLDs (.hughes, .smith, .news) read as words in names ("R.Hughes") unless written with
#: a scheme or "www."; two-letter country codes always count.
_BARE_GTLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "info",
        "biz",
        "gov",
        "edu",
        "mil",
        "int",
        "io",
        "co",
        "app",
        "dev",
        "xyz",
        "online",
        "site",
        "top",
        "shop",
        "store",
        "club",
        "live",
        "cloud",
        "tech",
        "me",
        "ai",
        "email",
        "support",
        "services",
        "help",
        "secure",
        "login",
        "account",
    ]
)


def _reads_as_domain_tld(tld: str) -> bool:
    return len(tld) == 2 or tld in _BARE_GTLDS or tld.startswith("xn--")


def find_domains(text: str) -> list[ShownDomain]:
    """Every domain a reader would see in ``text``, in order, once each.

    Tokens without a known public suffix ("v1.2", "e.g", "file.txt") are not domains.
    """
    found: list[ShownDomain] = []
    seen: set[str] = set()
    for match in _DOMAIN_TOKEN.finditer(text):
        host = normalise_host(match.group("host").strip("-_"))
        domain = registrable_domain(host)
        if domain is None or is_ip_literal(host) or domain in seen:
            continue
        explicit = match.group("scheme") is not None or host.startswith("www.")
        tld = host.rsplit(".", 1)[-1]
        if not explicit and (tld in _FILE_LIKE_SUFFIXES or not _reads_as_domain_tld(tld)):
            continue
        seen.add(domain)
        found.append(ShownDomain(text=match.group(0), host=host, domain=domain))
    return found


def in_domains(domain: str, domains: tuple[str, ...]) -> bool:
    """True when ``domain`` is one of ``domains`` or a subdomain of one."""
    if not domains:
        return False
    wanted = _domain_set(domains) if isinstance(domains, tuple) else frozenset(domains)
    return not wanted.isdisjoint(_parents(domain))


def parent_domains(domain: str) -> list[str]:
    """``domain`` and every name it is a subdomain of: "a.b.c" -> a.b.c, b.c, c (and "" for a
    name ending in a dot), as :func:`in_domains` compares."""
    return list(_parents(domain))


@functools.lru_cache(maxsize=8192)
def _parents(domain: str) -> tuple[str, ...]:
    """:func:`parent_domains`, kept: a message's links repeat their hosts, and every link's
    host is compared with several lists."""
    out = [domain]
    at = domain.find(".")
    while at >= 0:
        out.append(domain[at + 1 :])
        at = domain.find(".", at + 1)
    return tuple(out)


#: id of a tuple of domains -> (the tuple, its set): a tuple's hash is not kept, so an
#: lru_cache keyed by the tuple would hash all its domains on every call.
_SETS: dict[int, tuple[tuple[str, ...], frozenset[str]]] = {}
_MAX_SETS = 256


def _domain_set(domains: tuple[str, ...]) -> frozenset[str]:
    known = _SETS.get(id(domains))
    if known is not None and known[0] is domains:
        return known[1]
    if len(_SETS) >= _MAX_SETS:
        _SETS.clear()
    found = frozenset(domains)
    _SETS[id(domains)] = (domains, found)
    return found
