"""The From reader's visible-text shortcut gives what the character-by-character filter gives."""

from __future__ import annotations

import random
import unicodedata

from mailward.detectors._from_header import _hidden_in_name, _is_invisible, _plain, _visible


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


def test_no_printable_ascii_character_is_invisible() -> None:
    # what the _plain shortcut rests on, for every ASCII character: those it passes as plain
    # are never invisible, and tab and the controls it refuses are the general path's to judge
    for code in range(128):
        char = chr(code)
        if _plain(char):
            assert not _is_invisible(char), repr(char)
    assert not _plain("a\tb") and not _plain("x\x7f") and not _plain("caf\u00e9")


def _hidden_slow(name: str) -> str:
    """_hidden_in_name without its shortcut for plain text."""
    for i, char in enumerate(name):
        if not _is_invisible(char):
            continue
        if char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" or (
            unicodedata.category(char) == "Cc"
        ):
            return char
        around = name[max(i - 1, 0) : i] + name[i + 1 : i + 2]
        if not around or any(c.isascii() for c in around):
            return char
    return ""


def test_hidden_in_name_agrees_with_the_character_by_character_search() -> None:
    rng = random.Random(11)
    alphabet = [chr(i) for i in range(0, 128)] + list("\u200b\u202e\u034f\u200dé\u0627\ufeff")
    names = ["", "Jane Doe", "PayPal\u200b", "a\tb", "\u0627\u200d\u0644"]
    names += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(5000)]
    for name in names:
        assert _hidden_in_name(name) == _hidden_slow(name), repr(name)
