"""The lures' C helper (``_lurescan.c``) gives what the Python ways give: the anchors at word
starts, the collapsed spaces, the folded marks; and the currency hints read as bytes."""

from __future__ import annotations

import array
import random
import re

import pytest

from mailward.detectors import _lure_phrases, _lure_tricks

pytestmark = pytest.mark.skipif(
    _lure_phrases.word_start_anchors is None, reason="the C helper was not built"
)

SPACES = re.compile(r"\s+")
#: the regex's own word starts (what the anchors must begin at), for the expected anchors
WORD_START = re.compile(r"(?<!\w)")
#: texts around the edges: the text's start and end, underscores, digits, letters that are
#: word characters (Latin-1 "ª" and "µ", Arabic-Indic digits, CJK) and ones that are not (a
#: dash, an emoji), anchors inside others' words, overlapping anchors, multi-word anchors,
#: anchors cut short by the text's end, the non-Latin-1 anchors ("sum of €"), repeats
EDGE_TEXTS = [
    "", "v", "verify", "xverify", "_verify", "1verify", "9 verify", "verify_", "verify your account",
    "your account has been suspended", "account suspended account susp accou", "ha has have hab",
    "\u00e9verify", "\u00e9 verify", "\u00aaverify", "\u00b5verify", "\u0660verify", "\u4e2dverify",
    "\u2014verify", "\U0001f600verify", "amount of \u20ac500 and sum of \u00a3", "fund of \u20ac",
    "d'ici 24h, d'ici 48 heures", "covid-19 relief", "(verify)[account]{wallet}", "gift card" * 3,
    "urgent\nurgent\turgent urgent.urgent", " " * 5 + "verify" + " " * 5, "within 24 hours",
    "your account your account", "a" * 300 + " verify", "conta conta-corrente",
]  # fmt: skip


def in_every_width(texts: list[str]) -> list[str]:
    """Each text as it is, and made two and four bytes a character (a wide character after it,
    behind a space: the words stay the same)."""
    return [t for text in texts for t in (text, text + " \u0100", text + " \U0001f600")]


def expected_anchors(matcher: _lure_phrases.PhraseMatcher, text: str) -> list[tuple[int, str]]:
    """At each word start of the regex, the longest anchor that starts there (plain Python)."""
    words = set(matcher.words)
    found = []
    for match in WORD_START.finditer(text):
        start = match.start()
        longest = [text[start:end] for end in range(start + 1, len(text) + 1)]
        held = [w for w in longest if w in words]
        if held:
            found.append((start, held[-1]))
    return found


def test_word_start_anchors_are_the_plain_search_on_edge_texts() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    for text in in_every_width(EDGE_TEXTS):
        expected = expected_anchors(matcher, text)
        assert matcher._anchors(text) == expected, text
        assert matcher._anchors_by_automaton(text) == expected, text
        assert matcher._anchors_by_regex(text) == expected, text
    assert matcher._anchors("verify your account") == [
        (0, "verify your "), (7, "your account"), (12, "account"),
    ]  # fmt: skip
    assert matcher._anchors("xverify _verify") == []


def test_word_start_anchors_are_the_automatons_on_random_texts() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    rnd = random.Random(71)
    words = [*rnd.sample(matcher.words, 200), "your", "account", "ha", "\u00e9", "\u0660", "x"]
    words += [w[: rnd.randint(1, len(w))] for w in rnd.sample(matcher.words, 50)]  # cut short
    seps = [" ", "", "-", "_", ". ", "\n", "\u00e9", "\u0131", "\u2028", "\U0001f600", "1"]
    hits = 0
    for _ in range(4_000):
        text = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(0, 12)))
        found = matcher._anchors(text)
        assert found == matcher._anchors_by_automaton(text), text
        hits += len(found)
    assert hits > 10_000


def test_a_table_the_helper_cannot_trust_is_refused() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    find = _lure_phrases.word_start_anchors
    assert find is not None
    good = matcher.table
    assert good is not None
    numbers = array.array("i")
    numbers.frombytes(good)
    broken_child = array.array("i", numbers)
    first = broken_child[1 + ord("v")]  # the node after "v": its first edge's target
    broken_child[1 + 128 + first + 3] = len(numbers) * 2
    broken_word = array.array("i", numbers)
    broken_word[1 + 128 + first] = 10**6  # a word index past the words
    broken_edges = array.array("i", numbers)
    broken_edges[1 + 128 + first + 1] = 10**6  # more edges than the table holds
    text = "v" + chr(numbers[1 + 128 + first + 2]) + " verify your account"  # that first edge
    for table in [b"", good[:-4], good + b"\0\0\0\0", broken_child.tobytes(), broken_edges.tobytes()]:
        with pytest.raises(ValueError, match="malformed table"):
            find(table, matcher.word_tuple, text)
    broken = broken_word.tobytes()
    with pytest.raises(ValueError, match="malformed table"):  # only where the word is found
        find(broken, matcher.word_tuple, "v")
    assert find(broken, matcher.word_tuple, "xv account") == [(3, "account")]
    with pytest.raises(TypeError):
        find(good, list(matcher.word_tuple), "verify")  # type: ignore[arg-type]


