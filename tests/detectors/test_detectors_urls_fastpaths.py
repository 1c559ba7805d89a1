"""urls detector fast paths: they skip work only where the full check could not hit.

The script-link pre-filter must let every disguised script link through to the HTML parser,
the brand keyword gate must not hide a brand the pattern would find, and the domain-set
look-ups must compare as the plain suffix test does.
"""

from __future__ import annotations

import random

import pytest
from helpers_detectors import address, by_symbol, html_link, make_message, run

from mailward.detectors import _linkchecks, urls
from mailward.detectors._domains import in_domains, parent_domains
from mailward.detectors._linkchecks import brand_unrelated_hits
from mailward.detectors.urls import LinkMismatchDetector as Detector
from mailward.mime.urls import make_url

DISGUISED = [
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#X6A;avascript:alert(1)">x</a>',
    '<a href="java&Tab;script:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="javascript&#58;alert(1)">x</a>',
    '<a href="jav&#1;ascript:alert(1)">x</a>',  # a reference that decodes to nothing
    '<a href="java\u017fcript:alert(1)">x</a>',  # long s: IGNORECASE reads it as "s"
    '<a href="data&nbsp;:text/html,x">x</a>',
    '<a href=" J A V A S C R I P T :alert(1)">x</a>',
    '<a href="java\x01script:alert(1)">x</a>',
    '<iframe src="VBScript:msgbox(1)"></iframe>',
    '<area href="dat&#x2\na:text/html,x">',
]


def _parser_finds(text: str) -> list[str]:
    parser = urls._ScriptLinkParser()
    parser.feed(text)
    parser.close()
    return parser.found


@pytest.mark.parametrize("html", DISGUISED)
def test_disguised_script_links_pass_the_prefilter_and_hit(html: str) -> None:
    assert _parser_finds(html)
    assert urls._may_hold_script_link(html)
    assert "URL_SCRIPT_SCHEME" in by_symbol(
        run(Detector(Detector.Settings()), make_message(html=html))
    )


@pytest.mark.parametrize(
    "html",
    [
        '<p style="color:red">Hello&nbsp;&amp; welcome &#8217;</p>'
        '<a href="https://example.com/data/script.js?a=1&amp;b=2">read</a>',
        "<div data-id=7>Your data is safe</div>",
    ],
)
def test_ordinary_html_skips_the_parser(html: str) -> None:
    assert not urls._may_hold_script_link(html)


def _encode(char: str, rng: random.Random) -> str:
    way = rng.randrange(6)
    if way == 0:
        return f"&#{ord(char)};"
    if way == 1:
        return f"&#x{ord(char):X}"
    if way == 2:
        return char.upper()
    if way == 3:
        return rng.choice(["\t", "\n", " ", "\x0b", "&Tab;", "&NewLine;", "&#2;"]) + char
    return char


def test_prefilter_never_drops_what_the_parser_finds() -> None:
    rng = random.Random(1)
    for _ in range(400):
        scheme = rng.choice(["javascript:", "vbscript:", "data:"])
        value = "".join(_encode(c, rng) for c in scheme) + "x"
        html = f'<p>text &nbsp;</p><a title="t" href="{value}">go</a>'
        if _parser_finds(html):
            assert urls._may_hold_script_link(html), html


# --- brand named, brand not linked: the keyword gate ------------------------------------------


def _brand_hits(subject: str) -> list[str]:
    msg = make_message(
        subject=subject,
        from_=(address("notice@mailer.example"),),
        urls=(html_link("https://elsewhere.example/login", "Log in"),),
    )
    return [h.detail for h in brand_unrelated_hits(msg)]


@pytest.mark.parametrize("subject", ["Your PAYPAL account", "DocuSign: sign now", "Docu\u017fign"])
def test_brand_named_in_any_case_hits(subject: str) -> None:
    assert _brand_hits(subject)


@pytest.mark.parametrize("subject", ["Your account", "payday loans"])
def test_no_brand_named_misses(subject: str) -> None:
    assert _brand_hits(subject) == []


