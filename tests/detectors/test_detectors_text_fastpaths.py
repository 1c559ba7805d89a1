"""Faster text steps of the lures and identity detectors give what the plain ones gave."""

from __future__ import annotations

import itertools
import random
import re
import sys
import unicodedata

import pytest

from mailward.config.settings import LimitSettings
from mailward.detectors import _lure_phrases
from mailward.detectors._mail_kind import mail_kind
from mailward.identity import _claims
from mailward.mime import parse_message

CODE_POINTS = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]


def plain_fold(text: str) -> str:
    """The lures' fold as it was: one translate over the whole text, then \\s+ collapsed."""
    spaces = re.compile(r"\s+")
    if text.isascii():
        return spaces.sub(" ", text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return spaces.sub(" ", decomposed.translate(_lure_phrases._fold_table()))


def test_isalnum_or_underscore_is_the_word_pattern_on_every_character() -> None:
    word = re.compile(r"\w")
    assert [c for c in CODE_POINTS if bool(word.match(c)) != (c.isalnum() or c == "_")] == []


def test_split_and_the_whitespace_pattern_agree_on_every_character() -> None:
    space = re.compile(r"\s")
    assert [c for c in CODE_POINTS if bool(space.fullmatch(c)) != c.isspace()] == []


@pytest.mark.parametrize(
    "text",
    ["", " ", "  \t\n", "a", " a ", "Urgent:\tverify\n\nnow ", "\x1c x \x1f",
     "V\u0435rify y\u043eur \u0430ccount", "Cafe\u0301 de\u0301ja\u0300 vu", "ﬁnal\u200bnotice\u00ad",
     "\u1d00\u1d04\u1d04\u1d0f\u1d1c\u0274\u1d1b  suspended\u3000now", "İstanbul ǅ ß"],
)  # fmt: skip
def test_fold_is_the_plain_fold(text: str) -> None:
    assert _lure_phrases.fold(text) == plain_fold(text)


def test_fold_is_the_plain_fold_on_random_text() -> None:
    rnd = random.Random(4)
    letters = "aB \t\n\x1c\x85\u00a0\u2028\u3000é\u0301\u200b\u0430\u0435\u043e\u0391\u1d00ﬁ½İß中\u00ad"
    for _ in range(20_000):
        text = "".join(rnd.choice(letters) for _ in range(rnd.randint(0, 30)))
        assert _lure_phrases.fold(text) == plain_fold(text)


def test_look_alikes_are_still_mapped() -> None:
    assert _lure_phrases.fold("P\u0430yp\u0430l \u0430\u0441\u0441ount") == "paypal account"  # Cyrillic a and c


ALT_IGNORECASE = re.compile(r"""\balt\s*=\s*(?:"([^"]{1,200})"|'([^']{1,200})')""", re.IGNORECASE)


def test_only_the_ascii_capitals_fold_to_the_letters_of_alt() -> None:
    for letter in "alt":
        folding = re.compile(letter, re.IGNORECASE)
        assert [c for c in CODE_POINTS if folding.fullmatch(c)] == [letter.upper(), letter]


def test_alt_texts_are_found_as_the_case_insensitive_pattern_finds_them() -> None:
    rnd = random.Random(8)
    letters = "aAlLtT =\"'xé_İ\u0131K9 \n"
    samples = [
        '<img alt="Logo"><img ALT = \'PayPal\'><img xalt="no"><img data_alt="no">',
        'alt="a"alt="b" _alt="c" éalt="d" Alt="e"',
    ]
    samples += ["".join(rnd.choice(letters) for _ in range(rnd.randint(0, 40))) for _ in range(30_000)]
    for text in samples:
        expected = [(m.span(), m.groups()) for m in ALT_IGNORECASE.finditer(text)]
        assert [(m.span(), m.groups()) for m in _claims._ALT.finditer(text)] == expected
    assert _claims.alt_texts(samples[0]) == ["Logo", "PayPal"]


def test_mail_kind_reads_the_first_value_of_each_header_whatever_its_case() -> None:
    raw = (
        b"From: Alerts <no-reply@example.net>\r\nTo: a@example.org\r\nSubject: s\r\n"
        b"LIST-ID: <first.example.net>\r\nList-Id: <second.example.net>\r\n"
        b"precedence: bulk\r\nPrecedence: list\r\nAuto-Submitted: auto-generated\r\n"
        b"List-Unsubscribe: <mailto:u@example.net>\r\nX-Auto-Response-Suppress: All\r\n"
        b"\r\nbody\r\n"
    )
    kind = mail_kind(parse_message(raw, LimitSettings()))
    assert kind.list_markers == (
        "List-Id: <first.example.net>", "List-Unsubscribe: <mailto:u@example.net>",
    )  # fmt: skip
    assert kind.machine_markers == (
        "Precedence: bulk", "Auto-Submitted: auto-generated", "X-Auto-Response-Suppress",
        "sender no-reply@example.net",
    )  # fmt: skip


def test_the_active_html_hints_find_what_the_one_pattern_finds() -> None:
    from mailward.detectors import smuggling

    whole = re.compile(r"<script|\sdownload\b|\son[a-z]{3,30}\s*=", re.IGNORECASE)
    rnd = random.Random(12)
    pieces = ["<script", "<SCRIPT", " download", "\tDownload", "download", " onclick=", " onload =",
              " on\u017fome=", " onab=", "<scr", " on\u212aeyup=", "x", " ", "\n", "="]  # fmt: skip
    for _ in range(20_000):
        html = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6)))
        either = any(hint.search(html) for hint in smuggling._ACTIVE_HINTS)
        assert either is (whole.search(html) is not None)


