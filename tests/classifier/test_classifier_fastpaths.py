"""The content model's fast paths give exactly what the plain ways of computing them give."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from classifier_corpus import message
from sklearn.feature_extraction.text import HashingVectorizer

from mailward.classifier import features, load_shipped
from mailward.classifier._charhash import hash_char_ngrams
from mailward.classifier._wordgrams import _TOKEN, TOKEN_PATTERN, WordGrams
from mailward.config.settings import LimitSettings
from mailward.mime import parse_message

N = 2**18
#: ASCII, two-, three- and four-byte UTF-8, whitespace of several kinds, word characters and not
ALPHABET = "abcxyz019 _.@+-!  \t\n\u00a0éßÀ½中文\u2028😀\U0001d518\u0301"


def random_docs(seed: int, count: int, longest: int = 50) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, longest)))
            for _ in range(count)]  # fmt: skip


def char_reference(doc: str) -> list[int]:
    vec = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False,
                            norm=None, n_features=N)  # fmt: skip
    row = vec.transform([doc])
    return sorted(int(c) for c, v in zip(row.indices, row.data, strict=True) for _ in range(int(v)))


@pytest.mark.parametrize("seed", range(4))
def test_char_columns_are_scikit_learns_on_random_text(seed: int) -> None:
    for doc in random_docs(seed, 150):
        assert sorted(hash_char_ngrams(doc, 3, 5, N).tolist()) == char_reference(doc)


def test_char_windows_of_five_four_byte_characters_hash_all_their_blocks() -> None:
    doc = "😀😁😂🤣😃 " + "".join(map(chr, range(0x1D518, 0x1D51E))) + " a😀b"  # 20-byte windows: five whole blocks, no tail
    assert sorted(hash_char_ngrams(doc, 3, 5, N).tolist()) == char_reference(doc)
    columns = hash_char_ngrams("a b", 3, 5, 2**31 - 1)  # not a power of two: abs, then modulo
    assert sorted(columns.tolist()) == sorted(
        int(c) for c in HashingVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False, norm=None,
            n_features=2**31 - 1,
        ).transform(["a b"]).indices
    )  # fmt: skip


def test_counting_by_sort_gives_the_weighted_sums_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 2, 17, 64, 65, 3000):  # counted in Python up to 64, by a sort above
        columns = rng.integers(0, 500, size=size)
        fast = features._normalised(columns)
        plain = features._normalised(columns, np.ones(size, dtype=np.float64))
        assert fast[0].dtype == plain[0].dtype == np.int32
        assert fast[0].tobytes() == plain[0].tobytes()
        assert fast[1].tobytes() == plain[1].tobytes()


def test_the_token_pattern_finds_scikit_learns_tokens() -> None:
    # the pattern written in _wordgrams (a scan does not import scikit-learn) is its default
    assert HashingVectorizer().token_pattern == TOKEN_PATTERN
    sklearn_token = re.compile(HashingVectorizer().token_pattern)
    assert WordGrams()._token is _TOKEN
    for doc in [*random_docs(11, 2000), "a bb c dd_e f1 g", "x", "", "ab"]:
        assert _TOKEN.findall(doc) == sklearn_token.findall(doc)


EMAIL = re.compile(r"[\w.+-]++@[\w-]+(?:\.[\w-]+)+")


@pytest.mark.parametrize(
    "text",
    ["a@b.c@d.e", "a@b.c.d+x@y.z", "@@a@b", "x @y.z", "a@b", "a.b@c.d e@f", "é@ü.de",
     "..@-.-", "a@b.c@", "mail me: ann+tag@mail.example.org, bob@x.y!"],
)  # fmt: skip
def test_addresses_are_replaced_as_the_pattern_replaces_them(text: str) -> None:
    assert features._addresses_replaced(text) == EMAIL.sub(" emailaddress ", text)


def test_addresses_are_replaced_as_the_pattern_replaces_them_on_random_text() -> None:
    rnd = random.Random(5)
    letters = "ab.+-_@é1 \n中x-"
    for _ in range(20_000):
        text = "".join(rnd.choice(letters) for _ in range(rnd.randint(0, 30)))
        assert features._addresses_replaced(text) == EMAIL.sub(" emailaddress ", text)


def test_one_message_is_predicted_exactly_as_a_batch_is() -> None:
    model = load_shipped()
    bodies = [
        ("Verify", "Your account is suspended, verify at once: call 555 0100", "http://198.51.100.4/a"),
        ("Minutes", "Attached are the minutes of the budget meeting, café déjà vu.", None),
        ("Hi", "", None),
    ]  # fmt: skip
    for i, (subject, body, link) in enumerate(bodies):
        msg = parse_message(message(subject, body, link, i), LimitSettings())
        one = model.predict_one(msg)
        (batch,) = model.predict([msg])
        assert [v.hex() for v in one.values()] == [v.hex() for v in batch.values()]


@pytest.mark.parametrize(
    "host",
    ["example.com", "", "[]", "1.2.3.4", "[1.2.3.4]", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1",
     "::1", "[2001:db8::1]", "fe80::1%eth0", "\u0661.\u0662.\u0663.\u0664", "1..2.3", "12",
     "\u00b2.1.1.1", "a:b", "10.0.0.1x"],
)  # fmt: skip
def test_ip_hosts_are_told_as_ipaddress_tells_them(host: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        expected = False
    else:
        expected = True
    assert features._is_ip(host) is expected
