"""Normalisation and MinHash signatures of campaign clustering (hit and miss for each)."""

from __future__ import annotations

import pytest

from mailward.activity.campaign_text import (
    _EMAIL,
    _NUMBER,
    _URL,
    _WORD,
    MAX_TEXT,
    SignatureMatrix,
    from_bytes,
    name_tokens,
    normalise,
    shingles,
    signature,
    signature_bytes,
    similarities,
    similarity,
    to_bytes,
)


def test_name_tokens_come_from_local_parts_and_display_names() -> None:
    assert name_tokens(["jane.doe@example.com"], ["Jane Q. Doe"]) == {"jane", "doe"}
    assert name_tokens(["x@example.com"]) == frozenset()  # one letter: not a name


def test_normalise_replaces_rotating_details() -> None:
    text = "Dear Jane,  invoice 4711 of 12.50 EUR: https://pay.example.test/a?b=1 or mail a@b.test"
    assert normalise(text, frozenset({"jane"})) == (
        "dear name invoice num of num eur url or mail email")


def test_normalise_keeps_ordinary_words() -> None:
    assert normalise("Lunch  on Friday\n at the usual place") == (
        "lunch on friday at the usual place")


def test_shingles_are_word_ngrams() -> None:
    assert shingles("a b c d", 3) == {"a b c", "b c d"}
    assert shingles("a b", 3) == {"a b"}
    assert shingles("", 3) == set()


def test_rotating_details_keep_the_signature() -> None:
    a = normalise("Hi Jane, your mailbox 1234 is full: https://a.test/1 to keep mail",
                  name_tokens(["jane.doe@example.com"]))
    b = normalise("Hi Bob, your mailbox 9 is full: https://b.test/zz to keep mail",
                  name_tokens(["bob.ray@example.com"]))
    assert similarity(signature(a), signature(b)) == 1.0


def test_different_texts_have_low_similarity() -> None:
    a = signature(normalise("your mailbox is full, click here to keep receiving your mail"))
    b = signature(normalise("the quarterly report is attached, see the figures for march"))
    assert similarity(a, b) < 0.2


def test_empty_text_is_never_similar() -> None:
    assert similarity(signature(""), signature("")) == 0.0


def test_signature_survives_the_store() -> None:
    sig = signature("some words to hash for the store")
    assert similarity(from_bytes(to_bytes(sig)), sig) == 1.0
    assert len(to_bytes(sig)) == 64 * 4


def test_similarities_give_the_figures_of_similarity_in_one_go() -> None:
    sig = signature(normalise("please confirm your mailbox password today or lose access"))
    others = [
        sig,  # the same text: 1.0
        signature(normalise("please confirm your mailbox password now or lose access")),
        signature(normalise("lunch on friday at the usual place")),
        signature(""),  # an empty text: never similar
        from_bytes(to_bytes(sig)),  # as loaded from the store
    ]
    assert similarities(sig, others) == [similarity(sig, o) for o in others]
    assert similarities(sig, others)[0] == 1.0 and similarities(sig, others)[3] == 0.0


def test_similarities_of_an_empty_text_or_no_candidates() -> None:
    sig = signature(normalise("please confirm your mailbox password today"))
    assert similarities(signature(""), [sig, sig]) == [0.0, 0.0]
    assert similarities(sig, []) == []


def test_signature_matrix_gives_the_figures_of_similarities() -> None:
    """The kept rows answer as the stacked comparison does, through adds, removals (rows
    reused), replacement and growth past the first allocation."""
    texts = [f"please confirm your mailbox password {w} or lose access to {v}"
             for w in ("today", "now", "soon", "at once", "this week")
             for v in ("mail", "files", "it", "the portal")]
    texts += ["lunch on friday at the usual place", ""]
    sigs = {f"k{i}": signature(normalise(t)) for i, t in enumerate(texts)}
    sigs["stored"] = from_bytes(to_bytes(sigs["k0"]))
    matrix = SignatureMatrix()
    for key, sig in sigs.items():
        matrix.add(key, sig)
    for key in ("k1", "k5", "k13"):
        matrix.remove(key)
        del sigs[key]
    sigs["k1b"] = signature(normalise("lunch on friday at another place"))
    matrix.add("k1b", sigs["k1b"])  # takes a freed row
    sigs["k0"] = signature(normalise("a different text now"))
    matrix.add("k0", sigs["k0"])  # replaced
    keys = list(sigs)
    assert len(matrix) == len(keys) > 16
    for probe in (sigs["k2"], sigs["k1b"], signature(normalise(texts[4])), signature("")):
        assert matrix.similarities(probe, keys) == similarities(probe, [sigs[k] for k in keys])
    assert matrix.similarities(sigs["k2"], []) == []