def test_the_flattened_handler_hints_leave_out_only_html_the_hint_cannot_match() -> None:
    from mailward.detectors import smuggling

    rnd = random.Random(377)
    pieces = ["<script", "<SCRIPT", "<\u017fcript", " download", "\tDownload", "DOWNLOAD", "download",
              "downloadx", " onclick=", " ONLOAD =", " on\u017fome=", " onab=", " on\u212aeyup=",
              " on\u0130\u0131x=", "\u00a0onmouseover\u3000=", "\u2028download", "on", " on",
              "\x1con", "\x0bonx", "abc", "x" * 28, "\u212a" * 10, " ", "\n", "\r", "\x1f", "\u00a0",
              "\u3000", "=", "\u00e9", "\u0436", "\ud800", "\U0001f600", "<a ", "'", '"', "/"]  # fmt: skip
    left_out = hits = 0
    for _ in range(60_000):
        html = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))
        either = any(hint.search(html) for hint in smuggling._ACTIVE_HINTS)
        assert smuggling._is_active(html) is either, html
        if not any(rx.search(smuggling.flat_html(html)) for rx in smuggling._FLAT_HANDLER_HINTS):
            assert smuggling._ACTIVE_HINTS[1].search(html) is None, html
            left_out += 1
        hits += either
    assert left_out > 10_000  # the flattened search does leave HTML out
    assert hits > 10_000
    # thirty letters of three bytes each, and white space of other scripts, still reach it
    for html in [" on" + "\u212a" * 30 + "\u3000\u00a0=", "\u2029on\u017fet = 1", "\x85download"]:
        assert smuggling._ACTIVE_HINTS[1].search(html) is not None
        assert smuggling._is_active(html)
    assert not smuggling._is_active(" on" + "k" * 31 + "=" + " downloads" + "xonclick=")


def test_the_kept_flattened_html_is_the_html_flattened_now() -> None:
    from mailward.detectors import _flat_html

    texts = ["", "<P STYLE='top:12345PX'>\t\u00e9\ud800</P>", "abc\x1c\x1f\x0b\r\n 09", "\u3000"]
    for text in [*texts, *texts[::-1], "".join(texts), "".join(texts)]:
        assert _flat_html.flat_html(text) == _flat_html.plain_flat_html(text)
    assert _flat_html.plain_flat_html("Az 19\t\u00e9") == b"az 00 \x80\x80"


def test_long_css_lengths_are_the_plain_patterns_matches() -> None:
    from mailward.detectors import evasion

    plain = re.compile(r"(\d{4,})(?:\.\d+)?\s*(px|vh)", re.IGNORECASE)
    rnd = random.Random(13)
    letters = "0123456789 .pxvhPXVH\u0660\u0661a:-"
    samples = ["top: 99999px", "margin-top:-12000PX;", "height: 1234.5 vh", "123456789012345678"]
    samples += ["".join(rnd.choice(letters) for _ in range(rnd.randint(0, 30))) for _ in range(50_000)]
    for text in samples:
        expected = [(m.span(), m.groups()) for m in plain.finditer(text)]
        assert [(m.span(), m.groups()) for m in evasion._LONG_LENGTH.finditer(text)] == expected


