"""The identity claims' shortcuts (link texts looked up once each, alt texts read up to an end
position instead of from a copy) give what the plain way gives."""

from __future__ import annotations

import html
import random

from mailward.config.settings import LimitSettings
from mailward.data.brands import load_registry
from mailward.identity import _claims
from mailward.mime import parse_message


def test_alt_texts_stop_where_the_slice_stopped() -> None:
    for cut in range(-20, 5):
        text = "x" * (200_000 + cut) + '<img alt="PayPal logo"> alt=\'DHL\''
        plain = [
            html.unescape(m.group(1) or m.group(2) or "")
            for m in _claims._ALT.finditer(text[:200_000])
        ]
        assert _claims.alt_texts(text) == plain
    assert _claims.alt_texts("x" * 199_970 + '<img alt="PayPal logo">') == ["PayPal logo"]
    assert _claims.alt_texts("x" * 199_990 + '<img alt="PayPal logo">') == []
    for text in ("x" * 200_000 + '<img alt="PayPal logo">', "é" * 199_970 + '<img alt="PayPal">'):
        assert _claims.alt_texts(text) == _claims.alt_texts_by_regex(text)


_ALT_EDGES = [
    "",
    'alt="at the start"',
    '<IMG ALT="PayPal">',
    "<img Alt='DHL' aLT=\"x\" alT='y'>",
    '<img salt="no" xalt="no" _alt="no" 1alt="no" -alt="yes">',
    '<img alt = "spaced" alt=\n"newline">',
    '<img alt="">',
    "<img alt=unquoted>",
    '<img alt="outer alt=\'inner\' ALT=\'inner2\'"> alt="after"',
    '<img alt="' + "x" * 201 + '"> alt="short"',
    '<img alt="&amp;PayPal&#33;">',
    "<img alt=\"Crédit Agricole\">",
    '<img alt="İstanbul"> alt="after a dotted capital I"',
    "".join(f'<img alt="logo {n}">' for n in range(60)),
    "altaltalt alt='x'altalt='y'",
]


def test_alt_texts_equal_the_regex_alone() -> None:
    rng = random.Random(4)
    pieces = ["alt", "ALT", "Alt", "aLt", "=", " ", '"', "'", "x", "salt", "<img ", ">", "é",
              'alt="', "ALT='", 'Alt = "', "xalt='",
              "PayPal", "\n", "&amp;", "İ"]
    texts = [*_ALT_EDGES, " ".join(_ALT_EDGES)]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(4000)]
    found = 0
    for text in texts:
        expected = _claims.alt_texts_by_regex(text)
        assert _claims.alt_texts(text) == expected, text
        found += bool(expected)
    assert found > 500
    assert len(_claims.alt_texts(_ALT_EDGES[13])) == 50
    assert _claims.alt_texts(_ALT_EDGES[4]) == ["yes"]
    assert _claims.alt_texts(_ALT_EDGES[8]) == ["outer alt='inner' ALT='inner2'", "after"]


def test_repeated_link_texts_claim_what_each_link_claims() -> None:
    registry = load_registry(None)
    links = [
        ('https://evil.example/a', "PayPal"), ('https://www.paypal.com/x', "PayPal"),
        ('https://evil.example/b', "PayPal"), ('https://other.example/', "DHL Express"),
        ('https://evil.example/c', "Shop now"), ('https://evil.example/d', "DHL Express"),
    ]  # fmt: skip
    body = "".join(f'<a href="{href}">{text}</a>\n' for href, text in links)
    raw = (
        "From: Shop <news@shop.example>\r\nTo: a@example.org\r\nSubject: s\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>" + body + "</body></html>\r\n"
    ).encode()
    msg = parse_message(raw, LimitSettings())
    assert sum(1 for u in msg.urls if u.anchor_text) == len(links)
    plain = [
        _claims.Claim(brand, "links", said)
        for url in msg.urls[:100]
        if url.anchor_text and not registry.is_esp(url.domain)
        for brand, said in registry.find_claims(url.anchor_text)
        if not registry.owns(brand, url.host, role="link")
    ]
    assert [c.brand.id for c in plain] == ["paypal", "paypal", "dhl", "dhl"]
    assert _claims._link_claims(msg, registry) == plain


def test_link_facts_worked_out_once_per_link_equal_the_plain_way() -> None:
    from mailward.identity import analysis

    registry = load_registry(None)
    hrefs = [
        "https://www.paypal.com/signin", "https://shop.example/a", "https://facebook.com/shop",
        "https://evil.example/x", "https://sites.google.com/view/x", "https://www.dhl.com/t",
        "https://other.example/", "mailto:a@shop.example",
    ]  # fmt: skip
    body = "".join(f'<a href="{h}">PayPal DHL link {i}</a>\n' for i, h in enumerate(hrefs))
    raw = (
        "From: PayPal DHL <news@shop.example>\r\nTo: a@example.org\r\nSubject: PayPal\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>" + body + "</body></html>\r\n"
    ).encode()
    msg = parse_message(raw, LimitSettings())
    facts = analysis._message_facts(msg, registry)
    links = analysis.link_destinations(msg, registry)
    sender_org = "shop.example"
    sender_brand = registry.brand_for_domain(sender_org)

    def own(link: analysis.Link) -> bool:
        if registry.is_hosted(link.host):
            return False
        return link.org == sender_org or (
            sender_brand is not None and registry.owns(sender_brand, link.host, role="link")
        )

    def elsewhere(link: analysis.Link, brand: _claims.Brand | None) -> bool:
        if link.tracked or own(link):
            return False
        if brand is not None and registry.owns(brand, link.host, role="link"):
            return False
        return link.org not in analysis.NEUTRAL_DOMAINS or registry.is_hosted(link.host)

    assert {c.claim.brand.id for c in facts.claims} >= {"paypal", "dhl"}
    for known in facts.claims:
        expected = tuple(sorted({lk.org for lk in links if elsewhere(lk, known.claim.brand)}))
        assert known.foreign == expected
    assert facts.elsewhere == tuple(lk for lk in links if elsewhere(lk, None))
    assert facts.links_to_sender == any(own(lk) for lk in links) is True
    assert {lk.org for lk in facts.elsewhere} >= {"evil.example", "other.example", "paypal.com"}