def test_signature_matrix_refuses_signatures_of_another_size() -> None:
    matrix = SignatureMatrix()
    matrix.add("a", signature("some words to hash", 64))
    with pytest.raises(ValueError):
        matrix.add("b", signature("some words to hash", 32))
    with pytest.raises(ValueError):
        matrix.similarities(signature("some words to hash", 32), ["a"])


# -- the fast paths of normalise and shingles, against the general ones -----------------------

_ALL_CHARS = "".join(map(chr, range(0x110000))).encode("utf-8", "surrogatepass").decode(
    "utf-8", "replace")


def _normalise_general(text: str, names: frozenset[str] = frozenset()) -> str:
    """normalise as it was before its fast paths: every pattern, every token checked."""
    text = text[:MAX_TEXT].lower()
    text = _URL.sub(" url ", text)
    text = _EMAIL.sub(" email ", text)
    text = _NUMBER.sub(" 0 ", text)
    words = []
    for token in _WORD.findall(text):
        if any(c.isdigit() for c in token):
            words.append("num")
        elif token in names:
            words.append("name")
        elif token.strip("_"):
            words.append(token)
    return " ".join(words)


def test_no_letter_is_a_digit_or_an_underscore() -> None:
    """normalise takes a token of letters (str.isalpha) as a word without looking for digits."""
    assert not [c for c in _ALL_CHARS if c.isalpha() and (c.isdigit() or c == "_")]


def test_the_link_pattern_matches_no_other_letters_than_its_own() -> None:
    """normalise skips the link pattern when "http", "hxxp" and "www." are all absent from the
    lower-cased text: so IGNORECASE must add no other character for h, t, p, x, w, '.'."""
    import re

    for letter in "htpxw.":
        found = set(re.findall(re.escape(letter), _ALL_CHARS, re.IGNORECASE))
        assert found <= {letter, letter.upper()}, letter
        lowered = {c for c in found if c.lower() == letter}
        assert lowered == found


@pytest.mark.parametrize("text", [
    "Dear Jane,  invoice 4711 of 12.50 EUR: https://pay.example.test/a?b=1 or mail a@b.test",
    "HXXPS://evil.example/x and WWW.Example.ORG/login, a.b+c@d.e.f and x@y",
    "no links at all, just wörds, naïve café, straße and \u017f \ufb01 Kelvin \u212a",
    "digits ² ³ ① ٣ 4th x2 __init__ _ __ a_b snake_case jane_doe",
    "e-mail: .+x@d.e a@b.c.+x@d.e foo@bar", "", "   ", "@", "www", "http//x",
    "Jane JANE jane.doe Doe, your parcel #A1B2 is here: www.parcel.example/track",
])
def test_normalise_equals_the_general_path(text: str) -> None:
    names = frozenset({"jane", "doe"})
    assert normalise(text, names) == _normalise_general(text, names)
    assert normalise(text) == _normalise_general(text)


def test_normalise_equals_the_general_path_on_random_text() -> None:
    import random

    rng = random.Random(15)
    alphabet = [*"abcdehilnoprstwx0123456789 _.@:/-+,\n", "ß", "²", "\u017f", "İ", "٣", "é"]
    pieces = ["http://", "hxxps://", "www.", "@", "jane", "Doe", " 12.5 "]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) if rng.random() < 0.9 else rng.choice(pieces)
                       for _ in range(rng.randrange(0, 120)))
        assert normalise(text, frozenset({"jane", "doe"})) == _normalise_general(
            text, frozenset({"jane", "doe"}))


def test_shingles_equal_their_definition() -> None:
    import random

    rng = random.Random(9)
    for _ in range(200):
        words = [rng.choice("abcdef") for _ in range(rng.randrange(0, 12))]
        for size in range(1, 5):
            expected = ({" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}
                        if len(words) > size else ({" ".join(words)} if words else set()))
            assert shingles(" ".join(words), size) == expected


def test_signature_bytes_are_those_of_the_signature() -> None:
    for text in ("", "one", "a b c d e f g", normalise("Dear Jane, invoice 4711 attached")):
        assert signature_bytes(text, 64, 3) == to_bytes(signature(text, 64, 3))
        assert signature_bytes(text, 32, 2) == to_bytes(signature(text, 32, 2))