def test_anchors_are_found_where_the_lookbehind_pattern_finds_them() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    plain = re.compile(f"(?<!\\w)(?=({_lure_phrases._trie_regex(sorted(matcher.by_anchor))}))")
    rnd = random.Random(21)
    words = ["verify", "your", "account", "ha", "has", "conta", "send", "gift", "card", "urgent"]
    seps = [" ", "", "-", ".", "\n", "_", "é", "  "]
    texts = ["", "verify your account", "xverify", "-verify", "ha ha", "a" * 50]
    for _ in range(5_000):
        texts.append("".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(0, 8))))
    for text in texts:
        expected = [(m.start(), m.group(1)) for m in plain.finditer(text)]
        assert matcher._anchors(text) == expected
        assert matcher._anchors_by_regex(text) == expected


def test_the_automaton_finds_the_trie_regexs_anchors_in_unicode_text() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    assert matcher.automaton is not None
    rnd = random.Random(34)
    words = ["verify", "your", "account", "ha", "conta", "gift", "card", "\u00e9", "\u0660"]
    words += ["\u00df", "\u01c5"]
    seps = [" ", "", "-", "\u00e9", "\u0131", "\u2028", "\U0001f600", "_", "\u0660"]
    for _ in range(5_000):
        text = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(0, 8)))
        assert matcher._anchors(text) == matcher._anchors_by_regex(text)


def test_currency_hints_are_the_plain_patterns_matches() -> None:
    from mailward.detectors import _lure_tricks

    plain = re.compile(
        r"[$€£]|(?<![a-z])(?:usd|eur|gbp|btc|eth|usdt|bitcoins?|dollars?|pounds?|reais|euros?)"
        r"(?![a-z])"
    )
    rnd = random.Random(22)
    pieces = ["usd", "usdt", "eur", "euro", "euros", "eth", "btc", "bitcoin", "bitcoins", "dollar",
              "dollars", "pound", "pounds", "reais", "gbp", "$", "€", "£", "a", " ", "é", "1", "s",
              "A", "\u00df", "z", "{"]  # fmt: skip
    for _ in range(30_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))
        expected = [m.span() for m in plain.finditer(text)]
        assert [m.span() for m in _lure_tricks._CURRENCY.finditer(text)] == expected
        assert _lure_tricks.currency_hints(text) == expected


def test_patterns_without_their_lookbehind_find_the_whole_patterns_matches() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    rnd = random.Random(55)
    words = [*rnd.sample(matcher.words, 300), "your", "account", "x", "1", "\u00e9"]
    seps = [" ", "", "-", "_", ". ", "\n", "\u00e9"]
    checked = 0
    for _ in range(3_000):
        text = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(1, 12)))
        lo = rnd.randint(0, len(text))
        hi = rnd.randint(lo, len(text))
        anchored = [i for w in words if w in text for i in matcher.by_anchor.get(w, ())]
        for index in {*anchored[:20], rnd.randrange(len(matcher.patterns))}:
            expected = matcher._matches_plain(index, text, lo, hi)
            assert matcher._matches(index, text, lo, hi) == expected
            checked += bool(expected)
    assert checked > 50  # the texts hold phrases, not only misses


def plain_find(matcher: _lure_phrases.PhraseMatcher, text: str) -> dict[str, list[str]]:
    """The phrase matcher's find as it was: anchor starts kept for each pattern, then merged into
    windows, each window tried by the whole pattern's finditer."""
    spots: dict[int, list[int]] = {index: [0] for index in matcher.always}
    for start, anchor in matcher._anchors(text):
        for index in matcher.by_anchor[anchor]:
            spots.setdefault(index, []).append(start)
    seen: list[tuple[int, str, str]] = []
    for index, starts in spots.items():
        windows: list[tuple[int, int]] = []
        if index in matcher.always:
            windows = [(0, len(text))]
        for start in [] if index in matcher.always else starts:
            lo, hi = max(0, start - 160), min(len(text), start + 160)
            if windows and lo <= windows[-1][1]:
                windows[-1] = (windows[-1][0], hi)
            else:
                windows.append((lo, hi))
        for lo, hi in windows:
            category = matcher.patterns[index][0]
            seen.extend((at, category, p) for at, p in matcher._matches_plain(index, text, lo, hi))
    found: dict[str, list[str]] = {}
    for _, category, phrase in sorted(seen):
        found.setdefault(category, [])
        if phrase not in found[category]:
            found[category].append(phrase)
    return {c: found[c] for c in _lure_phrases.CATEGORIES if c in found}


