"""The detectors' registrable domains and host parts, and the parse's registrable domains, share
one kept tldextract split per host: each gives what its own extractor gave."""

from __future__ import annotations

import pytest
import tldextract

from mailward.detectors import _domains
from mailward.mime import urls as mime_urls

_OWN = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

HOSTS = [
    "example.com", "www.example.com", "WWW.Example.COM", "example.com.", "a.b.c.example.co.uk",
    "co.uk", "uk", "localhost", "evil.test", "intranet.corp", "bücher.de", "xn--bcher-kva.de",
    "www.xn--pypal-4ve.com", "пример.рф", "192.168.0.1", "[2001:db8::1]", "3232235777",
    "0x7f.1", "user@example.com", "example.com:8080", "", ".", "..", "a..b.com",
    "sites.google.com", "foo.blogspot.com", "s3.amazonaws.com", "xn--80ak6aa92e.com",
]


def _old_registrable(host: str) -> str | None:
    host = _domains.normalise_host(host)
    if not host:
        return None
    if _domains.is_ip_literal(host):
        return host
    parts = _OWN(host)
    if not parts.suffix or not parts.domain:
        return None
    return f"{parts.domain}.{parts.suffix}"


def _old_mime_registrable(host: str) -> str:
    ascii_host = mime_urls.host_to_ascii(host)
    if not ascii_host or mime_urls._is_ip(ascii_host):
        return ascii_host
    return _OWN(ascii_host).top_domain_under_public_suffix or ascii_host


@pytest.mark.parametrize("host", HOSTS)
def test_shared_split_gives_what_each_extractor_gave(host: str) -> None:
    # both orders of first use: the parse's look-up first, then the detectors', and again
    assert mime_urls.registrable_domain(host) == _old_mime_registrable(host)
    assert _domains.registrable_domain(host) == _old_registrable(host)
    ascii_host = mime_urls.host_to_ascii(host)
    parts = _OWN(ascii_host)
    assert _domains.host_parts(ascii_host) == (parts.subdomain, parts.domain, parts.suffix)
    assert mime_urls.registrable_domain(host) == _old_mime_registrable(host)


def test_the_split_is_kept_across_the_callers() -> None:
    mime_urls.public_suffix_parts.cache_clear()
    mime_urls.registrable_domain("www.shared-split.example.co.uk")
    misses = mime_urls.public_suffix_parts.cache_info().misses
    assert _domains.host_parts("www.shared-split.example.co.uk") == (
        "www.shared-split", "example", "co.uk"
    )
    assert _domains.registrable_domain("www.shared-split.example.co.uk") == "example.co.uk"
    assert mime_urls.public_suffix_parts.cache_info().misses == misses
