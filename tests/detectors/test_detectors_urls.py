"""LinkMismatchDetector: link text showing another domain, IP hosts, script links."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from helpers_detectors import by_symbol, html_link, make_message, run

from mailward.detectors.urls import LinkMismatchDetector as Detector
from mailward.model import Finding, Url


def findings(*urls: Url, html: str = "", **settings: Any) -> dict[str, Finding]:
    msg = make_message(urls=urls, html=html)
    return by_symbol(run(Detector(Detector.Settings(**settings)), msg))


# --- URL_TEXT_MISMATCH ----------------------------------------------------------------------


def test_bare_domain_text_to_other_domain_hits_with_readable_explanation() -> None:
    hit = findings(html_link("https://paypa1-secure.xyz/login", "paypal.com"))["URL_TEXT_MISMATCH"]
    assert hit.explanation == "Link text shows paypal.com but the link goes to paypa1-secure.xyz."
    assert hit.evidence == ("https://paypa1-secure.xyz/login",)
    assert hit.factor == 1.0
    assert hit.detector == "urls"


@pytest.mark.parametrize(
    "text",
    [
        "https://www.paypal.com/login",
        "www.paypal.com",
        "paypal.com/account.",
        "Log in at PAYPAL.COM now",
        "support@paypal.com",
    ],
)
def test_url_or_domain_text_to_other_domain_hits(text: str) -> None:
    assert "URL_TEXT_MISMATCH" in findings(html_link("http://203.0.113.9.evil.test/x", text))


def test_ip_target_with_domain_text_hits() -> None:
    assert "URL_TEXT_MISMATCH" in findings(html_link("http://198.51.100.7/login", "www.mybank.com"))


@pytest.mark.parametrize(
    ("href", "text"),
    [
        ("https://login.example.com/a", "www.example.com"),  # same registrable domain
        ("https://shop.example.co.uk/", "https://example.co.uk"),
        ("https://evil.xyz/", "click here"),
        ("https://evil.xyz/", "readme.md"),  # a file name, not a domain
        ("https://evil.xyz/", "Version 2.0.1"),
        ("mailto:ceo@evil.xyz", "ceo@paypal.com"),
        ("https://example.com/", "example.com or paypal.com"),  # the real target is shown too
    ],
)
def test_same_domain_or_non_domain_text_misses(href: str, text: str) -> None:
    assert "URL_TEXT_MISMATCH" not in findings(html_link(href, text))


def test_plain_text_links_are_not_compared() -> None:
    url = Url(
        url="https://evil.xyz/",
        scheme="https",
        host="evil.xyz",
        domain="evil.xyz",
        source="text",
        anchor_text="paypal.com",
    )
    assert findings(url) == {}


def test_evidence_is_capped_by_max_findings() -> None:
    links = [html_link(f"https://evil{i}.xyz/", "paypal.com") for i in range(7)]
    hit = findings(*links)["URL_TEXT_MISMATCH"]
    assert len(hit.evidence) == 5
    assert "6 more" in hit.explanation
    assert len(findings(*links, max_findings=2)["URL_TEXT_MISMATCH"].evidence) == 2


def test_ignore_domains_skips_tracking_targets() -> None:
    link = html_link("https://click.tracker.example.net/r/1", "www.shop.com")
    assert "URL_TEXT_MISMATCH" in findings(link)
    assert findings(link, ignore_domains=("example.net",)) == {}


# --- URL_IP_LITERAL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    ["http://192.0.2.10/login", "https://[2001:db8::1]/x", "http://3232235777/", "http://0x7f.1/"],
)
def test_ip_literal_hosts_hit(href: str) -> None:
    hit = findings(html_link(href, "here"))["URL_IP_LITERAL"]
    assert "bare IP address" in hit.explanation
    assert hit.evidence == (href,)


@pytest.mark.parametrize(
    "href", ["https://example.com/", "http://1.2.3.example.com/", "http://web2.example/"]
)
def test_named_hosts_miss_ip_literal(href: str) -> None:
    assert "URL_IP_LITERAL" not in findings(html_link(href, "here"))


# --- URL_SCRIPT_SCHEME ----------------------------------------------------------------------


def test_javascript_url_hits() -> None:
    hit = findings(html_link("javascript:alert(document.cookie)", "Open"))["URL_SCRIPT_SCHEME"]
    assert "javascript:" in hit.explanation


@pytest.mark.parametrize(
    "html",
    [
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">invoice</a>',
        '<form action="JAVASCRIPT:go()"><input></form>',
    ],
)
def test_script_links_in_html_hit(html: str) -> None:
    assert "URL_SCRIPT_SCHEME" in findings(html=html)


@pytest.mark.parametrize(
    "html",
    [
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
        '<a href="data:image/png;base64,iVBORw0KGgo=">logo</a>',
        '<a href="https://example.com/javascript:guide">JS guide</a>',
        "<p>Type javascript:void(0) in the bar</p>",
    ],
)
def test_harmless_html_misses_script_scheme(html: str) -> None:
    assert findings(html=html) == {}


def test_same_script_link_from_urls_and_html_is_listed_once() -> None:
    href = "javascript:run()"
    hit = findings(html_link(href, "go"), html=f'<a href="{href}">go</a>')["URL_SCRIPT_SCHEME"]
    assert hit.evidence == (href,)


def test_settings_validate() -> None:
    with pytest.raises(pydantic.ValidationError):
        Detector.Settings(max_findings=0)
    with pytest.raises(pydantic.ValidationError):
        Detector.Settings(max_finding=3)  # type: ignore[call-arg]


def test_findings_are_deterministic() -> None:
    links = (html_link("http://192.0.2.1/", "paypal.com"), html_link("javascript:x()", "y"))
    assert findings(*links) == findings(*links)


# --- URL_TEXT_MISMATCH: trackers and link protection (regressions from ham) -------------------


def test_link_protection_wrapper_naming_the_shown_domain_is_not_a_mismatch() -> None:
    wrapped = "https://urldefense.proofpoint.com/v2/url?u=https-3A__github.com_org_repo&d=x"
    assert "URL_TEXT_MISMATCH" not in findings(html_link(wrapped, "github.com"))
    # the same wrapper showing another domain than it wraps is still a mismatch
    assert "URL_TEXT_MISMATCH" in findings(html_link(wrapped, "paypal.com"))


def test_redirect_naming_the_shown_domain_counts_half() -> None:
    href = "https://click.tracker.example.net/r?url=https%3A%2F%2Fshop.example.org%2Fsale"
    hit = findings(html_link(href, "shop.example.org"))["URL_TEXT_MISMATCH"]
    assert hit.factor == 0.5


def test_senders_own_click_tracker_counts_less() -> None:
    from helpers_detectors import address

    msg = make_message(
        urls=(html_link("http://clickthru.online.example.net/Click?q=1", "news.com"),),
        from_=(address("newsletter@online.example.net", "News"),),
    )
    hit = by_symbol(run(Detector(Detector.Settings()), msg))["URL_TEXT_MISMATCH"]
    assert hit.factor == 0.4
