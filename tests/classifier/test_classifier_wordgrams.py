"""Word 1-2 grams built without scikit-learn's loops: the same list as its analyzer."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import pytest

from mailward.classifier import features
from mailward.classifier._wordgrams import WordGrams, strip_accents
from mailward.config.settings import LimitSettings
from mailward.mime import parse_message

DOCS = [
    "", " ", "a", "ab", "ab cd", "Hello   World!\r\n\tagain and AGAIN",
    "Grüße aus Köln: Straße, ½ price — 中文 😀 now", "x\u2028y\u00a0z  ",
    "ﬁne Ⅻ İstanbul Ωmega ῼ e\u0301te\u0301 \u0e01\u0e49\u0e32 \u1100\u1161\u11a8",
    "Verify your account at https://example.com/login?id=12345 within 24 hours",
]


@pytest.mark.parametrize("doc", DOCS)
def test_grams_are_scikit_learns(doc: str) -> None:
    words = WordGrams()
    assert words.grams(doc) == words.reference(doc)


def test_accents_go_and_ascii_is_kept_as_it_is() -> None:
    text = "plain ascii"
    assert strip_accents(text) is text
    assert strip_accents("café naïve") == "cafe naive"


def test_accents_are_stripped_as_scikit_learn_strips_them() -> None:
    from sklearn.feature_extraction.text import strip_accents_unicode

    texts = [*DOCS, "àéîõü ÀÉÎÕÜ", "e\u0301\u0301 \u0301x", "\u0301", "a\u0308\u0323b",
             "\u01c6 \ufb03 \u2122 \u210c \u2460 \uff46\uff55\uff4c\uff4c"]  # fmt: skip
    rnd = random.Random(3)
    alphabet = "ae \u0301\u0308\u0323éöñçÅ中😀\u00a0\u2019\ufb01½"
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 20))) for _ in range(3000)]
    for text in texts:
        assert strip_accents(text) == strip_accents_unicode(text)


def test_repeated_tokens_sum_as_a_counter_does() -> None:
    tokens = ["b", "a", "b", "c", "b", "a"]
    indices, values = features._hash_tokens(tokens, 2**18)
    assert features.hash_loop() is not None
    idx, _, val = features.hash_loop()([Counter(tokens).items()], 2**18, np.float32, False, 0)
    expected = features._normalised(np.asarray(idx), np.asarray(val, dtype=np.float64))
    assert indices.tolist() == expected[0].tolist()
    assert values.tobytes() == expected[1].tobytes()
    assert sorted(values.tolist()) != [values[0]] * 3  # three different counts: 1, 2, 3


@pytest.mark.parametrize(
    "text", ["write to a.b+c@example.co.uk or x@y.z", "a@b.c.d+x@y.z", "@@a@b", "no address 24"]
)
def test_addresses_become_one_token_as_the_plain_pattern_makes_them(text: str) -> None:
    raw = f"Subject: s\r\nContent-Type: text/plain\r\n\r\n{text}\r\n".encode()
    msg = parse_message(raw, LimitSettings())
    plain = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", " emailaddress ", f"s\n{msg.text}")
    assert features.body_text(msg) == re.sub(r"\d", "0", plain)
    assert ("emailaddress" in plain) is ("@" in text and text != "@@a@b")
