"""Links in text and HTML, and the URL helpers detectors reuse."""

from __future__ import annotations

from email.message import EmailMessage

from mailward.config.settings import LimitSettings
from mailward.mime import extract_urls, make_url, parse_message, registrable_domain

LIMITS = LimitSettings()


def _html_message(html: str, plain: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "links"
    if plain is not None:
        msg.set_content(plain)
        msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    return msg.as_bytes()


def test_links_in_plain_text() -> None:
    urls = extract_urls(
        "Go to https://Login.Example.co.uk/path?x=1. Or www.other.example.com, "
        "(see ftp://files.example.org/a). Mail me at bob@www.nope.example."
    )
    assert [u.url for u in urls] == [
        "https://Login.Example.co.uk/path?x=1",
        "http://www.other.example.com",
        "ftp://files.example.org/a",
    ]
    first = urls[0]
    assert (first.scheme, first.host, first.domain) == (
        "https",
        "login.example.co.uk",
        "example.co.uk",
    )
    assert first.source == "text"
    assert first.anchor_text is None


def test_no_links_in_plain_words() -> None:
    assert extract_urls("nothing here: example dot com, http without colon slash") == []


def test_links_in_html_with_anchor_text() -> None:
    html = (
        '<p>Hello</p><a href="https://evil.example.net/login?a=1&amp;b=2">'
        "  Sign in to <b>PayPal</b>\n now </a>"
        '<img src="https://tracker.example.com/pixel.gif">'
        '<map><area href="http://area.example.org/"></map>'
        '<form action="https://form.example.org/post"></form>'
        '<a href="mailto:help@example.com">mail us</a><a href="#top">top</a>'
    )
    urls = parse_message(_html_message(html), LIMITS).urls
    assert [(u.url, u.anchor_text, u.source) for u in urls] == [
        ("https://evil.example.net/login?a=1&b=2", "Sign in to PayPal now", "html"),
        ("http://area.example.org/", "", "html"),
        ("https://form.example.org/post", "", "html"),
    ]
    assert all(u.host != "tracker.example.com" for u in urls)


def test_data_and_javascript_links_are_kept_without_host() -> None:
    html = (
        '<a href="javascript:alert(1)">click</a><a href="data:text/html;base64,PGgxPg==">open</a>'
    )
    urls = parse_message(_html_message(html), LIMITS).urls
    assert [(u.scheme, u.host, u.domain, u.anchor_text) for u in urls] == [
        ("javascript", "", "", "click"),
        ("data", "", "", "open"),
    ]


def test_links_in_comments_and_scripts_are_not_links() -> None:
    html = '<!-- <a href="http://hidden.example/">x</a> --><script>"<a href=http://s.example/>"</script>'
    assert parse_message(_html_message(html), LIMITS).urls == ()


def test_links_from_both_alternatives_are_deduplicated_per_source() -> None:
    html = '<a href="https://x.example.com/">https://x.example.com/</a>' * 3
    urls = parse_message(
        _html_message(html, plain="https://x.example.com/ twice https://x.example.com/"), LIMITS
    ).urls
    assert [(u.source, u.anchor_text) for u in urls] == [
        ("text", None),
        ("html", "https://x.example.com/"),
    ]


def test_url_cap() -> None:
    text = " ".join(f"https://h{i}.example.com/" for i in range(50))
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content(text)
    parsed = parse_message(msg.as_bytes(), LimitSettings(max_urls=10))
    assert len(parsed.urls) == 10
    assert any("links" in d for d in parsed.defects)
    assert len(parse_message(msg.as_bytes(), LIMITS).urls) == 50


def test_base_href_resolves_relative_links() -> None:
    html = '<base href="https://cdn.example.org/dir/"><a href="page.html">p</a>'
    (url,) = parse_message(_html_message(html), LIMITS).urls
    assert url.url == "https://cdn.example.org/dir/page.html"
    assert url.domain == "example.org"


def test_relative_link_without_base_has_no_host() -> None:
    url = make_url("/login", "html", "x")
    assert url is not None
    assert (url.scheme, url.host) == ("", "")


def test_userinfo_and_backslash_tricks_give_the_real_host() -> None:
    url = make_url("https://paypal.com@evil.example.net\\login", "html", "x")
    assert url is not None
    assert url.host == "evil.example.net"


def test_registrable_domain() -> None:
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("WWW.Example.COM.") == "example.com"
    assert registrable_domain("192.0.2.7") == "192.0.2.7"
    assert registrable_domain("2001:db8::1") == "2001:db8::1"
    assert registrable_domain("intranet") == "intranet"
    assert registrable_domain("example.com") != "com"


def test_idn_host_becomes_punycode() -> None:
    url = make_url("https://www.bücher.example.de/x", "html", "x")
    assert url is not None
    assert url.host == "www.xn--bcher-kva.example.de"
    assert url.domain == "example.de"
    assert registrable_domain("bücher.de") == "xn--bcher-kva.de"
    ascii_url = make_url("https://buecher.de/", "html", "x")
    assert ascii_url is not None
    assert ascii_url.host == "buecher.de"


def test_numeric_ip_host_is_normalised() -> None:
    url = make_url("http://3232235777/", "text")
    assert url is not None
    assert (url.host, url.domain) == ("192.168.1.1", "192.168.1.1")
