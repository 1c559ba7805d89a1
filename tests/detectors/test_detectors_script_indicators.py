"""Windows-script indicators found from their words' places: the same labels as searching each
whole case-insensitive pattern over the text."""

from __future__ import annotations

import random
import re
import string

from mailward.detectors import _script_indicators as si

SAMPLES = [
    "WScript.Shell", "new ActiveXObject(", 'CreateObject("WScript.', "wscript.sleep",
    "powershell -enc AAAAAAAAAAAAAAAAAAAA", "-ep bypass", "Invoke-Expression", "iex(", "| iex",
    "Start-Process", "net.webclient", "DownloadString(", "invoke-webrequest", "start-bitstransfer",
    "FromBase64String(", "ADODB.Stream", "mshta.exe ", "certutil -decode", "bitsadmin /transfer",
    "eval(unescape", "IEX $x", "xiex(", "_iex(", "\u0130ex(", "\u0131ex(", "\u212aeval(atob",
    "\u017ftart-process",
]  # fmt: skip
FILLER = "ab x _-|.( $\n\t\u00e9\u00ff"


def plain(content: bytes) -> list[str]:
    """The labels as found before: each whole pattern searched once its words are there."""
    text, _ = si.text_of(content)
    lowered = text.lower()
    return [
        label for label, pattern in si.SCRIPT_INDICATORS
        if any(w in lowered for w in si.INDICATOR_WORDS[label]) and pattern.search(text)
    ]  # fmt: skip


def test_latin1_letters_fold_only_to_their_ascii_forms_and_keep_their_length() -> None:
    latin1 = [chr(c) for c in range(256)]
    assert all(len(c.lower()) == 1 for c in latin1)
    for letter in string.ascii_lowercase:
        folding = re.compile(letter, re.IGNORECASE)
        assert [c for c in latin1 if folding.fullmatch(c)] == [letter.upper(), letter]


def test_every_alternative_with_words_starts_with_a_boundary_and_one_of_them() -> None:
    for _, alternatives in si._ALTERNATIVES:
        for regex, words in alternatives:
            if not words:
                continue
            assert regex.startswith(r"\b"), regex
            literal = regex[2:].replace(r"\.", ".")  # the words' dots are escaped
            starts = [*words, "(?:" + "|".join(words) + ")"]
            assert any(literal.lower().startswith(start) for start in starts), regex


def test_labels_are_the_whole_patterns_labels_on_random_files() -> None:
    rnd = random.Random(9)
    for _ in range(6_000):
        parts = []
        for _ in range(rnd.randint(0, 4)):
            sample = "".join(c.upper() if rnd.random() < 0.3 else c for c in rnd.choice(SAMPLES))
            pad = "".join(rnd.choice(FILLER) for _ in range(rnd.randint(0, 6)))
            parts.append(pad + sample)
        text = "".join(parts)
        pick = rnd.random()
        if pick < 0.2:
            content = b"\xff\xfe" + text.encode("utf-16-le")
        elif pick < 0.3:
            content = b"\xfe\xff" + text.encode("utf-16-be")
        else:
            content = text.encode("utf-8" if pick < 0.65 else "latin-1", "replace")
        assert si.script_indicators(content) == plain(content)


def test_indicators_are_found_in_either_case_and_not_inside_words() -> None:
    assert si.script_indicators(b"x = IEX (New-Object Net.WebClient)") == [
        "Invoke-Expression", "download cradle",
    ]  # fmt: skip
    assert si.script_indicators(b"ziex(1) prefix_eval(unescape(x))") == []
    dotted = "\u0130EX(a)".encode("utf-16")  # read as UTF-16: searched the plain way
    assert si.script_indicators(dotted) == plain(dotted)


def test_the_automaton_finds_the_words_a_substring_search_finds() -> None:
    rnd = random.Random(17)
    pieces = [*si._ALL_WORDS, "wscript", "evaluat", "iexp", "power", "shell", " ", "\u00e9", "-"]
    for _ in range(5_000):
        lowered = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6)))
        assert si.words_in(lowered) == {w for w in si._ALL_WORDS if w in lowered}
