"""The brand-name matcher's whole-word search by regex gives what the find loop gives."""

from __future__ import annotations

import random

from mailward.data._names import _word_positions, _word_positions_by_find


def test_word_positions_agree_with_the_find_loop() -> None:
    rng = random.Random(15)
    words = [b"ups", b"upsups", b"a", b"ing", b"bank", b"b2b", b"x_y"]
    pieces = [b"ups", b"upsups", b"gro", b"s", b" ", b".", b"@", b"_", b"-", b"\n", b"1", b"a",
              b"\xe9", b"ing", b"bank", b"b2b", b"x_y", b"UPS"]
    texts = [b"", b"ups", b"groups", b"ups.", b"_ups", b"ups_", b"upsupsups", b"\xe9ups\xe9"]
    texts += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(5000)]
    for text in texts:
        for word in words:
            assert _word_positions(text, word) == _word_positions_by_find(text, word), (text, word)


def test_a_word_inside_a_longer_word_is_not_found() -> None:
    assert _word_positions(b"groups ups setups ups_x (ups)", b"ups") == [7, 25]
