"""The brand-name matcher's prefilters (no words set for one-word names, a literal piece of a
name looked for before it is matched in place) find what the plain way finds."""

from __future__ import annotations

import random

from mailward.data._names import NameIndex, _needle, compile_name
from mailward.data.brands import _patterns, load_registry


def test_needle_is_a_literal_piece_of_the_name() -> None:
    assert _needle(compile_name("eon", "E.ON")) == b"e.on"
    assert _needle(compile_name("anpost", "An Post")) == b"post"
    assert _needle(compile_name("att", "AT&T")) == b"at&t"
    assert _needle(compile_name("paypal", "PayPal")) == b""


def test_prefiltered_find_equals_the_plain_find_on_the_shipped_names() -> None:
    patterns = _patterns(load_registry(None).brands.values())
    fast, plain = NameIndex(patterns), NameIndex(patterns, prefilter=False)
    rng = random.Random(9)
    names = sorted({p.name for p in patterns})
    pieces = [" ", "  ", "\n", ".", "-", "&", "@", "_", "x", "é", "e", "on", "t", "at", "post",
              "An", "E.ON", "E. ON", "e-on", "AT & T", "1&1", "T-Mobile", "T Mobile", ".com"]
    texts = ["E.ON Next bills", "e.on", "E . ON", "An  Post\nparcel", "AT&T and T-Online", ""]
    for _ in range(4000):
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 12))]
        parts += [rng.choice(names) for _ in range(rng.randint(0, 3))]
        rng.shuffle(parts)
        texts.append("".join(rng.choice(("", " ")) + p for p in parts))
    found_any = 0
    for text in texts:
        for sender_name in (False, True):
            expected = plain.find(text, sender_name=sender_name)
            assert fast.find(text, sender_name=sender_name) == expected, (text, sender_name)
            found_any += bool(expected)
    assert found_any > 1000  # the texts do name brands, single- and multi-word ones
    assert [p.key for p in fast.find("E.ON Next and An Post")] == [
        p.key for p in plain.find("E.ON Next and An Post")
    ] != []
