"""HTML read the way a browser reads it: the cases where hand-written parsers differ."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded
from mailward.mime import parse_message
from mailward.mime._html import HtmlScan, scan_html
from mailward.model import ParsedMessage

LIMITS = LimitSettings()


def _parse(html: str, plain: str | None = None, limits: LimitSettings = LIMITS) -> ParsedMessage:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "html"
    if plain is not None:
        msg.set_content(plain)
        msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    return parse_message(msg.as_bytes(), limits)


def _links(html: str) -> list[tuple[str, str | None]]:
    return [(u.url, u.anchor_text) for u in _parse(html).urls]


def _both_modes(html: str) -> list[HtmlScan]:
    return [scan_html(html, want_text=True), scan_html(html, want_text=False)]


def test_unclosed_tags_run_to_the_end() -> None:
    assert _links('<p>Go <a href="http://open.example/x">click <b>here') == [
        ("http://open.example/x", "click here")
    ]


def test_unquoted_attribute_value_is_read_whole() -> None:
    html = '<a href=http://u.example/p?x=1&y=2"z" class=c>u</a>'
    assert _links(html) == [('http://u.example/p?x=1&y=2"z"', "u")]


def test_unterminated_quote_swallows_the_next_tag_as_a_browser_does() -> None:
    html = (
        '<div style="x><a href="http://no.example/">n</a></div><a href="http://yes.example/">y</a>'
    )
    assert [url for url, _ in _links(html)] == ["http://yes.example/"]


def test_entity_encoded_href_is_decoded() -> None:
    (url,) = _parse('<a href="&#104;ttp&#x3a;//ent.example/">e</a>').urls
    assert (url.scheme, url.host) == ("http", "ent.example")


def test_legacy_entity_without_semicolon_is_not_decoded_in_attributes() -> None:
    # Browsers leave "&sect" alone in an attribute when a letter or digit follows it.
    assert _links('<a href="http://q.example/?a=1&sectionid=2">q</a>') == [
        ("http://q.example/?a=1&sectionid=2", "q")
    ]
    assert _links('<a href="http://q.example/?a=1&amp;b=2">q</a>') == [
        ("http://q.example/?a=1&b=2", "q")
    ]


def test_noscript_content_is_read_as_mail_clients_show_it() -> None:
    # Mail clients run no scripts, so they render <noscript>: its links count.
    assert _links('<noscript><a href="http://ns.example/">n</a></noscript>') == [
        ("http://ns.example/", "n")
    ]


def test_template_and_textarea_content_are_not_links() -> None:
    html = (
        '<template><a href="http://tpl.example/">t</a></template>'
        '<textarea><a href="http://ta.example/">x</a></textarea>'
    )
    assert _parse(html).urls == ()
    assert '<a href="http://ta.example/">x</a>' in scan_html(html).text


def test_uppercase_tags_and_attributes() -> None:
    html = '<BASE HREF="https://cdn.example.org/d/"><A HREF="page.html">Up</A><AREA HREF=/m>'
    assert _links(html) == [
        ("https://cdn.example.org/d/page.html", "Up"),
        ("https://cdn.example.org/m", ""),
    ]


def test_base_applies_to_links_before_it_as_in_a_browser() -> None:
    assert _links('<a href="p.html">p</a><base href="https://b.example/x/">') == [
        ("https://b.example/x/p.html", "p")
    ]
    assert _links('<base target="_top"><a href="p.html">p</a>') == [("p.html", "p")]


def test_nested_anchor_closes_the_open_one() -> None:
    html = '<a href="http://one.example/">one<a href="http://two.example/">two</a></a>'
    assert _links(html) == [("http://one.example/", "one"), ("http://two.example/", "two")]


def test_svg_link_with_xlink_href() -> None:
    html = '<svg><a xlink:href="http://svg.example/"><text>s</text></a></svg>'
    assert _links(html) == [("http://svg.example/", "s")]
    assert _parse("<svg><a><text>s</text></a></svg>").urls == ()


def test_nul_bytes_are_handled_as_a_browser_does() -> None:
    scan = scan_html('<a href="http://nul.example/">a\x00b</a>')
    assert [(link.target, link.anchor_text) for link in scan.links] == [
        ("http://nul.example/", "ab")
    ]
    # In an attribute NUL becomes U+FFFD: no browser runs this as javascript:.
    (bad,) = scan_html('<a href="java\x00script:alert(1)">x</a>').links
    assert bad.target == "java\ufffdscript:alert(1)"
    assert all(u.scheme != "javascript" for u in _parse('<a href="java\x00script:x()">x</a>').urls)


def test_anchor_text_is_the_rendered_text() -> None:
    html = (
        '<a href="http://x.example/">P<span>ay</span>Pal<script>no</script></a>'
        '<a href="http://y.example/"><div>www.y.example</div><div>Log in</div></a>'
    )
    expected = [("http://x.example/", "PayPal"), ("http://y.example/", "www.y.example Log in")]
    assert _links(html) == expected
    for scan in _both_modes(html):
        assert [(link.target, link.anchor_text) for link in scan.links] == expected


def test_links_only_mode_gives_the_same_links_as_text_mode() -> None:
    html = (
        '<form action="http://f.example/"><a href="http://in.example/">in <i>form</i></a></form>'
        '<p><a href="http://a.example/">a</p><p>still a</a></p>'
    )
    with_text, links_only = _both_modes(html)
    assert links_only.links == with_text.links
    assert links_only.text == ""
    assert with_text.text == "in form\na\nstill a"


def test_visible_text_leaves_out_what_is_not_rendered() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style><xml><w:v>96</w:v></xml></head>"
        "<body><h1>Head</h1>line <b>one</b><br>two<script>hidden()</script>"
        "<!-- note --><iframe>frame text</iframe><xml>data</xml></body></html>"
    )
    assert scan_html(html).text == "Head\nline one\ntwo"


def test_outlook_conditional_comment_content_is_kept() -> None:
    html = (
        '<!--[if mso]><a href="http://mso.example/">Outlook</a><![endif]-->'
        '<!-- <a href="http://plain-comment.example/">no</a> -->'
    )
    assert _links(html) == [("http://mso.example/", "Outlook")]
    assert scan_html(html).text == "Outlook"


def test_not_outlook_block_is_read() -> None:
    # The usual "everyone but Outlook" markup: the content between is ordinary markup.
    html = '<!--[if !mso]><!--><a href="http://all.example/">all</a><!--<![endif]-->'
    assert _links(html) == [("http://all.example/", "all")]


def test_stray_endif_does_not_hide_what_follows() -> None:
    html = '<!-- x <![endif]--><a href="http://after.example/">after</a>'
    assert _links(html) == [("http://after.example/", "after")]
    assert _links('<!-- x <![endif]<a href="http://inside.example/">no</a> -->') == []


def test_links_are_bounded_by_max_urls() -> None:
    html = "".join(f'<a href="http://h{i}.example/">{i}</a>' for i in range(30))
    parsed = _parse(html, limits=LimitSettings(max_urls=10))
    assert len(parsed.urls) == 10
    assert any("links" in d for d in parsed.defects)
    assert len(_parse(html).urls) == 30


def test_deep_nesting_is_read_in_bounded_time() -> None:
    html = "<div>" * 5000 + '<a href="http://deep.example/">deep</a>' + "</div>" * 5000
    start = time.perf_counter()
    scans = _both_modes(html)
    assert time.perf_counter() - start < 5
    for scan in scans:
        assert [(link.target, link.anchor_text) for link in scan.links] == [
            ("http://deep.example/", "deep")
        ]
    assert scans[0].text == "deep"


@pytest.mark.parametrize(
    "unit",
    [
        "<div>",  # plain depth
        "<i class=c{i}>",  # a long list of distinct formatting elements
        "<div><marquee></div></marquee>",  # end tags the parser ignores (not in scope)
        "<b><div></b>",  # blocks kept open by the adoption agency
    ],
)
def test_nesting_bomb_is_refused_quickly(unit: str) -> None:
    html = "".join(unit.format(i=i) for i in range(60_000)) + '<a href="http://x.example/">x</a>'
    start = time.perf_counter()
    with pytest.raises(LimitExceeded):
        _parse(html)
    assert time.perf_counter() - start < 5


def test_wide_flat_markup_is_not_a_nesting_bomb() -> None:
    html = '<div><a href="http://w.example/">w</a> <img src=x><br><p>para</div>\n' * 20_000
    parsed = _parse(html)
    assert [(u.url, u.anchor_text) for u in parsed.urls] == [("http://w.example/", "w")]
    assert parsed.text.count("para") == 20_000
