"""Links: find them in text, normalise them into :class:`~mailward.model.Url`, name domains.

Public helpers, reused by detectors:

- :func:`registrable_domain` host -> registrable domain (offline public-suffix list, ICANN
  section), IP literals as they are, lower case, IDNA (``xn--``) form;
- :func:`host_to_ascii` Unicode host -> lower-case ASCII IDNA form;
- :func:`make_url` one link as written (href, form action or text match) -> ``Url`` or None;
- :func:`extract_urls` / :func:`iter_urls` every http/https/ftp URL and bare ``www.`` host in
  plain text.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator
from typing import Literal
from urllib.parse import unquote, urljoin

import tldextract

from mailward.mime._urlscan import text_url_matches
from mailward.model import Url

Source = Literal["text", "html", "attachment"]

_TEXT_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|(?<![\w.@/-])www\.)[^\s<>\"'`{}|\\^\[\]]+",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_STRIP = re.compile(r"[\x00-\x20\x7f]+")
_SPECIAL = frozenset({"http", "https", "ftp", "ws", "wss"})
_SKIPPED = frozenset({"mailto"})
_TRAIL = ".,;:!?'\"*"
_AUTHORITY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")
_INT_HOST = re.compile(r"^(?:0x[0-9a-f]+|\d+)$")


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # Offline: the snapshot bundled with tldextract, never a download, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=8192)
def host_to_ascii(host: str) -> str:
    """``host`` in lower-case ASCII: Unicode labels become ``xn--`` (IDNA), a final dot goes."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        labels = re.split(r"[.\u3002\uff0e\uff61]", host)
        return ".".join(
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
            for label in labels
        )


@functools.lru_cache(maxsize=8192)
def public_suffix_parts(host: str) -> tuple[str, str, str]:
    """(subdomain, registrable name, public suffix) of ``host`` as tldextract splits it ("" for
    a missing part). Kept: the parse, the detectors' registrable domains and the look-alike
    check each split a new link host, and tldextract's split is the costly step of each."""
    parts = _extractor()(host)
    return parts.subdomain, parts.domain, parts.suffix


@functools.lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` ("a.b.example.co.uk" -> "example.co.uk").

    IP literals come back as they are. A host without a known public suffix ("localhost",
    "intranet.corp") comes back whole, so callers always have something to compare.
    """
    ascii_host = host_to_ascii(host)
    if not ascii_host or _is_ip(ascii_host):
        return ascii_host
    _, name, suffix = public_suffix_parts(ascii_host)
    # tldextract's top_domain_under_public_suffix: both parts, or ""
    return f"{name}.{suffix}" if name and suffix else ascii_host


def _int_ipv4(host: str) -> str:
    """A host written as one number ("3232235777", "0xc0a80101") as a dotted IPv4 address."""
    if _INT_HOST.match(host):
        value = int(host, 16) if host.startswith("0x") else int(host)
        if value < 2**32:
            return str(ipaddress.IPv4Address(value))
    return host


def _host_of(url: str) -> str:
    """The host of an absolute http(s)/ftp URL (userinfo and port removed), normalised."""
    match = _AUTHORITY.match(url)
    host = match[1].rpartition("@")[2] if match else ""
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    else:
        host = host.partition(":")[0]
    host = host.lower()
    if "%" in host:
        host = unquote(host).lower()
    try:
        return _int_ipv4(host_to_ascii(host))
    except (UnicodeError, ValueError):
        return host


def make_url(
    raw: str, source: Source, anchor_text: str | None = None, base: str | None = None
) -> Url | None:
    """One link as a ``Url``; None for nothing, a same-page ``#fragment`` or a ``mailto:``.

    Whitespace and control characters are dropped (as browsers do). For http(s)/ftp,
    backslashes count as slashes and missing ``//`` is tolerated, as browsers do, so the host
    is the one a click would reach. ``data:``/``javascript:`` links are kept with host "".
    """
    # a printable text without a space holds none of _STRIP's characters (all of which but
    # the space are control characters): the pattern is not run
    text = raw if raw.isprintable() and " " not in raw else _STRIP.sub("", raw)
    if not text or text.startswith("#"):
        return None
    match = _SCHEME.match(text)
    if match is None and base:
        text = urljoin(base, text)
        match = _SCHEME.match(text)
    scheme = match[1].lower() if match else ""
    if scheme in _SKIPPED:
        return None
    host = ""
    if scheme in _SPECIAL:
        rest = text[len(scheme) + 1 :].replace("\\", "/").lstrip("/")
        host = _host_of(f"{scheme}://{rest}")
    domain = registrable_domain(host) if host else ""
    return Url(text, scheme, host, domain, source, anchor_text)


def _trim(found: str) -> str:
    found = found.rstrip(_TRAIL)
    while found.endswith(")") and found.count(")") > found.count("("):
        found = found[:-1].rstrip(_TRAIL)
    return found


def iter_urls(text: str, source: Source = "text") -> Iterator[Url]:
    """Lazily, each distinct http/https/ftp URL and bare ``www.`` host in ``text``, in order.

    A bare ``www.`` host is given the ``http://`` a mail client would add when linking it.
    """
    seen: set[str] = set()
    for match in text_url_matches(_TEXT_URL, text):
        found = _trim(match[0])
        if found[:4].lower() == "www.":
            found = "http://" + found
        if found in seen:
            continue
        seen.add(found)
        url = make_url(found, source)
        if url is not None and url.host:
            yield url


def extract_urls(text: str, source: Source = "text") -> list[Url]:
    """Every distinct http/https/ftp URL and bare ``www.`` host in ``text``, in order."""
    return list(iter_urls(text, source))
