"""The brand-name matcher's automaton path (key words and the names' other telling words found
in one Aho-Corasick pass; a name's literal piece skipped when its key occurs a few times) finds
what the split path and the plain way find."""

from __future__ import annotations

import random

import pytest

from mailward.data._names import (
    AUTOMATON_FROM,
    NameIndex,
    _KeyFinder,
    _word_positions,
    compile_name,
    fold,
)
from mailward.data.brands import _patterns, load_registry

_PATTERNS = _patterns(load_registry(None).brands.values())

#: Hand-written texts: names at the start and end, upper case, several words, punctuation
#: inside and around names, addresses and domains (never a name), non-ASCII, repeated keys.
_EDGES = [
    "PayPal",
    "paypal",
    "PAYPAL account",
    "your account at PayPal",
    "PayPal.",
    "paypal.com",
    "x@paypal.com",
    "paypal@x.com",
    ".paypal",
    "PayPal...",
    "(PayPal)",
    "PayPalx",
    "xpaypal",
    "E.ON",
    "e.on next",
    "E.ON Next",
    "E. ON",
    "on on on on on on E.ON",
    "on e.on on.e on",
    "An Post",
    "An  Post\nparcel",
    "an an an an an an post",
    "post An",
    "AT&T",
    "at & t",
    "t t t t t AT&T t",
    "don't can't won't AT&T",
    "T-Online t-online.de T-Mobile",
    "1&1 1 1 1 1 1 1&1",
    "Bank of America",
    "bank of  america",
    "America, bank of",
    "U.S. Bank",
    "u.s. bank",
    "Crédit Agricole",
    "CRÉDIT AGRICOLE",
    "Pay\u200bPal",
    "PayPal\u2014DHL",
    "«Amazon»",
    "xn--pypal-4ve.com PayPal",
    "Google Pay Google Google Account",
    "Yahoo! Mail",
    "Hello bank!",
    "WEB.DE",
    "web.de",
    "mail.com",
    "Microsoft 365 and Office 365",
    "Apple ID, Apple Pay, App Store",
    "Chase",
    "Orange",
    "Free Mobile",
    "",
    " ",
    "...",
]


def _random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    names = sorted({p.name for p in _PATTERNS})
    pieces = [" ", "  ", "\n", ".", "-", "&", "@", "_", "x", "é", "e", "on", "t", "at", "post",
              "An", "E.ON", "E. ON", "e-on", "AT & T", "1&1", "T-Mobile", "T Mobile", ".com",
              "the", "of", "by", "s", "bank", "America", "Google", "mail", "Yahoo", "!", "'"]
    texts = []
    for _ in range(count):
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 40))]
        parts += [rng.choice(names) for _ in range(rng.randint(0, 4))]
        rng.shuffle(parts)
        texts.append("".join(rng.choice(("", " ")) + p for p in parts))
    return texts


def test_the_automaton_is_used_for_long_texts_only() -> None:
    index = NameIndex(_PATTERNS)
    assert index._finder is not None
    short = "PayPal " * ((AUTOMATON_FROM - 1) // 7)
    assert len(fold(short)) < AUTOMATON_FROM <= len(fold(short + "PayPal "))


@pytest.mark.parametrize("seed", [1, 2])
def test_automaton_and_split_find_what_the_plain_way_finds(seed: int) -> None:
    automaton = NameIndex(_PATTERNS, automaton_from=0)
    split = NameIndex(_PATTERNS, automaton_from=None)
    default = NameIndex(_PATTERNS)
    plain = NameIndex(_PATTERNS, prefilter=False)
    assert split._finder is None and plain._finder is None
    found_any = 0
    texts = [*_EDGES, " ".join(_EDGES), *_random_texts(seed, 3000)]
    for text in texts:
        for sender_name in (False, True):
            expected = plain.find(text, sender_name=sender_name)
            assert automaton.find(text, sender_name=sender_name) == expected, (text, sender_name)
            assert split.find(text, sender_name=sender_name) == expected, (text, sender_name)
            assert default.find(text, sender_name=sender_name) == expected, (text, sender_name)
            found_any += len(expected) > 1
    assert found_any > 1000  # the texts name several brands, single- and multi-word ones


def test_edge_texts_find_what_they_should() -> None:
    index = NameIndex(_PATTERNS, automaton_from=0)
    assert [p.name for p in index.find("PayPal")] == ["PayPal"]
    assert index.find("x@paypal.com") == index.find("paypal.com") == []
    assert index.find("PayPalx") == []
    assert [p.name for p in index.find("on on on on on on E.ON")] == ["E.ON"]
    assert [p.name for p in index.find("t t t t t AT&T t")] == ["AT&T"]
    assert [p.name for p in index.find("bank of  america")] == ["Bank of America"]


def test_key_finder_positions_are_the_whole_word_positions() -> None:
    words = [b"paypal", b"on", b"t", b"1", b"e", b"bank", b"america", b"x_y"]
    entries = {w: ((compile_name(w.decode(), w.decode()), b""),) for w in words}
    finder = _KeyFinder(entries)
    rng = random.Random(3)
    pieces = [b"paypal", b"on", b"t", b"1", b"e", b"bank", b"america", b"x_y", b"x", b"_", b" ",
              b"\n", b".", b"-", b"@", b"&", b"paypalx", b"on1", b"tt"]
    texts = [b"", b" ", b"on", b"on on", b"onon", b"t.t", b"x_y", b"x_y_z", b"paypal."]
    texts += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    for text in texts:
        expected = {w: _word_positions(text, w) for w in words}
        expected = {w: p for w, p in expected.items() if p}
        assert finder.positions(text) == expected, text


def test_strict_names_count_in_display_names_only() -> None:
    strict = compile_name("orange", "Orange", strict=True)
    loose = compile_name("paypal", "PayPal")
    index = NameIndex([strict, loose], automaton_from=0)
    text = "Orange and PayPal " * 10
    assert [p.name for p in index.find(text)] == ["PayPal"]
    assert [p.name for p in index.find(text, sender_name=True)] == ["Orange", "PayPal"]