# --- domain sets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "domains", "expected"),
    [
        ("a.example.com", ("example.com",), True),
        ("example.com", ("other.org", "example.com"), True),
        ("notexample.com", ("example.com",), False),
        ("example.com", ("a.example.com",), False),
        ("example.com", (), False),
    ],
)
def test_in_domains_matches_the_plain_suffix_test(
    domain: str, domains: tuple[str, ...], expected: bool
) -> None:
    plain = any(domain == d or domain.endswith("." + d) for d in domains)
    assert in_domains(domain, domains) is plain is expected


def test_parent_domains_lists_each_parent() -> None:
    assert parent_domains("a.b.example.com") == [
        "a.b.example.com",
        "b.example.com",
        "example.com",
        "com",
    ]
    assert parent_domains("localhost") == ["localhost"]


def test_risky_text_by_branches_equals_the_alternation() -> None:
    rng = random.Random(11)
    pieces = [b"\xc5\xbf", b"\xc5", b"\xbf", b"\xc4\xb0", b"\xc4\xb1", b"\xc4\xb2", b"\xc4",
              b"&", b"&tab", b"&ta", b"&colon;", b"&newline", b"&nbsp;", b"&amp;", b"&idot",
              b"&inodot", b"&imath", b"&fjlig", b"tab", b"colon", b"a", b" ", b"<p>", b"\xc3\xa9"]
    texts = [b"", b"&", b"\xc5", b"&tab", b"x&colon", b"\xc4\xb1", b"\xc5\xbf"]
    texts += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 5))) for _ in range(4000)]
    hits = 0
    for text in texts:
        expected = urls._RISKY_TEXT.search(text) is not None
        assert urls._risky_text(text) is expected, text
        hits += expected
    assert 500 < hits < len(texts) - 500


_LINKS = [
    "https://example.com/",
    "https://example.com/page",
    "https://example.com/page?url=https://evil.example/",
    "https://example.com/page#frag?url=https://evil.example/",
    "https://example.com/page?",
    "HTTPS://EXAMPLE.COM/A?U=https://evil.example/",
    "https://www.google.com/url?q=https://evil.example/",
    "https://www.google.com/amp/s/evil.example/path",
    "https://google.com/amp/s/evil.example/path",
    "https://news.google.com./amp/s/evil.example/",
    "https://t.umblr.com/redirect?z=https%3A%2F%2Fevil.example%2F",
    "https://www.youtube.com/redirect",
    "https://user:pw@example.com/?next=//evil.example/",
    "https://user@www.google.com/url?q=https://evil.example/",
    "https://bücher.example/?u=https://evil.example/",
    "https://xn--bcher-kva.example/amp/s/x",
    "http://192.168.0.1/?redirect=https://evil.example/",
    "http://[::1]/?url=https://evil.example/",
    "https://example.com:8080/a?go=https://evil.example/",
    "https://example.com/a\\b?to=https://evil.example/",
    "https://bing.com/ck/a?u=a1aHR0cHM6Ly9ldmlsLmV4YW1wbGUv",
    "https://[bad/?url=https://evil.example/",
]


@pytest.mark.parametrize("link", _LINKS)
def test_redirect_targets_without_a_query_equal_the_split(link: str) -> None:
    url = make_url(link, "html")
    assert url is not None
    assert _linkchecks._redirect_targets(url) == _linkchecks._targets(url.url, url.host)


def test_redirect_targets_shortcut_is_taken_and_skips_the_split() -> None:
    plain = make_url("https://example.com/page#x", "html")
    listed = make_url("https://www.google.com/amp/s/evil.example/", "html")
    assert plain is not None and listed is not None
    before = _linkchecks._targets.cache_info().misses
    assert _linkchecks._redirect_targets(plain) == ()
    assert _linkchecks._targets.cache_info().misses == before
    assert _linkchecks._redirect_targets(listed) == ("https://evil.example/",)