def test_find_builds_the_windows_the_plain_way_did() -> None:
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    rnd = random.Random(89)
    words = [*rnd.sample(matcher.words, 400), "your", "account", "x", "1", "\u00e9", "a" * 150]
    seps = [" ", "", "-", "_", ". ", "\n"]
    hits = 0
    for _ in range(1_500):
        text = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(0, 40)))
        expected = plain_find(matcher, text)
        assert matcher.find(text) == expected
        hits += len(expected) > 1
    assert hits > 100  # windows of several anchors and several categories, not only misses
    always = _lure_phrases.PhraseMatcher({"urgency": ["[0-9]+ ?h", "act now"]})
    assert always.always == [0]
    for text in ["", "act now within 24 hours", "48 h" + " x" * 200 + " act now", "act nowx"]:
        assert always.find(text) == plain_find(always, text)


def test_the_flattened_html_check_skips_only_html_without_a_long_css_length() -> None:
    from mailward.detectors import evasion

    rnd = random.Random(144)
    pieces = ["1234", "99999", "0000", "123", "7", "px", "PX", "pX", "vh", "VH", "p", "x", "v",
              "h", ".", ".5", " ", "\t", "\x1c", "\x1f", "\n", "\u00a0", "\u0661\u0662\u0663\u0664",
              "a", "B", ":", ";", "-"]  # fmt: skip
    skipped = hits = 0
    for _ in range(40_000):
        html = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))
        found = evasion._LONG_LENGTH.search(html) is not None
        if not evasion._may_hold_length(html):
            assert not found, html
            skipped += 1
        expected = plain_offscreen_lengths(html, 1000)
        assert evasion.offscreen_lengths(html, 1000) == expected
        hits += found
    assert skipped > 10_000  # the check does skip HTML, not only pass it on
    assert hits > 1_000


def test_the_wide_check_skips_only_non_ascii_html_without_a_long_css_length() -> None:
    from mailward.detectors import evasion

    rnd = random.Random(233)
    pieces = ["1234", "99999", "0000", "123", "7", "px", "PX", "pX", "Px", "vh", "VH", "vH", "p",
              "x", "v", "h", ".", ".5", " ", "\t", "\x0b", "\x1c", "\x1f", "\n", "\r", ":",
              "-", "a", "\u00a0", "\u0085", "\u3000", "\u2009", "\u0661\u0662\u0663\u0664",
              "\u0661", "\uff11", "\u0966", "\U0001d7ce", "\u0436\u0437", "\u00e9", "\u017f",
              "\u212a", "\ud800", "\U0001f600", "\u0445\u0440", "margin-top:", "height:"]  # fmt: skip
    skipped = hits = 0
    for _ in range(60_000):
        html = "\u00e9" + "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))
        found = evasion._LONG_LENGTH.search(html) is not None
        if not evasion._may_hold_length(html):
            assert not found, html
            skipped += 1
        assert evasion.offscreen_lengths(html, 1000) == plain_offscreen_lengths(html, 1000)
        hits += found
    assert skipped > 15_000  # the check does skip non-ASCII HTML, not only pass it on
    assert hits > 1_000
    # a unit whose digits or spaces are all of other scripts, written backwards or not
    for html in ["\u0661\u0662\u0663\u0664\u0665px", "\uff11\uff10\uff10\uff10\u3000VH",
                 "top:12345\u00a0px\u00e9", "\u00e9 height: 99999.5 \u2009 pX"]:
        assert evasion._LONG_LENGTH.search(html) is not None
        assert evasion._may_hold_length(html)
    assert not evasion._may_hold_length("\u00e9 height: 999px; top: 12345em; 1234 p x")


def test_long_lengths_found_window_by_window_are_those_of_the_whole_html() -> None:
    from mailward.detectors import evasion

    rnd = random.Random(610)
    pieces = ["1234", "56789", "1234.56789px", "0", "7", ".", ".5", " ", "\t", "\u00a0", "\u3000",
              "px", "PX", "Vh", "p", "x", "v", "h", "\u0661\u0662\u0663\u0664", "\u0665", "\uff19",
              "\U0001d7ce\U0001d7cf", "\u00e9", "\ud800", "\u0436", "top:", "a", ";"]  # fmt: skip
    windows = 0
    for _ in range(30_000):
        html = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30)))
        whole = [m.span() for m in evasion._LONG_LENGTH.finditer(html)]
        if not evasion._may_hold_length(html):
            assert whole == []
            continue
        spans = evasion._length_windows(html)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        found = [m.span() for lo, hi in spans for m in evasion._LONG_LENGTH.finditer(html, lo, hi)]
        assert found == whole, html
        windows += len(spans)
    assert windows > 20_000


