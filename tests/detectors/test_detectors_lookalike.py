"""lookalike: techniques that imitate a protected domain, and the domains that must not match."""

from __future__ import annotations

import pytest

from mailward.detectors.lookalike import (
    LookalikeMatch,
    brand_in_host,
    damerau_levenshtein,
    find_lookalike,
    load_wordlist,
    skeleton,
)

PROTECTED = ("example.com",)


@pytest.mark.parametrize(
    ("domain", "technique", "detail"),
    [
        ("examp1e.com", "homoglyph", 'a "1" in place of "l"'),
        ("exarnple.com", "homoglyph", 'a "rn" in place of "m"'),
        ("EXAMPLE.CO", "tld-swap", '".co" in place of ".com"'),
        ("example-secure.com", "added-word", '"example" with another word added'),
        ("secure-example.net", "added-word", '"example" with another word added'),
        ("examplesupport.com", "added-word", '"example" with another word added'),
        ("ex-ample.com", "hyphenation", 'an extra "-"'),
        ("exmaple.com", "edit-distance", '"am" swapped to "ma"'),
        ("exmple.com", "edit-distance", '"a" left out'),
        (
            "login.example.com.evil.xyz",
            "subdomain-brand",
            '"example.com" written in front of evil.xyz',
        ),
        (
            "example.com-login.xyz",
            "subdomain-brand",
            '"example.com" written in front of com-login.xyz',
        ),
    ],
)
def test_techniques_hit_with_a_readable_detail(domain: str, technique: str, detail: str) -> None:
    found = find_lookalike(domain, PROTECTED)
    assert found is not None
    assert (found.protected, found.technique, found.detail) == ("example.com", technique, detail)


@pytest.mark.parametrize(
    "domain",
    [
        "example.com",
        "mail.example.com",  # the same registrable domain
        "unrelated.org",
        "exampleshop.com",  # a brand glued to an ordinary word
        "sample.com",  # two edits away
        "localhost",
    ],
)
def test_own_and_unrelated_domains_miss(domain: str) -> None:
    assert find_lookalike(domain, PROTECTED) is None


def test_punycode_homoglyph_of_paypal_hits_in_either_form() -> None:
    cyrillic = "p\u0430ypal.com"  # Cyrillic a
    ascii_form = cyrillic.encode("idna").decode()
    assert ascii_form.startswith("xn--")
    for form in (cyrillic, ascii_form):
        found = find_lookalike(form, ["paypal.com"])
        assert found == LookalikeMatch(
            ascii_form,
            "paypal.com",
            "punycode",
            found.distance if found else 0,
            'a Cyrillic "\u0430" among Latin letters',
        )


def test_unicode_domain_not_confusable_misses() -> None:
    assert find_lookalike("b\u00fccher.de", ["paypal.com"]) is None


def test_short_names_only_match_homoglyphs_or_tld_swaps() -> None:
    # "ibm"/"ibn": three-letter names one edit apart are mostly unrelated real organisations.
    assert find_lookalike("ibn.com", ["ibm.com"]) is None
    assert find_lookalike("ibm.co", ["ibm.com"]) is not None
    assert find_lookalike("dhl.com.co", ["dhl.com"]) is not None


def test_long_names_allow_two_edits() -> None:
    found = find_lookalike("bankofamercia.com", ["bankofamerica.com"])
    assert found is not None and found.technique == "edit-distance"
    assert find_lookalike("bnkofamercia.com", ["bankofamerica.com"]) is not None
    assert find_lookalike("bnkofamrcia.com", ["bankofamerica.com"]) is None


def test_closest_protected_domain_wins() -> None:
    found = find_lookalike("paypa1.com", ["paypal.com", "paypa.com"])
    assert found is not None and found.protected == "paypal.com"


@pytest.mark.parametrize(
    ("host", "brand"),
    [
        ("paypal.com-secure-login.xyz", "paypal.com"),
        ("paypal.account-check.xyz", "paypal.com"),
        ("secure-paypal.xyz", "paypal.com"),
        ("paypalsupport.net", "paypal.com"),
    ],
)
def test_brand_in_host_hits(host: str, brand: str) -> None:
    assert brand_in_host(host, ["paypal.com", "hp.com"]) == brand


@pytest.mark.parametrize(
    "host", ["www.paypal.com", "paypal.de", "shop.example.org", "hp.evil.xyz", "paypalooza.com"]
)
def test_brand_in_host_misses(host: str) -> None:
    assert brand_in_host(host, ["paypal.com", "hp.com"]) is None


def test_brand_in_host_accepts_bare_names() -> None:
    assert brand_in_host("login-netflix.example.net", ["netflix"]) == "netflix"
    assert brand_in_host("netflix.example.net", ["netflix"]) == "netflix"
    assert brand_in_host("netflix.com", ["netflix"]) is None


def test_skeleton_folds_ascii_and_unicode_confusions() -> None:
    assert skeleton("rnicrosoft") == skeleton("microsoft")
    assert skeleton("vvells") == skeleton("wells")
    assert skeleton("c1oudflare") == skeleton("cloudflare")
    assert skeleton("\u0440aypal") == skeleton("paypal")  # Cyrillic er
    assert skeleton("paypal") != skeleton("paypai-x")


def test_damerau_levenshtein_counts_transpositions_and_bounds() -> None:
    assert damerau_levenshtein("exmaple", "example") == 1
    assert damerau_levenshtein("kitten", "sitting") == 3
    assert damerau_levenshtein("kitten", "sitting", bound=1) == 2


def test_shipped_word_lists_load_and_unknown_names_fail() -> None:
    brands = load_wordlist("brands")
    freemail = load_wordlist("freemail")
    assert {"paypal.com", "microsoft.com", "dhl.com"} <= brands
    assert {"gmail.com", "gmx.de", "web.de"} <= freemail
    assert not any(entry.startswith("#") or not entry for entry in brands | freemail)
    with pytest.raises(ValueError):
        load_wordlist("../secrets")
    with pytest.raises(FileNotFoundError):
        load_wordlist("no_such_list")


def test_strict_mode_keeps_only_typo_tlds_and_keystroke_slips() -> None:
    brands = ["booking.com", "slack.com", "paypal.com"]
    assert find_lookalike("cooking.com", brands) is not None
    assert find_lookalike("cooking.com", brands, strict=True) is None  # c/b: not neighbours
    assert find_lookalike("slack.net", brands, strict=True) is None
    assert find_lookalike("slack.co", brands, strict=True) is not None
    assert find_lookalike("bpoking.com", brands, strict=True) is not None  # neighbour key
    assert find_lookalike("bookng.com", brands, strict=True) is not None  # letter dropped
    assert find_lookalike("paypa1.com", brands, strict=True) is not None  # homoglyphs stay


def test_documentation_domains_are_never_lookalikes_of_each_other() -> None:
    from mailward.detectors.lookalike import find_lookalike

    assert find_lookalike("example.org", ["example.com"]) is None
    assert find_lookalike("mail.example.net", ["example.com"]) is None
    # a real look-alike of a documentation domain is still found
    assert find_lookalike("examp1e.com", ["example.com"]) is not None
