"""lookalike's candidate index: against a long protected list it finds what comparing every
protected domain finds (the brute-force loops below are the reference)."""

from __future__ import annotations

import random
import re

import pytest

from mailward.detectors import lookalike
from mailward.detectors._edits import deletions, deletions_by_layers
from mailward.detectors.lookalike import LookalikeMatch, brand_in_host, find_lookalike

BRANDS = frozenset(lookalike.load_wordlist("brands")) | {"example.com", "mycorp.de"}


def _slow_find(host: str, protected: frozenset[str], strict: bool) -> LookalikeMatch | None:
    split = lookalike._split(host)
    if split is None:
        return None
    cand = split[1]
    names = lookalike._index(protected).names
    if any(p.domain == cand.domain for p in names):
        return None
    best = None
    flat = cand.name.replace("-", "")
    for prot in names:
        if not lookalike._may_match(host, cand, flat, prot):
            continue
        found = lookalike._compare(cand, prot) or lookalike._subdomain_brand(host, cand, prot)
        if found is not None and strict and not lookalike._strict_ok(found, cand, prot):
            continue
        if found is not None and (best is None or lookalike._rank(found) < lookalike._rank(best)):
            best = found
    return best


def _slow_brand(host: str, brands: frozenset[str]) -> str | None:
    split = lookalike._split(host)
    if split is None:
        return None
    subdomain, cand = split
    tokens = set(re.split(r"[.-]", subdomain)) | set(cand.name.split("-"))
    for brand, name in lookalike._brand_names(brands)[0]:
        if cand.name == name:
            continue
        if name in tokens or lookalike._has_added_word(cand.name, name):
            return brand
        if any(lookalike._has_added_word(label, name) for label in subdomain.split(".")):
            return brand
    return None


def _variants(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz0-"
    out = []
    for brand in rng.sample(sorted(BRANDS), 40):
        name, _, suffix = brand.partition(".")
        chars = list(name)
        at = rng.randrange(len(chars))
        edits = [
            name[:at] + rng.choice(letters) + name[at + 1 :],
            name[:at] + rng.choice(letters) + name[at:],
            name[:at] + name[at + 1 :],
            name[:at] + rng.choice(letters) + name[at + 2 :] + rng.choice(letters),
            name.replace("l", "1").replace("m", "rn"),
        ]
        out += [f"{e}.{rng.choice(['com', 'co', 'xyz', suffix])}" for e in edits if e]
        out += [f"{name}-secure.xyz", f"login.{brand}.evil.xyz", f"my{name}.net", f"www.{brand}"]
    return out


def test_index_finds_what_comparing_every_domain_finds() -> None:
    hosts = _variants(random.Random(3))
    protected = frozenset(BRANDS)
    matched = 0
    for host in hosts:
        for strict in (False, True):
            expected = _slow_find(host, protected, strict)
            assert find_lookalike(host, protected, strict=strict) == expected, (host, strict)
            matched += expected is not None
    assert matched > len(hosts)  # the variants mostly hit: the comparison is not vacuous


def test_brand_in_host_finds_what_the_full_scan_finds() -> None:
    hosts = [*_variants(random.Random(4)), "a.b.securepaypal.support.de", "paypal.com-x.xyz"]
    named = 0
    for host in hosts:
        expected = _slow_brand(host, BRANDS)
        assert brand_in_host(host, BRANDS) == expected, host
        named += expected is not None
    assert named > len(hosts) // 10  # "x-brand", "brandword" and subdomain forms


@pytest.mark.parametrize(
    ("host", "technique"),
    [
        ("arnericanexpress.com", "homoglyph"),
        ("americnexpres.com", "edit-distance"),  # two edits in a 15-letter name
        ("paypal.com.account-verify.xyz", "subdomain-brand"),
        ("secure-coinbase.com", "added-word"),
    ],
)
def test_long_list_hits(host: str, technique: str) -> None:
    found = find_lookalike(host, BRANDS)
    assert found is not None and found.technique == technique


@pytest.mark.parametrize("host", ["wikipedia.org", "paypal.com", "mail.google.com"])
def test_long_list_misses(host: str) -> None:
    assert find_lookalike(host, BRANDS, strict=True) is None


def _candidates_by_lookups(index: lookalike._Index, host: str, cand: lookalike._Name) -> list[int]:
    """The candidate positions found by one table lookup per string (the former way)."""
    flat = cand.name.replace("-", "")
    keys = [cand.name, flat, cand.skeleton, *cand.name.split("-")]
    keys.extend(lookalike._affixes(flat, index.longest))
    keys.extend(lookalike._boundary_slices(host))
    found = {at for key in keys for at in index.exact.get(key, ())}
    size = len(cand.name)
    if size <= lookalike._MIN_EDIT2:
        found.update(
            at for d in deletions_by_layers(cand.name, 1) for at in index.near1.get(d, ())
        )
    if any(abs(size - n) <= 2 for n in index.long_lengths):
        found.update(
            at for d in deletions_by_layers(cand.name, 2) for at in index.near2.get(d, ())
        )
    return sorted(found)


def test_candidates_by_set_intersection_equal_the_lookups() -> None:
    hosts = [
        *_variants(random.Random(5)),
        "paypal.com.", "PAYPAL-secure.xyz", "xn--pypal-4ve.com", "p\u0430ypal.com", "192.168.0.1",
        "user@paypal.com.evil.xyz", "a.b.c.d.e.f.example.org", "g00gle.com", "micros0ft-login.co",
        "ab.com", "abcdefghijklmnopqrstuvwxyz.com", "secure-login-paypal-account.co.uk",
    ]
    index = lookalike._index(frozenset(BRANDS))
    compared = 0
    for host in hosts:
        ascii_host = lookalike.host_to_ascii(host)
        split = lookalike._split(ascii_host)
        if split is None:
            continue
        cand = split[1]
        flat = cand.name.replace("-", "")
        expected = _candidates_by_lookups(index, ascii_host, cand)
        assert lookalike._candidates(index, ascii_host, cand, flat) == expected, host
        compared += bool(expected)
    assert compared > 200


def test_brand_in_host_equals_the_brute_force_on_edge_hosts() -> None:
    hosts = ["paypal.com.", "PAYPAL-secure.xyz", "xn--pypal-4ve.com", "paypal.account-check.xyz",
             "secure-paypal.xyz", "www.paypal.com", "paypal.de", "192.168.0.1", "amazon-amazon.co",
             "login.microsoftonline.evil.com", "appleid.apple.com.verify.io"]
    for host in hosts + _variants(random.Random(6)):
        ascii_host = lookalike.host_to_ascii(host)
        assert brand_in_host(ascii_host, BRANDS) == _slow_brand(ascii_host, BRANDS), host


def test_deletions_equal_the_layered_deletions() -> None:
    rng = random.Random(7)
    words = ["", "a", "aa", "ab", "aab", "abba", "paypal", "xn--pypal-4ve", "ünïcödé", "aaaaaaaa"]
    words += ["".join(rng.choice("abc-1") for _ in range(rng.randint(0, 14))) for _ in range(300)]
    for word in words:
        for depth in (0, 1, 2, 3):
            assert deletions(word, depth) == deletions_by_layers(word, depth), (word, depth)
