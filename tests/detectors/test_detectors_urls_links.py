"""LinkMismatchDetector's link checks: shorteners, redirects, punycode, look-alikes,
obfuscation and brand names without the brand's links."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_detectors import address, by_symbol, html_link, make_message, run

from mailward.detectors.urls import LinkMismatchDetector as Detector
from mailward.mime.urls import make_url
from mailward.model import Finding, Url


def link(href: str, text: str | None = "Open", source: str = "html") -> Url:
    url = make_url(href, source, text)  # type: ignore[arg-type]
    assert url is not None
    return url


def findings(*urls: Url, **fields: Any) -> dict[str, Finding]:
    msg = make_message(urls=urls, **fields)
    return by_symbol(run(Detector(Detector.Settings()), msg))


# --- URL_SHORTENER ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href", ["https://bit.ly/3xYz", "http://tinyurl.com/abc", "https://t.co/q"]
)
def test_shortener_links_hit(href: str) -> None:
    hit = findings(link(href))["URL_SHORTENER"]
    assert hit.evidence == (href,)
    assert "shortener" in hit.explanation


def test_shortener_miss_for_ordinary_hosts_and_lookalike_names() -> None:
    got = findings(link("https://example.net/bit.ly"), link("https://notbit.ly.example.net/"))
    assert "URL_SHORTENER" not in got


def test_shortener_of_the_sender_itself_misses() -> None:
    sender = address("news@bit.ly")
    assert "URL_SHORTENER" not in findings(link("https://bit.ly/x"), from_=(sender,))


# --- URL_OPEN_REDIRECT ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        "https://www.google.com/url?q=https://evil.example.net/login&sa=D",
        "https://shop.example.org/out?url=https%3A%2F%2Fevil.example.net%2Fa",
        "https://t.umblr.com/redirect?z=http%3A%2F%2Fevil.example.net%2F&t=1",
        "https://site.example.org/login?next=//evil.example.net/x",
    ],
)
def test_redirect_to_another_site_hits_showing_both_hosts(href: str) -> None:
    hit = findings(link(href))["URL_OPEN_REDIRECT"]
    assert "evil.example.net" in hit.evidence[0]
    assert "->" in hit.evidence[0]
    assert "evil.example.net" in hit.explanation


@pytest.mark.parametrize(
    "href",
    [
        "https://www.example.org/login?next=https://www.example.org/home",  # same site
        "https://click.mailer.example.net/c?url=https://shop.example.com/sale",  # sender's site
        "https://www.example.org/search?q=https+is+safe",
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.net%2F",
        "https://www.example.org/page?id=7&lang=en",
    ],
)
def test_redirect_misses(href: str) -> None:
    assert "URL_OPEN_REDIRECT" not in findings(link(href))


# --- URL_PUNYCODE -----------------------------------------------------------------------------


def test_punycode_host_hits_and_shows_unicode() -> None:
    hit = findings(link("https://www.xn--bcher-kva.example/"))["URL_PUNYCODE"]
    assert "bücher" in hit.explanation


def test_ascii_host_with_xn_elsewhere_misses() -> None:
    assert "URL_PUNYCODE" not in findings(link("https://example.org/xn--abc"))


# --- URL_LOOKALIKE_HOST -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "imitated"),
    [
        ("https://paypa1.com/signin", "paypal.com"),
        ("https://paypal.com.account-verify.xyz/", "paypal.com"),
        ("https://paypal-account-verify.xyz/", "paypal"),
        ("https://examp1e.com/", "example.com"),  # the accepted domain of the defaults
    ],
)
def test_lookalike_hosts_hit(href: str, imitated: str) -> None:
    hit = findings(link(href))["URL_LOOKALIKE_HOST"]
    assert imitated in hit.explanation
    assert hit.evidence[0] in href


@pytest.mark.parametrize(
    "href",
    [
        "https://www.paypal.com/signin",
        "https://www.cooking.com/",  # one letter from booking.com: a real business
        "https://paypal.de/",  # brands own country domains
        "https://xbox-linux.sourceforge.net/",  # a project page, no lure word
        "https://lufthansa-usa.com/",
    ],
)
def test_real_or_unrelated_hosts_miss_lookalike(href: str) -> None:
    assert "URL_LOOKALIKE_HOST" not in findings(link(href))


# --- URL_OBFUSCATED ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "text", "phrase"),
    [
        ("http://www.paypal.com@evil.example.net/", "Log in", "in front of the real host"),
        ("http://3232235777/", "Log in", "in disguise"),
        ("http://0xc0.0xa8.0x01.0x01/", "Log in", "in disguise"),
        ("http://0300.0250.1.1/", "Log in", "in disguise"),
        ("http://%65%76%69%6c.example.net/", "Log in", "percent-encoded"),
        ("https://evil.example.net/\u200blogin", "Log in", "invisible"),
        ("https://evil.example.net/", "pay\u200bpal.com", "splitting"),
        ("https://evil.example.net/", "invoice\u202efdp.exe", "text-direction"),
    ],
)
def test_obfuscated_links_hit(href: str, text: str, phrase: str) -> None:
    hit = findings(html_link(href, text))["URL_OBFUSCATED"]
    assert phrase in hit.explanation
    assert hit.evidence == (href,)


@pytest.mark.parametrize(
    ("href", "text"),
    [
        ("http://192.0.2.1/", "x"),  # plain dotted quad: URL_IP_LITERAL only
        ("https://user@example.org/", "x"),  # user name without a dot
        ("https://example.org/a%20b", "x"),
        ("https://example.org/", "Hello\u200bworld"),  # no domain in the text
    ],
)
def test_plain_links_miss_obfuscated(href: str, text: str) -> None:
    assert "URL_OBFUSCATED" not in findings(html_link(href, text))


def test_base_href_to_other_domain_hits() -> None:
    html = '<base href="https://evil.example.net/"><a href="login.php">Sign in</a>'
    hit = findings(link("https://evil.example.net/login.php"), html=html)["URL_OBFUSCATED"]
    assert "<base>" in hit.explanation


def test_base_href_to_sender_domain_or_without_relative_links_misses() -> None:
    own = '<base href="https://www.example.com/"><a href="page.html">x</a>'
    absolute = '<base href="https://evil.example.net/"><a href="https://example.org/">x</a>'
    assert "URL_OBFUSCATED" not in findings(html=own)
    assert "URL_OBFUSCATED" not in findings(html=absolute)


# --- URL_BRAND_UNRELATED ----------------------------------------------------------------------


def test_brand_in_subject_with_links_elsewhere_hits() -> None:
    got = findings(link("https://secure-check.example.net/a"), subject="Your PayPal account")
    hit = got["URL_BRAND_UNRELATED"]
    assert "PayPal" in hit.explanation and "paypal.com" in hit.explanation
    assert hit.evidence == ("https://secure-check.example.net/a",)


def test_brand_in_opening_of_text_hits() -> None:
    text = "Netflix: your membership is on hold. Update your payment today."
    assert "URL_BRAND_UNRELATED" in findings(link("https://x.example.net/"), text=text)


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Your PayPal receipt", "urls": (link("https://www.paypal.com/r"),)},
        {"subject": "Your PayPal receipt", "from_": (address("service@paypal.com"),)},
        {"subject": "Your PayPal receipt", "urls": ()},  # no links at all
        {"subject": "Weekly digest", "text": "x" * 200 + " Microsoft released a patch."},
        {"subject": "Mail me at jane@gmail.com", "text": "Hi"},  # an address, not the brand
    ],
)
def test_brand_unrelated_misses(fields: dict[str, Any]) -> None:
    fields.setdefault("urls", (link("https://news.example.net/a"),))
    msg = make_message(**fields)
    assert "URL_BRAND_UNRELATED" not in by_symbol(run(Detector(Detector.Settings()), msg))


# --- bounds -----------------------------------------------------------------------------------


def test_evidence_is_capped_and_ignore_domains_apply() -> None:
    links = [link(f"https://bit.ly/{i}") for i in range(9)]
    hit = findings(*links)["URL_SHORTENER"]
    assert len(hit.evidence) == 5 and "8 more" in hit.explanation
    msg = make_message(urls=tuple(links))
    quiet = Detector(Detector.Settings(ignore_domains=("bit.ly",)))
    assert "URL_SHORTENER" not in by_symbol(run(quiet, msg))