def plain_offscreen_lengths(html: str, min_px: int) -> list[str]:
    """offscreen_lengths without the flattened-HTML check."""
    from mailward.detectors import evasion

    found: list[str] = []
    for match in evasion._LONG_LENGTH.finditer(html):
        limit = 1000 if match.group(2).lower() == "vh" else min_px
        if int(match.group(1)) < limit:
            continue
        before = evasion._OFFSCREEN_PROPERTY.search(html, max(0, match.start() - 40), match.start())
        if before is not None:
            found.append(before.group(0) + match.group(0))
    return found


def test_a_patterns_required_literals_are_in_every_match_anywhere_in_it() -> None:
    parsed = _lure_phrases._parser.parse
    spanish = r"(?:usted ha|has|ha) (?:ganado|sido seleccionad[ao]|sido elegid[ao])"
    assert _lure_phrases.anchors(parsed(spanish)) == frozenset({"usted ha", "has", "ha"})
    assert _lure_phrases.anchors(parsed(spanish), anywhere=True) == frozenset(
        {"ganado", "sido selecci", "sido elegid"}
    )
    assert _lure_phrases._required(spanish, re.compile(spanish)) == (
        "sido selecci", "sido elegid", "ganado"
    )
    # case-blind patterns, and ones with too many literals, are searched without the check
    assert _lure_phrases._required("(?i)has ganado", re.compile("(?i)has ganado")) is None
    cards = r"\d+ (?:\w+ )?gift cards?"
    assert _lure_phrases._required(cards, re.compile(cards)) == ("gift cards", "gift card")
    wide = "(?:ab|cd|ef|gh|ij|kl|mn|op|qr) x"
    assert _lure_phrases._required(wide, re.compile(wide)) is None


def test_every_shipped_patterns_matches_hold_one_of_its_required_literals() -> None:
    """The window check is exact: each pattern's matches in texts made of its anchors and the
    other patterns' literals hold one of its required literals (else the check would hide
    them), and _matches with the check equals the plain finditer."""
    matcher = _lure_phrases.compiled(_lure_phrases.LANGUAGES)
    rnd = random.Random(21)
    pieces = [w for r in matcher.required if r for w in r] + matcher.words
    pieces += ["your", "you", "the", "a", "1", "24", "\u00e9", "gift card", "bitcoin"]
    seps = [" ", "", "-", ". ", "\n"]
    matched = 0
    for _ in range(4_000):
        text = "".join(rnd.choice(pieces) + rnd.choice(seps) for _ in range(rnd.randint(1, 10)))
        for index, required in enumerate(matcher.required):
            found = matcher._matches_plain(index, text, 0, len(text))
            for _, phrase in found:
                assert required is None or any(w in phrase for w in required)
            matched += bool(found)
            if rnd.random() < 0.05:
                assert matcher._matches(index, text, 0, len(text)) == found
    assert matched > 200


def test_the_bodys_form_tags_are_found_in_its_flattened_copy_as_by_the_pattern() -> None:
    from mailward.detectors import _flat_html, forms

    rnd = random.Random(987)
    pieces = ["<input", "<INPUT", "<InPuT", "<\u0130nput", "<\u0131nput", "<form", "<FoRm", "< form",
              "<fo", "rm", "<", "<i", "nput", "\u017f", "\ufeff", "\ud800", " ", "\t", "x", "\u00e9",
              "\uff1cinput", "&lt;input", "1", "\x1e"]  # fmt: skip
    hits = misses = 0
    for _ in range(30_000):
        html = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6)))
        expected = forms._FORM_TAGS.search(html) is not None
        _flat_html.flat_html(html + " ")  # another HTML's copy is kept: the pattern answers
        assert _flat_html.kept_flat_html(html) is None
        assert forms._has_form_tags(html) is expected, html
        _flat_html.flat_html(html)  # this HTML's copy is kept: the literal searches answer
        assert _flat_html.kept_flat_html(html) is not None
        assert forms._has_form_tags(html) is expected, html
        hits += expected
        misses += not expected
    assert hits > 5_000 and misses > 5_000


def test_a_body_is_blank_when_stripping_it_leaves_nothing() -> None:
    blanks = ["", " ", "\t\n\r", "\x1c\x1d\x1e\x1f", "\u3000\u00a0\x85", "\u2028 \u2029"]
    others = ["x", " x ", "\u200b", "\ufeff", "\x00", "\u3000.", "\ud800"]
    for text in blanks + others:
        assert bool(text and not text.isspace()) is bool(text.strip()), repr(text)