def test_prefix_table_lays_out_any_word_list() -> None:
    words = ("ab", "abc", "b", "\u00e9t\u00e9", "\u20ac5", "\U0001f600x")
    table = _lure_phrases.prefix_table(words)
    find = _lure_phrases.word_start_anchors
    assert find is not None
    text = "abc ab abd b \u00e9t\u00e9 x\u20ac5 \u20ac5 \U0001f600x"
    # "x\u20ac5": the euro sign follows a word character, no word starts there
    assert find(table, words, text) == [(0, "abc"), (4, "ab"), (7, "ab"), (11, "b"),
                                        (13, "\u00e9t\u00e9"), (21, "\u20ac5"),
                                        (24, "\U0001f600x")]  # fmt: skip
    assert find(_lure_phrases.prefix_table(()), (), text) == []


SPACE_PIECES = [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0",
                "\u1680", "\u2000", "\u2028", "\u3000", "a", "B", "\u00e9", "\u0100", "\U0001f600",
                "\x00", "\u200b", "x"]  # fmt: skip


def test_collapse_spaces_is_the_whitespace_pattern() -> None:
    collapse = _lure_phrases.collapse_spaces
    assert collapse is not None
    edges = ["", " ", "  ", "a", " a ", "\t", "a\x85", "\x85", "\xa0x\xa0", "\u00e9\xa0\xa0",
             "\u3000\u3000", "\U0001f600\n\n"]  # fmt: skip
    rnd = random.Random(5)
    randoms = ["".join(rnd.choices(SPACE_PIECES, k=rnd.randint(0, 20))) for _ in range(20_000)]
    for text in edges + randoms:
        expected = SPACES.sub(" ", text)
        result = collapse(text)
        assert result == expected, text
        assert result.isascii() == expected.isascii()  # the smallest width, as every str's
        assert _lure_phrases._split_spaces(text) == expected
    unchanged = "a b c"
    assert collapse(unchanged) is unchanged


def test_fold_marks_is_the_table_translation_then_the_collapse() -> None:
    fold_marks = _lure_phrases.fold_marks
    assert fold_marks is not None
    table = _lure_phrases._fold_table()
    marks = _lure_phrases._mark_table()
    pieces = [*SPACE_PIECES, "e\u0301", "\u0301", "\u0300\u0301", "\u200b", "\u00ad", "\u0430",
              "\u03bf", "\u1d00", "\ua731", "\u0251", "\ufeff", "\U0001d165", "\u4e2d", "?", "_"]
    rnd = random.Random(6)
    randoms = ["".join(rnd.choices(pieces, k=rnd.randint(0, 20))) for _ in range(20_000)]
    for text in ["", "e\u0301", "\u0301 \u0301", "P\u0430yp\u0430l", *randoms]:
        expected = SPACES.sub(" ", text.translate(table))
        result = fold_marks(text, marks)
        assert result == expected, text
        assert result.isascii() == expected.isascii()
    with pytest.raises(ValueError, match="malformed table"):
        fold_marks("x", marks[:-1])
    bitmap = bytearray(0x10000 // 8)
    bitmap[0x430 >> 3] |= 1 << (0x430 & 7)
    wide = bytes(bitmap) + array.array("I", [0x430, 0x10000]).tobytes()  # "\u0430" -> astral
    with pytest.raises(ValueError, match="wider"):
        fold_marks("\u0430", wide)
    assert fold_marks("\U0001f600\u0430", wide) == "\U0001f600\U00010000"


def test_fold_is_the_same_without_the_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(7)
    pieces = [*SPACE_PIECES, "E\u0301", "\u0430", "\u1d00", "\u00ad", "\u0130", "\u00df", "Vérifier"]
    texts = ["".join(rnd.choices(pieces, k=rnd.randint(0, 20))) for _ in range(5_000)]
    with_helper = [_lure_phrases.fold(t) for t in texts]
    monkeypatch.setattr(_lure_phrases, "collapse_spaces", None)
    monkeypatch.setattr(_lure_phrases, "fold_marks", None)
    assert [_lure_phrases.fold(t) for t in texts] == with_helper


@pytest.mark.parametrize("helper", [True, False])
def test_currency_hints_are_the_patterns_matches_either_way(
    helper: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By the C helper's letter runs, and by the automaton over the text's Latin-1 bytes."""
    if not helper:
        monkeypatch.setattr(_lure_tricks, "letter_runs", None)
    plain = re.compile(
        r"[$€£]|(?<![a-z])(?:usd|eur|gbp|btc|eth|usdt|bitcoins?|dollars?|pounds?|reais|euros?)"
        r"(?![a-z])"
    )
    assert not any("?" in hint for hint in _lure_tricks._LATIN1_HINTS)
    pieces = ["usd", "usdt", "eur", "euros", "btc", "bitcoin", "pounds", "reais", "$", "€", "£",
              "?", "\u4e2d", "\u0100", "\U0001f600", "\u00e9", "a", "z", "A", " ", "1", "\x00"]  # fmt: skip
    edges = ["", "usd", "$", "usdusd", "usd$usd", "xusd", "usdx", "1usd2", "Usd", "\u20acusd"]
    rnd = random.Random(23)
    randoms = ["".join(rnd.choices(pieces, k=rnd.randint(0, 10))) for _ in range(20_000)]
    for text in in_every_width(edges + randoms):
        assert _lure_tricks.currency_hints(text) == [m.span() for m in plain.finditer(text)]
    if helper:
        assert _lure_tricks.letter_runs is not None
        with pytest.raises(TypeError):
            _lure_tricks.letter_runs("caf\u00e9", ("caf\u00e9",), "$")
