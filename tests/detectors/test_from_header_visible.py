"""The From reader's visible-text shortcut gives what the character-by-character filter gives."""

from __future__ import annotations

import random

from mailward.detectors._from_header import _is_invisible, _visible


def _slow(text: str) -> str:
    return "".join(c for c in text if not _is_invisible(c))


def test_visible_agrees_with_the_character_filter() -> None:
    rng = random.Random(10)
    alphabet = [chr(i) for i in range(0, 128)] + list("\u200b\u202e\u034f\u3164é€\u00ad\ufeff")
    texts = ["", "Alice <alice@example.com>", "a\tb", "x\x00y", "\x7f", "plain text"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(5000)]
    for text in texts:
        assert _visible(text) == _slow(text), repr(text)


def test_controls_and_format_characters_are_dropped_tabs_kept() -> None:
    assert _visible("pay\u200bpal\x00.com\t") == "paypal.com\t"
    assert _visible("ceo@example.com") == "ceo@example.com"
